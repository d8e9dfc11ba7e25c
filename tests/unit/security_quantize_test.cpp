// Issue 12, the `qjit quantize` findings: the error-table overflow (2), an output that is its own input or a
// symlink/device (6), a header of 1.8 M tensors under an address-space limit (7), non-regular inputs such as
// /dev/zero (10), temporaries left by killed runs (11), duplicate tensor names (12), all-zero statistics writing
// input_scale = 0 and layer indices the mapping cannot parse being copied unquantized (14). Each runs the built
// binary (or the library) on real files in a temporary directory.
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>

#include "qjit/quant/model_quantizer.h"
#include "qjit/quant/safetensors.h"
#include "tests/support/cache_test_util.h"
#include "tests/support/process_runner.h"

namespace qjit::quant {
namespace {

using cache::testing::TempDir;

const char* const kCli = qjit::testing::qjit_cli();

using qjit::testing::read_text;

// A one-layer Llama-named model (hidden 8, intermediate 16), plus `extra` 8x8 tensors under other names.
void write_tiny_llama(const std::string& path, const std::vector<std::string>& extra = {}) {
  SafetensorsWriter w;
  const std::string p = "model.layers.0.";
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
  for (const auto& e : extra) add(e, {8, 8});
  ASSERT_TRUE(w.write(path).ok());
}

// A character device node in a temporary directory (the null device's numbers); false where mknod is not allowed.
bool make_device_node(const std::string& path) { return ::mknod(path.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0; }

void age(const std::string& path, int seconds) {
  struct timeval tv[2];
  ::gettimeofday(&tv[0], nullptr);
  tv[0].tv_sec -= seconds;
  tv[1] = tv[0];
  ::utimes(path.c_str(), tv);
}

void write_stats(const std::string& path, float value) {
  SafetensorsWriter w;
  const std::vector<float> k8(8, value), k16(16, value);
  for (const char* l :
       {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj"})
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

// --weight-colsum through the real command: the file gains an I32 <module>.weight_colsum per linear; combined with
// --smooth-only (no int8 weight to sum) it is a usage error naming both flags.
TEST_F(SecurityQuantizeTest, WeightColsumFlagWritesColumnSumsAndRefusesSmoothOnly) {
  auto ok = quantize({"--weights", tmp_.sub("w.st"), "--act-stats", tmp_.sub("stats.st"), "--out", tmp_.sub("c.st"),
                      "--weight-colsum"});
  ASSERT_EQ(ok.code, 0) << ok.output;
  auto file = SafetensorsFile::open(tmp_.sub("c.st"));
  ASSERT_TRUE(file.has_value()) << file.error().to_string();
  const TensorInfo* cs = file->find("model.layers.0.mlp.down_proj.weight_colsum");
  ASSERT_NE(cs, nullptr);
  EXPECT_EQ(cs->dtype, ElementKind::S32);
  auto bad = quantize({"--weights", tmp_.sub("w.st"), "--out", tmp_.sub("d.st"), "--weight-colsum", "--smooth-only"});
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--weight-colsum needs int8 weights: it cannot be combined with --smooth-only"),
            std::string::npos)
      << bad.output;
}

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

// Finding 6: a string compare decided "same file", so ./w.st replaced its own input; a symlink or device node as
// --out was replaced by a regular file.
TEST_F(SecurityQuantizeTest, OutputThatIsAnInputOrNotARegularFileIsRefused) {
  const std::string in = tmp_.sub("w.st");
  const std::string before = read_text(in);
  auto same = quantize({"--weights", in, "--out", tmp_.path() + "/./w.st"});
  EXPECT_EQ(same.code, 1) << same.output;
  EXPECT_NE(same.output.find("is the same file as the input"), std::string::npos) << same.output;
  ASSERT_EQ(::link(in.c_str(), tmp_.sub("hard.st").c_str()), 0);
  auto hard = quantize({"--weights", in, "--out", tmp_.sub("hard.st")});
  EXPECT_EQ(hard.code, 1) << hard.output;
  auto stats_out = quantize({"--weights", in, "--act-stats", tmp_.sub("stats.st"), "--out", tmp_.sub("stats.st")});
  EXPECT_EQ(stats_out.code, 1) << stats_out.output;
  EXPECT_EQ(read_text(in), before);

  const std::string victim = tmp_.sub("victim");
  std::ofstream(victim) << "keep me";
  ASSERT_EQ(::symlink(victim.c_str(), tmp_.sub("link.st").c_str()), 0);
  auto link = quantize({"--weights", in, "--out", tmp_.sub("link.st")});
  EXPECT_EQ(link.code, 1) << link.output;
  EXPECT_NE(link.output.find("is a symbolic link; refusing to replace it"), std::string::npos) << link.output;
  EXPECT_EQ(read_text(victim), "keep me");
  struct stat st;
  ASSERT_EQ(::lstat(tmp_.sub("link.st").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));

  if (make_device_node(tmp_.sub("dev.st"))) {
    auto dev = quantize({"--weights", in, "--out", tmp_.sub("dev.st")});
    EXPECT_EQ(dev.code, 1) << dev.output;
    EXPECT_NE(dev.output.find("is a device node; refusing to replace it"), std::string::npos) << dev.output;
    ASSERT_EQ(::lstat(tmp_.sub("dev.st").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
  }
  EXPECT_TRUE(cache::testing::temp_files(tmp_.path()).empty());
  // The ordinary case still works.
  auto ok = quantize({"--weights", in, "--act-stats", tmp_.sub("stats.st"), "--out", tmp_.sub("q.st")});
  EXPECT_EQ(ok.code, 0) << ok.output;
}

// Finding 7: a 100 MB header of 1.8 M zero-size tensors parsed into 8.4 GB; under a 2 GB address-space limit the
// process aborted on bad_alloc (exit 134). The header is now refused from a scan that allocates nothing.
TEST_F(SecurityQuantizeTest, HeaderWithMillionsOfTensorsIsRefusedUnderAnAddressSpaceLimit) {
  if (testing::built_with_asan()) GTEST_SKIP() << "RLIMIT_AS cannot be combined with ASan's shadow memory";
  std::string json = "{";
  char buf[96];
  for (int i = 0; i < 1800000; ++i) {
    std::snprintf(buf, sizeof(buf), "%s\"%x\":{\"dtype\":\"I8\",\"shape\":[0],\"data_offsets\":[0,0]}", i ? "," : "",
                  i);
    json += buf;
  }
  json += "}";
  ASSERT_LT(json.size(), 100u << 20);
  std::string file(8, '\0');
  for (int b = 0; b < 8; ++b) file[b] = static_cast<char>((static_cast<std::uint64_t>(json.size()) >> (8 * b)) & 0xff);
  file += json;
  std::ofstream(tmp_.sub("huge.st"), std::ios::binary) << file;
  testing::ProcessLimits limits;
  limits.address_space_bytes = 2000000ull * 1024;  // ulimit -v 2000000, as in the probe
  auto r = quantize({"--weights", tmp_.sub("huge.st"), "--out", tmp_.sub("o.st")}, limits);
  EXPECT_EQ(r.signal, 0) << r.output;
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("must have at most 262145 members"), std::string::npos) << r.output;
}

// Finding 10: /dev/zero as an input was read without limit ("LLVM ERROR: out of memory"); size caps were checked
// after reading. Non-regular files are now refused before one byte is read.
TEST_F(SecurityQuantizeTest, DeviceNodesAsInputsAreRefusedBeforeReading) {
  std::vector<std::string> devices{"/dev/zero"};
  if (make_device_node(tmp_.sub("null.st"))) devices.push_back(tmp_.sub("null.st"));
  testing::ProcessLimits limits;
  limits.timeout_seconds = 30;
  if (!testing::built_with_asan()) limits.address_space_bytes = 1ull << 30;
  for (const auto& dev : devices) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--weights", dev, "--out", tmp_.sub("o.st")},
          std::vector<std::string>{"--weights", tmp_.sub("w.st"), "--act-stats", dev, "--out", tmp_.sub("o.st")},
          std::vector<std::string>{"--weights", tmp_.sub("w.st"), "--mapping", dev, "--out", tmp_.sub("o.st")}}) {
      auto r = quantize(args, limits);
      EXPECT_FALSE(r.timed_out) << dev;
      EXPECT_EQ(r.signal, 0) << r.output;
      EXPECT_NE(r.code, 0) << r.output;
      EXPECT_NE(r.output.find("is a character device; expected a regular file"), std::string::npos) << r.output;
    }
  }
  ASSERT_EQ(::mkfifo(tmp_.sub("fifo.st").c_str(), 0600), 0);
  auto fifo = quantize({"--weights", tmp_.sub("fifo.st"), "--out", tmp_.sub("o.st")}, limits);
  EXPECT_FALSE(fifo.timed_out);
  EXPECT_NE(fifo.output.find("is a FIFO; expected a regular file"), std::string::npos) << fifo.output;
}

// Finding 11: 20 killed runs left 17 temporaries (2.6 GB) that nothing removed. A write now prunes the target's
// temporaries older than 10 minutes whose writer is dead, and a failed write removes its own.
TEST_F(SecurityQuantizeTest, StaleTemporariesOfTheOutputArePrunedAndFailuresLeaveNone) {
  const std::string dead = std::to_string(cache::testing::dead_pid());
  const std::string stale = "q.st.tmp-" + dead + "-00000000deadbeef", young = "q.st.tmp-" + dead + "-0000000000young";
  const std::string other = "other.st.tmp-" + dead + "-00000000deadbeef";
  for (const auto& n : {stale, young, other}) std::ofstream(tmp_.sub(n)) << "partial";
  age(tmp_.sub(stale), 11 * 60);
  age(tmp_.sub(other), 11 * 60);
  auto r = quantize({"--weights", tmp_.sub("w.st"), "--out", tmp_.sub("q.st")});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(cache::testing::temp_files(tmp_.path()), (std::vector<std::string>{other, young}));
  // A run that fails while streaming (all-zero statistics, finding 14) removes its temporary and leaves no output.
  write_stats(tmp_.sub("zero.st"), 0.0f);
  auto bad = quantize({"--weights", tmp_.sub("w.st"), "--act-stats", tmp_.sub("zero.st"), "--out", tmp_.sub("z.st")});
  EXPECT_EQ(bad.code, 1) << bad.output;
  EXPECT_EQ(cache::testing::temp_files(tmp_.path()), (std::vector<std::string>{other, young}));
  struct stat st;
  EXPECT_NE(::stat(tmp_.sub("z.st").c_str(), &st), 0);
}

// Finding 12: duplicate tensor names were accepted, the last one winning.
TEST(SecuritySafetensorsTest, DuplicateTensorNamesAreRefused) {
  const std::string json =
      R"({"w":{"dtype":"I8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"I8","shape":[1],"data_offsets":[1,2]}})";
  std::string file(8, '\0');
  file[0] = static_cast<char>(json.size());
  file += json + "ab";
  auto f = SafetensorsFile::parse(std::as_bytes(std::span<const char>(file)), "dup");
  ASSERT_FALSE(f.has_value());
  EXPECT_NE(f.error().message().find("key \"w\" appears more than once"), std::string::npos) << f.error().message();
}

