// quantize_model end to end on tiny synthetic Llama and OPT checkpoints written by the test: output names, dtypes
// and shapes, folded norms (dtype kept), copied tensors (bytes kept), missing/unused stats reporting, and the
// numerical claim — dequantized int8 weights reproduce the smoothed weights within half a step, and the rewritten
// norm + quantized linear compute what the original norm + linear did.
#include <cmath>
#include <cstring>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "qjit/quant/model_quantizer.h"
#include "qjit/quant/safetensors.h"
#include "qjit/quant/smooth_quant.h"

namespace qjit::quant {
namespace {

constexpr std::int64_t kHidden = 16, kInter = 24, kKv = 8;

class QuantModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    llvm::SmallString<128> d;
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("qjit-quant-model", d));
    dir_ = std::string(d);
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir_); }

  std::vector<float> random(std::int64_t n, float scale) {
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = d(rng_);
    return v;
  }
  void add_f32(SafetensorsWriter& w, const std::string& name, std::vector<std::int64_t> shape, std::vector<float> v) {
    ASSERT_TRUE(w.add_typed<float>(name, std::move(shape), v).ok());
    f32_[name] = std::move(v);
  }
  void add_bf16(SafetensorsWriter& w, const std::string& name, std::vector<float> v) {
    std::vector<bf16> b;
    for (auto& x : v) {
      b.push_back(float_to_bf16(x));
      x = bf16_to_float(b.back());
    }
    ASSERT_TRUE(w.add_typed<bf16>(name, {static_cast<std::int64_t>(v.size())}, b).ok());
    f32_[name] = std::move(v);
  }
  // Activation absmax with a few outlier channels, as real calibration produces.
  std::vector<float> act_max(std::int64_t k) {
    std::vector<float> a(static_cast<std::size_t>(k));
    std::uniform_real_distribution<float> u(0.5f, 2.0f);
    for (auto& x : a) x = u(rng_);
    a[3] *= 60.0f;
    a[k - 2] *= 40.0f;
    return a;
  }

  std::string write(const SafetensorsWriter& w, const std::string& name) {
    const std::string path = dir_ + "/" + name;
    EXPECT_TRUE(w.write(path).ok());
    return path;
  }

  std::string dir_;
  std::mt19937 rng_{42};
  std::map<std::string, std::vector<float>> f32_;  // what the test wrote, as f32
};

// Checks `module` was written as int8 + scale reproducing w·diag(s) (s empty = unsmoothed) within half a step.
void expect_quantized(const SafetensorsFile& out, const std::string& module, const std::vector<float>& w,
                      std::int64_t n, std::int64_t k, const std::vector<float>& s) {
  SCOPED_TRACE(module);
  const TensorInfo* q = out.find(module + ".weight");
  const TensorInfo* sc = out.find(module + ".weight_scale");
  ASSERT_NE(q, nullptr);
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(q->dtype, ElementKind::S8);
  EXPECT_EQ(q->shape, (std::vector<std::int64_t>{n, k}));
  EXPECT_EQ(sc->dtype, ElementKind::F32);
  EXPECT_EQ(sc->shape, (std::vector<std::int64_t>{n}));
  auto scale = out.read_f32(module + ".weight_scale");
  const auto q_bytes = *out.read_bytes(*q);
  const auto* qv = reinterpret_cast<const std::int8_t*>(q_bytes.data());
  for (std::int64_t r = 0; r < n; ++r) {
    float absmax = 0.0f;
    for (std::int64_t j = 0; j < k; ++j) absmax = std::max(absmax, std::fabs(w[r * k + j] * (s.empty() ? 1.0f : s[j])));
    EXPECT_FLOAT_EQ((*scale)[r], absmax / 127.0f);
    for (std::int64_t j = 0; j < k; ++j) {
      const float ws = w[r * k + j] * (s.empty() ? 1.0f : s[j]);
      ASSERT_LE(std::fabs(qv[r * k + j] * (*scale)[r] - ws), 0.5f * (*scale)[r] * 1.001f + 1e-7f) << r << "," << j;
    }
  }
}

