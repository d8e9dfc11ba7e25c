// `qjit quantize`: the command-line face of quant::quantize_model. It parses its options by hand (so usage errors
// exit with 2 and --help lists only what this command takes), draws a progress bar on stderr, and prints on stdout
// the per-linear error table, what was done to each linear's input (folded into which norm, pre_quant_scale, or not
// smoothed and why) and the stats that were missing or matched nothing when --allow-missing-stats let them pass.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Process.h"
#include "qjit/quant/model_quantizer.h"
#include "runtime/safe_file.h"
#include "tools/commands.h"

namespace qjit::tools {
namespace {

constexpr const char* kUsage =
    "usage: qjit quantize --weights IN.safetensors --out OUT.safetensors [options]\n"
    "\n"
    "Smooths (SmoothQuant) and quantizes every layer linear the mapping names to int8: <module>.weight becomes\n"
    "I8 [N, K] of W·diag(s) plus <module>.weight_scale F32 [N] (and <module>.input_scale F32 [1] when stats exist).\n"
    "Where the mapping says a norm feeds only its group's linears, 1/s is folded into that norm; every other\n"
    "smoothed linear gets <module>.pre_quant_scale F32 [K] (1/s), which the engine multiplies x by before quantizing.\n"
    "Every other tensor (any dtype) is copied byte for byte. docs/QUANT.md has the rules and the mapping format.\n"
    "\n"
    "options:\n"
    "  --weights PATH        input model (safetensors; F32/F16/BF16 linears)                (required)\n"
    "  --out PATH            output file (written atomically)                               (required)\n"
    "  --act-stats PATH      per-input-channel activation absmax, one F32 [in_features] tensor per linear keyed by\n"
    "                        its module name (SmoothQuant's act_scales); without it nothing is smoothed\n"
    "  --stats-prefix P      look a linear's stats (and eval acts) up as P<module>; default: found automatically\n"
    "                        (\"\", \"0.auto_model.\" for sentence-transformers, \"base_model.model.\" for PEFT, ...)\n"
    "  --allow-missing-stats go on when stats entries match no linear or linears have no stats (reported);\n"
    "                        without it either case fails the run\n"
    "  --alpha A             migration strength in [0, 1] (default 0.5)\n"
    "  --no-smooth           quantize without smoothing, even with --act-stats (input_scale is still written)\n"
    "  --smooth-only         write the smoothed weights in their own dtype instead of int8 (for checking)\n"
    "  --pad-rows            write each int8 weight whose K % 16 != 0 with zero pad columns up to a 128-byte row\n"
    "                        stride (metadata qjit.padded_rows), so the Hopper GEMM reads it without staging\n"
    "  --weight-colsum       also write <module>.weight_colsum (I32 [N], the int8 weight's row sums) for\n"
    "                        asymmetric activations (the zero-point GEMM's correction term)\n"
    "  --mapping NAME|FILE   llama (also mistral, qwen2) | opt | bert, or a JSON mapping file; default: detect\n"
    "  --family NAME         the same as --mapping NAME (kept for old scripts)\n"
    "  --eval-acts PATH      recorded inputs [tokens, K] per linear (F32/F16/BF16, keyed like the stats): the table\n"
    "                        adds the W8A8 error on them, without and with smoothing\n"
    "  --require-stats       fail (exit 1) when no --act-stats is given\n"
    "  --error-tokens N      proxy tokens for the error table (default 16, at most 4096; 0 turns the table's proxy\n"
    "                        W8A8 columns off)\n"
    "  --error-rows N        output rows sampled per linear for the error table (default 256, at most 65536)\n"
    "  --quiet               no progress bar\n"
    "  -h, --help            this text\n"
    "\n"
    "exit status: 0 success, 1 the work failed (including refused folds and missing stats), 2 bad usage\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "qjit quantize: %s\n(run 'qjit quantize --help' for the options)\n", message.c_str());
  return 2;
}

bool parse_int(const char* s, std::int64_t max, std::int64_t* out) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max) return false;
  *out = v;
  return true;
}

void draw_progress(std::int64_t done, std::int64_t total, const std::string& what) {
  constexpr int kWidth = 30;
  const int filled = total > 0 ? static_cast<int>(kWidth * done / total) : kWidth;
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(kWidth - filled), '.');
  const bool tty = llvm::sys::Process::StandardErrIsDisplayed();
  std::fprintf(stderr, "%s[%s] %lld/%lld groups  %-40s%s", tty ? "\r" : "", bar.c_str(), static_cast<long long>(done),
               static_cast<long long>(total), what.c_str(), tty && done < total ? "" : "\n");
  std::fflush(stderr);
}

std::string error_cell(double e) { return e < 0 ? "-" : llvm::formatv("{0:e2}", e).str(); }

