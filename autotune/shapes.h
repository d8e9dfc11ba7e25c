// Model layer shape files (the format of data/llm_linear_shapes.csv: '#' comment lines, a "model,layer,N,K" header,
// one linear per line) and the work list the tune/warmup/bench commands derive from them: shapes x M values,
// deduplicated, in a stable order, split into shards that partition it exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qjit/status.h"

namespace qjit::autotune {

struct LayerShape {
  std::string model;
  std::string layer;
  std::int64_t n = 0, k = 0;
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
};

// Every distinct (N, K) of `shapes` crossed with every M, ordered by (N, K, M) in first-appearance order.
std::vector<WorkItem> work_items(const std::vector<LayerShape>& shapes, const std::vector<std::int64_t>& ms);

struct Shard {
  int index = 0;  // 0-based
  int count = 1;
};
// "i/n" with 0 <= i < n (0-based, as Slurm array and Kubernetes indexed-job indices are).
Result<Shard> parse_shard(std::string_view text);
// The items shard `s` owns: item j belongs to shard j % n. The shards of one n partition the list exactly.
std::vector<WorkItem> shard_items(const std::vector<WorkItem>& items, const Shard& s);

}  // namespace qjit::autotune