// --weight-colsum: every quantized linear also gets <module>.weight_colsum, I32 [N], equal to the row sums of the
// int8 weight the same file holds (what the zero-point GEMM subtracts); without the option there is none.
TEST_F(QuantModelTest, WeightColsumIsWrittenForEveryQuantizedLinear) {
  SafetensorsWriter model;
  const std::vector<std::pair<std::string, std::pair<std::int64_t, std::int64_t>>> linears = {
      {"self_attn.q_proj", {kHidden, kHidden}}, {"self_attn.k_proj", {kKv, kHidden}},
      {"self_attn.v_proj", {kKv, kHidden}},     {"self_attn.o_proj", {kHidden, kHidden}},
      {"mlp.gate_proj", {kInter, kHidden}},     {"mlp.up_proj", {kInter, kHidden}},
      {"mlp.down_proj", {kHidden, kInter}}};
  const std::string p = "model.layers.0.";
  add_f32(model, p + "input_layernorm.weight", {kHidden}, random(kHidden, 1.0f));
  add_f32(model, p + "post_attention_layernorm.weight", {kHidden}, random(kHidden, 1.0f));
  for (const auto& [suffix, nk] : linears)
    add_f32(model, p + suffix + ".weight", {nk.first, nk.second}, random(nk.first * nk.second, 0.1f));
  const std::string in = write(model, "in.safetensors");
  for (bool colsum : {true, false}) {
    QuantizeOptions o;
    o.weights_path = in;
    o.out_path = dir_ + (colsum ? "/colsum.safetensors" : "/plain.safetensors");
    o.weight_colsum = colsum;
    auto report = quantize_model(o);
    ASSERT_TRUE(report.has_value()) << report.error().to_string();
    auto out = SafetensorsFile::open(o.out_path);
    ASSERT_TRUE(out.has_value()) << out.error().to_string();
    for (const auto& [suffix, nk] : linears) {
      SCOPED_TRACE(suffix);
      const TensorInfo* cs = out->find(p + suffix + ".weight_colsum");
      if (!colsum) {
        EXPECT_EQ(cs, nullptr);
        continue;
      }
      ASSERT_NE(cs, nullptr);
      EXPECT_EQ(cs->dtype, ElementKind::S32);
      EXPECT_EQ(cs->shape, (std::vector<std::int64_t>{nk.first}));
      const auto q_bytes = *out->read_bytes(*out->find(p + suffix + ".weight"));
      const auto cs_bytes = *out->read_bytes(*cs);
      const auto* q = reinterpret_cast<const std::int8_t*>(q_bytes.data());
      const auto* sums = reinterpret_cast<const std::int32_t*>(cs_bytes.data());
      bool nonzero = false;
      for (std::int64_t r = 0; r < nk.first; ++r) {
        std::int32_t want = 0;
        for (std::int64_t j = 0; j < nk.second; ++j) want += q[r * nk.second + j];
        EXPECT_EQ(sums[r], want) << r;
        nonzero = nonzero || want != 0;
      }
      EXPECT_TRUE(nonzero);
    }
  }
}

