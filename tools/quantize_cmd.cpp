// `qjit quantize`: the command-line face of quant::quantize_model. It parses its options by hand (so usage errors
// exit with 2 and --help lists only what this command takes), draws a progress bar on stderr, and prints the
// per-linear error table and the list of linears whose statistics were missing on stdout.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

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
    "Smooths (SmoothQuant) and quantizes every decoder-layer linear of a Llama- or OPT-named model to int8:\n"
    "<module>.weight becomes I8 [N, K] plus <module>.weight_scale F32 [N] (and <module>.input_scale F32 [1], the\n"
    "static activation scale, when stats exist); norms in front of smoothed linears are rewritten with 1/s folded\n"
    "in; every other tensor is copied unchanged.\n"
    "\n"
    "options:\n"
    "  --weights PATH      input model (safetensors; F32/F16/BF16 linears)                  (required)\n"
    "  --out PATH          output file (written atomically)                                 (required)\n"
    "  --act-stats PATH    per-input-channel activation absmax, one F32 [in_features] tensor per linear keyed by\n"
    "                      its module name (SmoothQuant's act_scales); without it nothing is smoothed\n"
    "  --alpha A           migration strength in [0, 1] (default 0.5)\n"
    "  --family NAME       llama | opt: use that built-in norm->linears mapping instead of detecting it\n"
    "  --mapping FILE      JSON mapping {\"layer_prefix\": \"model.layers.{i}.\", \"groups\": [{\"norm\": ...,\n"
    "                      \"linears\": [...]}, ...]} overriding the built-in ones\n"
    "  --require-stats     fail (exit 1) when a linear has no statistics instead of reporting it\n"
    "  --error-tokens N    proxy tokens for the error table (default 16, at most 4096; 0 turns the table's W8A8\n"
    "                      columns off)\n"
    "  --error-rows N      output rows sampled per linear for the error table (default 256, at most 65536)\n"
    "  --quiet             no progress bar\n"
    "  -h, --help          this text\n"
    "\n"
    "exit status: 0 success, 1 the work failed, 2 bad usage\n";

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

void print_report(const quant::QuantizeReport& r, const quant::QuantizeOptions& o) {
  std::printf("\n%s model, %lld layers, alpha %.3g: %zu linears quantized to int8\n", r.family.c_str(),
              static_cast<long long>(r.n_layers), static_cast<double>(o.alpha), r.linears.size());
  std::printf("W8A8 error: ||Y_q - Y|| / ||Y|| on proxy activations x[t,j] ~ U(+-act_max[j]) (%lld tokens, <= %lld "
              "rows)\n\n", static_cast<long long>(o.error_proxy_tokens), static_cast<long long>(o.error_proxy_rows));
  std::printf("%-48s %7s %7s %6s %11s %11s %11s %11s\n", "linear", "N", "K", "smooth", "input_scale", "w_err",
              "w8a8_plain", "w8a8_smooth");
  for (const auto& l : r.linears)
    std::printf("%-48s %7lld %7lld %6s %11s %11s %11s %11s\n", l.module.c_str(), static_cast<long long>(l.n),
                static_cast<long long>(l.k), l.smoothed ? "yes" : "no",
                l.has_stats ? llvm::formatv("{0:e3}", l.input_scale).str().c_str() : "-",
                error_cell(l.weight_rel_error).c_str(), error_cell(l.w8a8_error_plain).c_str(),
                error_cell(l.w8a8_error_smoothed).c_str());
  if (!r.missing_stats.empty()) {
    std::printf("\nno activation statistics for %zu linear(s) (quantized without smoothing or input_scale):\n",
                r.missing_stats.size());
    for (const auto& m : r.missing_stats) std::printf("  %s\n", m.c_str());
  }
  if (!r.unused_stats.empty()) {
    std::printf("\n%zu stats entr%s matched no linear:\n", r.unused_stats.size(), r.unused_stats.size() == 1 ? "y" : "ies");
    for (const auto& m : r.unused_stats) std::printf("  %s\n", m.c_str());
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
    if (a == "--quiet") { quiet = true; continue; }
    if (a == "--require-stats") { o.require_stats = true; continue; }
    const bool takes_value = a == "--weights" || a == "--out" || a == "--act-stats" || a == "--alpha" ||
                             a == "--family" || a == "--mapping" || a == "--error-tokens" || a == "--error-rows";
    if (!takes_value) return usage_error("unknown option '" + a + "'");
    const char* v = value(a.c_str());
    if (!v) return usage_error(a + " needs a value");
    if (a == "--weights") o.weights_path = v;
    else if (a == "--out") o.out_path = v;
    else if (a == "--act-stats") o.act_stats_path = v;
    else if (a == "--family") family = v;
    else if (a == "--mapping") mapping_path = v;
    else if (a == "--alpha") {
      char* end = nullptr;
      o.alpha = std::strtof(v, &end);
      if (end == v || *end != '\0' || !(o.alpha >= 0.0f && o.alpha <= 1.0f))
        return usage_error(std::string("--alpha must be a number in [0, 1], got '") + v + "'");
    } else if (a == "--error-tokens") {
      if (!parse_int(v, quant::kMaxErrorProxyTokens, &o.error_proxy_tokens))
        return usage_error(llvm::formatv("--error-tokens must be an integer in [0, {0}], got '{1}'",
                                         quant::kMaxErrorProxyTokens, v).str());
    } else if (a == "--error-rows") {
      if (!parse_int(v, quant::kMaxErrorProxyRows, &o.error_proxy_rows))
        return usage_error(llvm::formatv("--error-rows must be an integer in [0, {0}], got '{1}'",
                                         quant::kMaxErrorProxyRows, v).str());
    }
  }
  if (o.weights_path.empty()) return usage_error("--weights is required");
  if (o.out_path.empty()) return usage_error("--out is required");
  if (!family.empty() && !mapping_path.empty()) return usage_error("--family and --mapping are mutually exclusive");
  if (family == "llama") o.mapping = quant::llama_mapping();
  else if (family == "opt") o.mapping = quant::opt_mapping();
  else if (!family.empty()) return usage_error("--family must be llama or opt, got '" + family + "'");
  if (!mapping_path.empty()) {
    runtime::ReadRules rules;
    rules.what = "--mapping file";
    rules.max_bytes = 1u << 20;  // a mapping is a few hundred bytes
    auto text = runtime::read_text_file(mapping_path, rules);
    if (!text) return usage_error(text.error().message());
    auto m = quant::parse_layer_mapping(*text, mapping_path);
    if (!m) return usage_error(m.error().message());
    o.mapping = *m;
  }
  if (o.act_stats_path.empty())
    std::fprintf(stderr, "qjit quantize: no --act-stats: weights are quantized without smoothing or input_scale\n");
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
