// Plans run back to back on one stream with no host synchronisation between them must give bit for bit what the
// same runs give one at a time. This is the test of the launch chain's ordering rules on Hopper (programmatic
// dependent launch): the quantize pass and the GEMM may be scheduled before the kernel ahead of them finishes, and
// each must run griddepcontrol.wait before it touches anything that kernel reads or writes. The chain below breaks
// a rule if one is wrong:
//   QL(x0, W_a) -> quantize(W_f -> W, w_scale) -> QL(x1, W) -> QL(x2, W)
// - the weight rewrite (a quantize pass) must not land before QL(x0)'s GEMM has read W_a (write after read);
// - QL(x1)'s GEMM must see the rewritten W and w_scale (read after write, two launches back);
// - QL(x2)'s quantize pass rewrites the shared act_q / act_scale scratch that QL(x1)'s GEMM reads.
// Outputs are poisoned before the chain; the chain repeats, so a race has several chances to show. (Session 4 also
// ran it against a GEMM that loaded weights before its wait; docs/PERF.md v6.)
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "qjit/dynamic_range_quantize.h"
#include "qjit/linear.h"
#include "tests/support/device.h"
#include "tests/support/reference.h"

namespace qjit::testing {
namespace {

struct ChainCase {
  std::int64_t m, n, k;
  bool bias = false;
};

template <class T>
void check_chain(const ChainCase& c) {
  const std::uint64_t seed = fresh_seed();
  std::mt19937_64 rng(seed);
  SCOPED_TRACE("M=" + std::to_string(c.m) + " N=" + std::to_string(c.n) + " K=" + std::to_string(c.k) + " seed " +
               std::to_string(seed));
  constexpr int kRuns = 3;
  std::vector<std::vector<T>> x;
  for (int i = 0; i < kRuns; ++i) x.push_back(convert_from_float<T>(random_activations(c.m, c.k, rng)));
  const auto w_a = random_int8(static_cast<std::size_t>(c.n * c.k), rng);
  const auto ws_a = random_floats(static_cast<std::size_t>(c.n), 2e-4f, 2e-3f, rng);
  const auto w_f = convert_from_float<T>(random_activations(c.n, c.k, rng));  // re-quantized on the GPU into W
  const auto bias = convert_from_float<T>(random_floats(static_cast<std::size_t>(c.n), -4.0f, 4.0f, rng));

  const std::size_t xb = static_cast<std::size_t>(c.m * c.k) * sizeof(T),
                    yb = static_cast<std::size_t>(c.m * c.n) * sizeof(T);
  std::vector<DeviceBuffer> d_x, d_y;
  for (int i = 0; i < kRuns; ++i) {
    d_x.emplace_back(xb);
    d_y.emplace_back(yb);
    QJIT_ASSERT_OK(d_x.back().upload(x[i]));
  }
  DeviceBuffer d_w(w_a.size()), d_ws(ws_a.size() * 4), d_wf(w_f.size() * sizeof(T)), d_bias(bias.size() * sizeof(T));
  DeviceBuffer d_q(static_cast<std::size_t>(c.m * c.k)), d_s(static_cast<std::size_t>(c.m) * 4);
  QJIT_ASSERT_OK(d_wf.upload(w_f));
  QJIT_ASSERT_OK(d_bias.upload(bias));

  auto plan = QuantizedLinearPlan<T>::select(Stream(), QuantizedLinearDescriptor::make<T>(c.m, c.n, c.k, c.bias));
  ASSERT_TRUE(plan.has_value()) << plan.error().to_string();
  auto requant = DynamicRangeQuantizePlan<T>::select(Stream(), DynamicRangeQuantizeDescriptor::make<T>(c.n, c.k));
  ASSERT_TRUE(requant.has_value()) << requant.error().to_string();
  SCOPED_TRACE(plan->describe());
  DeviceBuffer ws(std::max<std::size_t>(plan->workspace_size(), 16));
  DeviceBuffer rws(std::max<std::size_t>(requant->workspace_size(), 16));

  auto run_ql = [&](int i) {
    typename QuantizedLinearPlan<T>::Args a;
    a.activation = TensorRef<T, 2>::contiguous(d_x[i].template get<T>(), {c.m, c.k});
    a.weight_q = TensorRef<std::int8_t, 2>::contiguous(d_w.get<std::int8_t>(), {c.n, c.k});
    a.weight_scale = TensorRef<float, 1>::contiguous(d_ws.get<float>(), {c.n});
    if (c.bias) a.bias = TensorRef<T, 1>::contiguous(d_bias.get<T>(), {c.n});
    a.output = TensorMut<T, 2>::contiguous(d_y[i].template get<T>(), {c.m, c.n});
    a.act_q_scratch = TensorMut<std::int8_t, 2>::contiguous(d_q.get<std::int8_t>(), {c.m, c.k});
    a.act_scale_scratch = TensorMut<float, 1>::contiguous(d_s.get<float>(), {c.m});
    return plan->run(Stream(), Workspace{ws.get(), plan->workspace_size()}, a);
  };
  auto rewrite_weights = [&] {
    typename DynamicRangeQuantizePlan<T>::Args a;
    a.input = TensorRef<T, 2>::contiguous(d_wf.get<T>(), {c.n, c.k});
    a.output = TensorMut<std::int8_t, 2>::contiguous(d_w.get<std::int8_t>(), {c.n, c.k});
    a.scale = TensorMut<float, 1>::contiguous(d_ws.get<float>(), {c.n});
    return requant->run(Stream(), Workspace{rws.get(), requant->workspace_size()}, a);
  };
  auto reset_weights = [&] {
    QJIT_TRY(d_w.upload(w_a));
    return d_ws.upload(ws_a);
  };
  auto poison = [&] {
    for (auto& y : d_y) QJIT_TRY(y.fill_bytes(0xff));
    QJIT_TRY(d_q.fill_bytes(0x7f));
    return d_s.fill_bytes(0xff);
  };

  // One at a time.
  QJIT_ASSERT_OK(reset_weights());
  QJIT_ASSERT_OK(poison());
  QJIT_ASSERT_OK(run_ql(0));
  QJIT_ASSERT_OK(synchronize());
  QJIT_ASSERT_OK(rewrite_weights());
  QJIT_ASSERT_OK(synchronize());
  for (int i = 1; i < kRuns; ++i) {
    QJIT_ASSERT_OK(run_ql(i));
    QJIT_ASSERT_OK(synchronize());
  }
  std::vector<std::vector<std::uint8_t>> want;
  for (int i = 0; i < kRuns; ++i) {
    auto y = d_y[i].download_as<std::uint8_t>(yb);
    ASSERT_TRUE(y.has_value()) << y.error().to_string();
    // Each isolated output is fully written and finite (its values are checked against the f64 reference by
    // LinearGpuTest; here it is the yardstick for the chained runs).
    auto yt = d_y[i].download_as<T>(static_cast<std::size_t>(c.m * c.n));
    ASSERT_TRUE(yt.has_value());
    for (std::size_t e = 0; e < yt->size(); ++e)
      ASSERT_TRUE(std::isfinite(to_double((*yt)[e]))) << "isolated run " << i << ": output element " << e;
    want.push_back(std::move(*y));
  }
  ASSERT_NE(want[0], want[1]) << "the weight rewrite must change the output";

  // Back to back, several times.
  for (int rep = 0; rep < 4; ++rep) {
    QJIT_ASSERT_OK(reset_weights());
    QJIT_ASSERT_OK(poison());
    QJIT_ASSERT_OK(synchronize());
    QJIT_ASSERT_OK(run_ql(0));
    QJIT_ASSERT_OK(rewrite_weights());
    for (int i = 1; i < kRuns; ++i) QJIT_ASSERT_OK(run_ql(i));
    QJIT_ASSERT_OK(synchronize());
    for (int i = 0; i < kRuns; ++i) {
      auto y = d_y[i].download_as<std::uint8_t>(yb);
      ASSERT_TRUE(y.has_value()) << y.error().to_string();
      if (*y == want[i]) continue;
      std::size_t e = 0;
      while ((*y)[e] == want[i][e]) ++e;
      FAIL() << "repeat " << rep << ", chained run " << i << ": output differs from the isolated run at byte " << e
             << " (element " << e / sizeof(T) << ")";
    }
  }
}

TEST(LinearChainGpuTest, BackToBackRunsMatchIsolatedRunsAtDecode) {
  QJIT_REQUIRE_GPU();
  for (std::int64_t m : {1, 16, 64}) check_chain<bf16>({m, 4096, 4096});
}

TEST(LinearChainGpuTest, BackToBackRunsMatchIsolatedRunsOnOddShapesAndSplitK) {
  QJIT_REQUIRE_GPU();
  check_chain<f16>({7, 13653, 4112, true});    // odd N, K = 257 * 16
  check_chain<bf16>({33, 4096, 14336});        // the decode heuristic splits this K
  check_chain<bf16>({200, 5120, 5120, true});  // a prefill-side config (no early weight loads)
}

}  // namespace
}  // namespace qjit::testing
