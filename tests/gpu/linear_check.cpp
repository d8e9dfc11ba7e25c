// Implementation of the linear-plan checks (see linear_check.h).
#include "tests/gpu/linear_check.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "qjit/linear.h"
#include "qjit/scaled_matmul.h"
#include "tests/support/device.h"
#include "tests/support/reference.h"

namespace qjit::testing {

std::string LinearCase::to_string() const {
  return "M=" + std::to_string(m) + " N=" + std::to_string(n) + " K=" + std::to_string(k) + (bias ? " bias" : "") +
         (act_row_pad ? " lda=K+" + std::to_string(act_row_pad) : "") +
         (out_row_pad ? " ldc=N+" + std::to_string(out_row_pad) : "") +
         (weight_row_pad ? " ldw=K+" + std::to_string(weight_row_pad) : "") +
         (scratch_row_pad >= 0 ? " ldq=K+" + std::to_string(scratch_row_pad) : "") +
         (select_m ? " (plan selected for M=" + std::to_string(select_m) + ")" : "") + (smooth ? " smooth" : "") +
         (workspace == CaseWorkspace::Staged  ? " workspace=staged_workspace_size"
          : workspace == CaseWorkspace::Short ? " workspace=staged need - 1"
                                              : "") +
         (expect_staged == 1   ? " (must stage)"
          : expect_staged == 0 ? " (must not stage)"
                               : "");
}

namespace {

// Rows compared against the reference: all when the reference is cheap, else first, last and a random sample.
std::vector<std::int64_t> rows_to_check(std::int64_t m, std::int64_t n, std::int64_t k, std::mt19937_64& rng) {
  const double ops = static_cast<double>(m) * n * k;
  std::vector<std::int64_t> rows;
  if (ops <= 4e8) {
    for (std::int64_t i = 0; i < m; ++i) rows.push_back(i);
    return rows;
  }
  const std::int64_t want = std::max<std::int64_t>(4, static_cast<std::int64_t>(4e8 / (static_cast<double>(n) * k)));
  std::set<std::int64_t> s = {0, m - 1};
  std::uniform_int_distribution<std::int64_t> d(0, m - 1);
  while (static_cast<std::int64_t>(s.size()) < std::min(want, m)) s.insert(d(rng));
  return {s.begin(), s.end()};
}

// `w` [rows, cols] laid out with row stride ld >= cols; the pad bytes are 0x55, which no kernel may read as values.
std::vector<std::int8_t> with_row_stride(const std::vector<std::int8_t>& w, std::int64_t rows, std::int64_t cols,
                                         std::int64_t ld) {
  if (ld == cols) return w;
  std::vector<std::int8_t> out(static_cast<std::size_t>(rows * ld), 0x55);
  for (std::int64_t r = 0; r < rows; ++r)
    std::copy_n(&w[static_cast<std::size_t>(r * cols)], cols, &out[static_cast<std::size_t>(r * ld)]);
  return out;
}

// Compares the output rows in `rows` with y = a_s[m] * w_s[n] * acc + bias[n].
template <class T>
::testing::AssertionResult compare_output(const std::vector<T>& out, std::int64_t ldc, std::int64_t m, std::int64_t n,
                                          const std::vector<std::int64_t>& rows, const std::vector<std::int8_t>& a,
                                          std::int64_t lda, const std::vector<std::int8_t>& w, std::int64_t k,
                                          const std::vector<float>& a_scale, float a_scale_value,
                                          const std::vector<float>& w_scale, const std::vector<double>& bias,
                                          std::uint64_t seed) {
  // The pad columns [N, ldc) of every row keep the poison (0xff bytes): the kernel wrote nothing outside the view.
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = n; j < ldc; ++j) {
      const unsigned char* b = reinterpret_cast<const unsigned char*>(&out[i * ldc + j]);
      for (std::size_t e = 0; e < sizeof(T); ++e)
        if (b[e] != 0xff)
          return ::testing::AssertionFailure()
                 << "output[" << i << "," << j << "] lies in the row stride's padding (N = " << n << ", ldc = " << ldc
                 << ") and was written, seed " << seed;
    }
  // Every element written and finite.
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      if (!std::isfinite(to_double(out[i * ldc + j])))
        return ::testing::AssertionFailure() << "output[" << i << "," << j << "] not written or not finite ("
                                             << to_double(out[i * ldc + j]) << "), seed " << seed;
  // Epilogue error: f32 steps (4 roundings) + one output rounding, relative to |s*acc| + |bias|.
  const double eps =
      std::is_same_v<T, double> ? 8 * std::ldexp(1.0, -53) : 5 * std::ldexp(1.0, -24) + unit_roundoff<T>();
  std::vector<std::int8_t> a_rows;
  for (std::int64_t i : rows) a_rows.insert(a_rows.end(), a.begin() + i * lda, a.begin() + i * lda + k);
  const auto acc = reference_gemm_s8(a_rows, k, w, static_cast<std::int64_t>(rows.size()), n, k);
  double max_rel = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const std::int64_t i = rows[r];
    const double as = a_scale.empty() ? a_scale_value : a_scale[i];
    for (std::int64_t j = 0; j < n; ++j) {
      const double prod = as * static_cast<double>(w_scale[j]) * static_cast<double>(acc[r * n + j]);
      const double b = bias.empty() ? 0.0 : bias[j];
      const double ref = prod + b;
      const double got = to_double(out[i * ldc + j]);
      const double scale = std::fabs(prod) + std::fabs(b) + 1e-30;
      const double err = std::fabs(got - ref);
      max_rel = std::max(max_rel, err / scale);
      // NOTE: below the smallest normal f16 (2^-14) the output grid is absolute (2^-24 steps), so half a step is
      // added; bf16/f32/f64 subnormals are far below any value these tests produce.
      const double abs_floor = std::is_same_v<T, f16> ? std::ldexp(1.0, -25) : 0.0;
      if (err > eps * scale + abs_floor)
        return ::testing::AssertionFailure()
               << "output[" << i << "," << j << "] = " << got << ", reference " << ref << " (acc " << acc[r * n + j]
               << ", error " << err / scale << " x scale > bound " << eps << "), seed " << seed;
    }
  }
  return ::testing::AssertionSuccess() << "max relative error " << max_rel << " over " << rows.size() << " rows";
}

