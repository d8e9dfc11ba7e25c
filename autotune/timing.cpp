// CUDA-event timing: one event pair per batch, synchronised per batch so a failing launch surfaces at once.
#include "autotune/timing.h"

#include <algorithm>
#include <vector>

namespace qjit::autotune {

Result<double> median_launch_us(const std::function<Status(int)>& launch, CUstream stream,
                                const TimingOptions& o) {
  QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
  if (o.reps < 1 || o.batch < 1)
    return Status(StatusCode::InvalidArgument, "timing reps and batch must be >= 1");
  int call = 0;
  for (int i = 0; i < o.warmup; ++i) QJIT_TRY(launch(call++));
  runtime::CUevent start = nullptr, stop = nullptr;
  QJIT_CU(*api, cuEventCreate, &start, 0);
  if (const auto rc = api->cuEventCreate(&stop, 0); rc != runtime::kCudaSuccess) {
    api->cuEventDestroy(start);
    return runtime::driver_error(*api, rc, "cuEventCreate");
  }
  std::vector<double> samples;
  Status failed;
  for (int r = 0; r < o.reps && failed.ok(); ++r) {
    if (const auto rc = api->cuEventRecord(start, stream); rc != runtime::kCudaSuccess) {
      failed = runtime::driver_error(*api, rc, "cuEventRecord");
      break;
    }
    for (int b = 0; b < o.batch && failed.ok(); ++b) failed = launch(call++);
    if (!failed.ok()) break;
    runtime::CUresult rc = api->cuEventRecord(stop, stream);
    if (rc == runtime::kCudaSuccess) rc = api->cuEventSynchronize(stop);
    float ms = 0;
    if (rc == runtime::kCudaSuccess) rc = api->cuEventElapsedTime(&ms, start, stop);
    if (rc != runtime::kCudaSuccess) {
      failed = runtime::driver_error(*api, rc, "timing events");
      break;
    }
    samples.push_back(1e3 * ms / o.batch);
  }
  api->cuEventDestroy(start);
  api->cuEventDestroy(stop);
  QJIT_TRY(failed);
  std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
  return samples[samples.size() / 2];
}

}  // namespace qjit::autotune
