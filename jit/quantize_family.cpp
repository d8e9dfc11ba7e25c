// The dynamic quantization family (templates/quantize_rowwise.cuh: per-token rows, and the absmax + apply-scale
// pair of per-tensor scaling) as a KernelFamilyRuntime, a thin wrapper over codegen/quantize_rowwise.h, with its
// tuning rules:
// Heuristic: enough threads per row that each holds about two 16-element chunks (so the row stays in registers
// between the absmax and the quantize pass), and several rows per CTA when rows are short. The config depends only
// on K, the input type and the M bucket.
// Candidates: threads per row x rows per CTA, and the fewest threads that keep a long row in registers; the
// heuristic's choice leads the list.
// The fused norm + quantize kernels (codegen/norm_quantize.h) are members too: the same config and launch, their own
// validation and render, and the power-of-two part of the same heuristic, raised until the row stays in registers.
// So is the staged Hopper path's int8 row copy (codegen/stage_rows.h): the same config and launch, its own rules.
#include <algorithm>

#include "codegen/norm_quantize.h"
#include "codegen/quantize_rowwise.h"
#include "codegen/stage_rows.h"
#include "jit/kernel_family.h"

namespace qjit::jit {
namespace {

using codegen::KernelSpec;
using codegen::QuantizeTile;

void push_unique(std::vector<QuantizeTile>& v, const QuantizeTile& c) {
  if (std::find(v.begin(), v.end(), c) == v.end()) v.push_back(c);
}

int next_pow2(std::int64_t v) {
  int p = 1;
  while (p < v && p < (1 << 20)) p *= 2;
  return p;
}

QuantizeTile quantize_heuristic(const KernelSpec& spec) {
  // Threads per row from tuning and quantize_rowwise_bench on an H200: about one 16-element chunk per thread for
  // decode (latency: the whole row in flight at once), two up to M = 2048, and beyond that about eight, but at least
  // 128 and at most 256 threads (K = 4096, M = 8192: 37 us with 128, 49 us with 64; K = 28672: 249 us with 256, 301
  // with 128).
  // NOTE: at most 256 threads a row from M = 256 on: K = 11008..28672 at M = 2048 ran at 0.50-0.66 of copy bandwidth
  // with 512-1024-thread rows (one row per CTA, a 16-32-warp barrier between the passes) against 0.87 at K = 8192
  // with 256 (quantize_rowwise_bench, H200, session 3).
  const std::int64_t chunks = (spec.k + 15) / 16;
  int tpr = spec.m_bucket <= 128    ? std::clamp(next_pow2(chunks), 4, 1024)
            : spec.m_bucket <= 2048 ? std::clamp(next_pow2((chunks + 1) / 2), 4, 256)
                                    : std::clamp(next_pow2((chunks + 7) / 8), std::min(next_pow2(chunks), 128), 256);
  // NOTE: a thread keeps at most 4 chunks in registers between the absmax and the quantize pass (8 for 16-bit inputs
  // of the plain pass since session 6, kept as loaded; this rule predates that and still serves), and rows whose
  // chunks do not split evenly leave some threads a chunk short. Above decode, when the rule above does not split the
  // row evenly into <= 4 chunks a thread, the fewest threads (a multiple of 32 in [128, 384]) that do are taken
  // (H200, session 3, quantize_rowwise_bench, fraction of copy bandwidth at M = 8192 / 2048): K = 5120 on 160
  // threads 0.72 -> 0.98 / 0.70 -> 0.89; K = 13824 on 288 0.82 -> 0.99 / 0.66 -> 0.92; K = 14336 on 224 0.83 -> 0.90
  // / 0.67 -> 0.84; K = 20480 on 320 0.92 -> 0.98 / 0.84 -> 0.92. No such count: K = 11008, and K = 28672, whose
  // 448-thread rows measured slower (0.77).
  if (spec.m_bucket > 128 && !(chunks % tpr == 0 && chunks / tpr <= 4)) {
    for (int t = 128; t <= 384; t += 32) {
      if (chunks % t == 0 && chunks / t <= 4) {
        tpr = t;
        break;
      }
    }
  }
  return QuantizeTile{.rows_per_cta = tpr >= 256 ? 1 : 256 / tpr, .threads_per_row = tpr};
}

Status validate_any(const KernelSpec& spec, const QuantizeTile& c) {
  if (spec.op == codegen::KernelOp::StageRows) return codegen::validate_stage_rows(spec, c);
  return codegen::is_norm_op(spec.op) ? codegen::validate_norm_quantize(spec, c) : codegen::validate_quantize(spec, c);
}

// The staging copy (stage_rows.cuh): one 16-byte chunk a thread and step. Up to 256 threads a row, so a decode row
// of K <= 4096 is one step for every thread (latency: the whole row in flight at once), longer rows loop; short
// rows share a 256-thread CTA. Not measured apart: a copy wants bytes in flight, which this gives at every M.
QuantizeTile stage_rows_heuristic(const KernelSpec& spec) {
  const std::int64_t chunks = (spec.k + 15) / 16;
  const int tpr = std::clamp(next_pow2(chunks), 4, 256);
  return QuantizeTile{.rows_per_cta = 256 / tpr, .threads_per_row = tpr};
}

// The norm kernels, from `qjit tune --plans rmsnorm,layernorm` on an H200 (session 8: bf16, K = 4096 .. 28672,
// M = 1 .. 8192, with and without a residual; docs/PERF.md "Fused norm + quantize"):
// - decode (M bucket <= 128): about one chunk a thread, as the quantize pass (K = 4096: 256 threads; 8192: 512;
//   28672: 1024); the candidates within 10% of each other there.
// - above: ONE row per CTA (every best config was 1 x T; two rows a CTA cost 2-12%) and about three chunks a thread,
//   128 to 256 threads (K = 4096, M = 8192: 1x128 41.5 us against the old 2x128 43.5; K = 14336: 1x256 156.5 against
//   2x128 174.7; K = 28672: 1x256 338.8, 512 and 1024 threads 13-28% slower). Rows shorter than 128 threads' worth
//   share a CTA of 128 threads.
// Then at least enough threads to keep the row in registers (8 chunks a thread for 16-bit inputs, 4 for f32: what
// norm_quantize.cuh caches) and the kernel's minimum. f16 and f32 follow the bf16 measurements (not measured apart).
QuantizeTile norm_heuristic(const KernelSpec& spec) {
  const std::int64_t chunks = (spec.k + 15) / 16;
  const bool decode = spec.m_bucket <= 128;
  int tpr = decode ? std::clamp(next_pow2(chunks), 4, 1024)
                   : std::clamp(next_pow2((chunks + 2) / 3), std::min(next_pow2(chunks), 128), 256);
  const std::int64_t cached = element_size(spec.in_element) == 2 ? 8 : 4;
  tpr = std::max({tpr, std::min(next_pow2((chunks + cached - 1) / cached), 1024),
                  codegen::norm_min_threads_per_row(spec.k)});
  const int cta = decode ? 256 : 128;  // threads a CTA at least, for rows shorter than that
  return QuantizeTile{.rows_per_cta = tpr >= cta ? 1 : cta / tpr, .threads_per_row = tpr};
}

void quantize_candidates(const KernelSpec& spec, std::vector<QuantizeTile>& out) {
  for (int tpr : {8, 32, 64, 128, 256, 512, 1024}) {
    for (int threads : {128, 256, 512}) {
      if (tpr > threads && !(tpr > 256 && threads == 512)) continue;
      const QuantizeTile c{.rows_per_cta = std::max(1, threads / tpr), .threads_per_row = tpr};
      if (tpr * 4 > spec.k + 15 && tpr > 32) continue;  // most threads would idle
      if (validate_any(spec, c).ok()) push_unique(out, c);
    }
  }
  // The fewest threads (a multiple of 32) that keep a long row in registers between the passes: <= 4 chunks each.
  const int chunks = static_cast<int>((spec.k + 15) / 16);
  const int cached = ((chunks + 3) / 4 + 31) / 32 * 32;
  if (cached > 128 && cached <= 1024) {
    const QuantizeTile c{.rows_per_cta = 1, .threads_per_row = cached};
    if (validate_any(spec, c).ok()) push_unique(out, c);
  }
}

class QuantizeFamily final : public TypedFamily<QuantizeTile> {
 public:
  Status accepts(const KernelSpec& spec) const override {
    if (spec.op == codegen::KernelOp::GemmS8 || spec.op == codegen::KernelOp::W8A16Gemm)
      return Status(StatusCode::Unsupported, "a GEMM: the quantize family serves only the quantization passes");
    return Status();
  }

