// Spreading tuning work by estimated cost (autotune/cost_model.h): over the GPUs of one `qjit tune` process through
// a shared queue, and over the shards of an array job by a split every shard computes alike.
//
// The queue hands out the most expensive kernel first and an idle device takes the next one, so a wrong estimate
// costs at most one kernel's difference at the end instead of a whole precomputed share. With exact costs the queue
// is the longest-processing-time-first (LPT) schedule: makespan <= (4/3 - 1/(3m)) x optimal on m workers (Graham
// 1969), and <= total/m + the largest item (every list schedule). Shards cannot share a queue (they run on other
// machines, at other times), so they take the LPT assignment computed from the costs alone: deterministic, each item
// in exactly one shard, the same bounds on the largest shard.
#pragma once

#include <cstddef>
#include <vector>

#include "autotune/shapes.h"

namespace qjit::autotune {

// The order a shared queue hands items out in: cost descending, equal costs by index (a stable order). A cost that is
// negative or not finite counts as 0.
std::vector<std::size_t> cost_order(const std::vector<double>& costs);

// A shared queue in `order` served by `workers`, each taking the next item whenever it is idle (the least-loaded
// worker first; among equal loads the lowest index); `durations` are how long the items really take.
struct QueueRun {
  std::vector<int> worker;    // per item (indexed like durations): the worker that ran it, -1 if not in `order`
  std::vector<double> loads;  // per worker: its busy time
  double makespan = 0;        // the largest load
};
QueueRun simulate_queue(const std::vector<std::size_t>& order, const std::vector<double>& durations, int workers);

// LPT: simulate_queue(cost_order(costs), costs, bins).worker. Deterministic; bins < 1 counts as 1.
std::vector<int> lpt_assign(const std::vector<double>& costs, int bins);

// The items shard `s` owns under lpt_assign(costs, s.count), in ascending index order. The shards of one count
// partition the indices exactly; an invalid shard owns nothing.
std::vector<std::size_t> shard_indices(const std::vector<double>& costs, const Shard& s);

}  // namespace qjit::autotune
