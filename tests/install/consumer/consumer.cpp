// An engine written in C++, built against an installed qjit with only the public headers and libqjit.so
// (find_package(qjit), qjit::qjit): run_layer below is the README's engine example as written there. Without a GPU
// select must fail with DriverUnavailable (exit 0); with one, the layer runs and is checked against an f64
// reference computed from the int8 activation and per-token scales the plan wrote.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include <qjit/cache.h>
#include <qjit/qjit.h>

#include "cuda_min.h"

namespace {

qjit::Status run_layer(CUstream stream, std::int64_t m, const qjit::bf16* x, const std::int8_t* w_q,
                       const float* w_scale, const qjit::bf16* bias, qjit::bf16* y, std::int64_t y_row_stride,
                       std::int8_t* scratch_q, float* scratch_s, void* ws, std::size_t* ws_needed) {
  using namespace qjit;
  // Once per layer and M bucket (a hash lookup after the first time):
  auto plan = QuantizedLinearPlan<bf16>::select(Stream(stream),
                                                QuantizedLinearDescriptor::make<bf16>(m, 4096, 4096, /*bias=*/true));
  if (!plan) return plan.error();  // Status: code + message naming the field
  *ws_needed = plan->workspace_size();
  if (x == nullptr) return Status();  // a sizing call: the caller allocates, then calls again

  QuantizedLinearPlan<bf16>::Args args;
  args.activation = TensorRef<bf16, 2>::contiguous(x, {m, 4096});
  args.weight_q = TensorRef<std::int8_t, 2>::contiguous(w_q, {4096, 4096});
  args.weight_scale = TensorRef<float, 1>::contiguous(w_scale, {4096});
  args.bias = TensorRef<bf16, 1>::contiguous(bias, {4096});
  args.output = TensorMut<bf16, 2>::strided(y, m, 4096, y_row_stride);
  args.act_q_scratch = TensorMut<std::int8_t, 2>::contiguous(scratch_q, {m, 4096});
  args.act_scale_scratch = TensorMut<float, 1>::contiguous(scratch_s, {m});

  if (Status s = plan->can_implement(args); !s.ok()) return s;                        // optional: run() checks too
  Status s = plan->run(Stream(stream), Workspace{ws, plan->workspace_size()}, args);  // async on `stream`
  return s;
}

constexpr std::int64_t kM = 16, kN = 4096, kK = 4096, kLdy = 4100;

template <class T>
T* dev(unsigned long long p) {
  return reinterpret_cast<T*>(static_cast<std::uintptr_t>(p));
}

}  // namespace

