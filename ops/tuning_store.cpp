// TuningStore: lazy load, lookups with epilogue-variant fallbacks, merge-on-save.
#include "ops/tuning_store.h"

#include "ops/config_choice.h"
#include "runtime/log.h"

namespace qjit::ops {

TuningStore& TuningStore::process() {
  static TuningStore* store = new TuningStore();  // NOTE: leaked on purpose: plans may be selected during exit
  return *store;
}

void TuningStore::load_locked() {
  if (loaded_) return;
  loaded_ = true;
  path_ = autotune::default_tuning_db_path();
  auto db = autotune::TuningDb::load(path_, autotune::TuningDbSource::Implicit);
  if (!db) {
    QJIT_LOG_WARN("tuning", "ignoring the tuning database: {0}", db.error().to_string());
    return;
  }
  db_ = std::move(*db);
  QJIT_LOG_INFO("tuning", "loaded {0} tuned configs from {1}", db_.size(), path_);
}

std::string TuningStore::path() {
  std::lock_guard<std::mutex> lock(mu_);
  load_locked();
  return path_;
}

const autotune::TuningRecord* find_tuned_record(const autotune::TuningDb& db, const codegen::KernelSpec& spec,
                                                const std::string& device_name, int sm_count) {
  const autotune::TuningKey key = autotune::tuning_key(spec, device_name, sm_count);
  // A GEMM falls back across its epilogue variants (scale granularity, bias), which share the main loop; a fused norm
  // pass across its scale mode (static per-tensor or per-token), which share the loads and the reductions and take
  // the same configs (`qjit tune --plans rmsnorm,layernorm` tunes the per-token variant only).
  const bool gemm = spec.op == codegen::KernelOp::GemmS8;
  const int variants = gemm ? 4 : codegen::is_norm_op(spec.op) ? 2 : 1;
  for (int variant = 0; variant < variants; ++variant) {
    autotune::TuningKey k = key;
    if (variant & 1) k.per_token_scale = !k.per_token_scale;
    if (variant & 2) k.has_bias = !k.has_bias;
    if (const autotune::TuningRecord* r = db.find(k)) return r;
  }
  return nullptr;
}

bool tuned_record_applies(const autotune::TuningRecord& r, const codegen::TileConfig& heuristic, std::string* why) {
  if (r.config.family() != heuristic.family()) {
    if (why)
      *why = "the plan picks the " + std::string(codegen::kernel_family_name(heuristic.family())) + " family here";
    return false;
  }
  if (r.heuristic && !(*r.heuristic == heuristic)) {
    if (why)
      *why = "it was measured against the heuristic " + r.heuristic->to_string() + ", today's is " +
             heuristic.to_string() + "; re-run qjit tune for this shape";
    return false;
  }
  return true;
}

bool has_current_record(const autotune::TuningDb& db, const codegen::KernelSpec& spec,
                        const runtime::DeviceInfo& device) {
  const autotune::TuningRecord* r = db.find(autotune::tuning_key(spec, device.name, device.sm_count));
  if (r == nullptr) return false;
  const auto heuristic = choose_config(spec, PlanPreference::Heuristic, device);
  return heuristic.has_value() && tuned_record_applies(*r, *heuristic, nullptr);
}

std::optional<autotune::TuningRecord> TuningStore::find(const codegen::KernelSpec& spec,
                                                        const runtime::DeviceInfo& device) {
  std::lock_guard<std::mutex> lock(mu_);
  load_locked();
  if (const autotune::TuningRecord* r = find_tuned_record(db_, spec, device.name, device.sm_count)) return *r;
  return std::nullopt;
}

Status TuningStore::record(const autotune::TuningRecord& r) {
  std::lock_guard<std::mutex> lock(mu_);
  load_locked();
  db_.put(r);
  // Under the database's lock: re-read what other processes saved meanwhile, so this save drops none of it.
  auto updated = autotune::TuningDb::update(path_, [&](autotune::TuningDb& on_disk) {
    on_disk.merge(db_);
    return Status();
  });
  if (!updated) return updated.error();
  db_ = std::move(updated).value();
  return Status();
}

}  // namespace qjit::ops
