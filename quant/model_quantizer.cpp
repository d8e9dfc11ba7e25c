// quantize_model: plans the output file from the input header and the resolved layer mapping (so every name, dtype,
// shape and smoothing decision is known and checked before a byte is written), then streams it: the first tensor
// of each smoothing group triggers the group's work (load, smooth, fold, quantize, measure) and the group's results
// feed the next few producers. Peak memory is one group's weights, not the model.
#include "qjit/quant/model_quantizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "llvm/Support/FileSystem.h"
#include "qjit/linear.h"
#include "qjit/quant/asymmetric.h"
#include "qjit/quant/calibration.h"
#include "qjit/quant/safetensors.h"
#include "qjit/quant/smooth_quant.h"
#include "qjit/quant/w8a8.h"
#include "quant/check.h"
#include "quant/quantize_plan.h"

namespace qjit::quant {
namespace {

using detail::GroupPlan;
using detail::LinearPlan;

struct GroupResult {
  std::vector<W8A8Weights> weights;
  std::vector<std::vector<std::byte>> smoothed;  // --smooth-only: W·diag(s) in the weight's dtype
  std::vector<float> input_scale;                // one per linear, only meaningful when has_stats
  std::vector<float> smooth_scale;               // SmoothMode::Vector: s (the file gets pre_quant_scale = 1/s)
  std::vector<std::byte> norm_weight;            // folded, in the norm's dtype (empty when not folded)
  std::vector<std::byte> norm_bias;
};

std::vector<std::byte> to_dtype(const std::vector<float>& v, SafetensorsDtype dtype) {
  const std::size_t size = dtype.bits() / 8;
  std::vector<std::byte> out(v.size() * size);
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (dtype == ElementKind::F32) {
      std::memcpy(out.data() + 4 * i, &v[i], 4);
    } else {
      const std::uint16_t h = dtype == ElementKind::F16 ? float_to_f16(v[i]).bits : float_to_bf16(v[i]).bits;
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  }
  return out;
}

// Rows `rows` of a row-major [*, k] matrix.
std::vector<float> take_rows(const std::vector<float>& m, const std::vector<std::int64_t>& rows, std::int64_t k) {
  std::vector<float> out;
  out.reserve(rows.size() * static_cast<std::size_t>(k));
  for (auto r : rows) out.insert(out.end(), m.begin() + r * k, m.begin() + (r + 1) * k);
  return out;
}

// `count` indices spread evenly over [0, n).
std::vector<std::int64_t> spread(std::int64_t n, std::int64_t count) {
  std::vector<std::int64_t> out;
  count = std::min(n, count);
  for (std::int64_t r = 0; r < count; ++r) out.push_back(r * n / count);
  return out;
}

// x·wᵀ in f64 (x [m, k], w [n, k]).
std::vector<double> exact_product(const std::vector<float>& x, const std::vector<float>& w, std::int64_t m,
                                  std::int64_t k) {
  const auto n = static_cast<std::int64_t>(w.size()) / k;
  std::vector<double> ref(static_cast<std::size_t>(m * n));
  for (std::int64_t t = 0; t < m; ++t)
    for (std::int64_t r = 0; r < n; ++r) {
      double acc = 0.0;
      for (std::int64_t j = 0; j < k; ++j) acc += static_cast<double>(x[t * k + j]) * w[r * k + j];
      ref[static_cast<std::size_t>(t * n + r)] = acc;
    }
  return ref;
}

// The W8A8 error, as the engine computes the linear (smoothed_w8a8_linear), of x against ref: w holds the rows
// of the weight the engine would get (W·diag(s) when s is given).
Result<double> engine_error(const std::vector<float>& x, std::int64_t m, const std::vector<float>& w, std::int64_t k,
                            std::span<const float> s, const std::vector<double>& ref) {
  QJIT_ASSIGN_OR_RETURN(auto wq, quantize_weight_per_channel(w.data(), static_cast<std::int64_t>(w.size()) / k, k));
  std::vector<float> inv(s.size());  // the engine multiplies by pre_quant_scale = RN(1/s), as qjit writes it
  for (std::size_t i = 0; i < s.size(); ++i) inv[i] = 1.0f / s[i];
  QJIT_ASSIGN_OR_RETURN(auto y, smoothed_w8a8_linear(x, m, wq, inv));
  return relative_error(y, ref);
}

// One linear's sample inputs for the error columns, with the exact product of the original weight rows.
struct ErrorSample {
  std::vector<float> x;
  std::int64_t tokens = 0;
  std::vector<double> ref;
};

class ModelQuantizer {
 public:
  ModelQuantizer(const QuantizeOptions& o, SafetensorsFile w, std::optional<SafetensorsFile> s,
                 std::optional<SafetensorsFile> e)
      : options_(o), weights_(std::move(w)), stats_(std::move(s)), eval_(std::move(e)), migrator_(o.alpha) {}

