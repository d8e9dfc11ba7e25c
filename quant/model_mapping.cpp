// Which norm feeds which linears, per layer: the built-in Llama, OPT and BERT layouts (Hugging Face module names),
// the JSON format that overrides them, and resolve_mapping, which turns a mapping into full module names for one
// file — finding the model prefix and the layers, expanding "{i-1}"-style norm patterns, and refusing every fold
// that could change more than the group's linears.
#include "qjit/quant/model_mapping.h"

#include <algorithm>
#include <map>
#include <set>

#include "llvm/Support/JSON.h"
#include "quant/check.h"
#include "runtime/json_limits.h"

namespace qjit::quant {
namespace {

constexpr std::string_view kLayerPlaceholder = "{i}";
constexpr std::size_t kMaxMappingGroups = 256;  // a decoder layer has four or five
constexpr std::int64_t kMaxOffset = 999;

// One "{i}", "{i-N}" or "{i+N}" at text[pos] (which is '{'): its offset and length; nullopt when malformed.
std::optional<std::pair<std::int64_t, std::size_t>> placeholder_at(std::string_view text, std::size_t pos) {
  if (text.compare(pos, 2, "{i") != 0) return std::nullopt;
  std::size_t i = pos + 2;
  std::int64_t sign = 0, offset = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) sign = text[i++] == '-' ? -1 : 1;
  const std::size_t digits = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9' && offset <= kMaxOffset)
    offset = offset * 10 + (text[i++] - '0');
  if (sign != 0 && (i == digits || offset > kMaxOffset)) return std::nullopt;
  if (i >= text.size() || text[i] != '}') return std::nullopt;
  return std::make_pair(sign * offset, i + 1 - pos);
}

// Checks that every '{' of a name pattern starts a placeholder (and, when `allowed` is false, that there is none).
Status check_pattern(std::string_view text, bool allowed, const std::string& where) {
  for (std::size_t pos = text.find('{'); pos != std::string_view::npos; pos = text.find('{', pos + 1)) {
    if (!allowed)
      return detail::invalid(where + " must be a full module name without placeholders, got \"" +
                             std::string(text.substr(0, 200)) + "\"");
    if (!placeholder_at(text, pos))
      return detail::invalid(where + ": a placeholder must be {i}, {i-N} or {i+N} (N up to 999), got \"" +
                             std::string(text.substr(0, 200)) + "\"");
  }
  return Status();
}

// The pattern with its placeholders replaced for layer i; nullopt when one would name a negative layer.
std::optional<std::string> expand(std::string_view pattern, std::int64_t layer) {
  std::string out;
  for (std::size_t pos = 0; pos < pattern.size();) {
    if (pattern[pos] == '{') {
      const auto ph = placeholder_at(pattern, pos);  // NOTE: validated when the mapping was built
      if (!ph) return std::nullopt;
      if (layer + ph->first < 0) return std::nullopt;
      out += std::to_string(layer + ph->first);
      pos += ph->second;
    } else {
      out += pattern[pos++];
    }
  }
  return out;
}

bool has_placeholder(std::string_view s) { return s.find('{') != std::string_view::npos; }

std::pair<std::string, std::string> split_prefix(const std::string& layer_prefix) {
  const auto pos = layer_prefix.find(kLayerPlaceholder);
  return {layer_prefix.substr(0, pos), layer_prefix.substr(pos + kLayerPlaceholder.size())};
}

// The layer index of `name` if it is model_prefix + before + digits + after + ...; -2 when it starts with
// model_prefix + before but its index is not 1 to 9 decimal digits followed by `after`; -1 when unrelated.
std::int64_t layer_of(const std::string& name, const std::string& start, const std::string& after) {
  if (name.compare(0, start.size(), start) != 0) return -1;
  std::size_t i = start.size();
  std::int64_t v = 0;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9') {
    if (i - start.size() >= 9) return -2;
    v = v * 10 + (name[i++] - '0');
  }
  if (i == start.size() || name.compare(i, after.size(), after) != 0) return -2;
  return v;
}

SmoothGroup group(std::string norm, bool fold, std::vector<std::string> linears, std::string first = "") {
  return SmoothGroup{std::move(norm), std::move(first), fold, std::move(linears)};
}

std::string join_quoted(const std::vector<std::string>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", \"" : "\"") + v[i] + "\"";
  return out;
}

}  // namespace

LayerMapping llama_mapping() {
  return LayerMapping{"llama",
                      "model.layers.{i}.",
                      {group("input_layernorm", true, {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}),
                       group("post_attention_layernorm", true, {"mlp.gate_proj", "mlp.up_proj"}),
                       group("", false, {"self_attn.o_proj"}), group("", false, {"mlp.down_proj"})}};
}

