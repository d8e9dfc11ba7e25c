// Whole-model SmoothQuant + W8A8 quantization over safetensors files: the library half of `qjit quantize`.
//
// A LayerMapping says, per decoder layer, which norm feeds which linears. Linears behind a norm share one
// smoothing scale (from their input's act_max and the max over their weights), the norm's weight (and bias) is
// divided by it, and every linear is written as `<module>.weight` int8 [N, K] + `<module>.weight_scale` f32 [N]
// (+ `<module>.input_scale` f32 [1], the static per-tensor activation scale, when stats exist). Linears with no
// norm in front (o_proj, down_proj, out_proj, fc2) are quantized without smoothing: nothing could absorb 1/s. A
// linear whose stats are missing is reported and quantized without smoothing or input_scale (never guessed).
// Every other input tensor is copied unchanged; folded norms keep their name and dtype.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "qjit/status.h"

namespace qjit::quant {

struct SmoothGroup {
  std::string norm;                  // module suffix of the norm ("input_layernorm"), empty = none
  std::vector<std::string> linears;  // module suffixes ("self_attn.q_proj")
};

struct LayerMapping {
  std::string family;        // "llama", "opt", or "custom"
  std::string layer_prefix;  // with "{i}" for the layer index: "model.layers.{i}."
  std::vector<SmoothGroup> groups;
};

LayerMapping llama_mapping();
LayerMapping opt_mapping();
// {"family": "...", "layer_prefix": "model.layers.{i}.", "groups": [{"norm": "input_layernorm",
//   "linears": ["self_attn.q_proj", ...]}, {"norm": null, "linears": [...]}]}
Result<LayerMapping> parse_layer_mapping(std::string_view json_text, const std::string& what = "mapping");
// Chooses llama or opt by which layer prefix the tensor names use.
Result<LayerMapping> detect_layer_mapping(const std::vector<std::string>& tensor_names);
// The layer indices present for a mapping's prefix, ascending.
std::vector<std::int64_t> find_layer_indices(const LayerMapping& mapping, const std::vector<std::string>& names);

struct LayerQuantStats {
  std::string module;  // "model.layers.0.self_attn.q_proj"
  std::int64_t n = 0, k = 0;
  bool smoothed = false;
  bool has_stats = false;
  float input_scale = 0.0f;           // 0 when no stats
  double weight_rel_error = 0.0;      // ||dequant(q) − W_s|| / ||W_s|| of the weight that was written
  // W8A8 output error (per-token act, per-channel weight) on proxy activations built from the stats
  // (x[t, j] uniform in ±act_max[j]), without and with smoothing; negative when there are no stats.
  double w8a8_error_plain = -1.0;
  double w8a8_error_smoothed = -1.0;
};

struct QuantizeReport {
  std::string family;
  std::int64_t n_layers = 0;
  std::vector<LayerQuantStats> linears;
  std::vector<std::string> missing_stats;    // modules with no entry in the stats file
  std::vector<std::string> folded_norms;     // norm tensors rewritten
  std::vector<std::string> unused_stats;     // stats entries that matched no linear
  std::int64_t tensors_copied = 0;
  std::uint64_t bytes_written = 0;
};

// Bounds of QuantizeOptions::error_proxy_tokens / error_proxy_rows (the error table's proxy batch).
inline constexpr std::int64_t kMaxErrorProxyTokens = 4096;
inline constexpr std::int64_t kMaxErrorProxyRows = 65536;

struct QuantizeOptions {
  std::string weights_path;
  std::string act_stats_path;               // empty = no stats: quantize without smoothing
  std::string out_path;
  float alpha = 0.5f;
  std::optional<LayerMapping> mapping;      // empty = detect llama/opt
  bool require_stats = false;               // missing stats become an error
  std::int64_t error_proxy_tokens = 16;     // tokens and rows sampled for the error table (0 = skip; bounds above)
  std::int64_t error_proxy_rows = 256;
  // Called after each group is written: (groups done, groups total, current module prefix).
  std::function<void(std::int64_t, std::int64_t, const std::string&)> progress;
};

Result<QuantizeReport> quantize_model(const QuantizeOptions& options);

}  // namespace qjit::quant
