// Cost-ordered queue, LPT assignment and the cost-balanced shard split (see schedule.h).
#include "autotune/schedule.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <queue>
#include <utility>

namespace qjit::autotune {
namespace {

double sane(double c) { return std::isfinite(c) && c > 0 ? c : 0.0; }

}  // namespace

std::vector<std::size_t> cost_order(const std::vector<double>& costs) {
  std::vector<std::size_t> order(costs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return sane(costs[a]) > sane(costs[b]); });
  return order;
}

QueueRun simulate_queue(const std::vector<std::size_t>& order, const std::vector<double>& durations, int workers) {
  workers = std::max(workers, 1);
  QueueRun run;
  run.worker.assign(durations.size(), -1);
  run.loads.assign(static_cast<std::size_t>(workers), 0.0);
  // (load, worker): the idle worker is the one that finishes first; ties go to the lowest index.
  using Slot = std::pair<double, int>;
  std::priority_queue<Slot, std::vector<Slot>, std::greater<Slot>> idle;
  for (int w = 0; w < workers; ++w) idle.push({0.0, w});
  for (std::size_t item : order) {
    if (item >= durations.size()) continue;
    auto [load, w] = idle.top();
    idle.pop();
    run.worker[item] = w;
    load += sane(durations[item]);
    run.loads[static_cast<std::size_t>(w)] = load;
    idle.push({load, w});
  }
  run.makespan = *std::max_element(run.loads.begin(), run.loads.end());
  return run;
}

std::vector<int> lpt_assign(const std::vector<double>& costs, int bins) {
  return simulate_queue(cost_order(costs), costs, bins).worker;
}

std::vector<std::size_t> shard_indices(const std::vector<double>& costs, const Shard& s) {
  std::vector<std::size_t> out;
  if (s.count < 1 || s.index < 0 || s.index >= s.count) return out;
  const std::vector<int> bin = lpt_assign(costs, s.count);
  for (std::size_t i = 0; i < bin.size(); ++i)
    if (bin[i] == s.index) out.push_back(i);
  return out;
}

}  // namespace qjit::autotune
