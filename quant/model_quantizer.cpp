// quantize_model: plans the output file from the input header and the layer mapping (so every name, dtype and
// shape is known and checked before a byte is written), then streams it: the first tensor of each smoothing group
// triggers the group's work (load, smooth, fold, quantize, measure) and the group's results feed the next few
// producers. Peak memory is one group's weights, not the model.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "qjit/quant/calibration.h"
#include "qjit/quant/model_quantizer.h"
#include "qjit/quant/safetensors.h"
#include "qjit/quant/smooth_quant.h"
#include "qjit/quant/w8a8.h"
#include "llvm/Support/FileSystem.h"
#include "quant/check.h"

namespace qjit::quant {
namespace {

struct LinearPlan {
  std::string module;
  const TensorInfo* weight = nullptr;
  const TensorInfo* stats = nullptr;  // null when missing
};

struct GroupPlan {
  std::string prefix;                  // "model.layers.3."
  const TensorInfo* norm_weight = nullptr;
  const TensorInfo* norm_bias = nullptr;
  std::vector<LinearPlan> linears;
  std::int64_t k = 0;
  bool has_stats = false;  // some linear of the group has stats
};

struct GroupResult {
  std::vector<W8A8Weights> weights;
  std::vector<float> input_scale;      // one per linear, only meaningful when has_stats
  std::vector<std::byte> norm_weight;  // folded, in the norm's dtype (empty when not smoothed)
  std::vector<std::byte> norm_bias;
};

// Every tensor under the layer prefix must carry a layer index find_layer_indices understands (1 to 9 decimal
// digits); otherwise it would silently be copied unquantized ("model.layers.-1.", "model.layers.1234567890.").
Status check_layer_names(const LayerMapping& mapping, const std::vector<std::string>& names, const std::string& path) {
  const auto pos = mapping.layer_prefix.find("{i}");
  if (pos == std::string::npos) return Status();
  const std::string before = mapping.layer_prefix.substr(0, pos);
  const std::string after = mapping.layer_prefix.substr(pos + 3);
  for (const auto& n : names) {
    if (n.compare(0, before.size(), before) != 0) continue;
    std::size_t i = before.size();
    while (i < n.size() && n[i] >= '0' && n[i] <= '9') ++i;
    const std::size_t digits = i - before.size();
    if (digits >= 1 && digits <= 9 && n.compare(i, after.size(), after) == 0) continue;
    return detail::invalid(llvm::formatv("tensor \"{0}\" in '{1}' starts with the layer prefix \"{2}\" but its layer "
                                         "index must be a decimal integer of 1 to 9 digits followed by \"{3}\"",
                                         n.substr(0, 200), path, before, after).str());
  }
  return Status();
}

std::string replace_layer(const std::string& prefix, std::int64_t i) {
  const auto pos = prefix.find("{i}");
  return prefix.substr(0, pos) + std::to_string(i) + prefix.substr(pos + 3);
}

std::vector<std::byte> to_dtype(const std::vector<float>& v, ElementKind dtype) {
  std::vector<std::byte> out(v.size() * element_size(dtype));
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

// Relative Frobenius error of y (f32) against ref (f64).
double rel_error(const std::vector<float>& y, const std::vector<double>& ref) {
  double num = 0.0, den = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(y[i]) - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return den > 0.0 ? std::sqrt(num / den) : std::sqrt(num);
}

// W8A8 error of x·wᵀ against ref (x [m, k] f32, w [n, k] f32).
Result<double> w8a8_rel_error(const std::vector<float>& x, const std::vector<float>& w, const std::vector<double>& ref,
                              std::int64_t m, std::int64_t k, std::int64_t n) {
  QJIT_ASSIGN_OR_RETURN(auto xq, quantize_rows_per_token(x.data(), m, k));
  QJIT_ASSIGN_OR_RETURN(auto wq, quantize_weight_per_channel(w.data(), n, k));
  QJIT_ASSIGN_OR_RETURN(auto y, w8a8_gemm_reference(xq.q, xq.scale, wq, m));
  return rel_error(y, ref);
}

// Proxy activations for the error table: x[t, j] uniform in ±act_max[j], fixed seed (reproducible tables).
std::vector<float> proxy_activations(const std::vector<float>& act_max, std::int64_t tokens) {
  std::mt19937_64 rng(0x5eed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const auto k = static_cast<std::int64_t>(act_max.size());
  std::vector<float> x(static_cast<std::size_t>(tokens * k));
  for (std::int64_t t = 0; t < tokens; ++t)
    for (std::int64_t j = 0; j < k; ++j) x[static_cast<std::size_t>(t * k + j)] = act_max[j] * u(rng);
  return x;
}

class ModelQuantizer {
 public:
  ModelQuantizer(const QuantizeOptions& o, SafetensorsFile w, std::optional<SafetensorsFile> s)
      : options_(o), weights_(std::move(w)), stats_(std::move(s)), migrator_(o.alpha) {}

  Status plan(const LayerMapping& mapping, QuantizeReport* report);
  Status add_outputs(SafetensorsWriter* writer, QuantizeReport* report);

 private:
  Status run_group(std::size_t g, QuantizeReport* report);
  Result<const GroupResult*> group(std::size_t g, QuantizeReport* report) {
    if (current_ != g) {
      QJIT_TRY(run_group(g, report));
      current_ = g;
      if (options_.progress) options_.progress(static_cast<std::int64_t>(g + 1), static_cast<std::int64_t>(groups_.size()),
                          groups_[g].linears.front().module);
    }
    return &result_;
  }

  const QuantizeOptions& options_;
  SafetensorsFile weights_;
  std::optional<SafetensorsFile> stats_;
  SmoothQuantMigrator migrator_;
  std::vector<GroupPlan> groups_;
  std::set<std::string> consumed_;  // input tensors replaced or rewritten
  std::size_t current_ = static_cast<std::size_t>(-1);
  GroupResult result_;
};

Status ModelQuantizer::plan(const LayerMapping& mapping, QuantizeReport* report) {
  std::vector<std::string> names;
  for (const auto& t : weights_.tensors()) names.push_back(t.name);
  QJIT_TRY(check_layer_names(mapping, names, options_.weights_path));
  const auto layers = find_layer_indices(mapping, names);
  if (layers.empty())
    return detail::invalid("no tensor in '" + options_.weights_path + "' matches layer_prefix \"" +
                           mapping.layer_prefix + "\"");
  report->family = mapping.family;
  report->n_layers = static_cast<std::int64_t>(layers.size());
  std::set<std::string> stats_used;
  for (auto i : layers) {
    const std::string prefix = replace_layer(mapping.layer_prefix, i);
    for (const auto& sg : mapping.groups) {
      GroupPlan gp;
      gp.prefix = prefix;
      for (const auto& suffix : sg.linears) {
        LinearPlan lp;
        lp.module = prefix + suffix;
        lp.weight = weights_.find(lp.module + ".weight");
        if (!lp.weight) return detail::invalid("tensor \"" + lp.module + ".weight\" (from the mapping) is not in '" +
                                               options_.weights_path + "'");
        const auto& w = *lp.weight;
        if (w.shape.size() != 2 || w.shape[0] <= 0 || w.shape[1] <= 0)
          return detail::invalid("tensor \"" + w.name + "\" must be a non-empty 2-D [out, in] weight");
        if (!is_floating(w.dtype))
          return detail::invalid("tensor \"" + w.name + "\" dtype must be F32, F16 or BF16, got " +
                                 std::string(element_name(w.dtype)));
        if (gp.k == 0) gp.k = w.shape[1];
        if (w.shape[1] != gp.k)
          return detail::invalid(llvm::formatv("tensor \"{0}\" shape[1] must equal the group's in_features {1} (linears "
                                               "behind one norm share their input), got {2}", w.name, gp.k,
                                               w.shape[1]).str());
        if (stats_) {
          lp.stats = stats_->find(lp.module);
          if (lp.stats) {
            stats_used.insert(lp.module);
            if (!is_floating(lp.stats->dtype) || lp.stats->numel() != gp.k || lp.stats->shape.size() != 1)
              return detail::invalid(llvm::formatv("act stats \"{0}\" must be a floating tensor of shape [{1}]",
                                                   lp.module, gp.k).str());
          }
        }
        if (!lp.stats) report->missing_stats.push_back(lp.module);
        else gp.has_stats = true;
        consumed_.insert(w.name);
        gp.linears.push_back(std::move(lp));
      }
      if (!sg.norm.empty()) {
        const std::string norm = prefix + sg.norm;
        gp.norm_weight = weights_.find(norm + ".weight");
        if (!gp.norm_weight)
          return detail::invalid("tensor \"" + norm + ".weight\" (from the mapping) is not in '" + options_.weights_path + "'");
        gp.norm_bias = weights_.find(norm + ".bias");
        for (const TensorInfo* t : {gp.norm_weight, gp.norm_bias})
          if (t && (!is_floating(t->dtype) || t->shape.size() != 1 || t->shape[0] != gp.k))
            return detail::invalid(llvm::formatv("norm tensor \"{0}\" must be a floating tensor of shape [{1}]",
                                                 t->name, gp.k).str());
      }
      groups_.push_back(std::move(gp));
    }
  }
  if (stats_)
    for (const auto& t : stats_->tensors())
      if (!stats_used.count(t.name)) report->unused_stats.push_back(t.name);
  if (options_.require_stats && !report->missing_stats.empty())
    return detail::invalid(llvm::formatv("act stats are missing for {0} linear(s), first \"{1}\" (--require-stats)",
                                         report->missing_stats.size(), report->missing_stats.front()).str());
  return Status();
}

Status ModelQuantizer::run_group(std::size_t g, QuantizeReport* report) {
  const GroupPlan& gp = groups_[g];
  const std::int64_t k = gp.k;
  result_ = GroupResult{};
  // act_max of the shared input: the max over the linears that have stats (they all see the same input).
  std::vector<float> act_max;
  for (const auto& lp : gp.linears) {
    if (!lp.stats) continue;
    QJIT_ASSIGN_OR_RETURN(auto a, stats_->read_f32(lp.module));
    for (std::size_t j = 0; j < a.size(); ++j)
      if (!(std::isfinite(a[j]) && a[j] >= 0.0f))
        return detail::invalid(llvm::formatv("act stats \"{0}\"[{1}] must be finite and >= 0, got {2}", lp.module, j,
                                             a[j]).str());
    if (act_max.empty()) act_max = std::move(a);
    else for (std::size_t j = 0; j < a.size(); ++j) act_max[j] = std::max(act_max[j], a[j]);
  }
  const bool has_stats = !act_max.empty();
  const bool smooth = has_stats && gp.norm_weight != nullptr;

  std::vector<std::vector<float>> w;
  for (const auto& lp : gp.linears) {
    QJIT_ASSIGN_OR_RETURN(auto v, weights_.read_f32(lp.weight->name));
    w.push_back(std::move(v));
  }
  // Sampled rows of the original weights and the reference product for the error table.
  const std::int64_t tokens = options_.error_proxy_tokens;
  const bool measure = has_stats && tokens > 0 && options_.error_proxy_rows > 0;
  std::vector<float> x = measure ? proxy_activations(act_max, tokens) : std::vector<float>{};
  std::vector<std::vector<std::int64_t>> rows(w.size());
  std::vector<LayerQuantStats> stats(w.size());
  for (std::size_t l = 0; l < w.size(); ++l) {
    const std::int64_t n = gp.linears[l].weight->shape[0];
    stats[l].module = gp.linears[l].module;
    stats[l].n = n;
    stats[l].k = k;
    stats[l].has_stats = has_stats;
    stats[l].smoothed = smooth;
    if (!measure) continue;
    const std::int64_t count = std::min(n, options_.error_proxy_rows);
    for (std::int64_t r = 0; r < count; ++r) rows[l].push_back(r * n / count);
  }
  auto sample = [&](std::size_t l) {
    std::vector<float> out;
    for (auto r : rows[l]) out.insert(out.end(), w[l].begin() + r * k, w[l].begin() + (r + 1) * k);
    return out;
  };
  std::vector<std::vector<double>> refs(w.size());
  if (measure) {
    for (std::size_t l = 0; l < w.size(); ++l) {
      const auto ws = sample(l);
      const auto n = static_cast<std::int64_t>(rows[l].size());
      refs[l].resize(static_cast<std::size_t>(tokens * n));
      for (std::int64_t t = 0; t < tokens; ++t)
        for (std::int64_t r = 0; r < n; ++r) {
          double acc = 0.0;
          for (std::int64_t j = 0; j < k; ++j) acc += static_cast<double>(x[t * k + j]) * ws[r * k + j];
          refs[l][static_cast<std::size_t>(t * n + r)] = acc;
        }
      QJIT_ASSIGN_OR_RETURN(stats[l].w8a8_error_plain, w8a8_rel_error(x, ws, refs[l], tokens, k, n));
    }
  }

  std::vector<float> s;
  if (smooth) {
    std::vector<WeightRef> refs_w;
    for (std::size_t l = 0; l < w.size(); ++l) refs_w.push_back(WeightRef{w[l].data(), gp.linears[l].weight->shape[0]});
    QJIT_ASSIGN_OR_RETURN(s, migrator_.smooth_shared_input(act_max, refs_w));
    QJIT_ASSIGN_OR_RETURN(auto nw, weights_.read_f32(gp.norm_weight->name));
    std::vector<float> nb;
    if (gp.norm_bias) {
      QJIT_ASSIGN_OR_RETURN(nb, weights_.read_f32(gp.norm_bias->name));
    }
    QJIT_TRY(fold_into_norm(nw, nb, s).with_context("folding into \"" + gp.norm_weight->name + "\""));
    result_.norm_weight = to_dtype(nw, gp.norm_weight->dtype);
    if (gp.norm_bias) result_.norm_bias = to_dtype(nb, gp.norm_bias->dtype);
    if (measure) {
      std::vector<float> xs = x;
      QJIT_TRY(SmoothQuantMigrator::smooth_activations(xs, s, tokens, k));
      for (std::size_t l = 0; l < w.size(); ++l) {
        QJIT_ASSIGN_OR_RETURN(stats[l].w8a8_error_smoothed,
                              w8a8_rel_error(xs, sample(l), refs[l], tokens, k, static_cast<std::int64_t>(rows[l].size())));
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
    stats[l].weight_rel_error = den > 0.0 ? std::sqrt(num / den) : 0.0;
    if (has_stats) {
      auto scale = static_activation_scale(act_max, s);
      if (!scale) return scale.error().with_context("act stats of \"" + gp.linears[l].module + "\"");
      stats[l].input_scale = *scale;
    }
    result_.input_scale.push_back(stats[l].input_scale);
    result_.weights.push_back(std::move(q));
    report->linears.push_back(std::move(stats[l]));
  }
  if (smooth) report->folded_norms.push_back(gp.norm_weight->name);
  return Status();
}

Status ModelQuantizer::add_outputs(SafetensorsWriter* writer, QuantizeReport* report) {
  // Copies an input tensor's bytes unchanged.
  auto copy_of = [this](const TensorInfo* t) {
    return [this, t](std::span<std::byte> out) { return weights_.read_into(*t, out); };
  };
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const GroupPlan& gp = groups_[g];
    for (const TensorInfo* t : {gp.norm_weight, gp.norm_bias}) {
      if (!t) continue;
      consumed_.insert(t->name);
      const bool is_bias = t == gp.norm_bias;
      QJIT_TRY(writer->add_streamed(t->name, t->dtype, t->shape, [this, g, t, is_bias, report](std::span<std::byte> out) {
        QJIT_ASSIGN_OR_RETURN(const GroupResult* r, group(g, report));
        const auto& folded = is_bias ? r->norm_bias : r->norm_weight;
        if (folded.empty()) return weights_.read_into(*t, out);
        std::memcpy(out.data(), folded.data(), folded.size());
        return Status();
      }));
    }
    for (std::size_t l = 0; l < gp.linears.size(); ++l) {
      const auto& lp = gp.linears[l];
      const std::int64_t n = lp.weight->shape[0];
      QJIT_TRY(writer->add_streamed(lp.module + ".weight", ElementKind::S8, {n, gp.k},
                                    [this, g, l, report](std::span<std::byte> out) {
                                      QJIT_ASSIGN_OR_RETURN(const GroupResult* r, group(g, report));
                                      std::memcpy(out.data(), r->weights[l].weight.data(), out.size());
                                      return Status();
                                    }));
      QJIT_TRY(writer->add_streamed(lp.module + ".weight_scale", ElementKind::F32, {n},
                                    [this, g, l, report](std::span<std::byte> out) {
                                      QJIT_ASSIGN_OR_RETURN(const GroupResult* r, group(g, report));
                                      std::memcpy(out.data(), r->weights[l].weight_scale.data(), out.size());
                                      return Status();
                                    }));
      if (gp.has_stats)
        QJIT_TRY(writer->add_streamed(lp.module + ".input_scale", ElementKind::F32, {1},
                                      [this, g, l, report](std::span<std::byte> out) {
                                        QJIT_ASSIGN_OR_RETURN(const GroupResult* r, group(g, report));
                                        std::memcpy(out.data(), &r->input_scale[l], 4);
                                        return Status();
                                      }));
    }
  }
  for (const auto& t : weights_.tensors()) {
    if (consumed_.count(t.name)) continue;
    QJIT_TRY(writer->add_streamed(t.name, t.dtype, t.shape, copy_of(&t)));
    ++report->tensors_copied;
  }
  return Status();
}

}  // namespace

Result<QuantizeReport> quantize_model(const QuantizeOptions& options) {
  if (options.weights_path.empty()) return detail::invalid("weights_path must not be empty");
  if (options.out_path.empty()) return detail::invalid("out_path must not be empty");
  if (options.out_path == options.weights_path)
    return detail::invalid("out_path must differ from weights_path (the input is read while the output is written)");
  // NOTE: the error table multiplies these by K and N to size its buffers; bounding them here keeps every product
  // far from overflow (a wrapped size once allocated 256 bytes for 2^58 tokens and wrote past them).
  if (options.error_proxy_tokens < 0 || options.error_proxy_tokens > kMaxErrorProxyTokens)
    return detail::invalid(llvm::formatv("error_proxy_tokens must be in [0, {0}], got {1}", kMaxErrorProxyTokens,
                                         options.error_proxy_tokens).str());
  if (options.error_proxy_rows < 0 || options.error_proxy_rows > kMaxErrorProxyRows)
    return detail::invalid(llvm::formatv("error_proxy_rows must be in [0, {0}], got {1}", kMaxErrorProxyRows,
                                         options.error_proxy_rows).str());
  QJIT_TRY(validate(SmoothQuantConfig{options.alpha, kDefaultMinScale}));
  QJIT_ASSIGN_OR_RETURN(auto weights, SafetensorsFile::open(options.weights_path));
  std::optional<SafetensorsFile> stats;
  if (!options.act_stats_path.empty()) {
    QJIT_ASSIGN_OR_RETURN(auto s, SafetensorsFile::open(options.act_stats_path));
    stats = std::move(s);
  }
  LayerMapping mapping;
  if (options.mapping) {
    mapping = *options.mapping;
  } else {
    std::vector<std::string> names;
    for (const auto& t : weights.tensors()) names.push_back(t.name);
    QJIT_ASSIGN_OR_RETURN(mapping, detect_layer_mapping(names));
  }
  QuantizeReport report;
  ModelQuantizer q(options, std::move(weights), std::move(stats));
  QJIT_TRY(q.plan(mapping, &report));
  SafetensorsWriter writer;
  writer.set_metadata("format", "pt");
  writer.set_metadata("quantized_by", "qjit quantize");
  writer.set_metadata("smoothquant_alpha", llvm::formatv("{0}", options.alpha).str());
  QJIT_TRY(q.add_outputs(&writer, &report));
  std::vector<std::string> inputs{options.weights_path};
  if (!options.act_stats_path.empty()) inputs.push_back(options.act_stats_path);
  QJIT_TRY(writer.write(options.out_path, inputs));
  std::uint64_t size = 0;
  if (!llvm::sys::fs::file_size(options.out_path, size)) report.bytes_written = size;
  return report;
}

}  // namespace qjit::quant
