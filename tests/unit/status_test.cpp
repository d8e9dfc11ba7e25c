// Status / Result behaviour and the f16 / bf16 host conversions every reference in the tests relies on.
#include "qjit/status.h"

#include <cmath>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>

#include "qjit/element.h"
#include "qjit/tensor.h"

namespace qjit {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return Status(StatusCode::InvalidArgument, "v must be > 0, got " + std::to_string(v));
  return v;
}

Status use_macros(int v, int* out) {
  QJIT_ASSIGN_OR_RETURN(int x, parse_positive(v));
  *out = x * 2;
  return Status();
}

TEST(StatusTest, OkAndErrorCarryCodeAndMessage) {
  EXPECT_TRUE(Status().ok());
  Status s(StatusCode::Unsupported, "dtype u8 is not supported");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.to_string(), "Unsupported: dtype u8 is not supported");
  EXPECT_EQ(s.with_context("select").message(), "select: dtype u8 is not supported");
  EXPECT_EQ(s.with_context("select").code(), StatusCode::Unsupported);
}

TEST(StatusTest, ResultHoldsValueOrError) {
  auto good = parse_positive(3);
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(*good, 3);
  EXPECT_TRUE(good.status().ok());
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), StatusCode::InvalidArgument);
  int out = 0;
  EXPECT_TRUE(use_macros(4, &out).ok());
  EXPECT_EQ(out, 8);
  EXPECT_EQ(use_macros(0, &out).code(), StatusCode::InvalidArgument);
}

float bits_to_float(std::uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// Every f16 value survives f16 -> f32 -> f16; every f32 rounds to the nearer f16 neighbour (ties to even).
TEST(ElementTest, F16RoundTripsAllValuesAndRoundsToNearestEven) {
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    const f16 h{static_cast<std::uint16_t>(b)};
    const float f = f16_to_float(h);
    if (std::isnan(f)) continue;
    EXPECT_EQ(float_to_f16(f).bits, h.bits) << "bits " << b;
  }
  EXPECT_EQ(float_to_f16(1.0f + 1.0f / 2048).bits, 0x3c00);         // tie -> even (1.0)
  EXPECT_EQ(float_to_f16(1.0f + 3.0f / 2048).bits, 0x3c02);         // tie -> even (1 + 2^-9)
  EXPECT_EQ(float_to_f16(65520.0f).bits, 0x7c00);                   // overflow -> inf
  EXPECT_EQ(float_to_f16(bits_to_float(0x33000001)).bits, 0x0001);  // just above half the smallest subnormal
  EXPECT_TRUE(std::isnan(f16_to_float(float_to_f16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(ElementTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f).bits, 0x3f80);
  EXPECT_EQ(float_to_bf16(bits_to_float(0x3f808000)).bits, 0x3f80);  // tie -> even
  EXPECT_EQ(float_to_bf16(bits_to_float(0x3f818000)).bits, 0x3f82);  // tie -> even (up)
  EXPECT_EQ(float_to_bf16(bits_to_float(0x3f808001)).bits, 0x3f81);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(TensorTest, ContiguousAndStridedViews) {
  const auto t = TensorRef<float, 2>::contiguous(nullptr, {3, 5});
  EXPECT_EQ(t.stride[0], 5);
  EXPECT_EQ(t.stride[1], 1);
  EXPECT_EQ(t.numel(), 15);
  const auto s = TensorMut<std::int8_t, 2>::strided(nullptr, 4, 10, 16);
  EXPECT_EQ(s.stride[0], 16);
  TensorRef<std::int8_t, 2> r = s;
  EXPECT_EQ(r.shape[1], 10);
}

}  // namespace
}  // namespace qjit
