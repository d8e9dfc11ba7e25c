// The timing harness the autotuner (and the benchmarks) judge kernels by: CUDA events around batches of launches on
// one stream, warm-up first, the median over repetitions. The launch callback gets a running call index so callers
// can rotate through copies of their operands and keep the weights out of L2, as in a real model's forward pass.
#pragma once

#include <functional>

#include "qjit/status.h"
#include "runtime/driver.h"

namespace qjit::autotune {

struct TimingOptions {
  int warmup = 3;  // launches before timing (also loads the module's code and fills the TLB)
  int reps = 20;   // timed batches; the median of their per-launch means is reported
  int batch = 5;   // launches per timed batch (amortises the ~µs event resolution on small kernels)
};

// Median microseconds per launch. `launch(i)` enqueues call i on `stream`; its failure stops the timing.
Result<double> median_launch_us(const std::function<Status(int)>& launch, CUstream stream,
                                const TimingOptions& options);

}  // namespace qjit::autotune
