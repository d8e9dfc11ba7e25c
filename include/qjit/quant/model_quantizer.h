// Whole-model SmoothQuant + W8A8 quantization over safetensors files: the library half of `qjit quantize`.
//
// A LayerMapping (model_mapping.h) says, per layer, which linears share an input and which norm produces it. The
// linears of a group share one smoothing scale s (from their input's act_max and the max over their weights); each
// is written as `<module>.weight` int8 [N, K] of W·diag(s) + `<module>.weight_scale` f32 [N] (+ `<module>.input_scale`
// f32 [1], the static per-tensor scale of x/s, when stats exist). Where the group's norm feeds only those linears
// (norm_feeds_only_these) 1/s is folded into the norm's weight (and bias); everywhere else `<module>.pre_quant_scale`
// f32 [K] = 1/s is written and the engine multiplies x by it in its quantize pass: y = (x·diag(1/s))·(W·diag(s))ᵀ.
//
// Nothing is silent: stats that match no linear, or linears without stats, fail the run unless
// allow_missing_stats; the report (and the output's metadata) says per linear what was done and why. Every other
// input tensor, of any safetensors dtype, is copied byte for byte; folded norms keep their name and dtype.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "qjit/quant/model_mapping.h"
#include "qjit/status.h"

namespace qjit::quant {

// What was done to one linear's input.
enum class SmoothMode {
  None,    // not smoothed (reason says why)
  Folded,  // 1/s folded into `norm`
  Vector,  // <module>.pre_quant_scale = 1/s written; the engine computes x · (1/s)
};
std::string_view smooth_mode_name(SmoothMode mode);  // "none", "folded", "pre_quant_scale"

struct LayerQuantStats {
  std::string module;  // "model.layers.0.self_attn.q_proj"
  std::int64_t n = 0, k = 0;
  std::int64_t row_stride = 0;  // the written int8 weight's row stride: k, or preferred_row_stride(k) (pad_rows)
  bool smoothed = false;  // mode != None
  SmoothMode mode = SmoothMode::None;
  std::string norm;    // Folded: the norm 1/s went into; Vector: the group's norm, if it names one
  std::string reason;  // None: why not; Vector: why not folded
  float alpha = 0.0f;  // only meaningful when smoothed
  bool has_stats = false;
  float input_scale = 0.0f;       // 0 when no stats
  double weight_rel_error = 0.0;  // ||dequant(q) − W_s|| / ||W_s|| of the weight that was written
  // W8A8 output error (per-token act, per-channel weight) on proxy activations built from the stats
  // (x[t, j] uniform in ±act_max[j]), without and with smoothing; negative when there are no stats.
  double w8a8_error_plain = -1.0;
  double w8a8_error_smoothed = -1.0;
  // The same on recorded activations (QuantizeOptions::eval_acts_path), the smoothed one computed as the engine
  // will (smoothed_w8a8_linear); negative when the linear has no recorded samples (or, smoothed, is not smoothed).
  std::int64_t eval_tokens = 0;
  double eval_error_plain = -1.0;
  double eval_error_smoothed = -1.0;
};

struct QuantizeReport {
  std::string family;
  std::string model_prefix;                 // found in front of the mapping's names ("" or e.g. "bert.")
  std::string stats_prefix;                 // put in front of module names to find their stats
  bool stats_prefix_detected = false;       // found automatically rather than given
  bool stats_without_model_prefix = false;  // stats name modules without model_prefix ("encoder..." for "bert.")
  std::string eval_prefix;                  // the same for the eval-acts file
  bool smoothing_done = false;              // some linear was smoothed (only then is alpha recorded)
  std::int64_t n_layers = 0;
  std::vector<LayerQuantStats> linears;
  std::vector<std::string> missing_stats;  // modules with no entry in the stats file
  std::vector<std::string> folded_norms;   // norm tensors rewritten
  std::vector<std::string> unused_stats;   // stats entries that matched no linear
  std::vector<std::string> unused_eval;    // eval-acts entries that matched no linear
  std::int64_t tensors_copied = 0;
  std::uint64_t bytes_written = 0;
};

// Bounds of QuantizeOptions::error_proxy_tokens / error_proxy_rows (the error table's proxy batch).
inline constexpr std::int64_t kMaxErrorProxyTokens = 4096;
inline constexpr std::int64_t kMaxErrorProxyRows = 65536;

struct QuantizeOptions {
  std::string weights_path;
  std::string act_stats_path;  // empty = no stats: quantize without smoothing
  std::string out_path;
  float alpha = 0.5f;
  std::optional<LayerMapping> mapping;  // empty = detect llama/opt/bert
  bool smooth = true;                   // false (--no-smooth): quantize without smoothing, stats or not
  bool quantize_weights = true;         // false (--smooth-only): write the smoothed weights in their dtype
  // --weight-colsum: also write <module>.weight_colsum, I32 [N] = Σ_k weight[n, k] of the int8 weight written (the
  // zero-point GEMM's correction term for asymmetric activations; docs/QUANT.md). Needs quantize_weights.
  bool weight_colsum = false;
  // --pad-rows: an int8 weight whose K is not a multiple of 16 is written as [N, preferred_row_stride(K)] with zero
  // pad columns, and the header's "qjit.padded_rows" metadata records each such tensor's in_features and row stride
  // (docs/QUANT.md). The engine passes the [N, K] view at that stride as weight_q, so the Hopper GEMM reads it in
  // place instead of staging a copy each call (issue 15). Needs quantize_weights; rows with K % 16 == 0 are unchanged.
  bool pad_rows = false;
  // Stats that match no linear, or linears without stats, are an error unless this is set (then reported).
  bool allow_missing_stats = false;
  bool require_stats = false;               // also refuse a run without act stats at all
  std::optional<std::string> stats_prefix;  // put in front of module names; empty = detect ("", "0.auto_model.",
                                            // "base_model.model.", or whatever prefix makes the names match)
  std::string eval_acts_path;               // recorded inputs [tokens, K] per linear, keyed like the stats
  std::int64_t error_proxy_tokens = 16;     // tokens and rows sampled for the error table (0 = skip; bounds above)
  std::int64_t error_proxy_rows = 256;
  // Called after each group is written: (groups done, groups total, current module prefix).
  std::function<void(std::int64_t, std::int64_t, const std::string&)> progress;
};

// The row stride quantize_model writes a [*, k] int8 weight at under `options` (k unless pad_rows pads it).
std::int64_t written_row_stride(const QuantizeOptions& options, std::int64_t k);

Result<QuantizeReport> quantize_model(const QuantizeOptions& options);

}  // namespace qjit::quant