LayerMapping opt_mapping() {
  return LayerMapping{
      "opt",
      "model.decoder.layers.{i}.",
      {group("self_attn_layer_norm", true, {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}),
       group("final_layer_norm", true, {"fc1"}), group("", false, {"self_attn.out_proj"}), group("", false, {"fc2"})}};
}

LayerMapping bert_mapping() {
  return LayerMapping{
      "bert",
      "encoder.layer.{i}.",
      {group("encoder.layer.{i-1}.output.LayerNorm", false,
             {"attention.self.query", "attention.self.key", "attention.self.value"}, "embeddings.LayerNorm"),
       group("", false, {"attention.output.dense"}), group("attention.output.LayerNorm", false, {"intermediate.dense"}),
       group("", false, {"output.dense"})}};
}

Result<LayerMapping> builtin_mapping(std::string_view family) {
  if (family == "llama" || family == "mistral" || family == "qwen2") return llama_mapping();
  if (family == "opt") return opt_mapping();
  if (family == "bert") return bert_mapping();
  return detail::invalid("unknown model family \"" + std::string(family.substr(0, 64)) +
                         "\": the built-in families are llama (also mistral, qwen2), opt and bert; pass a JSON mapping "
                         "file for other models (docs/QUANT.md)");
}

Result<LayerMapping> parse_layer_mapping(std::string_view json_text, const std::string& what) {
  // NOTE: a mapping nests four levels deep and lists a handful of groups; the bounds refuse a hostile file (50000
  // nested '[' once overflowed the parser's stack) before it is parsed.
  constexpr runtime::JsonLimits kLimits{/*max_depth=*/8, /*max_values=*/std::size_t{1} << 16};
  QJIT_ASSIGN_OR_RETURN(llvm::json::Value parsed, runtime::parse_json_bounded(json_text, kLimits, what));
  const auto* root = parsed.getAsObject();
  if (!root) return detail::invalid(what + ": must be a JSON object with \"layer_prefix\" and \"groups\"");
  for (const auto& [key, value] : *root)
    if (key != "family" && key != "layer_prefix" && key != "groups" && key != "comment")
      return detail::invalid(what + ": unknown key \"" + key.str().substr(0, 64) +
                             "\" (a mapping has \"family\", \"layer_prefix\", \"groups\" and \"comment\")");
  LayerMapping m;
  auto family = root->getString("family");
  m.family = family ? family->str() : "custom";
  auto prefix = root->getString("layer_prefix");
  if (!prefix || prefix->find(kLayerPlaceholder) == llvm::StringRef::npos)
    return detail::invalid(what + ": \"layer_prefix\" must be a string containing \"{i}\", e.g. \"model.layers.{i}.\"");
  m.layer_prefix = prefix->str();
  {
    const auto [before, after] = split_prefix(m.layer_prefix);
    if (has_placeholder(before) || has_placeholder(after))
      return detail::invalid(what + ": \"layer_prefix\" must hold exactly one placeholder, \"{i}\"");
  }
  const auto* groups = root->getArray("groups");
  if (!groups || groups->empty()) return detail::invalid(what + ": \"groups\" must be a non-empty array");
  if (groups->size() > kMaxMappingGroups)
    return detail::invalid(
        llvm::formatv("{0}: \"groups\" must hold at most {1} groups, got {2}", what, kMaxMappingGroups, groups->size())
            .str());
  std::set<std::string> seen;
  for (std::size_t g = 0; g < groups->size(); ++g) {
    const std::string where = llvm::formatv("{0}: groups[{1}]", what, g).str();
    const auto* obj = (*groups)[g].getAsObject();
    if (!obj) return detail::invalid(where + " must be an object {\"norm\": ..., \"linears\": [...]}");
    for (const auto& [key, value] : *obj)
      if (key != "norm" && key != "norm_first_layer" && key != "norm_feeds_only_these" && key != "linears" &&
          key != "comment")
        return detail::invalid(where + ": unknown key \"" + key.str().substr(0, 64) +
                               "\" (a group has \"norm\", \"norm_first_layer\", \"norm_feeds_only_these\", "
                               "\"linears\" and \"comment\")");
    SmoothGroup group;
    if (const auto* norm = obj->get("norm"); norm && norm->kind() != llvm::json::Value::Null) {
      auto s = norm->getAsString();
      if (!s || s->empty()) return detail::invalid(where + ".norm must be a non-empty string or null");
      group.norm = s->str();
      QJIT_TRY(check_pattern(group.norm, true, where + ".norm"));
    }
    if (const auto* first = obj->get("norm_first_layer"); first && first->kind() != llvm::json::Value::Null) {
      auto s = first->getAsString();
      if (!s || s->empty()) return detail::invalid(where + ".norm_first_layer must be a non-empty string or null");
      if (group.norm.empty()) return detail::invalid(where + ".norm_first_layer needs a \"norm\" for the other layers");
      group.norm_first_layer = s->str();
      QJIT_TRY(check_pattern(group.norm_first_layer, false, where + ".norm_first_layer"));
    }
    if (const auto* fold = obj->get("norm_feeds_only_these"); fold && fold->kind() != llvm::json::Value::Null) {
      auto b = fold->getAsBoolean();
      if (!b) return detail::invalid(where + ".norm_feeds_only_these must be true or false");
      if (*b && group.norm.empty())
        return detail::invalid(where + ".norm_feeds_only_these is true but the group names no \"norm\" to fold into");
      group.norm_feeds_only_these = *b;
    }
    const auto* linears = obj->getArray("linears");
    if (!linears || linears->empty()) return detail::invalid(where + ".linears must be a non-empty array of strings");
    for (std::size_t l = 0; l < linears->size(); ++l) {
      auto s = (*linears)[l].getAsString();
      if (!s || s->empty())
        return detail::invalid(llvm::formatv("{0}.linears[{1}] must be a non-empty string", where, l).str());
      if (has_placeholder(*s))
        return detail::invalid(llvm::formatv("{0}.linears[{1}] must be a suffix under layer_prefix, without "
                                             "placeholders",
                                             where, l)
                                   .str());
      if (!seen.insert(s->str()).second)
        return detail::invalid(where + ".linears: \"" + s->str() + "\" appears in more than one group");
      group.linears.push_back(s->str());
    }
    m.groups.push_back(std::move(group));
  }
  return m;
}

