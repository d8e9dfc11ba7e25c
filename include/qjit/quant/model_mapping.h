// What a model is, as far as SmoothQuant cares: per layer, which linears share an input (a smoothing group), which
// norm produces that input, and whether that norm's output feeds nothing but those linears (only then may 1/s be
// folded into the norm; otherwise the linears are smoothed through <module>.pre_quant_scale (1/s), which the engine multiplies
// x by in its quantize pass). Built-in families (llama, opt, bert), the JSON mapping format, and the resolution of
// a mapping against a file's tensor names — every name checked, every unsafe fold refused — live here.
//
// Names: `layer_prefix` holds "{i}" ("model.layers.{i}."); linears are suffixes under it. A group's `norm` is a
// suffix under it too, unless it holds a placeholder ("{i}", "{i-1}", "{i+2}", ...), in which case it is a full
// module name ("encoder.layer.{i-1}.output.LayerNorm"); `norm_first_layer` is the full name used for layer 0
// instead ("embeddings.LayerNorm"). A model prefix the file adds in front of every name ("bert.",
// "base_model.model.") is found automatically. docs/QUANT.md has the format and the rules.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qjit/status.h"

namespace qjit::quant {

struct SmoothGroup {
  std::string norm;                    // "" = no norm named (the group is smoothed through pre_quant_scale)
  std::string norm_first_layer;        // full module name used for layer 0 instead of `norm`, "" = none
  bool norm_feeds_only_these = false;  // the norm's output feeds only `linears`: fold 1/s into it
  std::vector<std::string> linears;    // module suffixes under layer_prefix ("self_attn.q_proj")
};

struct LayerMapping {
  std::string family;        // "llama", "opt", "bert", or "custom"
  std::string layer_prefix;  // with "{i}" for the layer index: "model.layers.{i}."
  std::vector<SmoothGroup> groups;
};

// Pre-LN Llama (also Mistral and Qwen2, which name their tensors the same way): input_layernorm -> q/k/v and
// post_attention_layernorm -> gate/up fold; o_proj and down_proj are smoothed through pre_quant_scale.
LayerMapping llama_mapping();
// Pre-LN OPT: self_attn_layer_norm -> q/k/v and final_layer_norm -> fc1 fold; out_proj and fc2 through pre_quant_scale.
// (OPT-350m is post-LN: do_layer_norm_before = false; use a mapping without folds for it.)
LayerMapping opt_mapping();
// Post-LN BERT (and RoBERTa, MiniLM, ... with BERT's names): every group through pre_quant_scale, since each
// LayerNorm's output is also the residual of the next sub-block.
LayerMapping bert_mapping();
// "llama" (or "mistral", "qwen2"), "opt", "bert"; anything else is an InvalidArgument naming the families.
Result<LayerMapping> builtin_mapping(std::string_view family);

// {"family": "...", "layer_prefix": "model.layers.{i}.", "groups": [{"norm": "input_layernorm",
//   "norm_feeds_only_these": true, "linears": ["self_attn.q_proj", ...]}, {"norm": null, "linears": [...]},
//   {"norm": "encoder.layer.{i-1}.output.LayerNorm", "norm_first_layer": "embeddings.LayerNorm", ...}]}
// Unknown keys are refused (a misspelt "norm_feeds_only_these" must not silently mean false).
Result<LayerMapping> parse_layer_mapping(std::string_view json_text, const std::string& what = "mapping");
// Chooses llama, opt or bert by which layer prefix the tensor names use (after a model prefix, if any).
Result<LayerMapping> detect_layer_mapping(const std::vector<std::string>& tensor_names);
// The layer indices present for a mapping's prefix (behind model_prefix), ascending.
std::vector<std::int64_t> find_layer_indices(const LayerMapping& mapping, const std::vector<std::string>& names,
                                             const std::string& model_prefix = "");
// The shortest prefix P (empty, or ending in '.') such that P + layer_prefix names a layer; nullopt if none does.
std::optional<std::string> find_model_prefix(const LayerMapping& mapping, const std::vector<std::string>& names);

// One group of one layer with every name resolved to a full module name.
struct ResolvedGroup {
  std::size_t group = 0;  // index into LayerMapping::groups
  std::int64_t layer = 0;
  std::string norm;                  // "" = none
  bool fold = false;                 // norm_feeds_only_these, checked against what qjit knows of the model
  std::vector<std::string> linears;  // full module names ("model.layers.3.self_attn.q_proj")
};

struct ResolvedMapping {
  std::string model_prefix;
  std::vector<std::int64_t> layers;
  std::vector<ResolvedGroup> groups;  // layer-major, in the mapping's group order
};

// Resolves a mapping against a file's tensor names (`what` names the file): finds the model prefix and the layers,
// refuses tensors under the layer prefix whose index it cannot parse, refuses norms the file does not hold (a
// pattern that matches nothing) and refuses folds that would change the residual path (a norm outside the layer,
// a norm named by two groups, a BERT-style sub-block output norm), saying why.
Result<ResolvedMapping> resolve_mapping(const LayerMapping& mapping, const std::vector<std::string>& names,
                                        const std::string& what);

}  // namespace qjit::quant
