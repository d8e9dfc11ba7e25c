// Two CUDA kernels with known resources, shared by the cubin-reader unit test (which parses their cubins with no
// GPU) and its GPU test (which compares the parse with what the driver reports): static shared memory, a
// dynamically indexed local array (a stack frame), launch bounds that cap registers at 64 for 256 threads, and a
// trivial kernel whose attributes must not be confused with the other's.
#pragma once

namespace qjit::test {

inline constexpr char kCubinProbeSource[] = R"(
extern "C" __global__ void __launch_bounds__(256, 1) probe_big(float* x, int n) {
  __shared__ float buf[300];
  float v[64];
  buf[threadIdx.x] = x[threadIdx.x];
  __syncthreads();
  for (int j = 0; j < 64; ++j) v[j] = buf[(threadIdx.x + j * n) % 300];
  x[threadIdx.x] = v[n & 63] + v[(n + 1) & 63];
}
extern "C" __global__ void __launch_bounds__(1024) probe_small(float* x) { x[threadIdx.x] += 1.0f; }
)";

}  // namespace qjit::test