std::vector<std::int64_t> find_layer_indices(const LayerMapping& mapping, const std::vector<std::string>& names,
                                             const std::string& model_prefix) {
  if (mapping.layer_prefix.find(kLayerPlaceholder) == std::string::npos) return {};
  const auto [before, after] = split_prefix(mapping.layer_prefix);
  std::set<std::int64_t> found;
  for (const auto& n : names)
    if (const auto i = layer_of(n, model_prefix + before, after); i >= 0) found.insert(i);
  return {found.begin(), found.end()};
}

std::optional<std::string> find_model_prefix(const LayerMapping& mapping, const std::vector<std::string>& names) {
  if (mapping.layer_prefix.find(kLayerPlaceholder) == std::string::npos) return std::nullopt;
  const auto [before, after] = split_prefix(mapping.layer_prefix);
  std::optional<std::string> best;
  for (const auto& n : names) {
    for (std::size_t pos = n.find(before); pos != std::string::npos; pos = n.find(before, pos + 1)) {
      if (pos != 0 && n[pos - 1] != '.') continue;
      if (best && pos >= best->size()) break;
      if (layer_of(n.substr(pos), before, after) >= 0) best = n.substr(0, pos);
    }
    if (best && best->empty()) break;
  }
  return best;
}

Result<LayerMapping> detect_layer_mapping(const std::vector<std::string>& tensor_names) {
  // NOTE: Gemma-2/3 reuse Llama's "model.layers.{i}." names but put a norm AFTER each sub-block
  // (post_attention_layernorm feeds the residual there, pre_feedforward_layernorm feeds the MLP): Llama's folds
  // would change the residual path. Such a model needs an explicit mapping.
  for (const auto& n : tensor_names)
    if (n.find("pre_feedforward_layernorm") != std::string::npos ||
        n.find("post_feedforward_layernorm") != std::string::npos)
      return Status(
          StatusCode::Unsupported,
          "tensor \"" + n.substr(0, 200) +
              "\" says this is a Gemma-2/3-style model (a norm after each sub-block), whose names look like "
              "Llama's but whose post_attention_layernorm feeds the residual: folding Llama's way would break "
              "it; pass --mapping with a file whose groups say norm_feeds_only_these (docs/QUANT.md)");
  for (const auto& m : {llama_mapping(), opt_mapping(), bert_mapping()})
    if (find_model_prefix(m, tensor_names)) return m;
  return Status(StatusCode::Unsupported,
                "tensor names must follow the Llama (\"model.layers.{i}.\"), OPT (\"model.decoder.layers.{i}.\") or "
                "BERT (\"encoder.layer.{i}.\") layout; pass --mapping FAMILY or a mapping file for other models");
}

