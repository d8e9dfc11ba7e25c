// The cost-ordered queue and the LPT split (autotune/schedule.h) on fake costs: every item assigned exactly once,
// the makespan within Graham's LPT bound of the optimum (on his adversarial family, where the bound is tight, and on
// seeded random instances against a brute-force optimum), within total/m + max on any input, deterministic, and the
// queue with exact costs equal to the LPT assignment; a queue whose estimates are wrong still loses at most one item.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "autotune/schedule.h"

namespace qjit::autotune {
namespace {

double makespan(const std::vector<double>& costs, const std::vector<int>& bin, int bins) {
  std::vector<double> load(static_cast<std::size_t>(bins), 0.0);
  for (std::size_t i = 0; i < costs.size(); ++i) load[static_cast<std::size_t>(bin[i])] += costs[i];
  return *std::max_element(load.begin(), load.end());
}

// The optimal makespan by exhaustive search (fine for <= 10 items on <= 3 bins).
double optimal_makespan(const std::vector<double>& costs, int bins) {
  std::vector<double> load(static_cast<std::size_t>(bins), 0.0);
  double best = std::numeric_limits<double>::infinity();
  std::function<void(std::size_t)> go = [&](std::size_t i) {
    if (i == costs.size()) {
      best = std::min(best, *std::max_element(load.begin(), load.end()));
      return;
    }
    for (auto& l : load) {
      l += costs[i];
      if (l < best) go(i + 1);
      l -= costs[i];
      if (l == 0) break;  // empty bins are interchangeable
    }
  };
  go(0);
  return best;
}

double lpt_bound(int m) { return 4.0 / 3.0 - 1.0 / (3.0 * m); }

// Deterministic pseudo-random costs (a fixed LCG, so every run tests the same instances).
std::vector<double> seeded_costs(std::uint64_t seed, std::size_t n, double lo, double hi) {
  std::vector<double> v;
  for (std::size_t i = 0; i < n; ++i) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    v.push_back(lo + (hi - lo) * static_cast<double>(seed >> 11) * 0x1p-53);
  }
  return v;
}

void expect_each_assigned_once(const std::vector<int>& bin, std::size_t items, int bins) {
  ASSERT_EQ(bin.size(), items);
  for (int b : bin) {
    EXPECT_GE(b, 0);
    EXPECT_LT(b, bins);
  }
}

TEST(AutotuneSchedule, CostOrderIsDescendingAndStable) {
  EXPECT_EQ(cost_order({1, 5, 3, 5, 0}), (std::vector<std::size_t>{1, 3, 2, 0, 4}));
  // Non-finite or negative costs count as zero and keep their place among the zeros.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(cost_order({0, nan, -4, 2}), (std::vector<std::size_t>{3, 0, 1, 2}));
  EXPECT_TRUE(cost_order({}).empty());
}

TEST(AutotuneSchedule, EveryItemIsAssignedExactlyOnce) {
  for (int bins : {1, 2, 3, 7, 8, 64}) {
    const auto costs = seeded_costs(static_cast<std::uint64_t>(bins), 175, 0.5, 30);
    const auto bin = lpt_assign(costs, bins);
    expect_each_assigned_once(bin, costs.size(), bins);
    std::vector<std::size_t> seen;
    for (int s = 0; s < bins; ++s) {
      const auto part = shard_indices(costs, Shard{s, bins});
      EXPECT_TRUE(std::is_sorted(part.begin(), part.end()));
      for (std::size_t i : part) EXPECT_EQ(bin[i], s);
      seen.insert(seen.end(), part.begin(), part.end());
    }
    std::sort(seen.begin(), seen.end());
    std::vector<std::size_t> all(costs.size());
    std::iota(all.begin(), all.end(), std::size_t{0});
    EXPECT_EQ(seen, all) << bins << " shards";
  }
  EXPECT_TRUE(shard_indices({1, 2}, Shard{2, 2}).empty());
  EXPECT_TRUE(shard_indices({1, 2}, Shard{0, 0}).empty());
  EXPECT_EQ(lpt_assign({1, 2, 3}, 0), (std::vector<int>{0, 0, 0}));  // fewer than one bin counts as one
}

TEST(AutotuneSchedule, GrahamsAdversarialInstancesMeetTheBoundExactly) {
  // m bins; items 2m-1, 2m-1, 2m-2, 2m-2, ..., m+1, m+1, m, m, m: LPT gives 4m-1, the optimum is 3m.
  for (int m = 2; m <= 8; ++m) {
    std::vector<double> costs;
    for (int c = 2 * m - 1; c > m; --c) costs.insert(costs.end(), {double(c), double(c)});
    costs.insert(costs.end(), {double(m), double(m), double(m)});
    const auto bin = lpt_assign(costs, m);
    expect_each_assigned_once(bin, costs.size(), m);
    const double lpt = makespan(costs, bin, m), opt = 3.0 * m;
    EXPECT_EQ(lpt, 4.0 * m - 1) << "m=" << m;
    EXPECT_LE(lpt, lpt_bound(m) * opt + 1e-9) << "m=" << m;
    if (m <= 3) {
      EXPECT_EQ(optimal_makespan(costs, m), opt) << "m=" << m;
    }
  }
}

TEST(AutotuneSchedule, RandomInstancesStayWithinTheLptBoundOfTheOptimum) {
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    const int bins = 2 + static_cast<int>(seed % 2);
    const std::size_t n = 5 + seed % 6;
    // Mixed scales, as real tuning work is (decode kernels ~1 s next to prefill GEMMs ~25 s).
    auto costs = seeded_costs(seed, n, 1, 10);
    if (seed % 3 == 0) costs[seed % n] *= 4;
    const auto bin = lpt_assign(costs, bins);
    const double lpt = makespan(costs, bin, bins), opt = optimal_makespan(costs, bins);
    EXPECT_LE(lpt, lpt_bound(bins) * opt + 1e-9) << "seed " << seed;
    EXPECT_GE(lpt, opt - 1e-9);
  }
}