  Status plan(const LayerMapping& mapping, QuantizeReport* report) {
    QJIT_ASSIGN_OR_RETURN(groups_, detail::plan_groups(options_, mapping, weights_, stats_ ? &*stats_ : nullptr,
                                                       eval_ ? &*eval_ : nullptr, report));
    return Status();
  }
  Status add_outputs(SafetensorsWriter* writer, QuantizeReport* report);

 private:
  Status run_group(std::size_t g, QuantizeReport* report);
  Result<ErrorSample> eval_sample(const LinearPlan& lp, const std::vector<float>& rows, std::int64_t k) const;
  Result<const GroupResult*> group(std::size_t g, QuantizeReport* report) {
    if (current_ != g) {
      QJIT_TRY(run_group(g, report));
      current_ = g;
      if (options_.progress)
        options_.progress(static_cast<std::int64_t>(g + 1), static_cast<std::int64_t>(groups_.size()),
                          groups_[g].linears.front().module);
    }
    return &result_;
  }

  const QuantizeOptions& options_;
  SafetensorsFile weights_;
  std::optional<SafetensorsFile> stats_;
  std::optional<SafetensorsFile> eval_;
  SmoothQuantMigrator migrator_;
  std::vector<GroupPlan> groups_;
  std::size_t current_ = static_cast<std::size_t>(-1);
  GroupResult result_;
};

Result<ErrorSample> ModelQuantizer::eval_sample(const LinearPlan& lp, const std::vector<float>& rows,
                                                std::int64_t k) const {
  ErrorSample e;
  QJIT_ASSIGN_OR_RETURN(auto all, eval_->read_f32(lp.eval->name));
  const std::int64_t tokens = lp.eval->shape[0];
  e.x = take_rows(all, spread(tokens, kMaxErrorProxyTokens), k);
  e.tokens = static_cast<std::int64_t>(e.x.size()) / k;
  for (float v : e.x)
    if (!std::isfinite(v)) return detail::invalid("eval acts \"" + lp.eval->name + "\" must be finite");
  e.ref = exact_product(e.x, rows, e.tokens, k);
  return e;
}

Status ModelQuantizer::run_group(std::size_t g, QuantizeReport* report) {
  const GroupPlan& gp = groups_[g];
  const std::int64_t k = gp.k;
  result_ = GroupResult{};
  // act_max of the shared input: the max over the linears that have stats (they all see the same input).
  std::vector<float> act_max;
  for (const auto& lp : gp.linears) {
    if (!lp.stats) continue;
    QJIT_ASSIGN_OR_RETURN(auto a, stats_->read_f32(lp.stats->name));
    for (std::size_t j = 0; j < a.size(); ++j)
      if (!(std::isfinite(a[j]) && a[j] >= 0.0f))
        return detail::invalid(
            llvm::formatv("act stats \"{0}\"[{1}] must be finite and >= 0, got {2}", lp.stats->name, j, a[j]).str());
    if (act_max.empty())
      act_max = std::move(a);
    else
      for (std::size_t j = 0; j < a.size(); ++j) act_max[j] = std::max(act_max[j], a[j]);
  }
  const bool has_stats = !act_max.empty();
  const bool smooth = gp.mode != SmoothMode::None;  // NOTE: plan_groups only smooths groups with stats

  std::vector<std::vector<float>> w;
  for (const auto& lp : gp.linears) {
    QJIT_ASSIGN_OR_RETURN(auto v, weights_.read_f32(lp.weight->name));
    w.push_back(std::move(v));
  }
  // Sampled rows of the original weights, the proxy batch and the recorded batches, with their exact products.
  const std::int64_t tokens = options_.error_proxy_tokens;
  const bool measure = has_stats && tokens > 0 && options_.error_proxy_rows > 0;
  ErrorSample proxy;
  if (measure) {
    proxy.x = detail::proxy_activations(act_max, tokens);
    proxy.tokens = tokens;
  }
  std::vector<std::vector<std::int64_t>> rows(w.size());
  std::vector<ErrorSample> proxies(w.size()), evals(w.size());
  // NOTE: plan_groups filled each linear's row of the report (its decisions); the measurements go in here.
  auto stat = [&](std::size_t l) -> LayerQuantStats& { return report->linears[gp.linears[l].report_index]; };
  for (std::size_t l = 0; l < w.size(); ++l) {
    const LinearPlan& lp = gp.linears[l];
    LayerQuantStats& st = stat(l);
    const bool eval = lp.eval != nullptr && options_.error_proxy_rows > 0;
    if (!measure && !eval) continue;
    rows[l] = spread(st.n, options_.error_proxy_rows);
    const auto original = take_rows(w[l], rows[l], k);
    if (measure) {
      proxies[l] = ErrorSample{proxy.x, tokens, exact_product(proxy.x, original, tokens, k)};
      QJIT_ASSIGN_OR_RETURN(st.w8a8_error_plain, engine_error(proxy.x, tokens, original, k, {}, proxies[l].ref));
    }
    if (eval) {
      QJIT_ASSIGN_OR_RETURN(evals[l], eval_sample(lp, original, k));
      st.eval_tokens = evals[l].tokens;
      QJIT_ASSIGN_OR_RETURN(st.eval_error_plain,
                            engine_error(evals[l].x, evals[l].tokens, original, k, {}, evals[l].ref));
    }
  }

  std::vector<float> s;
  if (smooth) {
    std::vector<WeightRef> refs_w;
    for (std::size_t l = 0; l < w.size(); ++l) refs_w.push_back(WeightRef{w[l].data(), gp.linears[l].weight->shape[0]});
    QJIT_ASSIGN_OR_RETURN(s, migrator_.smooth_shared_input(act_max, refs_w));
    if (gp.mode == SmoothMode::Folded) {
      QJIT_ASSIGN_OR_RETURN(auto nw, weights_.read_f32(gp.norm_weight->name));
      std::vector<float> nb;
      if (gp.norm_bias) {
        QJIT_ASSIGN_OR_RETURN(nb, weights_.read_f32(gp.norm_bias->name));
      }
      QJIT_TRY(fold_into_norm(nw, nb, s).with_context("folding into \"" + gp.norm_weight->name + "\""));
      result_.norm_weight = to_dtype(nw, gp.norm_weight->dtype);
      if (gp.norm_bias) result_.norm_bias = to_dtype(nb, gp.norm_bias->dtype);
    } else {
      result_.smooth_scale = s;
    }
    for (std::size_t l = 0; l < w.size(); ++l) {
      if (rows[l].empty()) continue;
      const auto smoothed_rows = take_rows(w[l], rows[l], k);
      if (measure) {
        QJIT_ASSIGN_OR_RETURN(stat(l).w8a8_error_smoothed,
                              engine_error(proxy.x, tokens, smoothed_rows, k, s, proxies[l].ref));
      }
      if (!evals[l].x.empty()) {
        QJIT_ASSIGN_OR_RETURN(stat(l).eval_error_smoothed,
                              engine_error(evals[l].x, evals[l].tokens, smoothed_rows, k, s, evals[l].ref));
      }
    }
  }
  for (std::size_t l = 0; l < w.size(); ++l) {
    const std::int64_t n = gp.linears[l].weight->shape[0];
    QJIT_ASSIGN_OR_RETURN(auto q, quantize_weight_per_channel(w[l].data(), n, k));
    double num = 0.0, den = 0.0;
    for (std::int64_t r = 0; r < n; ++r)
      for (std::int64_t j = 0; j < k; ++j) {
        const double ref = w[l][r * k + j];
        const double d = static_cast<double>(q.weight[r * k + j]) * q.weight_scale[r] - ref;
        num += d * d;
        den += ref * ref;
      }
    stat(l).weight_rel_error = den > 0.0 ? std::sqrt(num / den) : 0.0;
    if (has_stats) {
      auto scale = static_activation_scale(act_max, s);
      if (!scale) return scale.error().with_context("act stats of \"" + gp.linears[l].module + "\"");
      stat(l).input_scale = *scale;
    }
    result_.input_scale.push_back(stat(l).input_scale);
    if (options_.quantize_weights)
      result_.weights.push_back(std::move(q));
    else
      result_.smoothed.push_back(to_dtype(w[l], gp.linears[l].weight->dtype));
  }
  if (gp.mode == SmoothMode::Folded) report->folded_norms.push_back(gp.norm_weight->name);
  return Status();
}

Status ModelQuantizer::add_outputs(SafetensorsWriter* writer, QuantizeReport* report) {
  std::set<std::string> consumed;  // input tensors replaced or rewritten
  // A tensor produced from group g's results by `fill`.
  using Fill = std::function<Status(const GroupResult&, std::span<std::byte>)>;
  auto from_group = [this, report](std::size_t g, Fill fill) {
    return [this, g, report, fill = std::move(fill)](std::span<std::byte> out) -> Status {
      QJIT_ASSIGN_OR_RETURN(const GroupResult* r, group(g, report));
      return fill(*r, out);
    };
  };
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const GroupPlan& gp = groups_[g];
    for (const auto& lp : gp.linears) consumed.insert(lp.weight->name);
    for (const TensorInfo* t : {gp.norm_weight, gp.norm_bias}) {
      if (!t || gp.mode != SmoothMode::Folded) continue;
      consumed.insert(t->name);
      const bool is_bias = t == gp.norm_bias;
      QJIT_TRY(writer->add_streamed(t->name, t->dtype, t->shape,
                                    from_group(g, [is_bias](const GroupResult& r, std::span<std::byte> out) {
                                      const auto& folded = is_bias ? r.norm_bias : r.norm_weight;
                                      std::memcpy(out.data(), folded.data(), out.size());
                                      return Status();
                                    })));
    }
    for (std::size_t l = 0; l < gp.linears.size(); ++l) {
      const auto& lp = gp.linears[l];
      const std::int64_t n = lp.weight->shape[0];
      if (!options_.quantize_weights) {
        QJIT_TRY(writer->add_streamed(lp.module + ".weight", lp.weight->dtype, {n, gp.k},
                                      from_group(g, [l](const GroupResult& r, std::span<std::byte> out) {
                                        std::memcpy(out.data(), r.smoothed[l].data(), out.size());
                                        return Status();
                                      })));
      } else {
        const std::int64_t stride = written_row_stride(options_, gp.k);
        QJIT_TRY(writer->add_streamed(lp.module + ".weight", ElementKind::S8, {n, stride},
                                      from_group(g, [l, n, k = gp.k, stride](const GroupResult& r,
                                                                              std::span<std::byte> out) {
                                        const std::int8_t* w = r.weights[l].weight.data();
                                        if (stride == k) {
                                          std::memcpy(out.data(), w, out.size());
                                          return Status();
                                        }
                                        // pad_rows: each row, then zeros up to the stride
                                        std::memset(out.data(), 0, out.size());
                                        for (std::int64_t row = 0; row < n; ++row)
                                          std::memcpy(out.data() + row * stride, w + row * k,
                                                      static_cast<std::size_t>(k));
                                        return Status();
                                      })));
        QJIT_TRY(writer->add_streamed(lp.module + ".weight_scale", ElementKind::F32, {n},
                                      from_group(g, [l](const GroupResult& r, std::span<std::byte> out) {
                                        std::memcpy(out.data(), r.weights[l].weight_scale.data(), out.size());
                                        return Status();
                                      })));
        if (options_.weight_colsum)
          QJIT_TRY(writer->add_streamed(lp.module + ".weight_colsum", ElementKind::S32, {n},
                                        from_group(g, [l, n, k = gp.k](const GroupResult& r, std::span<std::byte> out) {
                                          QJIT_ASSIGN_OR_RETURN(auto sums,
                                                                weight_colsum(r.weights[l].weight.data(), n, k, k));
                                          std::memcpy(out.data(), sums.data(), out.size());
                                          return Status();
                                        })));
        if (gp.has_stats)
          QJIT_TRY(writer->add_streamed(lp.module + ".input_scale", ElementKind::F32, {1},
                                        from_group(g, [l](const GroupResult& r, std::span<std::byte> out) {
                                          std::memcpy(out.data(), &r.input_scale[l], 4);
                                          return Status();
                                        })));
      }
      if (gp.mode == SmoothMode::Vector)
        // The engine multiplies x by it: pre_quant_scale = RN_f32(1 / s), one multiply per element in its pass.
        QJIT_TRY(writer->add_streamed(lp.module + ".pre_quant_scale", ElementKind::F32, {gp.k},
                                      from_group(g, [](const GroupResult& r, std::span<std::byte> out) {
                                        std::vector<float> inv(r.smooth_scale.size());
                                        for (std::size_t i = 0; i < inv.size(); ++i) inv[i] = 1.0f / r.smooth_scale[i];
                                        std::memcpy(out.data(), inv.data(), out.size());
                                        return Status();
                                      })));
    }
  }
  for (const auto& t : weights_.tensors()) {
    if (consumed.count(t.name)) continue;
    QJIT_TRY(writer->add_streamed(t.name, t.dtype, t.shape, [this, info = &t](std::span<std::byte> out) {
      return weights_.read_into(*info, out);
    }));
    ++report->tensors_copied;
  }
  return Status();
}

}  // namespace