Result<ResolvedMapping> resolve_mapping(const LayerMapping& mapping, const std::vector<std::string>& names,
                                        const std::string& what) {
  ResolvedMapping r;
  auto prefix = find_model_prefix(mapping, names);
  if (!prefix)
    return detail::invalid("no tensor in '" + what + "' matches layer_prefix \"" + mapping.layer_prefix +
                           "\" (with or without a model prefix such as \"bert.\")");
  r.model_prefix = *prefix;
  const auto [before, after] = split_prefix(mapping.layer_prefix);
  // Every tensor under the layer prefix must carry an index layer_of understands; otherwise it would silently be
  // copied unquantized ("model.layers.-1.", "model.layers.1234567890.").
  for (const auto& n : names)
    if (layer_of(n, r.model_prefix + before, after) == -2)
      return detail::invalid(llvm::formatv("tensor \"{0}\" in '{1}' starts with the layer prefix \"{2}\" but its layer "
                                           "index must be a decimal integer of 1 to 9 digits followed by \"{3}\"",
                                           n.substr(0, 200), what, r.model_prefix + before, after)
                                 .str());
  r.layers = find_layer_indices(mapping, names, r.model_prefix);
  const std::set<std::string> present(names.begin(), names.end());
  std::map<std::string, std::vector<std::size_t>> users;  // norm -> indices into r.groups
  for (auto i : r.layers) {
    const std::string layer = r.model_prefix + before + std::to_string(i) + after;
    for (std::size_t g = 0; g < mapping.groups.size(); ++g) {
      const SmoothGroup& sg = mapping.groups[g];
      ResolvedGroup rg{g, i, "", false, {}};
      for (const auto& l : sg.linears) {
        rg.linears.push_back(layer + l);
        if (!present.count(rg.linears.back() + ".weight"))
          return detail::invalid("tensor \"" + rg.linears.back() + ".weight\" (from the mapping) is not in '" + what +
                                 "'");
      }
      if (!sg.norm.empty()) {
        const std::string where = llvm::formatv("groups[{0}].norm \"{1}\" (layer {2})", g, sg.norm, i).str();
        if (i == 0 && !sg.norm_first_layer.empty()) {
          rg.norm = r.model_prefix + sg.norm_first_layer;
        } else if (has_placeholder(sg.norm)) {
          auto e = expand(sg.norm, i);
          if (!e)
            return detail::invalid(where +
                                   " names a layer below 0; give \"norm_first_layer\" (e.g. "
                                   "\"embeddings.LayerNorm\") for the norm in front of layer 0");
          rg.norm = r.model_prefix + *e;
        } else {
          rg.norm = layer + sg.norm;
        }
        if (!present.count(rg.norm + ".weight"))
          return detail::invalid(where + " resolves to \"" + rg.norm + "\", but '" + what + "' holds no \"" + rg.norm +
                                 ".weight\": the pattern matches nothing");
        rg.fold = sg.norm_feeds_only_these;
        users[rg.norm].push_back(r.groups.size());
      }
      r.groups.push_back(std::move(rg));
    }
  }
  // NOTE: qjit cannot see the model's graph, only its names; these are the cases it can prove a fold wrong.
  const std::string layer_start = r.model_prefix + before;
  for (const auto& rg : r.groups) {
    if (!rg.fold) continue;
    const std::string layer = layer_start + std::to_string(rg.layer) + after;
    std::string why;
    const auto& u = users[rg.norm];
    if (rg.norm.compare(0, layer.size(), layer) != 0) {
      why = "that norm is outside layer " + std::to_string(rg.layer) +
            ", so its output is the layer's input: the residual stream the layer's sub-blocks add to";
    } else if (u.size() > 1) {
      const auto& other = r.groups[u[0] == static_cast<std::size_t>(&rg - r.groups.data()) ? u[1] : u[0]];
      why = llvm::formatv("that norm also feeds groups[{0}] (layer {1})", other.group, other.layer).str();
    } else if (const std::string_view tail = ".output.LayerNorm";
               rg.norm.size() >= tail.size() && rg.norm.compare(rg.norm.size() - tail.size(), tail.size(), tail) == 0) {
      why =
          "that norm is named like the post-LN output norm of a BERT-style sub-block, LayerNorm(dense(x) + input), "
          "whose output is also the residual input of the next sub-block";
    }
    if (why.empty()) continue;
    return detail::invalid(
        llvm::formatv(
            "mapping \"{0}\": groups[{1}] asks to fold 1/s into \"{2}\" (\"norm_feeds_only_these\": true), but {3}; "
            "dividing that norm by s would change the residual path, not only the input of {4}. Folding is valid only "
            "when the norm's output feeds nothing but the listed linears (a pre-LN block); set \"norm_feeds_only_these\": "
            "false and qjit writes <module>.pre_quant_scale (1/s) instead, which the engine multiplies x by in its quantize pass",
            mapping.family, rg.group, rg.norm, why, join_quoted(rg.linears))
            .str());
  }
  return r;
}

}  // namespace qjit::quant
