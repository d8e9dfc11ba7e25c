// ActStatsAccumulator: calibration statistics of one linear's input, gathered over many batches. It keeps the
// per-channel absmax (what SmoothQuant needs, and what the reference implementation's act_scales file stores) and,
// optionally, a per-tensor histogram of |x| from which a clipping percentile is read for a static activation scale.
//
// The histogram buckets |x| by the top bits of its f32 pattern (exponent and 6 mantissa bits), so a bucket spans at
// most 1/64 of its value: percentile() returns the upper edge of the bucket holding the requested rank, an upper
// bound within 1.6% of the exact order statistic. It costs 16 K counters and is exact under merging.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "qjit/status.h"

namespace qjit::quant {

class ActStatsAccumulator {
 public:
  // n_channels > 0. with_histogram turns on the percentile sketch.
  static Result<ActStatsAccumulator> create(std::int64_t n_channels, bool with_histogram = false);

  // Feeds a batch [n_tokens, n_channels] (row-major). Non-finite values are rejected, naming the position; the
  // accumulator is unchanged when a batch is rejected.
  Status add_batch(std::span<const float> acts, std::int64_t n_tokens);
  // Merges another accumulator of the same width (e.g. one per calibration thread).
  Status merge(const ActStatsAccumulator& other);

  std::int64_t n_channels() const { return n_channels_; }
  std::int64_t n_tokens_seen() const { return n_tokens_; }
  bool has_histogram() const { return !histogram_.empty(); }
  const std::vector<float>& channel_absmax() const { return absmax_; }
  float tensor_absmax() const;

  // The p-th percentile (0 < p <= 100) of |x| over all values seen. Needs the histogram and at least one value.
  Result<float> percentile(double p) const;

 private:
  ActStatsAccumulator() = default;

  std::int64_t n_channels_ = 0;
  std::int64_t n_tokens_ = 0;
  std::vector<float> absmax_;
  std::vector<std::uint64_t> histogram_;  // indexed by f32 bits >> 17 of |x|
};

}  // namespace qjit::quant
