// Issue 18 end to end on two tiny models the test builds and writes itself: a post-LN BERT (2 layers, hidden 32,
// intermediate 64, embeddings.LayerNorm, GELU FFN) and a pre-LN Llama (2 layers, RMSNorm, SwiGLU), both with
// outlier channels planted in their norms and weights so that calibration (run here, on the f64 forward) records
// the persistent-outlier pattern of real models. For each:
//  (a) qjit's smoothed, unquantized output (--smooth-only), applied the way the engine uses it (folded norms,
//      x · pre_quant_scale, W·diag(s)), reproduces the original model's output;
//  (b) the W8A8 model (smoothed_w8a8_linear over qjit's int8 output) is closer to the original with smoothing than
//      without (--no-smooth), and so is the --eval-acts error of every smoothed linear;
//  (c) refused folds, unknown families, patterns that match nothing and missing stats fail with their messages;
//  (d) copy-only tensors of any dtype (I64 position ids, BOOL, U8, F64, I16) come out byte for byte.
// The forward passes are exact f64 (softmax attention, residuals, norms); only the linears change between runs.
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "qjit/quant/model_quantizer.h"
#include "qjit/quant/safetensors.h"
#include "qjit/quant/w8a8.h"
#include "tests/support/cache_test_util.h"
#include "tests/support/process_runner.h"

namespace qjit::quant {
namespace {

constexpr std::int64_t kHidden = 32, kInter = 64, kHeads = 2, kLayers = 2, kVocab = 50, kSeq = 12;

struct Mat {
  std::int64_t rows = 0, cols = 0;
  std::vector<double> d;
  double& at(std::int64_t r, std::int64_t c) { return d[static_cast<std::size_t>(r * cols + c)]; }
  double at(std::int64_t r, std::int64_t c) const { return d[static_cast<std::size_t>(r * cols + c)]; }
};
Mat zeros(std::int64_t r, std::int64_t c) { return Mat{r, c, std::vector<double>(static_cast<std::size_t>(r * c))}; }

// A linear as one run of the model computes it: module name and input -> output.
using Linear = std::function<Mat(const std::string&, const Mat&)>;
// The model's parameters (norms, embeddings, biases) by tensor name, as f32.
using Params = std::function<const std::vector<float>&(const std::string&)>;

Mat add(Mat a, const Mat& b) {
  for (std::size_t i = 0; i < a.d.size(); ++i) a.d[i] += b.d[i];
  return a;
}

Mat layer_norm(const Mat& x, const std::vector<float>& g, const std::vector<float>* b, bool rms) {
  Mat y = zeros(x.rows, x.cols);
  for (std::int64_t r = 0; r < x.rows; ++r) {
    double mean = 0, var = 0;
    if (!rms) {
      for (std::int64_t c = 0; c < x.cols; ++c) mean += x.at(r, c);
      mean /= static_cast<double>(x.cols);
    }
    for (std::int64_t c = 0; c < x.cols; ++c) var += (x.at(r, c) - mean) * (x.at(r, c) - mean);
    const double inv = 1.0 / std::sqrt(var / static_cast<double>(x.cols) + (rms ? 1e-6 : 1e-12));
    for (std::int64_t c = 0; c < x.cols; ++c) y.at(r, c) = (x.at(r, c) - mean) * inv * g[c] + (b ? (*b)[c] : 0.0);
  }
  return y;
}

// Softmax attention over `heads` heads (causal for the decoder).
Mat attention(const Mat& q, const Mat& k, const Mat& v, bool causal) {
  const std::int64_t t = q.rows, dh = q.cols / kHeads;
  Mat out = zeros(t, q.cols);
  for (std::int64_t h = 0; h < kHeads; ++h)
    for (std::int64_t i = 0; i < t; ++i) {
      std::vector<double> p(static_cast<std::size_t>(t), 0.0);
      double mx = -1e300, sum = 0;
      const std::int64_t last = causal ? i : t - 1;
      for (std::int64_t j = 0; j <= last; ++j) {
        double s = 0;
        for (std::int64_t c = 0; c < dh; ++c) s += q.at(i, h * dh + c) * k.at(j, h * dh + c);
        p[j] = s / std::sqrt(static_cast<double>(dh));
        mx = std::max(mx, p[j]);
      }
      for (std::int64_t j = 0; j <= last; ++j) sum += p[j] = std::exp(p[j] - mx);
      for (std::int64_t j = 0; j <= last; ++j)
        for (std::int64_t c = 0; c < dh; ++c) out.at(i, h * dh + c) += p[j] / sum * v.at(j, h * dh + c);
    }
  return out;
}

Mat bert_forward(const std::vector<int>& ids, const Params& p, const Linear& lin) {
  const auto t = static_cast<std::int64_t>(ids.size());
  Mat e = zeros(t, kHidden);
  for (std::int64_t i = 0; i < t; ++i)
    for (std::int64_t c = 0; c < kHidden; ++c)
      e.at(i, c) = p("embeddings.word_embeddings.weight")[ids[i] * kHidden + c] +
                   p("embeddings.position_embeddings.weight")[i * kHidden + c] +
                   p("embeddings.token_type_embeddings.weight")[c];
  Mat h = layer_norm(e, p("embeddings.LayerNorm.weight"), &p("embeddings.LayerNorm.bias"), false);
  for (int l = 0; l < kLayers; ++l) {
    const std::string pre = "encoder.layer." + std::to_string(l) + ".";
    const Mat ctx = attention(lin(pre + "attention.self.query", h), lin(pre + "attention.self.key", h),
                              lin(pre + "attention.self.value", h), false);
    const Mat h1 =
        layer_norm(add(lin(pre + "attention.output.dense", ctx), h), p(pre + "attention.output.LayerNorm.weight"),
                   &p(pre + "attention.output.LayerNorm.bias"), false);
    Mat f = lin(pre + "intermediate.dense", h1);
    for (auto& x : f.d) x = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    h = layer_norm(add(lin(pre + "output.dense", f), h1), p(pre + "output.LayerNorm.weight"),
                   &p(pre + "output.LayerNorm.bias"), false);
  }
  return h;
}

Mat llama_forward(const std::vector<int>& ids, const Params& p, const Linear& lin) {
  const auto t = static_cast<std::int64_t>(ids.size());
  Mat h = zeros(t, kHidden);
  for (std::int64_t i = 0; i < t; ++i)
    for (std::int64_t c = 0; c < kHidden; ++c) h.at(i, c) = p("model.embed_tokens.weight")[ids[i] * kHidden + c];
  for (int l = 0; l < kLayers; ++l) {
    const std::string pre = "model.layers." + std::to_string(l) + ".";
    const Mat n = layer_norm(h, p(pre + "input_layernorm.weight"), nullptr, true);
    const Mat ctx = attention(lin(pre + "self_attn.q_proj", n), lin(pre + "self_attn.k_proj", n),
                              lin(pre + "self_attn.v_proj", n), true);
    h = add(h, lin(pre + "self_attn.o_proj", ctx));
    const Mat n2 = layer_norm(h, p(pre + "post_attention_layernorm.weight"), nullptr, true);
    Mat g = lin(pre + "mlp.gate_proj", n2);
    const Mat u = lin(pre + "mlp.up_proj", n2);
    for (std::size_t i = 0; i < g.d.size(); ++i) g.d[i] = g.d[i] / (1.0 + std::exp(-g.d[i])) * u.d[i];
    h = add(h, lin(pre + "mlp.down_proj", g));
  }
  return layer_norm(h, p("model.norm.weight"), nullptr, true);
}

double rel_error(const Mat& y, const Mat& ref) { return relative_error(y.d, ref.d); }

// A model under test: its f32 parameters, how to run it, and its linears' shapes.
struct Model {
  std::map<std::string, std::vector<float>> f32;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> linears;  // module -> (N, K)
  std::function<Mat(const std::vector<int>&, const Params&, const Linear&)> forward;
};

class QuantSmoothedModelsTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return tmp_.sub(name); }