template <class T>
std::vector<T> to_elements(const std::vector<float>& v) {
  return convert_from_float<T>(v);
}

constexpr std::uint8_t kWorkspacePoison = 0x5a;

// The staged Hopper path as qjit/linear.h's layout predicts it for one call: whether the plan stages (its describe()
// names the staged path: a Hopper GEMM), which int8 operands (those whose row stride is not a multiple of 16 bytes;
// DeviceBuffer bases are 256-byte aligned), where their copies lie in the workspace, and the workspace bytes the
// case hands over.
struct StagingExpectation {
  bool hopper = false, staged = false, act = false, weight = false;
  std::size_t ws_bytes = 0, act_offset = 0, weight_offset = 0;
  std::int64_t stride = 0;
};

template <class Plan>
Result<StagingExpectation> expect_staging(const Plan& plan, const LinearCase& c, std::int64_t ld_act_int8,
                                          std::int64_t ldw) {
  StagingExpectation e;
  e.hopper = plan.describe().find("staged into the workspace") != std::string::npos;
  const std::size_t at_m = plan.workspace_size(c.m);
  const std::size_t plan_ws = std::max(plan.workspace_size(), at_m);
  // A one-row view's stride is never followed: only its base counts (DeviceBuffer bases are 256-byte aligned).
  const bool act_mis = c.m > 1 && ld_act_int8 % 16 != 0, w_mis = c.n > 1 && ldw % 16 != 0;
  const std::size_t act_bytes = staged_rows_bytes(c.m, c.k), w_bytes = staged_rows_bytes(c.n, c.k);
  // The plan's own bytes at M (zero points, split-K scratch), rounded to the region boundary: workspace_size(M)
  // less both regions where it counts them (K % 16 != 0).
  std::size_t own = at_m;
  if (e.hopper && c.k % 16 != 0) own = at_m - act_bytes - w_bytes;
  own = (own + 255) / 256 * 256;
  const std::size_t need = own + (act_mis ? act_bytes : 0) + (w_mis ? w_bytes : 0);
  switch (c.workspace) {
    case CaseWorkspace::Plan: e.ws_bytes = plan_ws; break;
    case CaseWorkspace::Staged: e.ws_bytes = staged_workspace_size(plan_ws, c.m, c.n, c.k); break;
    case CaseWorkspace::Short:
      if (!e.hopper || !(act_mis || w_mis))
        return Status(StatusCode::InvalidArgument,
                      "CaseWorkspace::Short needs a staging Hopper plan and a misaligned "
                      "int8 operand: " +
                          plan.describe());
      e.ws_bytes = need - 1;
      break;
  }
  e.staged = e.hopper && (act_mis || w_mis) && e.ws_bytes >= need;
  e.act = e.staged && act_mis;
  e.weight = e.staged && w_mis;
  e.act_offset = own;
  e.weight_offset = own + (act_mis ? act_bytes : 0);
  e.stride = preferred_row_stride(c.k);
  if (c.expect_staged >= 0 && e.staged != (c.expect_staged == 1))
    return Status(StatusCode::InvalidArgument, std::string("the case must ") + (c.expect_staged == 1 ? "" : "not ") +
                                                   "take the staged Hopper path " +
                                                   "but the plan and views say it does" + (e.staged ? "" : " not") +
                                                   ": " + plan.describe());
  return e;
}

