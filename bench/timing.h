// Device timing for benchmarks: CUDA events around a batch of launches on the caller's stream, warm-up first,
// the median over repetitions. Shared by the Google Benchmark suites and `qjit bench`.
#pragma once

#include <algorithm>
#include <functional>
#include <vector>

#include "qjit/status.h"
#include "qjit/stream.h"
#include "runtime/driver.h"

namespace qjit::bench {

// Median microseconds per launch of `launch`, timed in `reps` batches of `batch` launches each.
inline Result<double> time_launches(const std::function<Status()>& launch, CUstream stream, int warmup, int reps,
                                    int batch = 5) {
  QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
  for (int i = 0; i < warmup; ++i) QJIT_TRY(launch());
  runtime::CUevent start = nullptr, stop = nullptr;
  QJIT_CU(*api, cuEventCreate, &start, 0);
  QJIT_CU(*api, cuEventCreate, &stop, 0);
  std::vector<double> samples;
  Status failed;
  for (int r = 0; r < reps && failed.ok(); ++r) {
    api->cuEventRecord(start, stream);
    for (int b = 0; b < batch && failed.ok(); ++b) failed = launch();
    api->cuEventRecord(stop, stream);
    if (api->cuEventSynchronize(stop) != runtime::kCudaSuccess) {
      failed = Status(StatusCode::DriverError, "cuEventSynchronize failed while timing");
      break;
    }
    float ms = 0;
    api->cuEventElapsedTime(&ms, start, stop);
    samples.push_back(1e3 * ms / batch);
  }
  api->cuEventDestroy(start);
  api->cuEventDestroy(stop);
  QJIT_TRY(failed);
  std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
  return samples[samples.size() / 2];
}

}  // namespace qjit::bench