TEST(AutotuneSchedule, MakespanWithinAverageLoadPlusLargestItem) {
  for (int bins : {2, 4, 8, 16}) {
    for (std::uint64_t seed : {11u, 12u, 13u}) {
      const auto costs = seeded_costs(seed * 131 + bins, 200, 0.2, 27);
      const double total = std::accumulate(costs.begin(), costs.end(), 0.0);
      const double largest = *std::max_element(costs.begin(), costs.end());
      const double span = makespan(costs, lpt_assign(costs, bins), bins);
      EXPECT_LE(span, total / bins + largest * (1.0 - 1.0 / bins) + 1e-9) << bins << " bins, seed " << seed;
    }
  }
}

TEST(AutotuneSchedule, DeterministicAndIndependentOfTheCallersOtherWork) {
  const auto costs = seeded_costs(99, 175, 0.5, 30);
  const auto first = lpt_assign(costs, 8);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(lpt_assign(costs, 8), first);
  EXPECT_EQ(lpt_assign(std::vector<double>(costs), 8), first);
  // Equal costs: spread in index order, round-robin.
  EXPECT_EQ(lpt_assign({1, 1, 1, 1, 1}, 2), (std::vector<int>{0, 1, 0, 1, 0}));
}

TEST(AutotuneSchedule, QueueWithExactCostsIsTheLptAssignment) {
  const auto costs = seeded_costs(7, 120, 0.5, 30);
  const QueueRun run = simulate_queue(cost_order(costs), costs, 8);
  EXPECT_EQ(run.worker, lpt_assign(costs, 8));
  EXPECT_DOUBLE_EQ(run.makespan, makespan(costs, run.worker, 8));
  EXPECT_DOUBLE_EQ(std::accumulate(run.loads.begin(), run.loads.end(), 0.0),
                   std::accumulate(costs.begin(), costs.end(), 0.0));
  // Items missing from the order are not run.
  const QueueRun part = simulate_queue({2, 0}, {1, 2, 3}, 2);
  EXPECT_EQ(part.worker, (std::vector<int>{1, -1, 0}));
}

TEST(AutotuneSchedule, QueueAbsorbsWrongEstimates) {
  // The order comes from estimates that are off by up to 3x either way; the queue still lands within
  // total/m + the largest real item, and (on this instance) no later than a fixed per-device share of the estimates.
  const auto truth = seeded_costs(5, 175, 0.5, 27);
  auto estimate = truth;
  const auto noise = seeded_costs(6, truth.size(), 1.0 / 3.0, 3.0);
  for (std::size_t i = 0; i < estimate.size(); ++i) estimate[i] *= noise[i];
  const int m = 8;
  const QueueRun run = simulate_queue(cost_order(estimate), truth, m);
  const double total = std::accumulate(truth.begin(), truth.end(), 0.0);
  const double largest = *std::max_element(truth.begin(), truth.end());
  EXPECT_LE(run.makespan, total / m + largest);
  const double fixed_share = makespan(truth, lpt_assign(estimate, m), m);
  EXPECT_LE(run.makespan, fixed_share + 1e-9);
}

}  // namespace
}  // namespace qjit::autotune