  std::vector<float> normal(std::int64_t n, double sd, double mean = 0.0) {
    std::normal_distribution<double> dist(mean, sd);
    std::vector<float> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = static_cast<float>(dist(rng_));
    return v;
  }
  void linear(Model& m, const std::string& module, std::int64_t n, std::int64_t k, bool bias) {
    m.f32[module + ".weight"] = normal(n * k, 1.0 / std::sqrt(static_cast<double>(k)));
    if (bias) m.f32[module + ".bias"] = normal(n, 0.02);
    m.linears[module] = {n, k};
  }
  // Scales a few channels of a norm weight (the outlier channels of real models) or rows of a weight.
  static void outliers(std::vector<float>& v, std::int64_t stride, std::initializer_list<std::pair<int, float>> at) {
    for (auto [c, f] : at)
      for (std::int64_t j = 0; j < stride; ++j) v[static_cast<std::size_t>(c * stride + j)] *= f;
  }

  Model bert() {
    Model m;
    m.forward = bert_forward;
    m.f32["embeddings.word_embeddings.weight"] = normal(kVocab * kHidden, 1.0);
    m.f32["embeddings.position_embeddings.weight"] = normal(kSeq * kHidden, 0.3);
    m.f32["embeddings.token_type_embeddings.weight"] = normal(2 * kHidden, 0.3);
    auto norm = [&](const std::string& name, std::initializer_list<std::pair<int, float>> at) {
      m.f32[name + ".weight"] = normal(kHidden, 0.1, 1.0);
      m.f32[name + ".bias"] = normal(kHidden, 0.1);
      outliers(m.f32[name + ".weight"], 1, at);
    };
    norm("embeddings.LayerNorm", {{3, 25.0f}, {17, 12.0f}});
    for (int l = 0; l < kLayers; ++l) {
      const std::string p = "encoder.layer." + std::to_string(l) + ".";
      for (const char* s :
           {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"})
        linear(m, p + s, kHidden, kHidden, true);
      linear(m, p + "intermediate.dense", kInter, kHidden, true);
      linear(m, p + "output.dense", kHidden, kInter, true);
      outliers(m.f32[p + "attention.self.value.weight"], kHidden, {{5, 15.0f}, {26, 10.0f}});
      outliers(m.f32[p + "intermediate.dense.weight"], kHidden, {{9, 8.0f}, {40, 12.0f}});
      norm(p + "attention.output.LayerNorm", {{7, 20.0f}, {30, 15.0f}});
      norm(p + "output.LayerNorm", {{3, 25.0f}, {21, 10.0f}});
    }
    return m;
  }

  Model llama() {
    Model m;
    m.forward = llama_forward;
    m.f32["model.embed_tokens.weight"] = normal(kVocab * kHidden, 1.0);
    for (int l = 0; l < kLayers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      m.f32[p + "input_layernorm.weight"] = normal(kHidden, 0.1, 1.0);
      m.f32[p + "post_attention_layernorm.weight"] = normal(kHidden, 0.1, 1.0);
      outliers(m.f32[p + "input_layernorm.weight"], 1, {{4, 30.0f}, {19, 15.0f}});
      outliers(m.f32[p + "post_attention_layernorm.weight"], 1, {{11, 25.0f}, {28, 12.0f}});
      for (const char* s : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj"})
        linear(m, p + s, kHidden, kHidden, false);
      linear(m, p + "mlp.gate_proj", kInter, kHidden, false);
      linear(m, p + "mlp.up_proj", kInter, kHidden, false);
      linear(m, p + "mlp.down_proj", kHidden, kInter, false);
      outliers(m.f32[p + "self_attn.v_proj.weight"], kHidden, {{2, 15.0f}, {23, 10.0f}});
      outliers(m.f32[p + "mlp.up_proj.weight"], kHidden, {{6, 12.0f}, {50, 10.0f}});
    }
    m.f32["model.norm.weight"] = normal(kHidden, 0.1, 1.0);
    return m;
  }

  // Linear weights 2-D [N, K], everything else 1-D (the forwards index flat), plus the copy-only tensors.
  std::string write_model(const Model& m, const std::string& name) {
    SafetensorsWriter w;
    for (const auto& [n, v] : m.f32) {
      auto it = m.linears.find(n.substr(0, n.size() - 7));
      const bool weight = n.size() > 7 && n.compare(n.size() - 7, 7, ".weight") == 0 && it != m.linears.end();
      std::vector<std::int64_t> shape = weight ? std::vector<std::int64_t>{it->second.first, it->second.second}
                                               : std::vector<std::int64_t>{static_cast<std::int64_t>(v.size())};
      EXPECT_TRUE(w.add_typed<float>(n, shape, v).ok());
    }
    for (const auto& [n, bytes] : copy_only_)
      EXPECT_TRUE(
          w.add(n, bytes.first, {static_cast<std::int64_t>(bytes.second.size() * 8 / bytes.first.bits())}, bytes.second)
              .ok());
    const std::string p = path(name);
    EXPECT_TRUE(w.write(p).ok());
    return p;
  }

  static Params params_of(const std::map<std::string, std::vector<float>>& f32) {
    return [&f32](const std::string& n) -> const std::vector<float>& { return f32.at(n); };
  }
  static Linear exact_linear(const Model& m) {
    return [&m](const std::string& module, const Mat& x) {
      const auto [n, k] = m.linears.at(module);
      const auto& w = m.f32.at(module + ".weight");
      const auto b = m.f32.find(module + ".bias");
      Mat y = zeros(x.rows, n);
      for (std::int64_t r = 0; r < x.rows; ++r)
        for (std::int64_t o = 0; o < n; ++o) {
          double acc = b != m.f32.end() ? b->second[o] : 0.0;
          for (std::int64_t j = 0; j < k; ++j) acc += x.at(r, j) * w[o * k + j];
          y.at(r, o) = acc;
        }
      return y;
    };
  }

  // Runs the original model over `seqs`, recording every linear's input: absmax per channel and the samples.
  void record(const Model& m, const std::vector<std::vector<int>>& seqs,
              std::map<std::string, std::vector<float>>* amax, std::map<std::string, std::vector<float>>* samples) {
    const Linear exact = exact_linear(m);
    const Linear rec = [&](const std::string& module, const Mat& x) {
      auto& a = (*amax)[module];
      a.resize(static_cast<std::size_t>(x.cols), 0.0f);
      for (std::int64_t r = 0; r < x.rows; ++r)
        for (std::int64_t c = 0; c < x.cols; ++c) {
          a[c] = std::max(a[c], static_cast<float>(std::fabs(x.at(r, c))));
          if (samples) (*samples)[module].push_back(static_cast<float>(x.at(r, c)));
        }
      return exact(module, x);
    };
    for (const auto& s : seqs) (void)m.forward(s, params_of(m.f32), rec);
  }

  std::vector<std::vector<int>> sequences(int count) {
    std::uniform_int_distribution<int> tok(0, kVocab - 1);
    std::vector<std::vector<int>> out(static_cast<std::size_t>(count));
    for (auto& s : out)
      for (int i = 0; i < kSeq; ++i) s.push_back(tok(rng_));
    return out;
  }

  std::string write_vectors(const std::map<std::string, std::vector<float>>& v, const std::string& name,
                            const std::string& prefix, std::int64_t rows_of_k = 0) {
    SafetensorsWriter w;
    for (const auto& [module, data] : v) {
      const auto n = static_cast<std::int64_t>(data.size());
      std::vector<std::int64_t> shape{n};
      if (rows_of_k) {
        const auto k = models_linears_->at(module).second;
        shape = {n / k, k};
      }
      EXPECT_TRUE(w.add_typed<float>(prefix + module, shape, data).ok());
    }
    const std::string p = path(name);
    EXPECT_TRUE(w.write(p).ok());
    return p;
  }

  // A run's output read back as the engine would use it: parameters (folded norms) and a linear computed either
  // exactly from the smoothed f32 weights (smooth-only output) or as the engine's W8A8 linear (int8 output).
  struct Output {
    SafetensorsFile file;
    std::map<std::string, std::vector<float>> f32;  // every F32 tensor
  };
  static Output open_output(const std::string& p) {
    auto f = SafetensorsFile::open(p);
    EXPECT_TRUE(f.has_value()) << f.error().to_string();
    Output o{std::move(*f), {}};
    for (const auto& t : o.file.tensors())
      if (t.dtype == ElementKind::F32) o.f32[t.name] = *o.file.read_f32(t.name);
    return o;
  }
  static Linear engine_linear(const Output& out, const Model& m, bool quantized) {
    return [&out, &m, quantized](const std::string& module, const Mat& x) {
      const auto [n, k] = m.linears.at(module);
      const auto s = out.f32.find(module + ".pre_quant_scale");
      const std::vector<float> smooth = s != out.f32.end() ? s->second : std::vector<float>{};
      const auto b = out.f32.find(module + ".bias");
      Mat y = zeros(x.rows, n);
      if (quantized) {
        W8A8Weights w{n, k, {}, out.f32.at(module + ".weight_scale")};
        const auto bytes = *out.file.read_bytes(*out.file.find(module + ".weight"));
        w.weight.resize(bytes.size());
        std::memcpy(w.weight.data(), bytes.data(), bytes.size());
        std::vector<float> xf(x.d.begin(), x.d.end());  // the engine's activations are f32 (or f16/bf16)
        std::vector<double> bias;
        if (b != out.f32.end()) bias.assign(b->second.begin(), b->second.end());
        auto r = smoothed_w8a8_linear(xf, x.rows, w, smooth, bias);
        EXPECT_TRUE(r.has_value()) << r.error().to_string();
        y.d = *r;
        return y;
      }
      const auto& w = out.f32.at(module + ".weight");  // W·diag(s) in f32
      for (std::int64_t r = 0; r < x.rows; ++r)
        for (std::int64_t o = 0; o < n; ++o) {
          double acc = b != out.f32.end() ? b->second[o] : 0.0;
          for (std::int64_t j = 0; j < k; ++j) acc += x.at(r, j) * (smooth.empty() ? 1.0 : smooth[j]) * w[o * k + j];
          y.at(r, o) = acc;
        }
      return y;
    };
  }
  // The output's parameters: what qjit wrote (folded norms), the original for anything it did not.
  static Params output_params(const Output& out) {
    return [&out](const std::string& n) -> const std::vector<float>& { return out.f32.at(n); };
  }

  // The whole issue-18 check for one model; returns {reconstruction error, W8A8 error plain, W8A8 error smoothed}.
  struct Numbers {
    double reconstruction = 0, w8a8_plain = 0, w8a8_smoothed = 0;
  };
  Numbers check_model(const Model& m, const std::string& name, const std::optional<LayerMapping>& mapping,
                      const std::string& stats_prefix) {
    models_linears_ = &m.linears;
    std::map<std::string, std::vector<float>> amax, eval_amax, samples;
    record(m, sequences(6), &amax, nullptr);
    const auto eval_seqs = sequences(3);
    record(m, eval_seqs, &eval_amax, &samples);
    QuantizeOptions o;
    o.weights_path = write_model(m, name + ".safetensors");
    o.act_stats_path = write_vectors(amax, name + "_stats.safetensors", stats_prefix);
    o.eval_acts_path = write_vectors(samples, name + "_acts.safetensors", stats_prefix, 1);
    o.mapping = mapping;
    o.alpha = 0.5f;
    o.out_path = path(name + "_smooth_only.safetensors");
    o.quantize_weights = false;
    auto r = quantize_model(o);
    EXPECT_TRUE(r.has_value()) << r.error().to_string();
    if (!r) return {};
    EXPECT_EQ(r->stats_prefix, stats_prefix);
    EXPECT_EQ(r->stats_prefix_detected, !stats_prefix.empty());
    Numbers num;
    {
      const Output out = open_output(o.out_path);
      for (const auto& s : eval_seqs) {
        const Mat ref = m.forward(s, params_of(m.f32), exact_linear(m));
        const Mat got = m.forward(s, output_params(out), engine_linear(out, m, false));
        num.reconstruction = std::max(num.reconstruction, rel_error(got, ref));
      }
    }
    o.quantize_weights = true;
    o.out_path = path(name + "_w8a8.safetensors");
    auto smoothed = quantize_model(o);
    EXPECT_TRUE(smoothed.has_value()) << smoothed.error().to_string();
    o.smooth = false;
    o.out_path = path(name + "_w8a8_plain.safetensors");
    auto plain = quantize_model(o);
    EXPECT_TRUE(plain.has_value()) << plain.error().to_string();
    if (!smoothed || !plain) return num;
    const Output qs = open_output(path(name + "_w8a8.safetensors"));
    const Output qp = open_output(path(name + "_w8a8_plain.safetensors"));
    EXPECT_EQ(qs.file.metadata().count("smoothquant_alpha"), 1u);
    EXPECT_EQ(qp.file.metadata().count("smoothquant_alpha"), 0u);  // --no-smooth records no alpha
    double e_s = 0, e_p = 0;
    for (const auto& s : eval_seqs) {
      const Mat ref = m.forward(s, params_of(m.f32), exact_linear(m));
      e_s += rel_error(m.forward(s, output_params(qs), engine_linear(qs, m, true)), ref);
      e_p += rel_error(m.forward(s, output_params(qp), engine_linear(qp, m, true)), ref);
    }
    num.w8a8_smoothed = e_s / static_cast<double>(eval_seqs.size());
    num.w8a8_plain = e_p / static_cast<double>(eval_seqs.size());
    // The --eval-acts columns: every linear measured on its recorded inputs; smoothing helps each of them.
    for (const auto& l : smoothed->linears) {
      SCOPED_TRACE(l.module);
      EXPECT_TRUE(l.smoothed);
      EXPECT_EQ(l.eval_tokens, static_cast<std::int64_t>(eval_seqs.size()) * kSeq);
      EXPECT_GT(l.eval_error_plain, 0.0);
      EXPECT_LT(l.eval_error_smoothed, l.eval_error_plain);
      std::printf("[ eval     ] %-40s %-12s acts_plain %.3e acts_smooth %.3e\n", l.module.c_str(),
                  std::string(smooth_mode_name(l.mode)).c_str(), l.eval_error_plain, l.eval_error_smoothed);
    }
    for (const auto& l : plain->linears) {
      EXPECT_EQ(l.reason, "--no-smooth");
      EXPECT_LT(l.eval_error_smoothed, 0.0);
    }
    std::printf("[ numbers  ] %s: reconstruction %.3e, W8A8 model error plain %.4e smoothed %.4e\n", name.c_str(),
                num.reconstruction, num.w8a8_plain, num.w8a8_smoothed);
    return num;
  }

  cache::testing::TempDir tmp_;
  std::mt19937_64 rng_{18};
  const std::map<std::string, std::pair<std::int64_t, std::int64_t>>* models_linears_ = nullptr;
  std::map<std::string, std::pair<SafetensorsDtype, std::vector<std::byte>>> copy_only_;
};

TEST_F(QuantSmoothedModelsTest, PostLnBertSmoothsEveryLinearThroughTheVectorAndFoldsNothing) {
  // Copy-only tensors of dtypes qjit never computes with (d).
  auto bytes = [](std::initializer_list<int> v) {
    std::vector<std::byte> b;
    for (int x : v) b.push_back(static_cast<std::byte>(x));
    return b;
  };
  std::vector<std::byte> pos(static_cast<std::size_t>(kSeq * 8));
  for (std::int64_t i = 0; i < kSeq; ++i) std::memcpy(pos.data() + 8 * i, &i, 8);
  copy_only_["embeddings.position_ids"] = {SafetensorsDtype::Code::kI64, pos};
  copy_only_["extra.mask"] = {SafetensorsDtype::Code::kBool, bytes({1, 0, 1, 1})};
  copy_only_["extra.bytes"] = {SafetensorsDtype::Code::kU8, bytes({0, 255, 7})};
  copy_only_["extra.f64"] = {SafetensorsDtype::Code::kF64, bytes({0, 0, 0, 0, 0, 0, 0xf0, 0x3f})};
  copy_only_["extra.i16"] = {SafetensorsDtype::Code::kI16, bytes({0xff, 0x7f, 0x00, 0x80})};
  const Model m = bert();
  // Stats keyed as sentence-transformers names them: the prefix is found automatically.
  const Numbers n = check_model(m, "bert", std::nullopt, "0.auto_model.");
  EXPECT_LT(n.reconstruction, 2e-6);  // f32 rounding of g / s, W·diag(s) and x / s
  EXPECT_LT(n.w8a8_smoothed, n.w8a8_plain);

  const Output out = open_output(path("bert_w8a8.safetensors"));
  auto in = SafetensorsFile::open(path("bert.safetensors"));
  ASSERT_TRUE(in.has_value());
  for (const auto& [name, entry] : copy_only_) {
    const TensorInfo* t = out.file.find(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->dtype, entry.first) << name;
    EXPECT_EQ(*out.file.read_bytes(*t), entry.second) << name;
  }
  // Post-LN: no norm changes, every linear carries pre_quant_scale.
  for (const auto& t : in->tensors()) {
    if (t.name.find("LayerNorm") != std::string::npos) {
      EXPECT_EQ(*out.file.read_bytes(*out.file.find(t.name)), *in->read_bytes(t)) << t.name;
    }
  }
  for (const auto& [module, nk] : m.linears) {
    const TensorInfo* s = out.file.find(module + ".pre_quant_scale");
    ASSERT_NE(s, nullptr) << module;
    EXPECT_EQ(s->shape, (std::vector<std::int64_t>{nk.second}));
    EXPECT_EQ(out.file.find(module + ".weight")->dtype, ElementKind::S8);
  }
  auto meta = llvm::json::parse(out.file.metadata().at("qjit.smoothing"));
  ASSERT_TRUE(static_cast<bool>(meta));
  const auto* q = meta->getAsObject()->getObject("encoder.layer.0.attention.self.query");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->getString("smoothing")->str(), "pre_quant_scale");
  EXPECT_EQ(q->getString("norm")->str(), "embeddings.LayerNorm");
  EXPECT_EQ(*q->getNumber("alpha"), 0.5);
  EXPECT_EQ(meta->getAsObject()->getObject("encoder.layer.1.attention.self.query")->getString("norm")->str(),
            "encoder.layer.0.output.LayerNorm");
  EXPECT_EQ(out.file.metadata().at("qjit.stats_prefix"), "0.auto_model.");
}

TEST_F(QuantSmoothedModelsTest, PreLnLlamaFoldsIntoItsNormsAndSmoothsOProjAndDownProjThroughTheVector) {
  const Model m = llama();
  const Numbers n = check_model(m, "llama", builtin_mapping("llama").value(), "");
  EXPECT_LT(n.reconstruction, 2e-6);  // f32 rounding of g / s, W·diag(s) and x / s
  EXPECT_LT(n.w8a8_smoothed, n.w8a8_plain);
  const Output out = open_output(path("llama_w8a8.safetensors"));
  for (const auto& [module, nk] : m.linears) {
    const bool vector = module.find("o_proj") != std::string::npos || module.find("down_proj") != std::string::npos;
    EXPECT_EQ(out.file.find(module + ".pre_quant_scale") != nullptr, vector) << module;
  }
  for (int l = 0; l < kLayers; ++l)
    for (const char* norm : {"input_layernorm.weight", "post_attention_layernorm.weight"}) {
      const std::string name = "model.layers." + std::to_string(l) + "." + norm;
      EXPECT_NE(out.f32.at(name), m.f32.at(name)) << name << " must hold g / s";
    }
  EXPECT_EQ(out.f32.at("model.norm.weight"), m.f32.at("model.norm.weight"));
}

// (c) Folding that would change the residual path, an unknown family, patterns that match nothing.
TEST_F(QuantSmoothedModelsTest, UnsafeFoldsUnknownFamiliesAndPatternsThatMatchNothingAreRefused) {
  const Model m = bert();
  QuantizeOptions o;
  o.weights_path = write_model(m, "bert.safetensors");
  o.out_path = path("out.safetensors");
  auto with_group = [&](const std::string& group) {
    auto mapping = parse_layer_mapping(R"({"family": "bert-custom", "layer_prefix": "encoder.layer.{i}.",
        "groups": [)" + group + "]}");
    EXPECT_TRUE(mapping.has_value()) << mapping.error().to_string();
    o.mapping = *mapping;
    auto r = quantize_model(o);
    EXPECT_FALSE(r.has_value());
    EXPECT_FALSE(llvm::sys::fs::exists(o.out_path));
    return r ? std::string() : r.error().message();
  };
  // The issue's broken model: attention.output.LayerNorm -> intermediate.dense, folded.
  EXPECT_EQ(with_group(R"({"norm": "attention.output.LayerNorm", "norm_feeds_only_these": true,
                           "linears": ["intermediate.dense"]})"),
            "mapping \"bert-custom\": groups[0] asks to fold 1/s into \"encoder.layer.0.attention.output.LayerNorm\" "
            "(\"norm_feeds_only_these\": true), but that norm is named like the post-LN output norm of a BERT-style "
            "sub-block, LayerNorm(dense(x) + input), whose output is also the residual input of the next sub-block; "
            "dividing that norm by s would change the residual path, not only the input of "
            "\"encoder.layer.0.intermediate.dense\". Folding is valid only when the norm's output feeds nothing but "
            "the listed linears (a pre-LN block); set \"norm_feeds_only_these\": false and qjit writes "
            "<module>.pre_quant_scale (1/s) instead, which the engine multiplies x by in its quantize pass");
  // The previous layer's output norm (and embeddings.LayerNorm for layer 0) is the layer's input.
  EXPECT_NE(with_group(R"({"norm": "encoder.layer.{i-1}.output.LayerNorm", "norm_first_layer": "embeddings.LayerNorm",
                           "norm_feeds_only_these": true, "linears": ["attention.self.query"]})")
                .find("but that norm is outside layer 0, so its output is the layer's input: the residual stream"),
            std::string::npos);
  EXPECT_EQ(with_group(R"({"norm": "attention.output.LayerNorn", "linears": ["intermediate.dense"]})"),
            "groups[0].norm \"attention.output.LayerNorn\" (layer 0) resolves to "
            "\"encoder.layer.0.attention.output.LayerNorn\", but '" +
                o.weights_path +
                "' holds no "
                "\"encoder.layer.0.attention.output.LayerNorn.weight\": the pattern matches nothing");
  EXPECT_NE(with_group(R"({"norm": "encoder.layer.{i-1}.output.LayerNorm", "linears": ["attention.self.query"]})")
                .find("names a layer below 0; give \"norm_first_layer\""),
            std::string::npos);
  auto gpt = parse_layer_mapping(R"({"layer_prefix": "transformer.h.{i}.", "groups": [{"linears": ["attn.c_attn"]}]})");
  ASSERT_TRUE(gpt.has_value());
  o.mapping = *gpt;
  EXPECT_EQ(quantize_model(o).error().message(), "no tensor in '" + o.weights_path +
                                                     "' matches layer_prefix \"transformer.h.{i}.\" (with or without a "
                                                     "model prefix such as \"bert.\")");
  EXPECT_EQ(builtin_mapping("gpt2").error().message(),
            "unknown model family \"gpt2\": the built-in families are llama (also mistral, qwen2), opt and bert; pass "
            "a JSON mapping file for other models (docs/QUANT.md)");
  EXPECT_NE(parse_layer_mapping(R"({"layer_prefix": "a.{i}.", "groups": [{"norm": "n", "norm_feeds_only_this": true,
      "linears": ["x"]}]})")
                .error()
                .message()
                .find("unknown key \"norm_feeds_only_this\""),
            std::string::npos);
  EXPECT_NE(parse_layer_mapping(R"({"layer_prefix": "a.{i}.", "groups": [{"norm": "a.{j}.n", "linears": ["x"]}]})")
                .error()
                .message()
                .find("a placeholder must be {i}, {i-N} or {i+N}"),
            std::string::npos);
  // The built-in BERT family resolves behind a model prefix ("bert." of BertForMaskedLM checkpoints).
  std::vector<std::string> names;
  for (const auto& [n, v] : m.f32) names.push_back("bert." + n);
  auto resolved = resolve_mapping(bert_mapping(), names, "bert.safetensors");
  ASSERT_TRUE(resolved.has_value()) << resolved.error().to_string();
  EXPECT_EQ(resolved->model_prefix, "bert.");
  EXPECT_EQ(resolved->groups[0].norm, "bert.embeddings.LayerNorm");
  EXPECT_EQ(resolved->groups[4].norm, "bert.encoder.layer.0.output.LayerNorm");
  EXPECT_EQ(detect_layer_mapping(names)->family, "bert");
}

