// `qjit quantize --pad-rows` (issue 15's pre-pack route, on the offline side): an int8 weight whose K is not a
// multiple of 16 is stored as [N, preferred_row_stride(K)] with zero pad columns and named in the header's
// "qjit.padded_rows" metadata; every other tensor is what the unpadded run writes, byte for byte. Checked through
// the library (quantize_model) and through the built command on a real file.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "llvm/Support/JSON.h"
#include "qjit/linear.h"
#include "qjit/quant/model_quantizer.h"
#include "qjit/quant/safetensors.h"
#include "tests/support/cache_test_util.h"
#include "tests/support/process_runner.h"

namespace qjit::quant {
namespace {

using cache::testing::TempDir;

// One Llama-named layer with hidden 20 and intermediate 40: every linear's K (20 or 40) is odd for the Hopper
// kernel (K % 16 != 0), so --pad-rows pads all seven.
constexpr std::int64_t kHidden = 20, kInter = 40;
const char* const kPrefix = "model.layers.0.";
const std::vector<std::pair<std::string, std::pair<std::int64_t, std::int64_t>>> kLinears = {
    {"self_attn.q_proj", {kHidden, kHidden}}, {"self_attn.k_proj", {kHidden, kHidden}},
    {"self_attn.v_proj", {kHidden, kHidden}}, {"self_attn.o_proj", {kHidden, kHidden}},
    {"mlp.gate_proj", {kInter, kHidden}},     {"mlp.up_proj", {kInter, kHidden}},
    {"mlp.down_proj", {kHidden, kInter}}};

void write_odd_llama(const std::string& path) {
  SafetensorsWriter w;
  auto add = [&](const std::string& name, std::vector<std::int64_t> shape) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> v(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.013f * static_cast<float>((i * 7919) % 101) - 0.6f;
    ASSERT_TRUE(w.add_typed<float>(name, shape, v).ok());
  };
  add(std::string(kPrefix) + "input_layernorm.weight", {kHidden});
  add(std::string(kPrefix) + "post_attention_layernorm.weight", {kHidden});
  for (const auto& [suffix, nk] : kLinears) add(kPrefix + suffix + ".weight", {nk.first, nk.second});
  ASSERT_TRUE(w.write(path).ok());
}

class QuantPadRowsTest : public ::testing::Test {
 protected:
  void SetUp() override { write_odd_llama(tmp_.sub("w.st")); }
  Result<QuantizeReport> run(bool pad, const std::string& out) {
    QuantizeOptions o;
    o.weights_path = tmp_.sub("w.st");
    o.out_path = tmp_.sub(out);
    o.pad_rows = pad;
    o.weight_colsum = true;
    return quantize_model(o);
  }
  // The padded file against the plain one: pad columns zero, the rest equal, and the metadata names each weight.
  void expect_padded_like(const std::string& padded_path, const std::string& plain_path) {
    auto padded = SafetensorsFile::open(padded_path);
    auto plain = SafetensorsFile::open(plain_path);
    ASSERT_TRUE(padded.has_value()) << padded.error().to_string();
    ASSERT_TRUE(plain.has_value()) << plain.error().to_string();
    ASSERT_EQ(padded->tensors().size(), plain->tensors().size());
    auto meta = padded->metadata().find("qjit.padded_rows");
    ASSERT_NE(meta, padded->metadata().end());
    auto table = llvm::json::parse(meta->second);
    ASSERT_TRUE(static_cast<bool>(table)) << llvm::toString(table.takeError());
    ASSERT_NE(table->getAsObject(), nullptr);
    EXPECT_EQ(table->getAsObject()->size(), kLinears.size());
    for (const auto& [suffix, nk] : kLinears) {
      const std::string name = kPrefix + suffix + ".weight";
      SCOPED_TRACE(name);
      const auto [n, k] = nk;
      const std::int64_t stride = preferred_row_stride(k);
      ASSERT_EQ(stride, 128);
      const TensorInfo* p = padded->find(name);
      const TensorInfo* q = plain->find(name);
      ASSERT_NE(p, nullptr);
      ASSERT_NE(q, nullptr);
      EXPECT_EQ(p->dtype, ElementKind::S8);
      EXPECT_EQ(p->shape, (std::vector<std::int64_t>{n, stride}));
      EXPECT_EQ(q->shape, (std::vector<std::int64_t>{n, k}));
      const auto pb = *padded->read_bytes(*p);
      const auto qb = *plain->read_bytes(*q);
      bool nonzero = false;
      for (std::int64_t r = 0; r < n; ++r)
        for (std::int64_t c = 0; c < stride; ++c) {
          const auto got = static_cast<std::int8_t>(pb[r * stride + c]);
          const auto want = c < k ? static_cast<std::int8_t>(qb[r * k + c]) : std::int8_t{0};
          ASSERT_EQ(got, want) << "row " << r << " col " << c;
          nonzero = nonzero || got != 0;
        }
      EXPECT_TRUE(nonzero);
      const llvm::json::Object* entry = table->getAsObject()->getObject(name);
      ASSERT_NE(entry, nullptr);
      EXPECT_EQ(entry->getInteger("in_features"), k);
      EXPECT_EQ(entry->getInteger("row_stride"), stride);
    }
    // Everything that is not a weight (scales, column sums, folded norms) is the plain run's, byte for byte.
    for (const auto& t : plain->tensors()) {
      if (table->getAsObject()->get(t.name)) continue;
      const TensorInfo* p = padded->find(t.name);
      ASSERT_NE(p, nullptr) << t.name;
      EXPECT_EQ(p->shape, t.shape) << t.name;
      EXPECT_EQ(*padded->read_bytes(*p), *plain->read_bytes(t)) << t.name;
    }
  }
  TempDir tmp_;
};

TEST_F(QuantPadRowsTest, OddKWeightsAreStoredPaddedWithTheirInFeaturesInTheMetadata) {
  auto padded = run(true, "padded.st");
  ASSERT_TRUE(padded.has_value()) << padded.error().to_string();
  auto plain = run(false, "plain.st");
  ASSERT_TRUE(plain.has_value()) << plain.error().to_string();
  for (const auto& l : padded->linears) EXPECT_EQ(l.row_stride, 128) << l.module;
  for (const auto& l : plain->linears) EXPECT_EQ(l.row_stride, l.k) << l.module;
  expect_padded_like(tmp_.sub("padded.st"), tmp_.sub("plain.st"));
  auto file = SafetensorsFile::open(tmp_.sub("plain.st"));
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(file->metadata().count("qjit.padded_rows"), 0u);
}

// K % 16 == 0 needs no pad: the option changes nothing and writes no metadata entry.
TEST_F(QuantPadRowsTest, AlignedKIsLeftAsItIs) {
  QuantizeOptions o;
  EXPECT_EQ(written_row_stride(o, 20), 20);
  o.pad_rows = true;
  EXPECT_EQ(written_row_stride(o, 4096), 4096);
  EXPECT_EQ(written_row_stride(o, 4112), 4112);
  EXPECT_EQ(written_row_stride(o, 4100), 4224);
  EXPECT_EQ(written_row_stride(o, 11009), 11136);
  o.quantize_weights = false;
  EXPECT_EQ(written_row_stride(o, 4100), 4100);
}

TEST_F(QuantPadRowsTest, SmoothOnlyIsRefused) {
  QuantizeOptions o;
  o.weights_path = tmp_.sub("w.st");
  o.out_path = tmp_.sub("o.st");
  o.pad_rows = true;
  o.quantize_weights = false;
  auto r = quantize_model(o);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("pad_rows needs quantize_weights"), std::string::npos) << r.error().to_string();
}

// The built command on a real file: --pad-rows writes what the library does and says which weights it padded;
// with --smooth-only it is a usage error (exit 2) naming both flags, and nothing is written.
TEST_F(QuantPadRowsTest, CommandPadsAndReports) {
  const char* cli = qjit::testing::qjit_cli();
  if (!cli) GTEST_SKIP() << "the qjit command is not built";
  auto ok = qjit::testing::run_process(
      cli, {"quantize", "--quiet", "--weights", tmp_.sub("w.st"), "--out", tmp_.sub("cli.st"), "--pad-rows",
            "--weight-colsum"});
  ASSERT_EQ(ok.code, 0) << ok.output;
  EXPECT_NE(ok.output.find("padded rows"), std::string::npos) << ok.output;
  EXPECT_NE(ok.output.find("model.layers.0.mlp.down_proj"), std::string::npos) << ok.output;
  EXPECT_NE(ok.output.find("[20, 40] stored at row stride 128"), std::string::npos) << ok.output;
  auto plain = run(false, "plain.st");
  ASSERT_TRUE(plain.has_value()) << plain.error().to_string();
  expect_padded_like(tmp_.sub("cli.st"), tmp_.sub("plain.st"));
  auto bad = qjit::testing::run_process(
      cli, {"quantize", "--quiet", "--weights", tmp_.sub("w.st"), "--out", tmp_.sub("bad.st"), "--pad-rows",
            "--smooth-only"});
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--pad-rows pads int8 weights: it cannot be combined with --smooth-only"),
            std::string::npos)
      << bad.output;
  EXPECT_FALSE(SafetensorsFile::open(tmp_.sub("bad.st")).has_value());
}

}  // namespace
}  // namespace qjit::quant
