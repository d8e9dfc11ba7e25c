// The planning half of quantize_model (quant/quantize_plan.cpp): from the resolved mapping, the weights' header and
// the stats and eval-acts headers, every group's tensors, its smoothing decision and the reason for it, checked
// before anything is computed or written; plus the metadata that records those decisions in the output file.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "qjit/quant/model_quantizer.h"
#include "qjit/quant/safetensors.h"

namespace qjit::quant::detail {

struct LinearPlan {
  std::string module;
  const TensorInfo* weight = nullptr;
  const TensorInfo* stats = nullptr;  // null when missing
  const TensorInfo* eval = nullptr;   // recorded inputs, null when none
  std::size_t report_index = 0;       // its row in QuantizeReport::linears
};

struct GroupPlan {
  std::string norm;  // full module name, "" = none
  const TensorInfo* norm_weight = nullptr;
  const TensorInfo* norm_bias = nullptr;
  std::vector<LinearPlan> linears;
  std::int64_t k = 0;
  bool has_stats = false;  // some linear of the group has stats
  SmoothMode mode = SmoothMode::None;
  std::string reason;  // why not smoothed, or why not folded
};

// Plans every group and fills the report's per-linear rows with the decisions (measurements come later). Fails on
// stats or eval entries that match no linear and on linears without stats, unless allow_missing_stats.
Result<std::vector<GroupPlan>> plan_groups(const QuantizeOptions& options, const LayerMapping& mapping,
                                           const SafetensorsFile& weights, const SafetensorsFile* stats,
                                           const SafetensorsFile* eval, QuantizeReport* report);

// How a file's entries are named from module names: prefix + the module name, with or without the model's prefix
// (stats keyed "0.auto_model.encoder..." for weights named "bert.encoder...").
struct PrefixMatch {
  std::string prefix;
  bool bare = false;      // the module names are used without the model prefix
  bool detected = false;  // found automatically (and not "" with the full names)
};
// The naming that matches the most modules: with `given` as the prefix when set, else any prefix; ties go to the
// full names and the shorter prefix. `bare_modules` are `modules` without the model prefix (the same when none).
PrefixMatch match_prefix(const SafetensorsFile& file, const std::vector<std::string>& modules,
                         const std::vector<std::string>& bare_modules, const std::optional<std::string>& given);

// Proxy activations for the error table: x[t, j] uniform in ±act_max[j], fixed seed (reproducible tables).
std::vector<float> proxy_activations(const std::vector<float>& act_max, std::int64_t tokens);

// The output's metadata: what was done per linear ("qjit.smoothing", JSON), the prefixes found, and the alpha —
// only when something was smoothed.
std::vector<std::pair<std::string, std::string>> report_metadata(const QuantizeOptions& options,
                                                                 const QuantizeReport& report);

}  // namespace qjit::quant::detail
