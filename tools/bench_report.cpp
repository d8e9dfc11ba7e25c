// The report of `qjit bench` (see bench_report.h): derived figures, per-regime M-range geomeans and the renderings.
#include "tools/bench_report.h"

#include <cmath>
#include <cstdio>
#include <utility>

#include "llvm/Support/FormatVariadic.h"

namespace qjit::tools {
namespace {

struct Range {
  const char* name;
  std::int64_t lo, hi;
};
constexpr Range kRanges[] = {{"M<=64", 1, 64}, {"M 128-512", 128, 512}, {"M>=2048", 2048, INT64_MAX}};

constexpr ImplInfo kImpls[kImplCount] = {
    {Impl::Qjit, "qjit", "", Impl::Qjit},
    {Impl::CublasLtS8, "cublaslt_s8", "ratio", Impl::Qjit},
    {Impl::TorchIntMm, "torch_int_mm", "torch_int_mm_ratio", Impl::Qjit},
    {Impl::TritonS8, "triton_s8", "triton_s8_ratio", Impl::Qjit},
    {Impl::Ql, "ql", "", Impl::Ql},
    {Impl::CublasLtBf16, "cublaslt_bf16", "ql_ratio", Impl::Ql},
    {Impl::TorchBf16, "torch_bf16", "torch_bf16_ratio", Impl::Ql},
    {Impl::QjitAligned, "qjit_aligned", "aligned_ratio", Impl::Qjit},
    {Impl::QlAligned, "ql_aligned", "ql_aligned_ratio", Impl::Ql},
};

bool is_peer(const ImplInfo& i) { return i.ratio_column[0] != '\0'; }

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

// "; cuBLASLt s8 refused: ..." for each peer that could not be prepared on the row's shape.
std::string refusals(const BenchRow& r) {
  std::string out;
  for (const ImplInfo& i : kImpls) {
    const std::string& what = r.side(i.impl).what;
    if (what.rfind("refused: ", 0) == 0) out += std::string("; ") + i.column + " " + what;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> regimes_and_modes(const std::vector<BenchRow>& rows) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : rows) {
    std::pair<std::string, std::string> key{r.regime, r.mode};
    bool seen = false;
    for (const auto& k : out) seen = seen || k == key;
    if (!seen) out.push_back(std::move(key));
  }
  return out;
}

}  // namespace

const ImplInfo& impl_info(Impl impl) { return kImpls[static_cast<int>(impl)]; }

double BenchRow::ratio(Impl peer) const {
  const Side& p = side(peer);
  const Side& ref = side(impl_info(peer).reference);
  return p.us > 0 && ref.us > 0 && peer != impl_info(peer).reference ? p.us / ref.us : 0;
}
double BenchRow::tops(Impl i) const {
  const double us = side(i).us;
  return us > 0 ? 2.0 * m * n * k / (us * 1e-6) / 1e12 : 0;
}
double BenchRow::tops_per_ghz(Impl i) const { return side(i).mhz > 0 ? tops(i) / (side(i).mhz * 1e-3) : 0; }
double BenchRow::tops_per_watt(Impl i) const { return side(i).watts > 0 ? tops(i) / side(i).watts : 0; }
double BenchRow::gbps(ElementKind out) const {
  const double us = side(Impl::Qjit).us;
  if (us <= 0) return 0;
  const double bytes = static_cast<double>(n) * k + static_cast<double>(m) * k +
                       static_cast<double>(m) * n * static_cast<double>(element_size(out));
  return bytes / (us * 1e-6) / 1e9;
}

std::vector<BenchGroup> group_geomeans(const std::vector<BenchRow>& rows) {
  std::vector<BenchGroup> groups;
  for (const auto& [regime, mode] : regimes_and_modes(rows)) {
    auto fill = [&, &regime = regime, &mode = mode](const char* name, auto in_group) {
      BenchGroup g;
      g.regime = regime;
      g.mode = mode;
      g.name = name;
      std::array<double, kImplCount> logs{};
      for (const auto& r : rows) {
        if (r.regime != regime || r.mode != mode || !in_group(r.m)) continue;
        ++g.rows;
        for (const ImplInfo& i : kImpls)
          if (is_peer(i) && r.ratio(i.impl) > 0 && !(i.impl == Impl::CublasLtS8 && r.s8_peer_wrong)) {
            logs[static_cast<int>(i.impl)] += std::log(r.ratio(i.impl));
            ++g.count[static_cast<int>(i.impl)];
          }
      }
      for (int i = 0; i < kImplCount; ++i)
        if (g.count[i]) g.geomean[i] = std::exp(logs[i] / g.count[i]);
      g.ratio_count = g.count[static_cast<int>(Impl::CublasLtS8)];
      g.geomean_ratio = g.geomean[static_cast<int>(Impl::CublasLtS8)];
      g.ql_ratio_count = g.count[static_cast<int>(Impl::CublasLtBf16)];
      g.geomean_ql_ratio = g.geomean[static_cast<int>(Impl::CublasLtBf16)];
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
  }
  return groups;
}

std::string markdown_report(const BenchContext& ctx, const std::vector<BenchRow>& rows,
                            const std::vector<BenchGroup>& groups) {
  const bool peak = ctx.peak_tops.has_value();
  std::string out = llvm::formatv(
                        "qjit bench on {0} ({1}, {2} SMs, L2 {3} MiB), {4} output, --pref {5}, {6} rounds, "
                        "{7} warm-up launches\n",
                        ctx.device, ctx.arch, ctx.sm_count, ctx.l2_bytes >> 20, element_name(ctx.dtype), ctx.pref,
                        ctx.rounds, ctx.warmup)
                        .str();
  if (!ctx.method.empty()) out += ctx.method + "\n";
  out +=
      "qjit = SmoothQuantLinearPlan (int8 in); QL = QuantizedLinearPlan (quantize + GEMM); ratio = peer time / "
      "qjit time (> 1: qjit faster); MHz and W: qjit's side, NVML means over its timed batches\n";
  if (!ctx.baseline_note.empty()) out += "cuBLASLt columns empty: " + ctx.baseline_note + "\n";
  if (!ctx.nvml_note.empty()) out += "clock and power columns empty: " + ctx.nvml_note + "\n";
  for (const auto& [regime, mode] : regimes_and_modes(rows)) {
    out += "\n### " + regime + " load, " + mode + " launches\n";
    out +=
        "\n| shape | N | K | M | qjit us | cuBLASLt s8 us | ratio | qjit TOPS | TOPS/GHz | s8 TOPS/GHz | TOPS/W | "
        "MHz | W | GB/s |";
    out += peak ? " % peak |" : "";
    out +=
        " QL us | bf16 us | QL ratio | check |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        "---:|";
    out += peak ? "---:|" : "";
    out += "---:|---:|---:|---|\n";
    for (const auto& r : rows) {
      if (r.regime != regime || r.mode != mode) continue;
      out += llvm::formatv("| {0} | {1} | {2} | {3} | {4} | {5} | {6} | {7} | {8} | {9} | {10} | {11} | {12} | {13} |",
                           md_cell(r.label), r.n, r.k, r.m, fixed(r.side(Impl::Qjit).us, 1),
                           fixed(r.side(Impl::CublasLtS8).us, 1), fixed(r.ratio(), 2), fixed(r.tops(), 0),
                           fixed(r.tops_per_ghz(), 0), fixed(r.tops_per_ghz(Impl::CublasLtS8), 0),
                           fixed(r.tops_per_watt(), 2), fixed(r.side(Impl::Qjit).mhz, 0),
                           fixed(r.side(Impl::Qjit).watts, 0), fixed(r.gbps(ctx.dtype), 0))
                 .str();
      if (peak) out += " " + fixed(100.0 * r.tops() / *ctx.peak_tops, 1) + " |";
      out += llvm::formatv(" {0} | {1} | {2} | {3} |\n", fixed(r.side(Impl::Ql).us, 1),
                           fixed(r.side(Impl::CublasLtBf16).us, 1), fixed(r.ql_ratio(), 2),
                           md_cell(r.error.empty() ? r.check + refusals(r) : "ERROR: " + r.error))
                 .str();
    }
  }
  bool any_aligned = false;
  for (const auto& r : rows) any_aligned = any_aligned || r.aligned_n > 0;
  if (any_aligned) {
    out += "\n### odd shapes beside their aligned neighbours (" + ctx.layout +
           " layout; slowdown = this shape's time / the neighbour's)\n\n| regime | mode | shape | N | K | act stride | "
           "M | neighbour N x K | qjit us | neighbour us | slowdown | QL us | QL neighbour us | QL slowdown | "
           "cuBLASLt s8 us |\n|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n";
    auto slowdown = [](double ratio) { return ratio > 0 ? fixed(1.0 / ratio, 3) : std::string(); };
    for (const auto& r : rows) {
      if (!r.aligned_n) continue;
      out += llvm::formatv("| {0} | {1} | {2} | {3} | {4} | {5} | {6} | {7} x {8} | {9} | {10} | {11} | {12} | {13} | "
                           "{14} | {15} |\n",
                           r.regime, r.mode, md_cell(r.label), r.n, r.k,
                           r.act_stride ? std::to_string(r.act_stride) : std::string(), r.m, r.aligned_n, r.aligned_k,
                           fixed(r.side(Impl::Qjit).us, 1), fixed(r.side(Impl::QjitAligned).us, 1),
                           slowdown(r.ratio(Impl::QjitAligned)), fixed(r.side(Impl::Ql).us, 1),
                           fixed(r.side(Impl::QlAligned).us, 1), slowdown(r.ratio(Impl::QlAligned)),
                           fixed(r.side(Impl::CublasLtS8).us, 1))
                 .str();
    }
    out += "\n| regime | mode | rows | geomean slowdown | max slowdown | QL geomean slowdown | QL max slowdown |\n"
           "|---|---|---:|---:|---:|---:|---:|\n";
    for (const auto& [regime, mode] : regimes_and_modes(rows)) {
      double logs[2] = {0, 0}, worst[2] = {0, 0};
      int counts[2] = {0, 0}, n_rows = 0;
      for (const auto& r : rows) {
        if (!r.aligned_n || r.regime != regime || r.mode != mode) continue;
        ++n_rows;
        const double ratios[2] = {r.ratio(Impl::QjitAligned), r.ratio(Impl::QlAligned)};
        for (int i = 0; i < 2; ++i)
          if (ratios[i] > 0) logs[i] += std::log(1.0 / ratios[i]), ++counts[i], worst[i] = std::max(worst[i], 1.0 / ratios[i]);
      }
      auto geo = [&](int i) { return counts[i] ? fixed(std::exp(logs[i] / counts[i]), 3) : std::string("n/a"); };
      out += llvm::formatv("| {0} | {1} | {2} | {3} | {4} | {5} | {6} |\n", regime, mode, n_rows, geo(0),
                           fixed(worst[0], 3), geo(1), fixed(worst[1], 3))
                 .str();
    }
  }
  out +=
      "\n| regime | mode | M range | rows | geomean ratio (qjit vs cuBLASLt s8) | geomean QL ratio (vs bf16) |\n"
      "|---|---|---|---:|---:|---:|\n";
  for (const auto& g : groups)
    out += llvm::formatv("| {0} | {1} | {2} | {3} | {4} | {5} |\n", g.regime, g.mode, g.name, g.rows,
                         g.ratio_count ? fixed(g.geomean_ratio, 3) : "n/a",
                         g.ql_ratio_count ? fixed(g.geomean_ql_ratio, 3) : "n/a")
               .str();
  return out;
}

std::string csv_header() {
  std::string h = "label,n,k,m,dtype,regime,mode,rounds";
  for (const ImplInfo& i : kImpls) {
    const std::string c = i.column;
    h += "," + c + "_us," + c + "_mhz," + c + "_w";
    if (is_peer(i)) h += std::string(",") + i.ratio_column;
    if (i.impl == Impl::Qjit) h += ",qjit_tops,qjit_tops_per_ghz,qjit_tops_per_w,gbps,pct_peak";
  }
  return h + ",check,qjit_config,ql_config,cublaslt_s8_algo,cublaslt_bf16_algo,device,error,act_stride,aligned_n,"
             "aligned_k,layout";
}

std::string csv_report(const BenchContext& ctx, const std::vector<BenchRow>& rows) {
  std::string out = csv_header() + "\n";
  for (const auto& r : rows) {
    std::string line = llvm::formatv("{0},{1},{2},{3},{4},{5},{6},{7}", csv_field(r.label), r.n, r.k, r.m,
                                     element_name(ctx.dtype), r.regime, r.mode, r.rounds)
                           .str();
    for (const ImplInfo& i : kImpls) {
      const Side& s = r.side(i.impl);
      line += "," + fixed(s.us, 3) + "," + fixed(s.mhz, 0) + "," + fixed(s.watts, 1);
      if (is_peer(i)) line += "," + fixed(r.ratio(i.impl), 4);
      if (i.impl == Impl::Qjit)
        line += "," + fixed(r.tops(), 3) + "," + fixed(r.tops_per_ghz(), 2) + "," + fixed(r.tops_per_watt(), 3) + "," +
                fixed(r.gbps(ctx.dtype), 1) + "," +
                (ctx.peak_tops ? fixed(100.0 * r.tops() / *ctx.peak_tops, 2) : std::string());
    }
    line += "," + csv_field(r.check) + "," + csv_field(r.side(Impl::Qjit).what) + "," +
            csv_field(r.side(Impl::Ql).what) + "," + csv_field(r.side(Impl::CublasLtS8).what) + "," +
            csv_field(r.side(Impl::CublasLtBf16).what) + "," + csv_field(ctx.device) + "," + csv_field(r.error) + "," +
            (r.act_stride ? std::to_string(r.act_stride) : "") + "," +
            (r.aligned_n ? std::to_string(r.aligned_n) : "") + "," +
            (r.aligned_k ? std::to_string(r.aligned_k) : "") + "," + ctx.layout;
    out += line + "\n";
  }
  return out;
}

llvm::json::Value json_report(const BenchContext& ctx, const std::vector<BenchRow>& rows,
                              const std::vector<BenchGroup>& groups) {
  auto num = [](double v) -> llvm::json::Value { return v > 0 ? llvm::json::Value(v) : llvm::json::Value(nullptr); };
  llvm::json::Array jrows;
  for (const auto& r : rows) {
    llvm::json::Object o{{"label", r.label},   {"n", r.n},       {"k", r.k},           {"m", r.m},
                         {"regime", r.regime}, {"mode", r.mode}, {"rounds", r.rounds}, {"check", r.check}};
    if (r.act_stride) o["act_stride"] = r.act_stride;
    if (r.aligned_n) o["aligned_n"] = r.aligned_n, o["aligned_k"] = r.aligned_k;
    for (const ImplInfo& i : kImpls) {
      const Side& s = r.side(i.impl);
      const std::string c = i.column;
      o[c + "_us"] = num(s.us);
      o[c + "_mhz"] = num(s.mhz);
      o[c + "_w"] = num(s.watts);
      if (is_peer(i)) o[i.ratio_column] = num(r.ratio(i.impl));
      if (!s.what.empty()) o[c + "_what"] = s.what;
    }
    o["qjit_tops"] = num(r.tops());
    o["qjit_tops_per_ghz"] = num(r.tops_per_ghz());
    o["qjit_tops_per_w"] = num(r.tops_per_watt());
    o["gbps"] = num(r.gbps(ctx.dtype));
    o["pct_peak"] = ctx.peak_tops ? num(100.0 * r.tops() / *ctx.peak_tops) : llvm::json::Value(nullptr);
    if (!r.error.empty()) o["error"] = r.error;
    jrows.push_back(std::move(o));
  }
  llvm::json::Array jgroups;
  for (const auto& g : groups)
    jgroups.push_back(llvm::json::Object{{"regime", g.regime},
                                         {"mode", g.mode},
                                         {"name", g.name},
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
      {"rounds", ctx.rounds},
      {"method", ctx.method},
      {"layout", ctx.layout},
      {"baseline", ctx.baseline_note.empty() ? llvm::json::Value("cublaslt") : llvm::json::Value(nullptr)},
      {"baseline_note", ctx.baseline_note},
      {"nvml_note", ctx.nvml_note},
      {"rows", std::move(jrows)},
      {"groups", std::move(jgroups)}};
}

}  // namespace qjit::tools
