// ActStatsAccumulator: running per-channel absmax over calibration batches plus an optional per-tensor histogram
// of |x| keyed by the top 15 bits of its f32 pattern (8 exponent + 6 mantissa bits after dropping the sign), which
// makes bucketing a shift and merging a sum. A batch is validated in full before it touches the state.
#include "qjit/quant/act_stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/check.h"

namespace qjit::quant {
namespace {

constexpr int kBucketShift = 17;
constexpr std::size_t kBuckets = (0x7f800000u >> kBucketShift) + 1;  // finite |x| only

std::uint32_t abs_bits(float x) {
  std::uint32_t b;
  std::memcpy(&b, &x, 4);
  return b & 0x7fffffffu;
}

}  // namespace

Result<ActStatsAccumulator> ActStatsAccumulator::create(std::int64_t n_channels, bool with_histogram) {
  if (n_channels <= 0) return detail::invalid(llvm::formatv("n_channels must be > 0, got {0}", n_channels).str());
  ActStatsAccumulator acc;
  acc.n_channels_ = n_channels;
  acc.absmax_.assign(static_cast<std::size_t>(n_channels), 0.0f);
  if (with_histogram) acc.histogram_.assign(kBuckets, 0);
  return acc;
}

Status ActStatsAccumulator::add_batch(std::span<const float> acts, std::int64_t n_tokens) {
  QJIT_TRY(detail::check_dims("n_tokens", n_tokens, "n_channels", n_channels_));
  QJIT_TRY(detail::check_size("acts", acts.size(), n_tokens * n_channels_, "n_tokens * n_channels"));
  // NOTE: validate first so a rejected batch leaves the statistics untouched.
  float probe = 0.0f;
  for (float x : acts) probe += x * 0.0f;
  if (probe != 0.0f) return detail::non_finite_error("acts", acts.data(), n_tokens, n_channels_);
  float* m = absmax_.data();
  for (std::int64_t t = 0; t < n_tokens; ++t) {
    const float* row = acts.data() + t * n_channels_;
    for (std::int64_t j = 0; j < n_channels_; ++j) {
      const float a = std::fabs(row[j]);
      m[j] = a > m[j] ? a : m[j];
    }
  }
  if (!histogram_.empty())
    for (float x : acts) ++histogram_[abs_bits(x) >> kBucketShift];
  n_tokens_ += n_tokens;
  return Status();
}

Status ActStatsAccumulator::merge(const ActStatsAccumulator& other) {
  if (other.n_channels_ != n_channels_)
    return detail::invalid(
        llvm::formatv("other.n_channels() must equal n_channels() = {0}, got {1}", n_channels_, other.n_channels_)
            .str());
  if (other.has_histogram() != has_histogram())
    return detail::invalid(
        llvm::formatv("other.has_histogram() must equal has_histogram() = {0}", has_histogram()).str());
  for (std::size_t j = 0; j < absmax_.size(); ++j) absmax_[j] = std::max(absmax_[j], other.absmax_[j]);
  for (std::size_t b = 0; b < histogram_.size(); ++b) histogram_[b] += other.histogram_[b];
  n_tokens_ += other.n_tokens_;
  return Status();
}

float ActStatsAccumulator::tensor_absmax() const {
  return absmax_.empty() ? 0.0f : *std::max_element(absmax_.begin(), absmax_.end());
}

Result<float> ActStatsAccumulator::percentile(double p) const {
  if (histogram_.empty())
    return Status(StatusCode::InvalidArgument, "percentile() needs an accumulator created with with_histogram = true");
  if (!(p > 0.0 && p <= 100.0)) return detail::invalid(llvm::formatv("p must be in (0, 100], got {0}", p).str());
  std::uint64_t total = 0;
  for (auto c : histogram_) total += c;
  if (total == 0) return detail::invalid("percentile() needs at least one value fed with add_batch");
  // The rank of the p-th percentile (nearest-rank definition), 1-based.
  const auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total)));
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < histogram_.size(); ++b) {
    seen += histogram_[b];
    if (seen >= std::max<std::uint64_t>(rank, 1)) {
      const std::uint32_t upper = static_cast<std::uint32_t>(b + 1) << kBucketShift;
      float edge;
      std::memcpy(&edge, &upper, 4);
      // The edge of the last finite bucket is +inf; the tensor absmax bounds it better.
      return std::min(edge, tensor_absmax());
    }
  }
  return tensor_absmax();
}

}  // namespace qjit::quant
