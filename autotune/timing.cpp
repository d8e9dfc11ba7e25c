// CUDA-event timing (see timing.h): one event pair per batch; the rotation rule.
#include "autotune/timing.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

namespace qjit::autotune {

Result<std::vector<double>> batch_launch_us(const std::function<Status(int)>& launch, CUstream stream,
                                            const TimingOptions& o, int* next_call) {
  if (o.reps < 1 || o.batch < 1 || o.launches_per_call < 1)
    return Status(StatusCode::InvalidArgument, "timing reps, batch and launches_per_call must be >= 1");
  if (o.warmup < 0 || o.idle_us < 0)
    return Status(StatusCode::InvalidArgument, "timing warmup and idle_us must be >= 0");
  QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
  int call = next_call ? *next_call : 0;
  for (int i = 0; i < o.warmup; ++i) QJIT_TRY(launch(call++));
  // One event pair per batch when batches run back to back (no host round trip between them); one reused pair
  // otherwise.
  const std::size_t pairs = o.sync_each_batch ? 1 : static_cast<std::size_t>(o.reps);
  std::vector<runtime::CUevent> events;
  Status failed;
  for (std::size_t i = 0; i < 2 * pairs && failed.ok(); ++i) {
    runtime::CUevent e = nullptr;
    if (const auto rc = api->cuEventCreate(&e, 0); rc != runtime::kCudaSuccess)
      failed = runtime::driver_error(*api, rc, "cuEventCreate");
    else
      events.push_back(e);
  }
  std::vector<double> samples;
  const double launches = static_cast<double>(o.batch) * o.launches_per_call;
  auto elapsed = [&](std::size_t pair) -> Status {
    runtime::CUresult rc = api->cuEventSynchronize(events[2 * pair + 1]);
    float ms = 0;
    if (rc == runtime::kCudaSuccess) rc = api->cuEventElapsedTime(&ms, events[2 * pair], events[2 * pair + 1]);
    if (rc != runtime::kCudaSuccess) return runtime::driver_error(*api, rc, "timing events");
    samples.push_back(1e3 * ms / launches);
    return Status();
  };
  for (int r = 0; r < o.reps && failed.ok(); ++r) {
    const std::size_t pair = o.sync_each_batch ? 0 : static_cast<std::size_t>(r);
    if (const auto rc = api->cuEventRecord(events[2 * pair], stream); rc != runtime::kCudaSuccess) {
      failed = runtime::driver_error(*api, rc, "cuEventRecord");
      break;
    }
    for (int b = 0; b < o.batch && failed.ok(); ++b) failed = launch(call++);
    if (!failed.ok()) break;
    if (const auto rc = api->cuEventRecord(events[2 * pair + 1], stream); rc != runtime::kCudaSuccess) {
      failed = runtime::driver_error(*api, rc, "cuEventRecord");
      break;
    }
    if (o.sync_each_batch) {
      failed = elapsed(0);
      if (failed.ok() && o.idle_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(o.idle_us));
    }
  }
  if (failed.ok() && !o.sync_each_batch)
    for (std::size_t p = 0; p < pairs && failed.ok(); ++p) failed = elapsed(p);
  for (runtime::CUevent e : events) api->cuEventDestroy(e);
  QJIT_TRY(failed);
  if (next_call) *next_call = call;
  return samples;
}

Result<double> median_launch_us(const std::function<Status(int)>& launch, CUstream stream, const TimingOptions& o) {
  QJIT_ASSIGN_OR_RETURN(std::vector<double> samples, batch_launch_us(launch, stream, o));
  return median(std::move(samples));
}

double median(std::vector<double> samples) {
  if (samples.empty()) return 0;
  std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
  return samples[samples.size() / 2];
}

int rotation_copies(std::size_t bytes, std::int64_t l2_bytes, std::int64_t device_memory_bytes) {
  const double size = static_cast<double>(std::max<std::size_t>(bytes, 1));
  const double l2 = static_cast<double>(l2_bytes > 0 ? l2_bytes : std::int64_t{128} << 20);
  const double budget = static_cast<double>(device_memory_bytes > 0 ? device_memory_bytes : std::int64_t{32} << 30) / 8;
  const double want = std::clamp(std::ceil(2.0 * l2 / size), double{kMinRotationCopies}, double{kMaxRotationCopies});
  // NOTE: the memory cap may leave a single copy for an operand larger than an eighth of the device: timing then
  // reuses it (it is larger than the L2 anyway).
  return static_cast<int>(std::max(1.0, std::min(want, std::floor(budget / size))));
}

}  // namespace qjit::autotune
