// Model layer shape files (the format of data/llm_linear_shapes.csv: '#' comment lines, a "model,layer,N,K" header,
// one linear per line; a fifth column "act_stride" may follow K in the header, and then every line gives the
// activation's row stride in elements, >= K, or leaves it empty for K, as data/odd_shapes.csv does) and the work list the tune/warmup/bench commands derive from them: shapes x M values,
// deduplicated, in a stable order, split into shards that partition it exactly; and which shard of an array job this
// process is (`--shard i/n`, or `--shard auto` from Slurm's or Kubernetes' environment).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qjit/status.h"

namespace qjit::autotune {

struct LayerShape {
  std::string model;
  std::string layer;
  std::int64_t n = 0, k = 0;
  std::int64_t act_stride = 0;  // the activation's row stride (elements); 0: K (contiguous)
};

// Errors name the file, the line number and what was expected ("shapes.csv:7: N must be a positive integer, got
// 'x'"). An empty list (no data lines) is an error too.
Result<std::vector<LayerShape>> parse_shapes(std::string_view text, const std::string& origin);
Result<std::vector<LayerShape>> load_shapes(const std::string& path);

// "1,16,128" -> {1, 16, 128}; each value in [1, 2^31); errors name the offending item.
Result<std::vector<std::int64_t>> parse_m_list(std::string_view text);

struct WorkItem {
  std::int64_t n = 0, k = 0, m = 0;
  std::string label;  // "llama-2-7b q_proj" (all models/layers sharing this N,K joined with ", ")
  std::int64_t act_stride = 0;  // LayerShape::act_stride (the bench's view; the kernels do not depend on it)
  bool operator==(const WorkItem&) const = default;
};

// Every distinct (N, K) of `shapes` crossed with every M, ordered by (N, K, M) in first-appearance order. With
// `views` (qjit bench), shapes that differ only in act_stride stay apart (the bench times each view); without
// (tune, warmup: the kernels do not depend on the stride), they are one item with act_stride 0.
std::vector<WorkItem> work_items(const std::vector<LayerShape>& shapes, const std::vector<std::int64_t>& ms,
                                 bool views = false);

struct Shard {
  int index = 0;  // 0-based
  int count = 1;
};
// "i/n" with 0 <= i < n (0-based, as Slurm array and Kubernetes indexed-job indices are).
Result<Shard> parse_shard(std::string_view text);

// Reads an environment variable; nullopt when unset or empty. Tests pass their own.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
std::optional<std::string> process_environment(const char* name);

struct ResolvedShard {
  Shard shard;
  std::string source;  // where it came from, for the log: "--shard 2/8", "Slurm array task 3 (...)", ...
};
// `--shard TEXT`: "i/n" as parse_shard; "auto" or "auto/N" from the array job's environment:
//  - Slurm (sbatch --array=A-B[:S]): index = (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP
//    (MIN absent = 0, STEP absent = 1), count = SLURM_ARRAY_TASK_COUNT (absent: from SLURM_ARRAY_TASK_MAX). An
//    array given as a list (--array=1,5,9) numbers its tasks unevenly and is refused.
//  - Kubernetes Indexed Job: index = JOB_COMPLETION_INDEX; count = N of "auto/N", else QJIT_SHARD_COUNT (Kubernetes
//    does not export .spec.completions, so the job sets QJIT_SHARD_COUNT to it).
// A count given both ways (N, QJIT_SHARD_COUNT, the scheduler's) must agree. Neither scheduler's index set, or both
// set -> InvalidArgument naming the variables.
Result<ResolvedShard> resolve_shard(std::string_view text, const EnvLookup& env = process_environment);

// The items shard `s` owns, split by estimated cost (autotune/schedule.h: the LPT assignment of each item's GEMM
// estimate at its M), in list order. The shards of one n partition the list exactly. (`qjit tune` splits its
// kernels, not these items, the same way: see tools/tune_cmd.cpp.)
std::vector<WorkItem> shard_items(const std::vector<WorkItem>& items, const Shard& s);
// The estimate shard_items splits by: autotune::estimate_tune_seconds of the item's bf16 GEMM at its M.
double work_item_cost(const WorkItem& item);

}  // namespace qjit::autotune