// Rows [0, rows) of a staged region (row stride e.stride) must hold `want` (row stride ld) in their first K bytes.
::testing::AssertionResult check_staged_rows(const DeviceBuffer& ws, std::size_t offset, const StagingExpectation& e,
                                             std::int64_t rows, std::int64_t k, const std::vector<std::int8_t>& want,
                                             std::int64_t ld, const char* what, std::uint64_t seed) {
  std::vector<std::int8_t> got(static_cast<std::size_t>(rows * e.stride));
  if (Status s = ws.download(got.data(), got.size(), offset); !s.ok())
    return ::testing::AssertionFailure() << "reading the staged " << what << ": " << s.to_string();
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < k; ++j)
      if (got[static_cast<std::size_t>(r * e.stride + j)] != want[static_cast<std::size_t>(r * ld + j)])
        return ::testing::AssertionFailure()
               << "staged " << what << "[" << r << "," << j << "] (workspace offset " << offset << ", row stride "
               << e.stride << ") = " << int(got[static_cast<std::size_t>(r * e.stride + j)]) << ", expected "
               << int(want[static_cast<std::size_t>(r * ld + j)]) << ": the staged Hopper path did not run, seed "
               << seed;
  return ::testing::AssertionSuccess();
}

}  // namespace

template <class T>
::testing::AssertionResult check_quantized_linear(const LinearCase& c) {
  const std::uint64_t seed = fresh_seed();
  std::mt19937_64 rng(seed);
  const std::int64_t lda = c.k + c.act_row_pad, ldc = c.n + c.out_row_pad;
  const std::int64_t ldq = c.k + (c.scratch_row_pad >= 0 ? c.scratch_row_pad : c.act_row_pad);
  const std::int64_t ldw = c.k + c.weight_row_pad;
  // Inputs: FP activation with outlier channels, int8 weight, positive f32 scales, bias.
  auto act_f = random_activations(c.m, lda, rng);
  const auto act = to_elements<T>(act_f);
  const auto w = random_int8(static_cast<std::size_t>(c.n * c.k), rng);
  const auto w_dev = with_row_stride(w, c.n, c.k, ldw);
  const auto w_scale = random_floats(static_cast<std::size_t>(c.n), 2e-4f, 2e-3f, rng);
  const auto bias_f = random_floats(static_cast<std::size_t>(c.n), -4.0f, 4.0f, rng);
  const auto bias = to_elements<T>(bias_f);

  DeviceBuffer d_act(act.size() * sizeof(T)), d_w(w_dev.size()), d_ws(w_scale.size() * 4),
      d_bias(bias.size() * sizeof(T));
  DeviceBuffer d_out(static_cast<std::size_t>(c.m * ldc) * sizeof(T)), d_q(static_cast<std::size_t>(c.m * ldq)),
      d_s(static_cast<std::size_t>(c.m) * 4);
  for (auto* b : {&d_act, &d_w, &d_ws, &d_bias, &d_out, &d_q, &d_s})
    if (!b->status().ok()) return ::testing::AssertionFailure() << b->status().to_string();
  for (const Status& s : {d_act.upload(act), d_w.upload(w_dev), d_ws.upload(w_scale), d_bias.upload(bias),
                          d_out.fill_bytes(0xff), d_q.fill_bytes(0x7f), d_s.fill_bytes(0xff)})
    if (!s.ok()) return ::testing::AssertionFailure() << s.to_string();

  std::vector<float> smooth(static_cast<std::size_t>(c.k));
  for (auto& v : smooth) v = std::exp2(random_floats(1, -3.0f, 3.0f, rng)[0]);
  DeviceBuffer d_smooth(smooth.size() * 4);
  if (Status s = d_smooth.upload(smooth); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  auto desc = QuantizedLinearDescriptor::make<T>(c.select_m ? c.select_m : c.m, c.n, c.k, c.bias);
  desc.has_smooth = c.smooth;
  auto plan = QuantizedLinearPlan<T>::select(Stream(), desc, c.pref);
  if (!plan.has_value()) return ::testing::AssertionFailure() << "select: " << plan.error().to_string();
  typename QuantizedLinearPlan<T>::Args args;
  args.activation = TensorRef<T, 2>::strided(d_act.get<T>(), c.m, c.k, lda);
  args.weight_q = TensorRef<std::int8_t, 2>::strided(d_w.get<std::int8_t>(), c.n, c.k, ldw);
  args.weight_scale = TensorRef<float, 1>::contiguous(d_ws.get<float>(), {c.n});
  if (c.bias) args.bias = TensorRef<T, 1>::contiguous(d_bias.get<T>(), {c.n});
  args.output = TensorMut<T, 2>::strided(d_out.get<T>(), c.m, c.n, ldc);
  args.act_q_scratch = TensorMut<std::int8_t, 2>::strided(d_q.get<std::int8_t>(), c.m, c.k, ldq);
  args.act_scale_scratch = TensorMut<float, 1>::contiguous(d_s.get<float>(), {c.m});
  if (c.smooth) args.pre_quant_scale = TensorRef<float, 1>::contiguous(d_smooth.get<float>(), {c.k});
  if (Status s = plan->can_implement(args); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  // workspace_size() covers every M of the descriptor's bucket; a run outside it asks workspace_size(M).
  auto staging = expect_staging(*plan, c, ldq, ldw);
  if (!staging.has_value()) return ::testing::AssertionFailure() << staging.error().to_string();
  const std::size_t ws_bytes = staging->ws_bytes;
  DeviceBuffer ws(ws_bytes);
  if (Status s = ws.fill_bytes(kWorkspacePoison); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  if (Status s = plan->run(Stream(), Workspace{ws.get(), ws_bytes}, args); !s.ok())
    return ::testing::AssertionFailure() << "run: " << s.to_string();
  if (Status s = synchronize(); !s.ok()) return ::testing::AssertionFailure() << "after run: " << s.to_string();

  // Quantized activation and scales: bit for bit, in act_q_scratch, or, on the staged path, in the workspace's
  // staged region (act_q_scratch then untouched, as linear.h documents).
  std::vector<std::int8_t> q_ref;
  std::vector<float> s_ref;
  auto act_d = widen(act);
  if (c.smooth)  // v = RN_f32(f32(x) * pre_quant_scale[k]): what the quantize pass quantizes
    for (std::int64_t i = 0; i < c.m; ++i)
      for (std::int64_t j = 0; j < c.k; ++j)
        act_d[i * lda + j] = static_cast<float>(static_cast<float>(act_d[i * lda + j]) * smooth[j]);
  reference_quantize_rows(act_d, c.m, c.k, lda, &q_ref, &s_ref);
  auto q = d_q.download_as<std::int8_t>(static_cast<std::size_t>(c.m * ldq));
  auto s = d_s.download_as<float>(static_cast<std::size_t>(c.m));
  auto out = d_out.download_as<T>(static_cast<std::size_t>(c.m * ldc));
  if (!q.has_value() || !s.has_value() || !out.has_value()) return ::testing::AssertionFailure() << "download failed";
  for (std::int64_t i = 0; i < c.m; ++i) {
    if (std::memcmp(&(*s)[i], &s_ref[i], 4) != 0)
      return ::testing::AssertionFailure()
             << "act_scale[" << i << "] = " << (*s)[i] << ", reference " << s_ref[i] << ", seed " << seed;
    if (staging->act) {
      for (std::int64_t j = 0; j < ldq; ++j)
        if ((*q)[i * ldq + j] != 0x7f)
          return ::testing::AssertionFailure() << "act_q_scratch[" << i << "," << j << "] was written on the staged "
                                               << "path (the pass must write the workspace's region), seed " << seed;
      continue;
    }
    for (std::int64_t j = 0; j < c.k; ++j)
      if ((*q)[i * ldq + j] != q_ref[i * c.k + j])
        return ::testing::AssertionFailure() << "act_q[" << i << "," << j << "] = " << int((*q)[i * ldq + j])
                                             << ", reference " << int(q_ref[i * c.k + j]) << ", seed " << seed;
    for (std::int64_t j = c.k; j < ldq; ++j)
      if ((*q)[i * ldq + j] != 0x7f)
        return ::testing::AssertionFailure() << "act_q_scratch[" << i << "," << j
                                             << "] lies in the row stride's padding and was written, seed " << seed;
  }
  if (staging->act) {
    auto r = check_staged_rows(ws, staging->act_offset, *staging, c.m, c.k, q_ref, c.k, "act_q", seed);
    if (!r) return r;
  }
  if (staging->weight) {
    auto r = check_staged_rows(ws, staging->weight_offset, *staging, c.n, c.k, w, c.k, "weight_q", seed);
    if (!r) return r;
  }
  const auto rows = rows_to_check(c.m, c.n, c.k, rng);
  return compare_output<T>(*out, ldc, c.m, c.n, rows, q_ref, c.k, w, c.k, s_ref, 0.0f, w_scale,
                           c.bias ? widen(bias) : std::vector<double>{}, seed)
         << (staging->staged ? "; staged Hopper path" : "");
}

template <class T>
::testing::AssertionResult check_smooth_quant_linear(const LinearCase& c) {
  const std::uint64_t seed = fresh_seed();
  std::mt19937_64 rng(seed);
  const std::int64_t lda = c.k + c.act_row_pad, ldc = c.n + c.out_row_pad, ldw = c.k + c.weight_row_pad;
  const auto a = random_int8(static_cast<std::size_t>(c.m * lda), rng);
  const auto w = random_int8(static_cast<std::size_t>(c.n * c.k), rng);
  const auto w_dev = with_row_stride(w, c.n, c.k, ldw);
  const auto w_scale = random_floats(static_cast<std::size_t>(c.n), 2e-4f, 2e-3f, rng);
  const float act_scale = random_floats(1, 0.01f, 0.05f, rng)[0];
  const auto bias = to_elements<T>(random_floats(static_cast<std::size_t>(c.n), -4.0f, 4.0f, rng));

  DeviceBuffer d_a(a.size()), d_w(w_dev.size()), d_ws(w_scale.size() * 4), d_bias(bias.size() * sizeof(T)),
      d_out(static_cast<std::size_t>(c.m * ldc) * sizeof(T));
  for (const Status& s :
       {d_a.upload(a), d_w.upload(w_dev), d_ws.upload(w_scale), d_bias.upload(bias), d_out.fill_bytes(0xff)})
    if (!s.ok()) return ::testing::AssertionFailure() << s.to_string();
  auto plan = SmoothQuantLinearPlan<T>::select(
      Stream(), SmoothQuantLinearDescriptor::make<T>(c.select_m ? c.select_m : c.m, c.n, c.k, act_scale, c.bias),
      c.pref);
  if (!plan.has_value()) return ::testing::AssertionFailure() << "select: " << plan.error().to_string();
  typename SmoothQuantLinearPlan<T>::Args args;
  args.act_q = TensorRef<std::int8_t, 2>::strided(d_a.get<std::int8_t>(), c.m, c.k, lda);
  args.weight_q = TensorRef<std::int8_t, 2>::strided(d_w.get<std::int8_t>(), c.n, c.k, ldw);
  args.weight_scale = TensorRef<float, 1>::contiguous(d_ws.get<float>(), {c.n});
  if (c.bias) args.bias = TensorRef<T, 1>::contiguous(d_bias.get<T>(), {c.n});
  args.output = TensorMut<T, 2>::strided(d_out.get<T>(), c.m, c.n, ldc);
  // workspace_size() covers every M of the descriptor's bucket; a run outside it asks workspace_size(M).
  auto staging = expect_staging(*plan, c, lda, ldw);
  if (!staging.has_value()) return ::testing::AssertionFailure() << staging.error().to_string();
  const std::size_t ws_bytes = staging->ws_bytes;
  DeviceBuffer ws(ws_bytes);
  if (Status s = ws.fill_bytes(kWorkspacePoison); !s.ok()) return ::testing::AssertionFailure() << s.to_string();
  if (Status s = plan->run(Stream(), Workspace{ws.get(), ws_bytes}, args); !s.ok())
    return ::testing::AssertionFailure() << "run: " << s.to_string();
  if (Status s = synchronize(); !s.ok()) return ::testing::AssertionFailure() << "after run: " << s.to_string();
  auto out = d_out.download_as<T>(static_cast<std::size_t>(c.m * ldc));
  if (!out.has_value()) return ::testing::AssertionFailure() << out.error().to_string();
  // The staged path's copies: the caller's rows, bit for bit, at the layout's offsets.
  if (staging->act) {
    auto r = check_staged_rows(ws, staging->act_offset, *staging, c.m, c.k, a, lda, "act_q", seed);
    if (!r) return r;
  }
  if (staging->weight) {
    auto r = check_staged_rows(ws, staging->weight_offset, *staging, c.n, c.k, w, c.k, "weight_q", seed);
    if (!r) return r;
  }
  const auto rows = rows_to_check(c.m, c.n, c.k, rng);
  return compare_output<T>(*out, ldc, c.m, c.n, rows, a, lda, w, c.k, {}, act_scale, w_scale,
                           c.bias ? widen(bias) : std::vector<double>{}, seed)
         << (staging->staged ? "; staged Hopper path" : "");
}

namespace {

// One ScaledMatmulPlan run into a poisoned output; returns the downloaded output (row stride ldc).
template <class T>
Result<std::vector<T>> run_scaled_matmul(const LinearCase& c, ActScaleMode act, WeightScaleMode weight,
                                         const DeviceBuffer& d_a, std::int64_t lda, const DeviceBuffer& d_w,
                                         std::int64_t ldw, const DeviceBuffer& d_as, const DeviceBuffer& d_ws,
                                         const DeviceBuffer& d_bias, std::int64_t ldc) {
  DeviceBuffer d_out(static_cast<std::size_t>(c.m * ldc) * sizeof(T));
  QJIT_TRY(d_out.status());
  QJIT_TRY(d_out.fill_bytes(0xff));
  auto desc = ScaledMatmulDescriptor::make<T>(c.select_m ? c.select_m : c.m, c.n, c.k, c.bias, act, weight);
  auto plan = ScaledMatmulPlan<T>::select(Stream(), desc, c.pref);
  if (!plan.has_value()) return plan.error().with_context("select");
  typename ScaledMatmulPlan<T>::Args args;
  args.act_q = TensorRef<std::int8_t, 2>::strided(d_a.get<std::int8_t>(), c.m, c.k, lda);
  args.weight_q = TensorRef<std::int8_t, 2>::strided(d_w.get<std::int8_t>(), c.n, c.k, ldw);
  args.act_scale =
      TensorRef<float, 1>::contiguous(d_as.get<float>(), {act == ActScaleMode::PerTensor ? std::int64_t{1} : c.m});
  args.weight_scale = TensorRef<float, 1>::contiguous(d_ws.get<float>(),
                                                      {weight == WeightScaleMode::PerTensor ? std::int64_t{1} : c.n});
  if (c.bias) args.bias = TensorRef<T, 1>::contiguous(d_bias.get<T>(), {c.n});
  args.output = TensorMut<T, 2>::strided(d_out.get<T>(), c.m, c.n, ldc);
  QJIT_TRY(plan->can_implement(args));
  const std::size_t ws_bytes = std::max(plan->workspace_size(), plan->workspace_size(c.m));
  DeviceBuffer ws(ws_bytes);
  QJIT_TRY(plan->run(Stream(), Workspace{ws.get(), ws_bytes}, args));
  QJIT_TRY(synchronize());
  return d_out.download_as<T>(static_cast<std::size_t>(c.m * ldc));
}

}  // namespace

template <class T>
::testing::AssertionResult check_scaled_matmul(const LinearCase& c, ActScaleMode act, WeightScaleMode weight) {
  const std::uint64_t seed = fresh_seed();
  std::mt19937_64 rng(seed);
  const bool act_pt = act == ActScaleMode::PerTensor, w_pt = weight == WeightScaleMode::PerTensor;
  const std::int64_t lda = c.k + c.act_row_pad, ldc = c.n + c.out_row_pad, ldw = c.k + c.weight_row_pad;
  const auto a = random_int8(static_cast<std::size_t>(c.m * lda), rng);
  const auto w = random_int8(static_cast<std::size_t>(c.n * c.k), rng);
  const auto w_dev = with_row_stride(w, c.n, c.k, ldw);
  // The scales as the reference sees them ([M], [N]); a per-tensor mode uploads only element 0 (a [1] tensor, so
  // a kernel reading past it reads another allocation, not a value the reference agrees with).
  auto a_scale = random_floats(static_cast<std::size_t>(c.m), 0.01f, 0.05f, rng);
  auto w_scale = random_floats(static_cast<std::size_t>(c.n), 2e-4f, 2e-3f, rng);
  if (act_pt) std::fill(a_scale.begin(), a_scale.end(), a_scale[0]);
  if (w_pt) std::fill(w_scale.begin(), w_scale.end(), w_scale[0]);
  const auto bias = to_elements<T>(random_floats(static_cast<std::size_t>(c.n), -4.0f, 4.0f, rng));

  DeviceBuffer d_a(a.size()), d_w(w_dev.size()), d_bias(bias.size() * sizeof(T));
  DeviceBuffer d_as(act_pt ? 4 : a_scale.size() * 4), d_ws(w_pt ? 4 : w_scale.size() * 4);
  DeviceBuffer d_as_full(a_scale.size() * 4), d_ws_full(w_scale.size() * 4);
  for (const Status& s :
       {d_a.upload(a), d_w.upload(w_dev), d_bias.upload(bias), d_as.upload(a_scale.data(), d_as.bytes()),
        d_ws.upload(w_scale.data(), d_ws.bytes()), d_as_full.upload(a_scale), d_ws_full.upload(w_scale)})
    if (!s.ok()) return ::testing::AssertionFailure() << s.to_string();
  auto out = run_scaled_matmul<T>(c, act, weight, d_a, lda, d_w, ldw, d_as, d_ws, d_bias, ldc);
  if (!out.has_value()) return ::testing::AssertionFailure() << out.error().to_string() << ", seed " << seed;
  const auto rows = rows_to_check(c.m, c.n, c.k, rng);
  auto r = compare_output<T>(*out, ldc, c.m, c.n, rows, a, lda, w, c.k, a_scale, 0.0f, w_scale,
                             c.bias ? widen(bias) : std::vector<double>{}, seed);
  if (!r || (!act_pt && !w_pt)) return r;
  auto full = run_scaled_matmul<T>(c, ActScaleMode::PerToken, WeightScaleMode::PerChannel, d_a, lda, d_w, ldw,
                                   d_as_full, d_ws_full, d_bias, ldc);
  if (!full.has_value()) return ::testing::AssertionFailure() << full.error().to_string() << ", seed " << seed;
  for (std::int64_t i = 0; i < c.m; ++i)
    if (std::memcmp(&(*out)[i * ldc], &(*full)[i * ldc], static_cast<std::size_t>(c.n) * sizeof(T)) != 0)
      return ::testing::AssertionFailure() << "row " << i << " differs from the per-token / per-channel plan run "
                                           << "with the broadcast scales, seed " << seed;
  return r << "; bit-identical to the per-token / per-channel plan with broadcast scales";
}

#define QJIT_INSTANTIATE(T)                                                         \
  template ::testing::AssertionResult check_quantized_linear<T>(const LinearCase&); \
  template ::testing::AssertionResult check_smooth_quant_linear<T>(const LinearCase&);
QJIT_INSTANTIATE(f16)
QJIT_INSTANTIATE(bf16)
QJIT_INSTANTIATE(float)
QJIT_INSTANTIATE(double)
template ::testing::AssertionResult check_scaled_matmul<f16>(const LinearCase&, ActScaleMode, WeightScaleMode);
template ::testing::AssertionResult check_scaled_matmul<bf16>(const LinearCase&, ActScaleMode, WeightScaleMode);
template ::testing::AssertionResult check_scaled_matmul<float>(const LinearCase&, ActScaleMode, WeightScaleMode);

}  // namespace qjit::testing
