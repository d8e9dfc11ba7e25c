// Which norm feeds which linears, per decoder layer: the built-in Llama and OPT layouts (Hugging Face module
// names), a small JSON format to override them, and the helpers that find the layers present in a file.
#include <algorithm>
#include <set>

#include "llvm/Support/JSON.h"
#include "qjit/quant/model_quantizer.h"
#include "quant/check.h"
#include "runtime/json_limits.h"

namespace qjit::quant {
namespace {

constexpr std::string_view kLayerPlaceholder = "{i}";
constexpr std::size_t kMaxMappingGroups = 256;  // a decoder layer has four or five

}  // namespace

LayerMapping llama_mapping() {
  return LayerMapping{"llama",
                      "model.layers.{i}.",
                      {{"input_layernorm", {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}},
                       {"post_attention_layernorm", {"mlp.gate_proj", "mlp.up_proj"}},
                       {"", {"self_attn.o_proj"}},
                       {"", {"mlp.down_proj"}}}};
}

LayerMapping opt_mapping() {
  return LayerMapping{"opt",
                      "model.decoder.layers.{i}.",
                      {{"self_attn_layer_norm", {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}},
                       {"final_layer_norm", {"fc1"}},
                       {"", {"self_attn.out_proj"}},
                       {"", {"fc2"}}}};
}

Result<LayerMapping> parse_layer_mapping(std::string_view json_text, const std::string& what) {
  // NOTE: a mapping nests four levels deep and lists a handful of groups; the bounds refuse a hostile file (50000
  // nested '[' once overflowed the parser's stack) before it is parsed.
  constexpr runtime::JsonLimits kLimits{/*max_depth=*/8, /*max_values=*/std::size_t{1} << 16};
  QJIT_ASSIGN_OR_RETURN(llvm::json::Value parsed, runtime::parse_json_bounded(json_text, kLimits, what));
  const auto* root = parsed.getAsObject();
  if (!root) return detail::invalid(what + ": must be a JSON object with \"layer_prefix\" and \"groups\"");
  LayerMapping m;
  auto family = root->getString("family");
  m.family = family ? family->str() : "custom";
  auto prefix = root->getString("layer_prefix");
  if (!prefix || prefix->find(kLayerPlaceholder) == llvm::StringRef::npos)
    return detail::invalid(what + ": \"layer_prefix\" must be a string containing \"{i}\", e.g. \"model.layers.{i}.\"");
  m.layer_prefix = prefix->str();
  const auto* groups = root->getArray("groups");
  if (!groups || groups->empty()) return detail::invalid(what + ": \"groups\" must be a non-empty array");
  if (groups->size() > kMaxMappingGroups)
    return detail::invalid(llvm::formatv("{0}: \"groups\" must hold at most {1} groups, got {2}", what,
                                         kMaxMappingGroups, groups->size()).str());
  std::set<std::string> seen;
  for (std::size_t g = 0; g < groups->size(); ++g) {
    const std::string where = llvm::formatv("{0}: groups[{1}]", what, g).str();
    const auto* obj = (*groups)[g].getAsObject();
    if (!obj) return detail::invalid(where + " must be an object {\"norm\": ..., \"linears\": [...]}");
    SmoothGroup group;
    if (const auto* norm = obj->get("norm"); norm && norm->kind() != llvm::json::Value::Null) {
      auto s = norm->getAsString();
      if (!s || s->empty()) return detail::invalid(where + ".norm must be a non-empty string or null");
      group.norm = s->str();
    }
    const auto* linears = obj->getArray("linears");
    if (!linears || linears->empty()) return detail::invalid(where + ".linears must be a non-empty array of strings");
    for (std::size_t l = 0; l < linears->size(); ++l) {
      auto s = (*linears)[l].getAsString();
      if (!s || s->empty()) return detail::invalid(llvm::formatv("{0}.linears[{1}] must be a non-empty string", where, l).str());
      if (!seen.insert(s->str()).second)
        return detail::invalid(where + ".linears: \"" + s->str() + "\" appears in more than one group");
      group.linears.push_back(s->str());
    }
    m.groups.push_back(std::move(group));
  }
  return m;
}

std::vector<std::int64_t> find_layer_indices(const LayerMapping& mapping, const std::vector<std::string>& names) {
  const auto pos = mapping.layer_prefix.find(kLayerPlaceholder);
  if (pos == std::string::npos) return {};
  const std::string before = mapping.layer_prefix.substr(0, pos);
  const std::string after = mapping.layer_prefix.substr(pos + kLayerPlaceholder.size());
  std::set<std::int64_t> found;
  for (const auto& n : names) {
    if (n.compare(0, before.size(), before) != 0) continue;
    std::size_t i = before.size();
    std::int64_t v = 0;
    const std::size_t digits_begin = i;
    while (i < n.size() && n[i] >= '0' && n[i] <= '9' && i - digits_begin < 9) v = v * 10 + (n[i++] - '0');
    if (i == digits_begin || n.compare(i, after.size(), after) != 0) continue;
    found.insert(v);
  }
  return {found.begin(), found.end()};
}

Result<LayerMapping> detect_layer_mapping(const std::vector<std::string>& tensor_names) {
  for (const auto& m : {llama_mapping(), opt_mapping()})
    if (!find_layer_indices(m, tensor_names).empty()) return m;
  return Status(StatusCode::Unsupported,
                "tensor names must follow the Llama (\"model.layers.{i}.\") or OPT (\"model.decoder.layers.{i}.\") "
                "layout; pass a mapping file for other models");
}

}  // namespace qjit::quant