TEST_F(QuantModelTest, LlamaEndToEnd) {
  SafetensorsWriter model, stats;
  const std::vector<std::pair<std::string, std::pair<std::int64_t, std::int64_t>>> linears = {
      {"self_attn.q_proj", {kHidden, kHidden}}, {"self_attn.k_proj", {kKv, kHidden}},
      {"self_attn.v_proj", {kKv, kHidden}},     {"self_attn.o_proj", {kHidden, kHidden}},
      {"mlp.gate_proj", {kInter, kHidden}},     {"mlp.up_proj", {kInter, kHidden}},
      {"mlp.down_proj", {kHidden, kInter}}};
  std::vector<float> embed = random(32 * kHidden, 1.0f);
  std::vector<f16> embed16;
  for (float x : embed) embed16.push_back(float_to_f16(x));
  ASSERT_TRUE(model.add_typed<f16>("model.embed_tokens.weight", {32, kHidden}, embed16).ok());
  std::map<std::string, std::vector<float>> amax;
  for (int layer = 0; layer < 2; ++layer) {
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    add_bf16(model, p + "input_layernorm.weight", random(kHidden, 0.3f));
    add_f32(model, p + "post_attention_layernorm.weight", {kHidden}, [&] {
      auto v = random(kHidden, 0.2f);
      for (auto& x : v) x += 1.0f;
      return v;
    }());
    const auto attn_in = act_max(kHidden), mlp_in = act_max(kHidden), o_in = act_max(kHidden),
               down_in = act_max(kInter);
    for (const auto& [suffix, nk] : linears) {
      add_f32(model, p + suffix + ".weight", {nk.first, nk.second}, random(nk.first * nk.second, 0.1f));
      const bool mlp_up = suffix == "mlp.gate_proj" || suffix == "mlp.up_proj";
      if (layer == 1 && mlp_up) continue;  // missing stats: reported, not guessed
      const auto& a = suffix.rfind("self_attn.o", 0) == 0 ? o_in
                      : suffix == "mlp.down_proj"         ? down_in
                      : mlp_up                            ? mlp_in
                                                          : attn_in;
      amax[p + suffix] = a;
      ASSERT_TRUE(stats.add_typed<float>(p + suffix, {nk.second}, a).ok());
    }
  }
  add_f32(model, "model.norm.weight", {kHidden}, random(kHidden, 1.0f));
  add_f32(model, "lm_head.weight", {32, kHidden}, random(32 * kHidden, 0.1f));
  ASSERT_TRUE(stats.add_typed<float>("model.layers.9.self_attn.q_proj", {kHidden}, act_max(kHidden)).ok());
  const std::string in = write(model, "in.safetensors"), st = write(stats, "stats.safetensors");

  QuantizeOptions o;
  o.weights_path = in;
  o.act_stats_path = st;
  o.out_path = dir_ + "/out.safetensors";
  o.alpha = 0.5f;
  o.allow_missing_stats = true;  // layer 1's gate/up and the layer-9 entry: reported, not fatal
  std::int64_t last_done = 0, total = 0;
  o.progress = [&](std::int64_t done, std::int64_t t, const std::string&) {
    EXPECT_EQ(done, last_done + 1);
    last_done = done;
    total = t;
  };
  auto report = quantize_model(o);
  ASSERT_TRUE(report.has_value()) << report.error().to_string();
  EXPECT_EQ(report->family, "llama");
  EXPECT_EQ(report->n_layers, 2);
  EXPECT_EQ(total, 8);  // 4 groups x 2 layers
  EXPECT_EQ(last_done, 8);
  EXPECT_EQ(report->linears.size(), 14u);
  EXPECT_EQ(report->missing_stats,
            (std::vector<std::string>{"model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj"}));
  EXPECT_EQ(report->unused_stats, (std::vector<std::string>{"model.layers.9.self_attn.q_proj"}));
  EXPECT_EQ(report->folded_norms.size(), 3u);
  // embed_tokens, model.norm, lm_head, and layer 1's post_attention_layernorm (not folded: its group has no stats)
  EXPECT_EQ(report->tensors_copied, 4);

  auto out = SafetensorsFile::open(o.out_path);
  ASSERT_TRUE(out.has_value()) << out.error().to_string();
  // Untouched tensors are byte-identical.
  auto in_file = SafetensorsFile::open(in);
  for (const char* name : {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight",
                           "model.layers.1.post_attention_layernorm.weight"}) {
    const auto a = *in_file->read_bytes(*in_file->find(name));
    const auto b = *out->read_bytes(*out->find(name));
    ASSERT_EQ(a.size(), b.size()) << name;
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size()), 0) << name;
  }
  // Every linear is int8 + scale; smoothing reproduced independently.
  for (int layer = 0; layer < 2; ++layer) {
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    auto group_scales = [&](std::vector<std::string> members) -> std::vector<float> {
      if (!amax.count(p + members[0])) return {};
      std::vector<std::vector<float>> wm;
      const auto k = static_cast<std::int64_t>(amax[p + members[0]].size());
      for (const auto& m : members) {
        const auto& w = f32_[p + m + ".weight"];
        wm.push_back(*SmoothQuantMigrator::compute_weight_stats(w, static_cast<std::int64_t>(w.size()) / k, k));
      }
      auto combined = SmoothQuantMigrator::combine_weight_stats(wm);
      return *SmoothQuantMigrator(0.5f).compute_migration_scales(amax[p + members[0]], *combined);
    };
    const auto s_attn = group_scales({"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"});
    const auto s_mlp = group_scales({"mlp.gate_proj", "mlp.up_proj"});
    // o_proj and down_proj have no norm in front: smoothed through <module>.pre_quant_scale (1/s).
    const auto s_o = group_scales({"self_attn.o_proj"}), s_down = group_scales({"mlp.down_proj"});
    ASSERT_FALSE(s_attn.empty());
    EXPECT_EQ(s_mlp.empty(), layer == 1);
    for (const auto& [suffix, nk] : linears) {
      const bool attn = suffix == "self_attn.q_proj" || suffix == "self_attn.k_proj" || suffix == "self_attn.v_proj";
      const bool mlp = suffix == "mlp.gate_proj" || suffix == "mlp.up_proj";
      const bool vector = suffix == "self_attn.o_proj" || suffix == "mlp.down_proj";
      const std::vector<float> s = attn ? s_attn : mlp ? s_mlp : suffix == "self_attn.o_proj" ? s_o : s_down;
      expect_quantized(*out, p + suffix, f32_[p + suffix + ".weight"], nk.first, nk.second, s);
      const TensorInfo* ss = out->find(p + suffix + ".pre_quant_scale");
      ASSERT_EQ(ss != nullptr, vector) << p + suffix;
      if (ss) {
        std::vector<float> inv(s.size());
        for (std::size_t i = 0; i < s.size(); ++i) inv[i] = 1.0f / s[i];
        EXPECT_EQ(*out->read_f32(ss->name), inv) << p + suffix;
      }
      const TensorInfo* is = out->find(p + suffix + ".input_scale");
      EXPECT_EQ(is != nullptr, amax.count(p + suffix) == 1) << p + suffix;
      if (is) {
        EXPECT_EQ(is->shape, (std::vector<std::int64_t>{1}));
        const auto& a = amax[p + suffix];
        float m = 0.0f;
        for (std::size_t j = 0; j < a.size(); ++j) m = std::max(m, s.empty() ? a[j] : a[j] / s[j]);
        EXPECT_EQ((*out->read_f32(p + suffix + ".input_scale"))[0], m / 127.0f);
      }
    }
    // The folded norm keeps its dtype and equals g / s (rounded to bf16).
    const TensorInfo* norm = out->find(p + "input_layernorm.weight");
    ASSERT_NE(norm, nullptr);
    EXPECT_EQ(norm->dtype, ElementKind::BF16);
    auto folded = out->read_f32(p + "input_layernorm.weight");
    const auto& g = f32_[p + "input_layernorm.weight"];
    for (std::int64_t j = 0; j < kHidden; ++j) EXPECT_EQ((*folded)[j], bf16_to_float(float_to_bf16(g[j] / s_attn[j])));
    // Norm + q_proj compute the same function before and after: (x ⊙ g)·Wᵀ ≈ (x ⊙ g/s)·(dequant W_s)ᵀ.
    const auto& w = f32_[p + "self_attn.q_proj.weight"];
    auto scale = out->read_f32(p + "self_attn.q_proj.weight_scale");
    const auto q_bytes = *out->read_bytes(*out->find(p + "self_attn.q_proj.weight"));
    const auto* q = reinterpret_cast<const std::int8_t*>(q_bytes.data());
    const auto x = random(kHidden, 1.0f);
    double num = 0, den = 0;
    for (std::int64_t n = 0; n < kHidden; ++n) {
      double ref = 0, got = 0;
      for (std::int64_t j = 0; j < kHidden; ++j) {
        ref += double(x[j]) * g[j] * w[n * kHidden + j];
        got += double(x[j]) * (*folded)[j] * q[n * kHidden + j] * (*scale)[n];
      }
      num += (got - ref) * (got - ref);
      den += ref * ref;
    }
    EXPECT_LT(std::sqrt(num / den), 0.03) << p;
  }
  // The error table: smoothed groups with stats have both columns, missing-stats linears none.
  for (const auto& l : report->linears) {
    SCOPED_TRACE(l.module);
    EXPECT_GT(l.weight_rel_error, 0.0);
    EXPECT_LT(l.weight_rel_error, 0.05);
    EXPECT_EQ(l.w8a8_error_plain >= 0, l.has_stats);
    EXPECT_EQ(l.w8a8_error_smoothed >= 0, l.smoothed);
    if (l.smoothed) {
      EXPECT_LT(l.w8a8_error_smoothed, l.w8a8_error_plain);  // outlier stats: smoothing helps
    }
  }
}