// Weights behind a model prefix ("bert.", BertForMaskedLM) with stats keyed as sentence-transformers names the bare
// BertModel ("0.auto_model.encoder..."): found without being told.
TEST_F(QuantSmoothedModelsTest, StatsWithoutTheWeightsModelPrefixAreMatched) {
  Model m = bert();
  models_linears_ = &m.linears;
  std::map<std::string, std::vector<float>> amax;
  record(m, sequences(2), &amax, nullptr);
  Model prefixed;
  for (const auto& [n, v] : m.f32) prefixed.f32["bert." + n] = v;
  for (const auto& [n, nk] : m.linears) prefixed.linears["bert." + n] = nk;
  QuantizeOptions o;
  o.weights_path = write_model(prefixed, "bert_prefixed.safetensors");
  o.act_stats_path = write_vectors(amax, "stats.safetensors", "0.auto_model.");
  o.out_path = path("out.safetensors");
  auto r = quantize_model(o);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(r->model_prefix, "bert.");
  EXPECT_EQ(r->stats_prefix, "0.auto_model.");
  EXPECT_TRUE(r->stats_without_model_prefix);
  EXPECT_TRUE(r->stats_prefix_detected);
  for (const auto& l : r->linears) EXPECT_EQ(l.mode, SmoothMode::Vector) << l.module;
  amax.erase("encoder.layer.1.output.dense");
  o.act_stats_path = write_vectors(amax, "stats2.safetensors", "0.auto_model.");
  EXPECT_NE(quantize_model(o).error().message().find("(first \"bert.encoder.layer.1.output.dense\", looked up as "
                                                     "\"0.auto_model.encoder.layer.1.output.dense\")"),
            std::string::npos);
}