  std::string why_chosen(const KernelSpec& spec) const override {
    if (spec.op == codegen::KernelOp::StageRows)
      return "the staging copy: a row pass, which the quantize family serves";
    return codegen::is_norm_op(spec.op) ? "a fused norm + quantize pass: the quantize family serves every arch"
                                        : "not a GEMM: one quantize family serves every arch";
  }

 protected:
  Status validate_tile(const KernelSpec& spec, const QuantizeTile& config) const override {
    return validate_any(spec, config);
  }

  Result<codegen::Source> render_tile(const KernelSpec& spec, const QuantizeTile& config) const override {
    if (spec.op == codegen::KernelOp::StageRows) return codegen::render_stage_rows(spec, config);
    return codegen::is_norm_op(spec.op) ? codegen::render_norm_quantize(spec, config)
                                        : codegen::render_quantize(spec, config);
  }

  runtime::LaunchDims launch_dims_tile(const KernelSpec& spec, const QuantizeTile& config, std::int64_t m,
                                       int) const override {
    runtime::LaunchDims d = codegen::quantize_launch(spec, config, m);
    // The quantize pass waits for the kernel ahead of it (griddepcontrol.wait) on sm_90+; older parts compile no
    // wait.
    d.programmatic = spec.arch >= 90;
    return d;
  }

  QuantizeTile heuristic_tile(const KernelSpec& spec, int) const override {
    if (spec.op == codegen::KernelOp::StageRows) return stage_rows_heuristic(spec);
    return codegen::is_norm_op(spec.op) ? norm_heuristic(spec) : quantize_heuristic(spec);
  }

  std::vector<QuantizeTile> candidate_tiles(const KernelSpec& spec, const CandidateOptions& options) const override {
    std::vector<QuantizeTile> out;
    const QuantizeTile first = heuristic_tile(spec, options.sm_count);
    if (validate_tile(spec, first).ok()) out.push_back(first);
    quantize_candidates(spec, out);
    return out;
  }
};

}  // namespace

const KernelFamilyRuntime& quantize_family() {
  static const QuantizeFamily family;
  return family;
}

}  // namespace qjit::jit