TEST_F(QuantModelTest, OptFoldsLayerNormBiasAndKeepsLinearBias) {
  SafetensorsWriter model, stats;
  const std::string p = "model.decoder.layers.0.";
  add_f32(model, p + "self_attn_layer_norm.weight", {kHidden}, random(kHidden, 1.0f));
  add_f32(model, p + "self_attn_layer_norm.bias", {kHidden}, random(kHidden, 1.0f));
  add_f32(model, p + "final_layer_norm.weight", {kHidden}, random(kHidden, 1.0f));
  add_f32(model, p + "final_layer_norm.bias", {kHidden}, random(kHidden, 1.0f));
  for (const char* m : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj"}) {
    add_f32(model, p + m + ".weight", {kHidden, kHidden}, random(kHidden * kHidden, 0.1f));
    add_f32(model, p + m + ".bias", {kHidden}, random(kHidden, 0.1f));
  }
  add_f32(model, p + "fc1.weight", {kInter, kHidden}, random(kInter * kHidden, 0.1f));
  add_f32(model, p + "fc2.weight", {kHidden, kInter}, random(kInter * kHidden, 0.1f));
  const auto a = act_max(kHidden);
  for (const char* m : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "fc1"})
    ASSERT_TRUE(stats.add_typed<float>(p + m, {kHidden}, a).ok());
  QuantizeOptions o;
  o.weights_path = write(model, "opt.safetensors");
  o.act_stats_path = write(stats, "opt_stats.safetensors");
  o.out_path = dir_ + "/opt_out.safetensors";
  o.alpha = 0.85f;
  o.allow_missing_stats = true;
  auto report = quantize_model(o);
  ASSERT_TRUE(report.has_value()) << report.error().to_string();
  EXPECT_EQ(report->family, "opt");
  EXPECT_EQ(report->missing_stats, (std::vector<std::string>{p + "self_attn.out_proj", p + "fc2"}));
  auto out = SafetensorsFile::open(o.out_path);
  ASSERT_TRUE(out.has_value());
  auto wm = SmoothQuantMigrator::compute_weight_stats(f32_[p + "fc1.weight"], kInter, kHidden);
  auto s = SmoothQuantMigrator(0.85f).compute_migration_scales(a, *wm);
  auto bias = out->read_f32(p + "final_layer_norm.bias");
  for (std::int64_t j = 0; j < kHidden; ++j) EXPECT_EQ((*bias)[j], f32_[p + "final_layer_norm.bias"][j] / (*s)[j]);
  expect_quantized(*out, p + "fc1", f32_[p + "fc1.weight"], kInter, kHidden, *s);
  expect_quantized(*out, p + "fc2", f32_[p + "fc2.weight"], kHidden, kInter, {});
  EXPECT_EQ(*out->read_f32(p + "self_attn.q_proj.bias"), f32_[p + "self_attn.q_proj.bias"]);  // bias unchanged
  EXPECT_EQ(out->find(p + "fc2.input_scale"), nullptr);
}

