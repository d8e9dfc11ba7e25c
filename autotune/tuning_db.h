// The tuning database: the autotuner's winners, one record per (op, dtypes, bias/scale mode, N, K, M bucket, device
// name, SM count), stored as JSON so people can read, diff and merge it. PlanPreference::Tuned looks configs up here
// and falls back to the heuristic; Autotune writes its winners back. A file written by another qjit version or
// format is refused with a clear error (configs are only meaningful for the templates that were timed).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "codegen/kernel_spec.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "qjit/status.h"

namespace qjit::autotune {

// What a tuned config is valid for. Two keys are equal when every field is.
struct TuningKey {
  std::string op;         // codegen::kernel_op_name(spec.op): "gemm_s8", "quantize_rowwise"
  std::string in_dtype;   // element_name(spec.in_element)
  std::string out_dtype;  // element_name(spec.out_element)
  bool has_bias = false;
  bool per_token_scale = true;
  std::int64_t n = 0, k = 0;
  int m_bucket = 1;
  std::string device;  // DeviceInfo::name, e.g. "NVIDIA H200"
  int sm_count = 0;
  int arch = 0;  // 80, 89, 90 ...
  bool operator==(const TuningKey&) const = default;
  std::string to_string() const;  // one line for logs and tables
};

TuningKey tuning_key(const codegen::KernelSpec& spec, const std::string& device_name, int sm_count);

struct TuningRecord {
  TuningKey key;
  codegen::TileConfig config;
  double time_us = 0;            // median kernel time of the winner at M = key.m_bucket
  double heuristic_time_us = 0;  // the heuristic's median in the same run (speed-up = heuristic / time)
  int candidates = 0;            // how many configs were timed
  // The heuristic's config the winner was measured against. When today's heuristic differs (the rules changed
  // since), the record's comparison is stale and Tuned ignores it until the shape is re-tuned. Absent in files
  // written before this field existed: such records are trusted as they are.
  std::optional<codegen::TileConfig> heuristic;
};

// Who chose the file being loaded: a path the user named (a command-line argument) is read as given; the file an
// engine finds by itself (QJIT_TUNING_DB, the cache directory's) must also be owned by the user or root and writable
// by no one else, like the kernel cache (docs/SECURITY.md).
enum class TuningDbSource : std::uint8_t { Named, Implicit };

class TuningDb {
 public:
  // The format version this build writes and reads (bump when the JSON layout changes).
  static constexpr int kFormatVersion = 1;

  // A missing file is an empty database (nothing tuned yet). A file that is not a regular file, larger than 64 MiB,
  // not valid JSON, nested too deep, has the wrong layout, another format version or another qjit version ->
  // InvalidArgument naming the path and what was expected.
  static Result<TuningDb> load(const std::string& path, TuningDbSource source = TuningDbSource::Named);
  // Read-modify-write under `<path>.lock` (an exclusive lock across processes): load, change(db), save. Returns
  // what was saved. Every writer of a shared database goes through here, so no update is lost.
  static Result<TuningDb> update(const std::string& path, llvm::function_ref<Status(TuningDb&)> change,
                                 std::chrono::milliseconds lock_timeout = std::chrono::minutes(2));
  static Result<TuningDb> parse(std::string_view json, const std::string& origin);  // origin names the source in errors
  // Atomic write by the file rules (runtime/safe_file.h); creates the parent directory. Concurrent writers should
  // use update() instead.
  Status save(const std::string& path) const;
  std::string to_json() const;  // pretty-printed, records sorted by key so the file diffs well

  const TuningRecord* find(const TuningKey& key) const;
  // Inserts, or replaces the record for the same key when `r` is faster (lower time_us; at an equal time, when its
  // JSON is smaller, so the kept record never depends on the order records arrive in). Returns true if stored.
  bool put(const TuningRecord& r);
  // Joins `other` into this database: for each key the faster record wins; keys of other devices are simply added
  // (a record never competes with one timed on another device). Returns how many records were added or replaced.
  int merge(const TuningDb& other);

  const std::vector<TuningRecord>& records() const { return records_; }
  std::size_t size() const { return records_.size(); }

 private:
  static Status prepare_directory(const std::string& path);
  std::vector<TuningRecord> records_;
};

// QJIT_TUNING_DB when set, else "<writable cache dir>/tuning.json".
std::string default_tuning_db_path();

// The version string stored in and checked against database files.
std::string_view qjit_version();

}  // namespace qjit::autotune