// (c) Stats that match no linear and linears without stats fail unless allowed; a run without stats records no
// alpha and says why nothing was smoothed.
TEST_F(QuantSmoothedModelsTest, MissingAndUnmatchedStatsFailUnlessAllowed) {
  const Model m = llama();
  models_linears_ = &m.linears;
  std::map<std::string, std::vector<float>> amax;
  record(m, sequences(2), &amax, nullptr);
  QuantizeOptions o;
  o.weights_path = write_model(m, "llama.safetensors");
  o.out_path = path("out.safetensors");
  amax["model.layers.7.mlp.up_proj"] = amax["model.layers.0.mlp.up_proj"];
  o.act_stats_path = write_vectors(amax, "extra.safetensors", "");
  EXPECT_EQ(quantize_model(o).error().message(),
            "1 act-stats entry in '" + o.act_stats_path +
                "' matches no linear (first \"model.layers.7.mlp.up_proj\"; "
                "a linear's stats are looked up as \"<module>\", e.g. \"model.layers.0.self_attn.q_proj\"): give "
                "--stats-prefix or fix the names; pass --allow-missing-stats to go on without them");
  amax.erase("model.layers.7.mlp.up_proj");
  amax.erase("model.layers.1.mlp.down_proj");
  o.act_stats_path = write_vectors(amax, "missing.safetensors", "");
  EXPECT_EQ(quantize_model(o).error().message(),
            "1 linear has no act stats in '" + o.act_stats_path +
                "' (first \"model.layers.1.mlp.down_proj\", looked "
                "up as \"model.layers.1.mlp.down_proj\") and would be quantized without smoothing; pass "
                "--allow-missing-stats to go on without them");
  o.allow_missing_stats = true;
  auto r = quantize_model(o);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(r->missing_stats, (std::vector<std::string>{"model.layers.1.mlp.down_proj"}));
  for (const auto& l : r->linears)
    if (l.module == "model.layers.1.mlp.down_proj") {
      EXPECT_EQ(l.mode, SmoothMode::None);
      EXPECT_EQ(l.reason, "no act stats for its input");
    }
  // A given prefix that matches nothing is not second-guessed.
  o.allow_missing_stats = false;
  o.stats_prefix = "0.auto_model.";
  EXPECT_NE(quantize_model(o).error().message().find("looked up as \"0.auto_model.<module>\""), std::string::npos);
  // No stats at all: nothing smoothed, no alpha recorded.
  o.stats_prefix.reset();
  o.act_stats_path.clear();
  auto none = quantize_model(o);
  ASSERT_TRUE(none.has_value()) << none.error().to_string();
  EXPECT_FALSE(none->smoothing_done);
  auto out = SafetensorsFile::open(o.out_path);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->metadata().count("smoothquant_alpha"), 0u);
  EXPECT_NE(out->metadata().at("qjit.smoothing").find("\"reason\":\"no act stats given\""), std::string::npos);
  EXPECT_EQ(out->metadata().at("qjit.smoothing").find("alpha"), std::string::npos);
}