TEST_F(QuantModelTest, ErrorsAreReportedNotGuessed) {
  SafetensorsWriter model;
  add_f32(model, "model.layers.0.input_layernorm.weight", {kHidden}, random(kHidden, 1.0f));
  add_f32(model, "model.layers.0.self_attn.q_proj.weight", {kHidden, kHidden}, random(kHidden * kHidden, 0.1f));
  const std::string in = write(model, "partial.safetensors");
  QuantizeOptions o;
  o.weights_path = in;
  o.out_path = dir_ + "/o.safetensors";
  auto r = quantize_model(o);  // the llama mapping names k_proj, which is absent
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("model.layers.0.self_attn.k_proj.weight"), std::string::npos);
  EXPECT_FALSE(llvm::sys::fs::exists(o.out_path));
  // A custom mapping covering only q_proj works, without stats (no smoothing).
  auto m = parse_layer_mapping(R"({"layer_prefix": "model.layers.{i}.",
      "groups": [{"norm": "input_layernorm", "linears": ["self_attn.q_proj"]}]})");
  ASSERT_TRUE(m.has_value()) << m.error().to_string();
  o.mapping = *m;
  auto ok = quantize_model(o);
  ASSERT_TRUE(ok.has_value()) << ok.error().to_string();
  EXPECT_EQ(ok->family, "custom");
  EXPECT_TRUE(ok->missing_stats.empty());  // no stats file at all: nothing is "missing", nothing is smoothed
  ASSERT_EQ(ok->linears.size(), 1u);
  EXPECT_EQ(ok->linears[0].mode, SmoothMode::None);
  EXPECT_EQ(ok->linears[0].reason, "no act stats given");
  EXPECT_TRUE(ok->folded_norms.empty());
  o.require_stats = true;
  auto strict = quantize_model(o);
  ASSERT_FALSE(strict.has_value());
  EXPECT_NE(strict.error().message().find("--require-stats"), std::string::npos);
  o.require_stats = false;
  o.alpha = 2.0f;
  EXPECT_FALSE(quantize_model(o).has_value());
  o.alpha = 0.5f;
  o.out_path = in;
  EXPECT_FALSE(quantize_model(o).has_value());
}

