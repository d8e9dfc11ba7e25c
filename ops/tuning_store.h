// The process's view of the tuning database: loaded once from autotune::default_tuning_db_path() on first use,
// consulted by PlanPreference::Tuned, extended by PlanPreference::Autotune. A database that cannot be read (corrupt,
// another qjit version) is logged once and treated as empty, so Tuned degrades to the heuristic instead of failing
// select(). Recording re-reads the file, merges and saves atomically, so processes tuning side by side lose
// nothing but a race on the very same key (where either winner is a measured best).
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "autotune/tuning_db.h"
#include "codegen/kernel_spec.h"
#include "qjit/status.h"
#include "runtime/device.h"

namespace qjit::ops {

// The lookup policy Tuned uses, on any database (TuningStore on the process's; `qjit warmup --tuning-db` on the
// one it was given, so it warms exactly the kernels the plans will pick): the exact key first; then the same GEMM
// with the other scale mode and/or bias (those change only the epilogue, so the mainloop's best tile carries over);
// a fused norm pass with the other scale mode (static per-tensor / per-token: the same loads, reductions and configs).
const autotune::TuningRecord* find_tuned_record(const autotune::TuningDb& db, const codegen::KernelSpec& spec,
                                                const std::string& device_name, int sm_count);

// Whether a record found for a spec may replace today's heuristic config `heuristic`: it must be of the same
// kernel family (QJIT_DISABLE_SM90, or a K the Hopper family cannot take, change which family a plan uses) and, when
// the record says which heuristic it beat, that must be today's (else the comparison is stale: the heuristic rules
// changed since, and the record could now be slower). `why` gets the reason on false.
bool tuned_record_applies(const autotune::TuningRecord& r, const codegen::TileConfig& heuristic, std::string* why);

// Whether `db` already holds a record for exactly this spec on `device` that Tuned would use today (its heuristic is
// today's, its family the one the plan would pick). `qjit tune --resume` skips those kernels, so a job stopped by a
// time limit can be re-run to finish only what is missing, and a heuristic change re-tunes what it made stale.
bool has_current_record(const autotune::TuningDb& db, const codegen::KernelSpec& spec,
                        const runtime::DeviceInfo& device);

class TuningStore {
 public:
  static TuningStore& process();

  // The tuned config for `spec` on `device`, if any (find_tuned_record on the process's database).
  std::optional<autotune::TuningRecord> find(const codegen::KernelSpec& spec, const runtime::DeviceInfo& device);
  // Adds `r` (kept if faster than what is there) and persists the database.
  Status record(const autotune::TuningRecord& r);
  std::string path();

 private:
  TuningStore() = default;
  void load_locked();

  std::mutex mu_;
  bool loaded_ = false;
  std::string path_;
  autotune::TuningDb db_;
};

}  // namespace qjit::ops
