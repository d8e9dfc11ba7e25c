// plan_groups: the mapping resolved against the weights (model_mapping.cpp), each linear's weight, stats and
// recorded inputs found (with the prefix their names need), shapes and dtypes checked, and each group's smoothing
// decided: not smoothed (no stats, --no-smooth), folded (the norm feeds only the group), or through pre_quant_scale.
// Missing stats are an error unless allowed, never a silently unsmoothed linear.
#include "quant/quantize_plan.h"

#include <map>
#include <random>
#include <set>

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"
#include "quant/check.h"

namespace qjit::quant::detail {
namespace {

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// Looks every module up in `file` under `prefix`; entries no module used go to `unused`.
std::vector<const TensorInfo*> look_up(const SafetensorsFile& file, const std::vector<std::string>& modules,
                                       const std::string& prefix, std::vector<std::string>* unused) {
  std::vector<const TensorInfo*> out;
  std::set<std::string> used;
  for (const auto& m : modules) {
    out.push_back(file.find(prefix + m));  // NOTE: `modules` already bare when the match said so
    if (out.back()) used.insert(out.back()->name);
  }
  for (const auto& t : file.tensors())
    if (!used.count(t.name)) unused->push_back(t.name);
  return out;
}

}  // namespace

PrefixMatch match_prefix(const SafetensorsFile& file, const std::vector<std::string>& modules,
                         const std::vector<std::string>& bare_modules, const std::optional<std::string>& given) {
  std::map<std::pair<bool, std::string>, std::size_t> hits;  // (bare, prefix) -> modules it makes match
  for (const bool bare : {false, true}) {
    const auto& names = bare ? bare_modules : modules;
    const std::set<std::string> wanted(names.begin(), names.end());
    for (const auto& t : file.tensors())
      for (std::size_t p = 0;;) {
        const std::string prefix = t.name.substr(0, p);
        if ((!given || prefix == *given) && wanted.count(t.name.substr(p))) ++hits[{bare, prefix}];
        const auto dot = t.name.find('.', p);
        if (dot == std::string::npos) break;
        p = dot + 1;
      }
  }
  PrefixMatch best{given.value_or(""), false, false};
  std::size_t best_hits = 0;
  for (const auto& [key, n] : hits)  // NOTE: ordered full before bare, then by prefix: ties keep the earlier
    if (n > best_hits || (n == best_hits && !key.first && !best.bare && key.second.size() < best.prefix.size()))
      best = PrefixMatch{key.second, key.first, false}, best_hits = n;
  best.detected = !given && (best.bare || !best.prefix.empty());
  return best;
}

std::vector<float> proxy_activations(const std::vector<float>& act_max, std::int64_t tokens) {
  std::mt19937_64 rng(0x5eed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const auto k = static_cast<std::int64_t>(act_max.size());
  std::vector<float> x(static_cast<std::size_t>(tokens * k));
  for (std::int64_t t = 0; t < tokens; ++t)
    for (std::int64_t j = 0; j < k; ++j) x[static_cast<std::size_t>(t * k + j)] = act_max[j] * u(rng);
  return x;
}

Result<std::vector<GroupPlan>> plan_groups(const QuantizeOptions& options, const LayerMapping& mapping,
                                           const SafetensorsFile& weights, const SafetensorsFile* stats,
                                           const SafetensorsFile* eval, QuantizeReport* report) {
  std::vector<std::string> names;
  for (const auto& t : weights.tensors()) names.push_back(t.name);
  QJIT_ASSIGN_OR_RETURN(ResolvedMapping resolved, resolve_mapping(mapping, names, options.weights_path));
  report->family = mapping.family;
  report->model_prefix = resolved.model_prefix;
  report->n_layers = static_cast<std::int64_t>(resolved.layers.size());

  std::vector<std::string> modules;
  for (const auto& rg : resolved.groups) modules.insert(modules.end(), rg.linears.begin(), rg.linears.end());
  std::vector<std::string> bare = modules;
  for (auto& m : bare) m = m.substr(resolved.model_prefix.size());
  std::vector<const TensorInfo*> stat_of(modules.size(), nullptr), eval_of(modules.size(), nullptr);
  if (stats) {
    const PrefixMatch match = match_prefix(*stats, modules, bare, options.stats_prefix);
    report->stats_prefix = match.prefix;
    report->stats_prefix_detected = match.detected;
    report->stats_without_model_prefix = match.bare;
    stat_of = look_up(*stats, match.bare ? bare : modules, match.prefix, &report->unused_stats);
  }
  if (eval) {
    const PrefixMatch match = match_prefix(*eval, modules, bare, options.stats_prefix);
    report->eval_prefix = match.prefix;
    eval_of = look_up(*eval, match.bare ? bare : modules, match.prefix, &report->unused_eval);
  }

  std::vector<GroupPlan> groups;
  std::size_t index = 0;
  for (const auto& rg : resolved.groups) {
    GroupPlan gp;
    gp.norm = rg.norm;
    for (const auto& module : rg.linears) {
      LinearPlan lp;
      lp.module = module;
      lp.stats = stat_of[index];
      lp.eval = eval_of[index];
      lp.report_index = index++;
      lp.weight = weights.find(module + ".weight");  // NOTE: resolve_mapping checked it is there
      const auto& w = *lp.weight;
      if (w.shape.size() != 2 || w.shape[0] <= 0 || w.shape[1] <= 0)
        return invalid("tensor \"" + w.name + "\" must be a non-empty 2-D [out, in] weight");
      if (!w.dtype.readable_as_f32())
        return invalid("tensor \"" + w.name + "\" dtype must be F32, F16 or BF16, got " + std::string(w.dtype.name()));
      if (gp.k == 0) gp.k = w.shape[1];
      if (w.shape[1] != gp.k)
        return invalid(llvm::formatv("tensor \"{0}\" shape[1] must equal the group's in_features {1} (linears "
                                     "behind one norm share their input), got {2}",
                                     w.name, gp.k, w.shape[1])
                           .str());
      if (lp.stats && (!lp.stats->dtype.readable_as_f32() || lp.stats->shape.size() != 1 || lp.stats->numel() != gp.k))
        return invalid(
            llvm::formatv("act stats \"{0}\" must be a floating tensor of shape [{1}]", lp.stats->name, gp.k).str());
      if (lp.eval && (!lp.eval->dtype.readable_as_f32() || lp.eval->shape.size() != 2 || lp.eval->shape[0] <= 0 ||
                      lp.eval->shape[1] != gp.k))
        return invalid(llvm::formatv("eval acts \"{0}\" must be an F32, F16 or BF16 tensor of shape [tokens, {1}]",
                                     lp.eval->name, gp.k)
                           .str());
      if (stats && !lp.stats) report->missing_stats.push_back(module);  // NOTE: full module names, as everywhere
      gp.has_stats |= lp.stats != nullptr;
      gp.linears.push_back(std::move(lp));
    }
    if (!gp.norm.empty()) {
      gp.norm_weight = weights.find(gp.norm + ".weight");
      gp.norm_bias = weights.find(gp.norm + ".bias");
    }
    if (rg.fold)
      for (const TensorInfo* t : {gp.norm_weight, gp.norm_bias})
        if (t && (!t->dtype.readable_as_f32() || t->shape.size() != 1 || t->shape[0] != gp.k))
          return invalid(
              llvm::formatv("norm tensor \"{0}\" must be a floating tensor of shape [{1}]", t->name, gp.k).str());
    if (!stats) {
      gp.reason = "no act stats given";
    } else if (!gp.has_stats) {
      gp.reason = "no act stats for its input";
    } else if (!options.smooth) {
      gp.reason = "--no-smooth";
    } else if (rg.fold) {
      gp.mode = SmoothMode::Folded;
    } else {
      gp.mode = SmoothMode::Vector;
      gp.reason = gp.norm.empty() ? "no norm in front of it to fold into"
                                  : "its norm may feed more than these linears (\"norm_feeds_only_these\": false)";
    }
    report->smoothing_done |= gp.mode != SmoothMode::None;
    for (const auto& lp : gp.linears) {
      LayerQuantStats st;
      st.module = lp.module;
      st.n = lp.weight->shape[0];
      st.k = gp.k;
      st.row_stride = written_row_stride(options, gp.k);
      st.has_stats = gp.has_stats;
      st.mode = gp.mode;
      st.smoothed = gp.mode != SmoothMode::None;
      st.norm = gp.mode == SmoothMode::None ? "" : gp.norm;
      st.reason = gp.reason;
      st.alpha = st.smoothed ? options.alpha : 0.0f;
      report->linears.push_back(std::move(st));
    }
    groups.push_back(std::move(gp));
  }

  if (!stats && options.require_stats)
    return invalid("no act stats were given and every linear would be quantized without smoothing (--require-stats)");
  if (!options.allow_missing_stats) {
    const std::string hint = "; pass --allow-missing-stats to go on without them";
    // The key a module's stats were looked up under.
    auto key_of = [&](const std::string& module) {
      return report->stats_prefix +
             module.substr(report->stats_without_model_prefix ? resolved.model_prefix.size() : 0);
    };
    if (!report->unused_stats.empty())
      return invalid(llvm::formatv("{0} in '{1}' match{2} no linear (first \"{3}\"; a linear's stats are looked up as "
                                   "\"{4}<module>\", e.g. \"{5}\"): give --stats-prefix or fix the names{6}",
                                   plural(report->unused_stats.size(), "act-stats entry", "act-stats entries"),
                                   options.act_stats_path, report->unused_stats.size() == 1 ? "es" : "",
                                   report->unused_stats.front(), report->stats_prefix, key_of(modules.front()), hint)
                         .str());
    if (!report->missing_stats.empty())
      return invalid(llvm::formatv("{0} no act stats in '{1}' (first \"{2}\", looked up as \"{3}\") and would be "
                                   "quantized without smoothing{4}",
                                   plural(report->missing_stats.size(), "linear has", "linears have"),
                                   options.act_stats_path, report->missing_stats.front(),
                                   key_of(report->missing_stats.front()), hint)
                         .str());
    if (!report->unused_eval.empty())
      return invalid(llvm::formatv("{0} in '{1}' match{2} no linear (first \"{3}\"){4}",
                                   plural(report->unused_eval.size(), "eval-acts entry", "eval-acts entries"),
                                   options.eval_acts_path, report->unused_eval.size() == 1 ? "es" : "",
                                   report->unused_eval.front(), hint)
                         .str());
  }
  return groups;
}

std::vector<std::pair<std::string, std::string>> report_metadata(const QuantizeOptions& options,
                                                                 const QuantizeReport& report) {
  llvm::json::Object per_linear;
  for (const auto& l : report.linears) {
    llvm::json::Object o{{"smoothing", std::string(smooth_mode_name(l.mode))}};
    if (!l.norm.empty()) o["norm"] = l.norm;
    if (!l.reason.empty()) o["reason"] = l.reason;
    if (l.smoothed) o["alpha"] = static_cast<double>(l.alpha);
    per_linear[l.module] = std::move(o);
  }
  std::string json;
  llvm::raw_string_ostream os(json);
  os << llvm::json::Value(std::move(per_linear));
  os.flush();
  std::vector<std::pair<std::string, std::string>> out{{"qjit.family", report.family}, {"qjit.smoothing", json}};
  if (!report.model_prefix.empty()) out.emplace_back("qjit.model_prefix", report.model_prefix);
  if (!options.act_stats_path.empty()) out.emplace_back("qjit.stats_prefix", report.stats_prefix);
  if (report.smoothing_done) out.emplace_back("smoothquant_alpha", llvm::formatv("{0}", options.alpha).str());
  if (!options.quantize_weights) out.emplace_back("qjit.smooth_only", "true");
  // Which int8 weights are stored with pad columns, so a loader can take the [N, K] view (python: qjit's
  // SafetensorsFile.tensor does); absent when none is padded.
  llvm::json::Object padded;
  for (const auto& l : report.linears)
    if (l.row_stride != l.k)
      padded[l.module + ".weight"] = llvm::json::Object{{"in_features", l.k}, {"row_stride", l.row_stride}};
  if (!padded.empty()) {
    std::string pj;
    llvm::raw_string_ostream ps(pj);
    ps << llvm::json::Value(std::move(padded));
    ps.flush();
    out.emplace_back("qjit.padded_rows", pj);
  }
  return out;
}

}  // namespace qjit::quant::detail
