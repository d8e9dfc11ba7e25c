// Codegen for the quantize family without compiling: deterministic rendering, unique entries per op / dtype / K /
// CTA shape, validation errors that name the field, launch geometry and the vector-path test.
#include <set>

#include <gtest/gtest.h>

#include "codegen/quantize_rowwise.h"

namespace qjit::codegen {
namespace {

QuantizeTile qcfg(int rows, int tpr) { return QuantizeTile{.rows_per_cta = rows, .threads_per_row = tpr}; }

TEST(CodegenQuantizeRowwise, RenderIsDeterministicWithUniqueEntries) {
  std::set<std::string> entries;
  int count = 0;
  for (KernelOp op : {KernelOp::QuantizeRowwise, KernelOp::QuantizeAbsmax, KernelOp::QuantizeApplyScale})
    for (ElementKind in : {ElementKind::F16, ElementKind::BF16, ElementKind::F32, ElementKind::F64})
      for (std::int64_t k : {1, 4096, 4100})
        for (const QuantizeTile& c : {qcfg(2, 128), qcfg(1, 256)}) {
          auto a = render_quantize(quantize_spec(op, in, k, 1, 90), c);
          auto b = render_quantize(quantize_spec(op, in, k, 64, 80), c);
          ASSERT_TRUE(a.has_value()) << a.status().to_string();
          ASSERT_TRUE(b.has_value());
          EXPECT_EQ(a->text, b->text);  // the M bucket and arch do not change the source
          EXPECT_EQ(a->threads, c.rows_per_cta * c.threads_per_row);
          EXPECT_EQ(a->text.find("#include"), std::string::npos);
          entries.insert(a->entry);
          ++count;
        }
  EXPECT_EQ(entries.size(), static_cast<std::size_t>(count));
  auto r = render_quantize(quantize_spec(KernelOp::QuantizeRowwise, ElementKind::BF16, 4096, 1, 90), qcfg(2, 128));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->entry, "qjit_quantize_rowwise_bf16_k4096_r2_t128");
  EXPECT_NE(r->text.find("QuantizeRowwise<qjitk::bf16, 4096, 2, 128, qjitk::kQuantizeRowwise, false>"),
            std::string::npos);
  // The smoothed variant is another kernel with another entry.
  KernelSpec smooth = quantize_spec(KernelOp::QuantizeRowwise, ElementKind::BF16, 4096, 1, 90);
  smooth.smooth = true;
  auto rs = render_quantize(smooth, qcfg(2, 128));
  ASSERT_TRUE(rs.has_value());
  EXPECT_EQ(rs->entry, "qjit_quantize_rowwise_bf16_k4096_r2_t128_smooth");
  EXPECT_NE(rs->text.find("kQuantizeRowwise, true>"), std::string::npos);
  EXPECT_EQ(smooth.to_string(), "quantize_rowwise bf16->s8 k=4096 m<=1 smooth sm_90a");
}

void expect_invalid(const KernelSpec& s, const QuantizeTile& c, const std::string& field) {
  const Status st = validate_quantize(s, c);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(field), std::string::npos) << st.to_string();
  EXPECT_FALSE(render_quantize(s, c).has_value());
}

TEST(CodegenQuantizeRowwise, ValidationNamesTheField) {
  const KernelSpec ok = quantize_spec(KernelOp::QuantizeRowwise, ElementKind::F16, 4096, 1, 90);
  EXPECT_TRUE(validate_quantize(ok, qcfg(2, 128)).ok());
  KernelSpec s = ok;
  s.op = KernelOp::GemmS8;
  expect_invalid(s, qcfg(2, 128), "spec.op");
  s = ok;
  s.in_element = ElementKind::S8;
  expect_invalid(s, qcfg(2, 128), "spec.in_element");
  s = ok;
  s.out_element = ElementKind::F16;
  expect_invalid(s, qcfg(2, 128), "spec.out_element");
  s = ok;
  s.k = 0;
  expect_invalid(s, qcfg(2, 128), "spec.k");
  s = ok;
  s.arch = 70;
  expect_invalid(s, qcfg(2, 128), "spec.arch");
  // A config of another family never reaches this function (its type is QuantizeTile); the family object refuses one
  // naming config.family (JitFamilyRegistry.EachFamilyValidatesOnlyItsOwnConfigs).
  expect_invalid(ok, qcfg(2, 48), "config.threads_per_row");
  expect_invalid(ok, qcfg(0, 128), "config.rows_per_cta * threads_per_row");
  expect_invalid(ok, qcfg(1, 16), "config.rows_per_cta * threads_per_row");
  expect_invalid(ok, qcfg(16, 128), "config.rows_per_cta * threads_per_row");
}

// The GEMM fields (block_k, warps, stages, split-K, ...) are no fields of a quantize config any more. Where they still
// appear, in the flat record of a tuning database, they must hold the values the family writes there: anything else
// is refused naming the field, as validation refused "stages = 2" before.
TEST(CodegenQuantizeRowwise, FlatRecordsMustLeaveTheGemmFieldsAtTheirFixedValues) {
  const TileFields fields = TileConfig(qcfg(2, 128)).fields();
  EXPECT_EQ(fields, (TileFields{.block_m = 2, .block_n = 128}));
  auto back = TileConfig::from_fields(KernelFamily::Quantize, fields);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(*back, TileConfig(qcfg(2, 128)));
  TileFields bad = fields;
  bad.stages = 2;
  auto refused = TileConfig::from_fields(KernelFamily::Quantize, bad);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), StatusCode::InvalidArgument);
  EXPECT_NE(refused.error().message().find("field 'stages' must be 1 for family quantize"), std::string::npos)
      << refused.error().message();
  bad = fields;
  bad.warps_n = 4;
  refused = TileConfig::from_fields(KernelFamily::Quantize, bad);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message().find("field 'warps_n'"), std::string::npos) << refused.error().message();
}

TEST(CodegenQuantizeRowwise, LaunchAndVectorPath) {
  const KernelSpec s = quantize_spec(KernelOp::QuantizeRowwise, ElementKind::F32, 4096, 1, 90);
  const LaunchDims d = quantize_launch(s, qcfg(2, 128), 1001);
  EXPECT_EQ(d.grid[0], 501u);
  EXPECT_EQ(d.block[0], 256u);
  EXPECT_EQ(d.dynamic_smem_bytes, 0u);
  alignas(16) static char buf[64];
  EXPECT_TRUE(quantize_takes_vector_path(s, buf, 4096, buf + 16, 4096));
  EXPECT_TRUE(quantize_takes_vector_path(s, buf, 4100, buf, 4096));   // 4100 floats = 16400 bytes, 16-aligned
  EXPECT_FALSE(quantize_takes_vector_path(s, buf, 4096, buf, 4100));  // q rows not 16-aligned
  EXPECT_FALSE(quantize_takes_vector_path(s, buf + 4, 4096, buf, 4096));
  const KernelSpec tiny = quantize_spec(KernelOp::QuantizeRowwise, ElementKind::F32, 8, 1, 90);
  EXPECT_FALSE(quantize_takes_vector_path(tiny, buf, 16, buf, 16));
}

}  // namespace
}  // namespace qjit::codegen