std::string smoothing_cell(const quant::LayerQuantStats& l) {
  switch (l.mode) {
    case quant::SmoothMode::Folded: return "folded";
    case quant::SmoothMode::Vector: return "vector";
    case quant::SmoothMode::None: break;
  }
  return "no";
}

void print_report(const quant::QuantizeReport& r, const quant::QuantizeOptions& o) {
  std::printf("\n%s model, %lld layers%s: %zu linears %s\n", r.family.c_str(), static_cast<long long>(r.n_layers),
              r.smoothing_done ? llvm::formatv(", alpha {0}", o.alpha).str().c_str() : ", no smoothing",
              r.linears.size(), o.quantize_weights ? "quantized to int8" : "smoothed (--smooth-only, not quantized)");
  if (!r.model_prefix.empty()) std::printf("model prefix \"%s\" (found in the tensor names)\n", r.model_prefix.c_str());
  if (!o.act_stats_path.empty())
    std::printf("stats looked up as \"%s<module>\"%s%s\n", r.stats_prefix.c_str(),
                r.stats_without_model_prefix ? (" with <module> without \"" + r.model_prefix + "\"").c_str() : "",
                r.stats_prefix_detected ? " (prefix detected)" : "");
  const bool eval = !o.eval_acts_path.empty();
  std::printf(
      "W8A8 error: ||Y_q - Y|| / ||Y||; proxy: activations x[t,j] ~ U(+-act_max[j]) (%lld tokens, <= %lld "
      "rows)%s\n\n",
      static_cast<long long>(o.error_proxy_tokens), static_cast<long long>(o.error_proxy_rows),
      eval ? "; acts: the recorded inputs of --eval-acts" : "");
  std::printf("%-48s %7s %7s %7s %11s %11s %11s %11s", "linear", "N", "K", "smooth", "input_scale", "w_err",
              "w8a8_plain", "w8a8_smooth");
  if (eval) std::printf(" %7s %11s %11s", "tokens", "acts_plain", "acts_smooth");
  std::printf("\n");
  for (const auto& l : r.linears) {
    std::printf("%-48s %7lld %7lld %7s %11s %11s %11s %11s", l.module.c_str(), static_cast<long long>(l.n),
                static_cast<long long>(l.k), smoothing_cell(l).c_str(),
                l.has_stats ? llvm::formatv("{0:e3}", l.input_scale).str().c_str() : "-",
                error_cell(l.weight_rel_error).c_str(), error_cell(l.w8a8_error_plain).c_str(),
                error_cell(l.w8a8_error_smoothed).c_str());
    if (eval)
      std::printf(" %7s %11s %11s", l.eval_tokens ? std::to_string(l.eval_tokens).c_str() : "-",
                  error_cell(l.eval_error_plain).c_str(), error_cell(l.eval_error_smoothed).c_str());
    std::printf("\n");
  }
  std::size_t padded = 0;
  for (const auto& l : r.linears) padded += l.row_stride != l.k;
  if (padded) {
    std::printf("\npadded rows (--pad-rows; metadata qjit.padded_rows):\n");
    for (const auto& l : r.linears)
      if (l.row_stride != l.k)
        std::printf("  %-48s [%lld, %lld] stored at row stride %lld\n", l.module.c_str(), static_cast<long long>(l.n),
                    static_cast<long long>(l.k), static_cast<long long>(l.row_stride));
  }
  // What was done, grouped: folded into which norm, smoothed through the vector and why, or not smoothed and why.
  std::printf("\nsmoothing:\n");
  for (const auto& l : r.linears) {
    if (l.mode == quant::SmoothMode::Folded)
      std::printf("  %-48s folded into %s\n", l.module.c_str(), l.norm.c_str());
    else if (l.mode == quant::SmoothMode::Vector)
      std::printf("  %-48s pre_quant_scale (%s)\n", l.module.c_str(), l.reason.c_str());
    else
      std::printf("  %-48s not smoothed: %s\n", l.module.c_str(), l.reason.c_str());
  }
  if (!r.missing_stats.empty()) {
    std::printf("\nno activation statistics for %zu linear(s) (--allow-missing-stats):\n", r.missing_stats.size());
    for (const auto& m : r.missing_stats) std::printf("  %s\n", m.c_str());
  }
  for (const auto* unused : {&r.unused_stats, &r.unused_eval}) {
    if (unused->empty()) continue;
    std::printf("\n%zu %s entr%s matched no linear (--allow-missing-stats):\n", unused->size(),
                unused == &r.unused_stats ? "act-stats" : "eval-acts", unused->size() == 1 ? "y" : "ies");
    for (const auto& m : *unused) std::printf("  %s\n", m.c_str());
  }
  std::printf("\nfolded %zu norm(s), copied %lld other tensor(s), wrote %llu bytes to %s\n", r.folded_norms.size(),
              static_cast<long long>(r.tensors_copied), static_cast<unsigned long long>(r.bytes_written),
              o.out_path.c_str());
}

}  // namespace