// Finding 14: a file truncated while mapped raised SIGBUS; tensor data is now read, so it is an error.
TEST(SecuritySafetensorsTest, FileTruncatedAfterOpenIsAnErrorNotSigbus) {
  TempDir tmp;
  SafetensorsWriter w;
  std::vector<float> big(1 << 20, 1.5f);
  ASSERT_TRUE(w.add_typed<float>("big", {1 << 20}, big).ok());
  ASSERT_TRUE(w.write(tmp.sub("t.st")).ok());
  auto f = SafetensorsFile::open(tmp.sub("t.st"));
  ASSERT_TRUE(f.has_value()) << f.error().to_string();
  ASSERT_EQ(::truncate(tmp.sub("t.st").c_str(), 4096), 0);
  auto v = f->read_f32("big");
  ASSERT_FALSE(v.has_value());
  EXPECT_NE(v.error().message().find("truncated"), std::string::npos) << v.error().message();
}

// Finding 14: all-zero statistics silently wrote input_scale = 0.
TEST_F(SecurityQuantizeTest, AllZeroStatisticsAreAnErrorNotAZeroScale) {
  write_stats(tmp_.sub("zero.st"), 0.0f);
  auto r = quantize({"--weights", tmp_.sub("w.st"), "--act-stats", tmp_.sub("zero.st"), "--out", tmp_.sub("z.st")});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("the statistics are all zero"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("model.layers.0.self_attn.q_proj"), std::string::npos) << r.output;
}

// Finding 14: a layer index over 9 digits or negative was copied unquantized with exit 0.
TEST_F(SecurityQuantizeTest, LayerIndicesTheMappingCannotParseAreRefused) {
  for (const char* name : {"model.layers.1234567890.self_attn.q_proj.weight", "model.layers.-1.mlp.up_proj.weight"}) {
    write_tiny_llama(tmp_.sub("odd.st"), {name});
    auto r = quantize({"--weights", tmp_.sub("odd.st"), "--out", tmp_.sub("o.st")});
    EXPECT_EQ(r.code, 1) << name << ": " << r.output;
    EXPECT_NE(r.output.find("layer index must be a decimal integer of 1 to 9 digits"), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace qjit::quant