std::int64_t written_row_stride(const QuantizeOptions& options, std::int64_t k) {
  return options.pad_rows && options.quantize_weights && k % 16 != 0 ? preferred_row_stride(k) : k;
}

std::string_view smooth_mode_name(SmoothMode mode) {
  switch (mode) {
    case SmoothMode::None: return "none";
    case SmoothMode::Folded: return "folded";
    case SmoothMode::Vector: return "pre_quant_scale";
  }
  return "?";
}

Result<QuantizeReport> quantize_model(const QuantizeOptions& options) {
  if (options.weights_path.empty()) return detail::invalid("weights_path must not be empty");
  if (options.out_path.empty()) return detail::invalid("out_path must not be empty");
  if (options.out_path == options.weights_path)
    return detail::invalid("out_path must differ from weights_path (the input is read while the output is written)");
  if (options.weight_colsum && !options.quantize_weights)
    return detail::invalid("weight_colsum needs quantize_weights = true (the column sums are of the int8 weight)");
  if (options.pad_rows && !options.quantize_weights)
    return detail::invalid("pad_rows needs quantize_weights = true (only int8 weights are written padded)");
  // NOTE: the error table multiplies these by K and N to size its buffers; bounding them here keeps every product
  // far from overflow (a wrapped size once allocated 256 bytes for 2^58 tokens and wrote past them).
  if (options.error_proxy_tokens < 0 || options.error_proxy_tokens > kMaxErrorProxyTokens)
    return detail::invalid(llvm::formatv("error_proxy_tokens must be in [0, {0}], got {1}", kMaxErrorProxyTokens,
                                         options.error_proxy_tokens)
                               .str());
  if (options.error_proxy_rows < 0 || options.error_proxy_rows > kMaxErrorProxyRows)
    return detail::invalid(
        llvm::formatv("error_proxy_rows must be in [0, {0}], got {1}", kMaxErrorProxyRows, options.error_proxy_rows)
            .str());
  QJIT_TRY(validate(SmoothQuantConfig{options.alpha, kDefaultMinScale}));
  QJIT_ASSIGN_OR_RETURN(auto weights, SafetensorsFile::open(options.weights_path));
  auto open_optional = [](const std::string& path) -> Result<std::optional<SafetensorsFile>> {
    if (path.empty()) return std::optional<SafetensorsFile>();
    QJIT_ASSIGN_OR_RETURN(auto f, SafetensorsFile::open(path));
    return std::optional<SafetensorsFile>(std::move(f));
  };
  QJIT_ASSIGN_OR_RETURN(auto stats, open_optional(options.act_stats_path));
  QJIT_ASSIGN_OR_RETURN(auto eval, open_optional(options.eval_acts_path));
  LayerMapping mapping;
  if (options.mapping) {
    mapping = *options.mapping;
  } else {
    std::vector<std::string> names;
    for (const auto& t : weights.tensors()) names.push_back(t.name);
    QJIT_ASSIGN_OR_RETURN(mapping, detect_layer_mapping(names));
  }
  QuantizeReport report;
  ModelQuantizer q(options, std::move(weights), std::move(stats), std::move(eval));
  QJIT_TRY(q.plan(mapping, &report));
  SafetensorsWriter writer;
  writer.set_metadata("format", "pt");
  writer.set_metadata("quantized_by", "qjit quantize");
  for (auto& [key, value] : detail::report_metadata(options, report)) writer.set_metadata(key, value);
  QJIT_TRY(q.add_outputs(&writer, &report));
  std::vector<std::string> inputs{options.weights_path};
  for (const auto* p : {&options.act_stats_path, &options.eval_acts_path})
    if (!p->empty()) inputs.push_back(*p);
  QJIT_TRY(writer.write(options.out_path, inputs));
  std::uint64_t size = 0;
  if (!llvm::sys::fs::file_size(options.out_path, size)) report.bytes_written = size;
  return report;
}

}  // namespace qjit::quant