int run_quantize_command(int argc, char** argv) {
  quant::QuantizeOptions o;
  std::string family, mapping_path;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) return nullptr;
      (void)name;
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--quiet") {
      quiet = true;
      continue;
    }
    if (a == "--require-stats") {
      o.require_stats = true;
      continue;
    }
    if (a == "--allow-missing-stats") {
      o.allow_missing_stats = true;
      continue;
    }
    if (a == "--no-smooth") {
      o.smooth = false;
      continue;
    }
    if (a == "--smooth-only") {
      o.quantize_weights = false;
      continue;
    }
    if (a == "--pad-rows") {
      o.pad_rows = true;
      continue;
    }
    if (a == "--weight-colsum") {
      o.weight_colsum = true;
      continue;
    }
    const bool takes_value = a == "--weights" || a == "--out" || a == "--act-stats" || a == "--alpha" ||
                             a == "--family" || a == "--mapping" || a == "--error-tokens" || a == "--error-rows" ||
                             a == "--stats-prefix" || a == "--eval-acts";
    if (!takes_value) return usage_error("unknown option '" + a + "'");
    const char* v = value(a.c_str());
    if (!v) return usage_error(a + " needs a value");
    if (a == "--weights")
      o.weights_path = v;
    else if (a == "--out")
      o.out_path = v;
    else if (a == "--act-stats")
      o.act_stats_path = v;
    else if (a == "--stats-prefix")
      o.stats_prefix = v;
    else if (a == "--eval-acts")
      o.eval_acts_path = v;
    else if (a == "--family")
      family = v;
    else if (a == "--mapping")
      mapping_path = v;
    else if (a == "--alpha") {
      char* end = nullptr;
      o.alpha = std::strtof(v, &end);
      if (end == v || *end != '\0' || !(o.alpha >= 0.0f && o.alpha <= 1.0f))
        return usage_error(std::string("--alpha must be a number in [0, 1], got '") + v + "'");
    } else if (a == "--error-tokens") {
      if (!parse_int(v, quant::kMaxErrorProxyTokens, &o.error_proxy_tokens))
        return usage_error(
            llvm::formatv("--error-tokens must be an integer in [0, {0}], got '{1}'", quant::kMaxErrorProxyTokens, v)
                .str());
    } else if (a == "--error-rows") {
      if (!parse_int(v, quant::kMaxErrorProxyRows, &o.error_proxy_rows))
        return usage_error(
            llvm::formatv("--error-rows must be an integer in [0, {0}], got '{1}'", quant::kMaxErrorProxyRows, v)
                .str());
    }
  }
  if (o.weights_path.empty()) return usage_error("--weights is required");
  if (o.out_path.empty()) return usage_error("--out is required");
  if (!family.empty() && !mapping_path.empty()) return usage_error("--family and --mapping are mutually exclusive");
  if (!o.smooth && !o.quantize_weights)
    return usage_error("--no-smooth and --smooth-only together would write the model unchanged");
  if (o.pad_rows && !o.quantize_weights)
    return usage_error("--pad-rows pads int8 weights: it cannot be combined with --smooth-only");
  if (o.weight_colsum && !o.quantize_weights)
    return usage_error("--weight-colsum needs int8 weights: it cannot be combined with --smooth-only");
  if (!family.empty()) {
    auto m = quant::builtin_mapping(family);
    if (!m) return usage_error(m.error().message());
    o.mapping = *m;
  } else if (!mapping_path.empty()) {
    // NOTE: a name that is a built-in family wins; anything else must be a readable mapping file.
    if (auto builtin = quant::builtin_mapping(mapping_path)) {
      o.mapping = *builtin;
    } else {
      if (!llvm::sys::fs::exists(mapping_path))
        return usage_error("--mapping '" + mapping_path +
                           "' is neither a built-in family nor a file: " + builtin.error().message());
      runtime::ReadRules rules;
      rules.what = "--mapping file";
      rules.max_bytes = 1u << 20;  // a mapping is a few hundred bytes
      auto text = runtime::read_text_file(mapping_path, rules);
      if (!text) return usage_error(text.error().message());
      auto m = quant::parse_layer_mapping(*text, mapping_path);
      if (!m) return usage_error(m.error().message());
      o.mapping = *m;
    }
  }
  if (o.act_stats_path.empty())
    std::fprintf(stderr, "qjit quantize: no --act-stats: weights are quantized without smoothing or input_scale\n");
  else if (!o.smooth)
    std::fprintf(stderr, "qjit quantize: --no-smooth: weights are quantized without smoothing\n");
  if (!quiet) o.progress = draw_progress;
  auto report = quant::quantize_model(o);
  if (!report) {
    std::fprintf(stderr, "\nqjit quantize: %s\n", report.error().to_string().c_str());
    return 1;
  }
  print_report(*report, o);
  return 0;
}

}  // namespace qjit::tools
