// The report of `qjit bench` (see bench_report.h): derived figures, M-range geomeans and the three renderings.
#include "tools/bench_report.h"

#include <cmath>
#include <cstdio>

#include "llvm/Support/FormatVariadic.h"

namespace qjit::tools {
namespace {

struct Range {
  const char* name;
  std::int64_t lo, hi;
};
constexpr Range kRanges[] = {{"M<=64", 1, 64}, {"M 128-512", 128, 512}, {"M>=2048", 2048, INT64_MAX}};

// Empty for "not measured" (0), so tables and CSV show a gap rather than a misleading zero.
std::string fixed(double v, int digits) {
  if (!(v > 0)) return "";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

// RFC 4180 quoting: labels hold commas ("llama-2-7b q_proj, llama-2-13b q_proj").
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// Markdown cells cannot hold '|'.
std::string md_cell(std::string s) {
  for (char& c : s)
    if (c == '|' || c == '\n') c = ' ';
  return s;
}

}  // namespace

double BenchRow::ratio() const { return qjit_us > 0 && lt_s8_us > 0 ? lt_s8_us / qjit_us : 0; }
double BenchRow::ql_ratio() const { return ql_us > 0 && lt_bf16_us > 0 ? lt_bf16_us / ql_us : 0; }
double BenchRow::tops() const { return qjit_us > 0 ? 2.0 * m * n * k / (qjit_us * 1e-6) / 1e12 : 0; }
double BenchRow::gbps(ElementKind out) const {
  if (qjit_us <= 0) return 0;
  const double bytes = static_cast<double>(n) * k + static_cast<double>(m) * k +
                       static_cast<double>(m) * n * static_cast<double>(element_size(out));
  return bytes / (qjit_us * 1e-6) / 1e9;
}

std::vector<BenchGroup> group_geomeans(const std::vector<BenchRow>& rows) {
  std::vector<BenchGroup> groups;
  auto fill = [&](const char* name, auto in_group) {
    BenchGroup g;
    g.name = name;
    double log_r = 0, log_q = 0;
    for (const auto& r : rows) {
      if (!in_group(r.m)) continue;
      ++g.rows;
      if (r.ratio() > 0) log_r += std::log(r.ratio()), ++g.ratio_count;
      if (r.ql_ratio() > 0) log_q += std::log(r.ql_ratio()), ++g.ql_ratio_count;
    }
    if (g.ratio_count) g.geomean_ratio = std::exp(log_r / g.ratio_count);
    if (g.ql_ratio_count) g.geomean_ql_ratio = std::exp(log_q / g.ql_ratio_count);
    return g;
  };
  for (const Range& range : kRanges)
    groups.push_back(fill(range.name, [&](std::int64_t m) { return m >= range.lo && m <= range.hi; }));
  BenchGroup other = fill("other M", [](std::int64_t m) {
    for (const Range& range : kRanges)
      if (m >= range.lo && m <= range.hi) return false;
    return true;
  });
  if (other.rows) groups.push_back(other);
  return groups;
}

std::string markdown_report(const BenchContext& ctx, const std::vector<BenchRow>& rows,
                            const std::vector<BenchGroup>& groups) {
  const bool peak = ctx.peak_tops.has_value();
  std::string out = llvm::formatv(
                        "qjit bench on {0} ({1}, {2} SMs, L2 {3} MiB), {4} output, --pref {5}, median of "
                        "{6} samples after {7} warm-up launches\n",
                        ctx.device, ctx.arch, ctx.sm_count, ctx.l2_bytes >> 20, element_name(ctx.dtype), ctx.pref,
                        ctx.iters, ctx.warmup)
                        .str();
  out +=
      "qjit = SmoothQuantLinearPlan (int8 in); QL = QuantizedLinearPlan (quantize + GEMM); ratio = baseline time / "
      "qjit time (> 1: qjit faster)\n";
  if (!ctx.baseline_note.empty()) out += "cuBLASLt columns empty: " + ctx.baseline_note + "\n";
  out += "\n| shape | N | K | M | qjit us | cuBLASLt s8 us | ratio | qjit TOPS | GB/s |";
  out += peak ? " % peak |" : "";
  out += " QL us | bf16 us | QL ratio | check |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|";
  out += peak ? "---:|" : "";
  out += "---:|---:|---:|---|\n";
  for (const auto& r : rows) {
    out += llvm::formatv("| {0} | {1} | {2} | {3} | {4} | {5} | {6} | {7} | {8} |", md_cell(r.label), r.n, r.k, r.m,
                         fixed(r.qjit_us, 1), fixed(r.lt_s8_us, 1), fixed(r.ratio(), 2), fixed(r.tops(), 0),
                         fixed(r.gbps(ctx.dtype), 0))
               .str();
    if (peak) out += " " + fixed(100.0 * r.tops() / *ctx.peak_tops, 1) + " |";
    out += llvm::formatv(" {0} | {1} | {2} | {3} |\n", fixed(r.ql_us, 1), fixed(r.lt_bf16_us, 1),
                         fixed(r.ql_ratio(), 2), md_cell(r.error.empty() ? r.check : "ERROR: " + r.error))
               .str();
  }
  out +=
      "\n| M range | rows | geomean ratio (qjit vs cuBLASLt s8) | geomean QL ratio (vs bf16) |\n|---|---:|---:|---:|\n";
  for (const auto& g : groups)
    out +=
        llvm::formatv("| {0} | {1} | {2} | {3} |\n", g.name, g.rows, g.ratio_count ? fixed(g.geomean_ratio, 3) : "n/a",
                      g.ql_ratio_count ? fixed(g.geomean_ql_ratio, 3) : "n/a")
            .str();
  return out;
}

std::string csv_report(const BenchContext& ctx, const std::vector<BenchRow>& rows) {
  std::string out =
      "label,n,k,m,dtype,qjit_us,cublaslt_s8_us,ratio,qjit_tops,gbps,pct_peak,ql_us,cublaslt_bf16_us,ql_ratio,check,"
      "qjit_config,ql_config,device,error\n";
  for (const auto& r : rows) {
    const std::string pct = ctx.peak_tops ? fixed(100.0 * r.tops() / *ctx.peak_tops, 2) : "";
    out += llvm::formatv("{0},{1},{2},{3},{4},{5},{6},{7},{8},{9},{10},{11},{12},{13},{14},{15},{16},{17},{18}\n",
                         csv_field(r.label), r.n, r.k, r.m, element_name(ctx.dtype), fixed(r.qjit_us, 3),
                         fixed(r.lt_s8_us, 3), fixed(r.ratio(), 4), fixed(r.tops(), 3), fixed(r.gbps(ctx.dtype), 1),
                         pct, fixed(r.ql_us, 3), fixed(r.lt_bf16_us, 3), fixed(r.ql_ratio(), 4), csv_field(r.check),
                         csv_field(r.qjit_config), csv_field(r.ql_config), csv_field(ctx.device), csv_field(r.error))
               .str();
  }
  return out;
}

llvm::json::Value json_report(const BenchContext& ctx, const std::vector<BenchRow>& rows,
                              const std::vector<BenchGroup>& groups) {
  auto num = [](double v) -> llvm::json::Value { return v > 0 ? llvm::json::Value(v) : llvm::json::Value(nullptr); };
  llvm::json::Array jrows;
  for (const auto& r : rows) {
    llvm::json::Object o{{"label", r.label},
                         {"n", r.n},
                         {"k", r.k},
                         {"m", r.m},
                         {"qjit_us", num(r.qjit_us)},
                         {"cublaslt_s8_us", num(r.lt_s8_us)},
                         {"ratio", num(r.ratio())},
                         {"qjit_tops", num(r.tops())},
                         {"gbps", num(r.gbps(ctx.dtype))},
                         {"ql_us", num(r.ql_us)},
                         {"cublaslt_bf16_us", num(r.lt_bf16_us)},
                         {"ql_ratio", num(r.ql_ratio())},
                         {"check", r.check},
                         {"qjit_config", r.qjit_config},
                         {"ql_config", r.ql_config},
                         {"cublaslt_s8_algo", r.lt_s8_algo},
                         {"cublaslt_bf16_algo", r.lt_bf16_algo}};
    o["pct_peak"] = ctx.peak_tops ? num(100.0 * r.tops() / *ctx.peak_tops) : llvm::json::Value(nullptr);
    if (!r.error.empty()) o["error"] = r.error;
    jrows.push_back(std::move(o));
  }
  llvm::json::Array jgroups;
  for (const auto& g : groups)
    jgroups.push_back(llvm::json::Object{{"name", g.name},
                                         {"rows", g.rows},
                                         {"geomean_ratio", num(g.geomean_ratio)},
                                         {"geomean_ql_ratio", num(g.geomean_ql_ratio)},
                                         {"ratio_count", g.ratio_count},
                                         {"ql_ratio_count", g.ql_ratio_count}});
  return llvm::json::Object{
      {"device", ctx.device},
      {"arch", ctx.arch},
      {"sm_count", ctx.sm_count},
      {"l2_bytes", ctx.l2_bytes},
      {"peak_int8_tops", ctx.peak_tops ? llvm::json::Value(*ctx.peak_tops) : llvm::json::Value(nullptr)},
      {"dtype", std::string(element_name(ctx.dtype))},
      {"pref", ctx.pref},
      {"iters", ctx.iters},
      {"warmup", ctx.warmup},
      {"baseline", ctx.baseline_note.empty() ? llvm::json::Value("cublaslt") : llvm::json::Value(nullptr)},
      {"baseline_note", ctx.baseline_note},
      {"rows", std::move(jrows)},
      {"groups", std::move(jgroups)}};
}

}  // namespace qjit::tools