#ifdef QJIT_CLI_PATH
// The command's printout says what was done and never claims an alpha it did not use; an unknown family is a
// usage error.
TEST_F(QuantSmoothedModelsTest, CommandPrintsWhatWasDoneAndNoAlphaWithoutStats) {
  const Model m = llama();
  const std::string in = write_model(m, "llama.safetensors");
  auto r = testing::run_process(QJIT_CLI_PATH, {"quantize", "--quiet", "--weights", in, "--out", path("o.st")});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("alpha"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("not smoothed: no act stats given"), std::string::npos) << r.output;
  auto bad =
      testing::run_process(QJIT_CLI_PATH, {"quantize", "--weights", in, "--out", path("o.st"), "--mapping", "gpt2"});
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--mapping 'gpt2' is neither a built-in family nor a file: unknown model family"),
            std::string::npos)
      << bad.output;
  std::map<std::string, std::vector<float>> amax;
  models_linears_ = &m.linears;
  record(m, sequences(2), &amax, nullptr);
  const std::string stats = write_vectors(amax, "stats.safetensors", "base_model.model.");
  auto ok = testing::run_process(QJIT_CLI_PATH, {"quantize", "--quiet", "--weights", in, "--act-stats", stats, "--out",
                                                 path("q.st"), "--mapping", "llama"});
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_NE(ok.output.find("alpha 0.5"), std::string::npos) << ok.output;
  EXPECT_NE(ok.output.find("stats looked up as \"base_model.model.<module>\" (prefix detected)"), std::string::npos);
  EXPECT_NE(ok.output.find("model.layers.0.self_attn.q_proj                  folded into "
                           "model.layers.0.input_layernorm"),
            std::string::npos)
      << ok.output;
  EXPECT_NE(ok.output.find("model.layers.0.self_attn.o_proj" + std::string(18, ' ') +
                           "pre_quant_scale (no norm in front of it to fold into)"),
            std::string::npos)
      << ok.output;
}
#endif

}  // namespace
}  // namespace qjit::quant
