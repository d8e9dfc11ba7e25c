// Every validation error path of the plans that can be reached without a GPU: descriptor checks in select() and
// each argument rule in ops/validate (the plans' can_implement is built from these), with the message naming the
// field and the expected value.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "ops/validate.h"
#include "qjit/dynamic_range_quantize.h"
#include "qjit/linear.h"

namespace qjit {
namespace {

void expect_error(const Status& s, StatusCode code, const std::string& fragment) {
  EXPECT_EQ(s.code(), code) << s.to_string();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << "message: " << s.message() << "\nwanted: " << fragment;
}

alignas(64) std::int8_t g_bytes[1 << 16];

TEST(OpsValidateTest, DescriptorDimensionsAndScales) {
  expect_error(QuantizedLinearPlan<bf16>::select(Stream(), QuantizedLinearDescriptor::make<bf16>(0, 16, 16)).status(),
               StatusCode::InvalidArgument, "descriptor.m must be in [1, 2^31), got 0");
  expect_error(QuantizedLinearPlan<bf16>::select(Stream(), QuantizedLinearDescriptor::make<bf16>(4, -3, 16)).status(),
               StatusCode::InvalidArgument, "descriptor.n must be in [1, 2^31), got -3");
  expect_error(
      QuantizedLinearPlan<bf16>::select(Stream(), QuantizedLinearDescriptor::make<bf16>(4, 16, std::int64_t{1} << 31))
          .status(),
      StatusCode::InvalidArgument, "descriptor.k must be in [1, 2^31)");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  expect_error(
      SmoothQuantLinearPlan<f16>::select(Stream(), SmoothQuantLinearDescriptor::make<f16>(4, 16, 16, nan)).status(),
      StatusCode::InvalidArgument, "descriptor.act_scale must be finite and > 0, got nan");
  expect_error(
      SmoothQuantLinearPlan<f16>::select(Stream(), SmoothQuantLinearDescriptor::make<f16>(4, 16, 16, -1.0f)).status(),
      StatusCode::InvalidArgument, "descriptor.act_scale must be finite and > 0, got -1");
  expect_error(SmoothQuantLinearPlan<f16>::select(
                   Stream(), SmoothQuantLinearDescriptor::make<f16>(4, 16, 16, std::numeric_limits<float>::infinity()))
                   .status(),
               StatusCode::InvalidArgument, "act_scale must be finite");
}

TEST(OpsValidateTest, DescriptorElementKinds) {
  auto d = QuantizedLinearDescriptor::make<bf16>(4, 16, 16);
  d.output_element = ElementKind::F16;
  expect_error(QuantizedLinearPlan<bf16>::select(Stream(), d).status(), StatusCode::InvalidArgument,
               "descriptor.output_element must be bf16 for this plan type, got f16");
  d = QuantizedLinearDescriptor::make<bf16>(4, 16, 16);
  d.weight_element = ElementKind::U8;
  expect_error(QuantizedLinearPlan<bf16>::select(Stream(), d).status(), StatusCode::InvalidArgument,
               "descriptor.weight_element must be s8");
  auto q = DynamicRangeQuantizeDescriptor::make<float>(4, 16);
  q.input_element = ElementKind::F16;
  expect_error(DynamicRangeQuantizePlan<float>::select(Stream(), q).status(), StatusCode::InvalidArgument,
               "descriptor.input_element must be f32");
  auto sq = SmoothQuantLinearDescriptor::make<float>(4, 16, 16, 0.1f);
  sq.activation_element = ElementKind::F32;
  expect_error(SmoothQuantLinearPlan<float>::select(Stream(), sq).status(), StatusCode::InvalidArgument,
               "descriptor.activation_element must be s8");
}

TEST(OpsValidateTest, MatrixRules) {
  using detail::MatrixView;
  const MatrixView good{g_bytes, 8, 64, 64, 1, ElementKind::S8};
  EXPECT_TRUE(ops::check_matrix(good, "act_q", 8, "M", 64, "K", ElementKind::S8, 16).ok());
  MatrixView v = good;
  v.data = nullptr;
  expect_error(ops::check_matrix(v, "act_q", 8, "M", 64, "K", ElementKind::S8, 16), StatusCode::InvalidArgument,
               "act_q.data is null");
  v = good;
  v.cols = 65;
  expect_error(ops::check_matrix(v, "act_q", 8, "M", 64, "K", ElementKind::S8, 16), StatusCode::InvalidArgument,
               "act_q.shape must be [M=8, K=64], got [8, 65]");
  v = good;
  v.kind = ElementKind::U8;
  expect_error(ops::check_matrix(v, "act_q", 8, "M", 64, "K", ElementKind::S8, 16), StatusCode::InvalidArgument,
               "act_q must hold s8 elements, got u8");
  v = good;
  v.col_stride = 2;
  expect_error(ops::check_matrix(v, "act_q", 8, "M", 64, "K", ElementKind::S8, 16), StatusCode::InvalidArgument,
               "act_q.stride[1] must be 1");
  v = good;
  v.row_stride = 32;
  expect_error(ops::check_matrix(v, "act_q", 8, "M", 64, "K", ElementKind::S8, 16), StatusCode::InvalidArgument,
               "act_q.stride[0] must be >= K = 64, got 32");
  v = good;
  v.data = g_bytes + 3;
  expect_error(ops::check_matrix(v, "act_q", 8, "M", 64, "K", ElementKind::S8, 16), StatusCode::InvalidArgument,
               "act_q.data must be 16-byte aligned");
  v = good;
  v.row_stride = 72;
  expect_error(ops::check_matrix(v, "act_q", 8, "M", 64, "K", ElementKind::S8, 16), StatusCode::InvalidArgument,
               "act_q.stride[0] must be a multiple of 16 elements");
  // A TMA operand's stride is its tensor map's global stride even for one row (run() would refuse it otherwise).
  v = good;
  v.rows = 1;
  v.row_stride = 72;
  expect_error(ops::check_matrix(v, "act_q", 1, "M", 64, "K", ElementKind::S8, 16), StatusCode::InvalidArgument,
               "act_q.stride[0] must be a multiple of 16 elements");
  v.row_stride = 0;
  expect_error(ops::check_matrix(v, "act_q", 1, "M", 64, "K", ElementKind::S8, 16), StatusCode::InvalidArgument,
               "act_q.stride[0] must be >= K = 64, got 0");
  EXPECT_TRUE(ops::check_matrix(v, "act_q", 1, "M", 64, "K", ElementKind::S8, 1).ok());  // not followed
  // Any-row-count mode reports M symbolically.
  v = good;
  v.rows = 0;
  expect_error(ops::check_matrix(v, "input", -1, "M", 64, "K", ElementKind::S8, 1), StatusCode::InvalidArgument,
               "input.shape must be [M, K=64], got [0, 64]");
  // Element alignment is always required, even on predicated paths.
  const MatrixView f{g_bytes + 2, 2, 3, 3, 1, ElementKind::F32};
  expect_error(ops::check_matrix(f, "activation", 2, "M", 3, "K", ElementKind::F32, 1), StatusCode::InvalidArgument,
               "activation.data must be 4-byte aligned");
}

TEST(OpsValidateTest, VectorRules) {
  using detail::VectorView;
  const VectorView good{g_bytes, 16, 1, ElementKind::F32};
  EXPECT_TRUE(ops::check_vector(good, "weight_scale", 16, "N", ElementKind::F32).ok());
  VectorView v = good;
  v.size = 15;
  expect_error(ops::check_vector(v, "weight_scale", 16, "N", ElementKind::F32), StatusCode::InvalidArgument,
               "weight_scale.shape must be [N=16], got [15]");
  v = good;
  v.stride = 2;
  expect_error(ops::check_vector(v, "weight_scale", 16, "N", ElementKind::F32), StatusCode::InvalidArgument,
               "weight_scale.stride[0] must be 1, got 2");
  v = good;
  v.kind = ElementKind::F16;
  expect_error(ops::check_vector(v, "weight_scale", 16, "N", ElementKind::F32), StatusCode::InvalidArgument,
               "weight_scale must hold f32 elements, got f16");
  v = good;
  v.data = nullptr;
  expect_error(ops::check_vector(v, "bias", 16, "N", ElementKind::F32), StatusCode::InvalidArgument,
               "bias.data is null");
  expect_error(ops::check_absent(good, "bias", "the descriptor has has_bias = false"), StatusCode::InvalidArgument,
               "bias must be empty: the descriptor has has_bias = false");
  EXPECT_TRUE(ops::check_absent(VectorView{}, "bias", "").ok());
}

}  // namespace
}  // namespace qjit