int main() {
  // The cache API answers without a GPU.
  auto where = qjit::cache_location_from_environment();
  if (!where) return std::printf("cache location: %s\n", where.error().to_string().c_str()), 1;
  std::printf("kernel cache: %s\n", where->writable_dir.c_str());

  // A typed-API refusal names the field before any driver call.
  auto bad = qjit::QuantizedLinearPlan<qjit::bf16>::select(qjit::Stream(),
                                                           qjit::QuantizedLinearDescriptor::make<qjit::bf16>(1, 0, 64));
  if (bad || bad.error().code() != qjit::StatusCode::InvalidArgument) return 1;
  std::printf("n = 0: %s\n", bad.error().to_string().c_str());

  std::size_t ws_bytes = 0;
  qjit::Status probe =
      run_layer(nullptr, kM, nullptr, nullptr, nullptr, nullptr, nullptr, kLdy, nullptr, nullptr, nullptr, &ws_bytes);
  if (probe.code() == qjit::StatusCode::DriverUnavailable) {
    std::printf("no GPU: %s\nC++ consumer OK (DriverUnavailable)\n", probe.to_string().c_str());
    return 0;
  }
  if (!probe.ok()) return std::printf("select: %s\n", probe.to_string().c_str()), 1;

  cuda_min cu;
  char why[256];
  if (cuda_min_open(&cu, why, sizeof why) != 0) return std::printf("%s\n", why), 1;
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<qjit::bf16> x(kM * kK), bias(kN), y(kM * kLdy);
  std::vector<std::int8_t> w(kN * kK), xq(kM * kK);
  std::vector<float> w_scale(kN), xs(kM);
  for (auto& v : x) v = qjit::float_to_bf16(4.f * u(rng));
  for (auto& v : w) v = static_cast<std::int8_t>(std::lrint(127.f * u(rng)));
  for (auto& v : w_scale) v = 1e-3f * (1.5f + u(rng));
  for (auto& v : bias) v = qjit::float_to_bf16(u(rng));
  unsigned long long dx, dw, dws, db, dy, dq, ds, dwork = 0;
  if (cu.alloc(&dx, x.size() * 2) || cu.alloc(&dw, w.size()) || cu.alloc(&dws, kN * 4) || cu.alloc(&db, kN * 2) ||
      cu.alloc(&dy, y.size() * 2) || cu.alloc(&dq, xq.size()) || cu.alloc(&ds, kM * 4) ||
      (ws_bytes > 0 && cu.alloc(&dwork, ws_bytes)))
    return std::puts("cuMemAlloc failed"), 1;
  if (cu.htod(dx, x.data(), x.size() * 2) || cu.htod(dw, w.data(), w.size()) || cu.htod(dws, w_scale.data(), kN * 4) ||
      cu.htod(db, bias.data(), kN * 2) || cu.memset8(dy, 0xff, y.size() * 2))  // poison: bf16 NaN
    return std::puts("copy failed"), 1;
  qjit::Status s =
      run_layer(nullptr, kM, dev<qjit::bf16>(dx), dev<std::int8_t>(dw), dev<float>(dws), dev<qjit::bf16>(db),
                dev<qjit::bf16>(dy), kLdy, dev<std::int8_t>(dq), dev<float>(ds), dev<void>(dwork), &ws_bytes);
  if (!s.ok()) return std::printf("run: %s\n", s.to_string().c_str()), 1;
  if (cu.sync() || cu.dtoh(y.data(), dy, y.size() * 2) || cu.dtoh(xq.data(), dq, xq.size()) ||
      cu.dtoh(xs.data(), ds, kM * 4))
    return std::puts("copy back failed"), 1;
  double worst = 0;
  int pad_touched = 0;
  for (std::int64_t m = 0; m < kM; ++m) {
    for (std::int64_t n = kN; n < kLdy; ++n) pad_touched += y[m * kLdy + n].bits != 0xffff;
    for (std::int64_t n = 0; n < kN; ++n) {
      double acc = 0, mag = 0;
      for (std::int64_t k = 0; k < kK; ++k) {
        const double p = double(xq[m * kK + k]) * w[n * kK + k];
        acc += p;
        mag += std::fabs(p);
      }
      const double b = qjit::bf16_to_float(bias[n]);
      const double ref = double(xs[m]) * w_scale[n] * acc + b;
      const double got = qjit::bf16_to_float(y[m * kLdy + n]);
      const double err = std::fabs(got - ref) / (double(xs[m]) * w_scale[n] * mag + std::fabs(b) + 1e-30);
      if (!(err <= worst)) worst = std::isnan(err) ? INFINITY : err;
    }
  }
  auto plan = qjit::QuantizedLinearPlan<qjit::bf16>::select(
      qjit::Stream(), qjit::QuantizedLinearDescriptor::make<qjit::bf16>(kM, kN, kK, true));
  const double bound = plan->precision_guarantee().epilogue_relative_error;
  std::printf("%s\nworst relative error %.3g (bound %.3g); padding columns written: %d\n", plan->describe().c_str(),
              worst, bound, pad_touched);
  if (!(worst <= bound) || pad_touched != 0) return 1;
  std::puts("C++ consumer OK (GPU)");
  return 0;
}
