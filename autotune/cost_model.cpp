// The tuning cost model (see cost_model.h). Every term is a product of sizes and fixed rates, so estimates are
// reproducible bit for bit on any machine given the same inputs.
#include "autotune/cost_model.h"

#include <algorithm>
#include <cmath>

#include "qjit/element.h"

namespace qjit::autotune {
namespace {

struct Traffic {
  double bytes = 0;   // DRAM traffic of one launch
  double ops = 0;     // int8 multiply-adds x 2
  double out = 0;     // output bytes (downloaded and compared once per candidate)
  double inputs = 0;  // operand bytes generated on the host
};

Traffic traffic(const KernelWork& w) {
  const double m = static_cast<double>(std::max<std::int64_t>(w.m, 1));
  const double k = static_cast<double>(std::max<std::int64_t>(w.spec.k, 1));
  Traffic t;
  if (w.spec.op == codegen::KernelOp::GemmS8) {
    const double n = static_cast<double>(std::max<std::int64_t>(w.spec.n, 1));
    const double out_size = static_cast<double>(element_size(w.spec.out_element));
    t.out = m * n * out_size;
    t.inputs = m * k + n * k;
    t.bytes = t.inputs + t.out;
    t.ops = 2.0 * m * n * k;
  } else {
    const double in_size = static_cast<double>(element_size(w.spec.in_element));
    // A fused norm with a residual reads it too and writes residual_out, which the tuner downloads and compares
    // with the rest of the output for every candidate (session 8: the norm kernels took ~3x the old estimate).
    const double residual = codegen::is_norm_op(w.spec.op) && w.spec.residual ? 1.0 : 0.0;
    t.out = m * k + 4.0 * m + residual * m * k * in_size;  // int8 rows, one f32 scale per row (, residual_out)
    t.inputs = m * k * in_size * (1.0 + residual);
    t.bytes = t.inputs + t.out;
  }
  return t;
}

double compile_seconds(const KernelWork& w, const CostModel& c) {
  if (w.spec.op != codegen::KernelOp::GemmS8) return c.compile_s_quantize;
  return w.family == codegen::KernelFamily::GemmSm90 ? c.compile_s_sm90 : c.compile_s_sm80;
}

}  // namespace

double estimate_launch_seconds(const KernelWork& work, const CostModel& c) {
  const Traffic t = traffic(work);
  return std::max(t.bytes / c.dram_bytes_per_s, t.ops / c.int8_ops_per_s) + c.launch_floor_s;
}

double estimate_tune_seconds(const KernelWork& work, const CostModel& c) {
  const Traffic t = traffic(work);
  const double candidates = std::max(work.candidates, 1);
  const double threads = std::max(c.compile_threads, 1);
  const double launch = estimate_launch_seconds(work, c);
  const double setup = t.inputs / c.host_bytes_per_s + t.inputs / c.pcie_bytes_per_s;
  const double compile = std::ceil(candidates / threads) * compile_seconds(work, c);
  const double check = c.module_load_s + launch + t.out / c.pcie_bytes_per_s + t.out / c.host_bytes_per_s;
  const double timed_launches = c.warmup + static_cast<double>(c.reps) * c.batch;
  const double timing = timed_launches * launch + c.reps * c.event_round_trip_s;
  const double confirm = c.confirm_fraction * 6.0 * timing;
  return setup + compile + candidates * (check + timing) + confirm;
}

}  // namespace qjit::autotune