TEST(QuantMappingTest, ParsesAndValidatesMappingFiles) {
  EXPECT_EQ(llama_mapping().groups.size(), 4u);
  EXPECT_EQ(opt_mapping().groups[1].linears, (std::vector<std::string>{"fc1"}));
  EXPECT_FALSE(parse_layer_mapping("{").has_value());
  EXPECT_NE(
      parse_layer_mapping(R"({"layer_prefix": "x.", "groups": [{"linears": ["a"]}]})").error().message().find("{i}"),
      std::string::npos);
  EXPECT_FALSE(parse_layer_mapping(R"({"layer_prefix": "x.{i}.", "groups": []})").has_value());
  EXPECT_FALSE(
      parse_layer_mapping(R"({"layer_prefix": "x.{i}.", "groups": [{"norm": 3, "linears": ["a"]}]})").has_value());
  EXPECT_NE(parse_layer_mapping(R"({"layer_prefix": "x.{i}.", "groups": [{"linears": ["a"]}, {"linears": ["a"]}]})")
                .error()
                .message()
                .find("more than one group"),
            std::string::npos);
  const std::vector<std::string> names = {"model.layers.0.a", "model.layers.12.b", "model.layers.x.c",
                                          "model.decoder.layers.3.d", "model.layers.7"};
  EXPECT_EQ(find_layer_indices(llama_mapping(), names), (std::vector<std::int64_t>{0, 12}));
  EXPECT_EQ(detect_layer_mapping({"model.decoder.layers.3.fc1.weight"})->family, "opt");
  EXPECT_EQ(detect_layer_mapping({"transformer.h.0.attn.weight"}).error().code(), StatusCode::Unsupported);
  // Gemma-2's names look like Llama's, but its post_attention_layernorm is a post-norm: never auto-fold it.
  const auto gemma =
      detect_layer_mapping({"model.layers.0.self_attn.q_proj.weight", "model.layers.0.post_attention_layernorm.weight",
                            "model.layers.0.pre_feedforward_layernorm.weight"});
  ASSERT_FALSE(gemma.has_value());
  EXPECT_EQ(gemma.error().code(), StatusCode::Unsupported);
  EXPECT_NE(gemma.error().message().find("Gemma-2/3-style"), std::string::npos) << gemma.error().message();
}

// The example mapping files in data/mappings parse, and the three that spell out a built-in family say the same.
TEST(QuantMappingTest, ExampleMappingFilesParseAndMatchTheBuiltInFamilies) {
  const std::string dir = std::string(QJIT_SOURCE_DIR) + "/data/mappings/";
  auto load = [&](const std::string& name) {
    auto buf = llvm::MemoryBuffer::getFile(dir + name);
    EXPECT_TRUE(static_cast<bool>(buf)) << name;
    auto m = parse_layer_mapping((*buf)->getBuffer(), name);
    EXPECT_TRUE(m.has_value()) << m.error().to_string();
    return *m;
  };
  for (const char* family : {"bert", "llama", "opt"}) {
    const LayerMapping file = load(std::string(family) + ".json"), builtin = *builtin_mapping(family);
    EXPECT_EQ(file.family, builtin.family);
    EXPECT_EQ(file.layer_prefix, builtin.layer_prefix);
    ASSERT_EQ(file.groups.size(), builtin.groups.size()) << family;
    for (std::size_t g = 0; g < file.groups.size(); ++g) {
      EXPECT_EQ(file.groups[g].norm, builtin.groups[g].norm) << family << g;
      EXPECT_EQ(file.groups[g].norm_first_layer, builtin.groups[g].norm_first_layer) << family << g;
      EXPECT_EQ(file.groups[g].norm_feeds_only_these, builtin.groups[g].norm_feeds_only_these) << family << g;
      EXPECT_EQ(file.groups[g].linears, builtin.groups[g].linears) << family << g;
    }
  }
  const LayerMapping post_ln = load("opt-350m-post-ln.json");
  for (const auto& g : post_ln.groups) EXPECT_FALSE(g.norm_feeds_only_these);
}

}  // namespace
}  // namespace qjit::quant
