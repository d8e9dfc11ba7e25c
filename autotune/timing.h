// The timing harness the autotuner, the benchmarks and `qjit bench` judge kernels by: CUDA events around batches of
// launches on one stream, warm-up first, the median over batches. The launch callback gets a running call index so
// callers rotate through copies of their operands and keep the weights out of L2, as in a real model's forward pass;
// rotation_copies() is the one rule for how many copies that takes. Two load patterns: each batch synchronised (and
// optionally followed by an idle gap, the burst pattern of decode) or every batch enqueued back to back with one
// synchronisation at the end (the sustained pattern of a long prefill, where the board reaches its power limit).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "qjit/status.h"
#include "runtime/driver.h"

namespace qjit::autotune {

struct TimingOptions {
  int warmup = 3;  // launches before timing (also loads the module's code and fills the TLB)
  int reps = 20;   // timed batches; the median of their per-launch means is reported
  int batch = 5;   // launches per timed batch (amortises the ~µs event resolution on small kernels)
  // false: every batch is enqueued back to back and synchronised once at the end (sustained load); true: each batch
  // is synchronised before the next starts (the autotuner's default, and the burst pattern).
  bool sync_each_batch = true;
  int idle_us = 0;  // host-side idle time after each synchronised batch (burst load); needs sync_each_batch
  // Kernel launches one call of `launch` makes (a CUDA graph of N launches counts N): the per-launch mean divides
  // each batch's time by batch * launches_per_call.
  int launches_per_call = 1;
};

// Microseconds per launch of each timed batch, in the order they ran. `launch(i)` enqueues call i on `stream`, with
// i counting on from `*next_call` (0 when null; advanced past the calls made); its failure stops the timing.
Result<std::vector<double>> batch_launch_us(const std::function<Status(int)>& launch, CUstream stream,
                                            const TimingOptions& options, int* next_call = nullptr);

// Median microseconds per launch (the median of batch_launch_us).
Result<double> median_launch_us(const std::function<Status(int)>& launch, CUstream stream,
                                const TimingOptions& options);

// The median of `samples` (the upper of the two middle values for an even count, as the autotuner has always
// reported); 0 for none.
double median(std::vector<double> samples);

// The weight-rotation rule, shared by the autotuner and the benches: how many copies of an operand of `bytes` a
// timing loop cycles through so that consecutive launches never find their operand in the L2. Enough copies to span
// twice the L2 (l2_bytes <= 0, unknown: 128 MiB assumed, more than any current part's), at least kMinRotationCopies
// so consecutive launches always differ, at most kMaxRotationCopies (small operands: more copies than that buys
// nothing measurable and costs allocations), and never more than an eighth of the device's memory
// (device_memory_bytes <= 0, unknown: a 4 GiB budget), so tuning a huge layer cannot exhaust it.
inline constexpr int kMinRotationCopies = 2;
inline constexpr int kMaxRotationCopies = 256;
int rotation_copies(std::size_t bytes, std::int64_t l2_bytes, std::int64_t device_memory_bytes);

}  // namespace qjit::autotune
