// choose_config (config_choice.h): the family's heuristic, a vetted tuning-database record, or an autotuning run.
#include "ops/config_choice.h"

#include "autotune/autotuner.h"
#include "jit/kernel_family.h"
#include "ops/tuning_store.h"
#include "runtime/log.h"

namespace qjit::ops {

Result<codegen::TileConfig> choose_config(const codegen::KernelSpec& spec, PlanPreference pref,
                                          const runtime::DeviceInfo& device) {
  const codegen::TileConfig heuristic = jit::FamilyRegistry::process().for_spec(spec).heuristic(spec, device.sm_count);
  if (pref == PlanPreference::Heuristic) return heuristic;
  if (pref == PlanPreference::Tuned) {
    if (auto r = TuningStore::process().find(spec, device)) {
      std::string why;
      if (tuned_record_applies(*r, heuristic, &why)) {
        auto rendered = render(spec, r->config);
        if (rendered) return r->config;
        why = rendered.error().message();
      }
      QJIT_LOG_WARN("tuning", "not using tuned config {0} for {1}: {2}; using the heuristic", r->config.to_string(),
                    spec.to_string(), why);
    }
    return heuristic;
  }
  // Autotune: time the candidates now, at the bucket's M, and record the winner for later Tuned selects.
  // NOTE: an asymmetric kernel is timed as its symmetric twin (same config space and launch geometry; the tuner's
  // harness launches the plain parameter blocks), and the twin's record serves it (the tuning key has no azp field).
  codegen::KernelSpec timed = spec;
  if (timed.act_zero_point) {
    timed.act_zero_point = false;
    if (timed.op != codegen::KernelOp::GemmS8) timed.out_element = ElementKind::S8;
  }
  QJIT_ASSIGN_OR_RETURN(autotune::TuneOutcome tuned,
                        autotune::autotune_kernel(timed, timed.m_bucket, device, autotune::TuneOptions{}));
  if (Status saved = TuningStore::process().record(tuned.record); !saved.ok())
    QJIT_LOG_WARN("tuning", "could not save the tuning database: {0}", saved.to_string());
  QJIT_LOG_INFO("tuning", "{0}: {1} ({2:F1} us) over the heuristic {3} ({4:F1} us), {5} candidates", spec.to_string(),
                tuned.record.config.to_string(), tuned.record.time_us, heuristic.to_string(),
                tuned.record.heuristic_time_us, tuned.record.candidates);
  return tuned.record.config;
}

Result<KernelBinding> bind_kernel(const codegen::KernelSpec& spec, PlanPreference pref,
                                  const runtime::DeviceInfo& device) {
  QJIT_ASSIGN_OR_RETURN(codegen::TileConfig config, choose_config(spec, pref, device));
  return bind_kernel_with(spec, config, device);
}

}  // namespace qjit::ops
