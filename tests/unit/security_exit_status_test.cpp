// Issue 12, exit statuses that did not tell the truth and the remaining CLI findings: `qjit warmup` exited 0 with
// "failed: 0" when kernels were not stored (a read-only cache, QJIT_CACHE_MAX_BYTES=1, a directory at an entry's
// path; finding 3), /dev/zero as --shapes or --tuning-db ran out of memory (finding 10), `qjit demo` with a huge
// layer aborted on bad_alloc (finding 13), and warmup rejected sm_87, which inspect and the tuning DB accept
// (finding 14). Runs the built binary; the warmup cases compile two small sm_80 kernels each.
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "ops/warmup.h"
#include "runtime/nvrtc.h"
#include "tests/support/cache_test_util.h"
#include "tests/support/process_runner.h"

namespace qjit {
namespace {

using cache::testing::TempDir;

const char* const kCli = qjit::testing::qjit_cli();

class SecurityExitStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kCli) GTEST_SKIP() << "the qjit command is not built";
    std::ofstream(tmp_.sub("one.csv")) << "model,layer,N,K\nprobe,o_proj,256,256\n";
  }
  testing::ProcessResult warmup(const std::vector<std::pair<std::string, std::string>>& env,
                                const std::string& arch = "sm_80") {
    return testing::run_process(
        kCli, {"warmup", "--arch", arch, "--shapes", tmp_.sub("one.csv"), "--m", "1", "--plans", "ql", "--jobs", "1"},
        env);
  }
  void need_nvrtc() {
    if (!runtime::nvrtc().has_value()) GTEST_SKIP() << "NVRTC is not available";
  }
  TempDir tmp_;
};

TEST_F(SecurityExitStatusTest, WarmupFailsWhenTheCacheIsReadOnly) {
  need_nvrtc();
  ASSERT_EQ(::mkdir(tmp_.sub("ro").c_str(), 0700), 0);
  auto r = warmup({{"QJIT_CACHE_DIR", tmp_.sub("ro")}, {"QJIT_CACHE_READONLY", "1"}});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("kernel(s) are not cached; first:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("read-only"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("failed:         0"), std::string::npos) << r.output;
}

TEST_F(SecurityExitStatusTest, WarmupFailsWhenTheSizeBoundEvictsWhatItStored) {
  need_nvrtc();
  auto r = warmup({{"QJIT_CACHE_DIR", tmp_.sub("tiny")}, {"QJIT_CACHE_MAX_BYTES", "1"}});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("QJIT_CACHE_MAX_BYTES=1 evicted it"), std::string::npos) << r.output;
}

TEST_F(SecurityExitStatusTest, WarmupFailsWhenADirectoryOccupiesAnEntryPath) {
  need_nvrtc();
  auto first = warmup({{"QJIT_CACHE_DIR", tmp_.sub("a")}});
  ASSERT_EQ(first.code, 0) << first.output;
  const auto entries = cache::testing::names_with_prefix(tmp_.sub("a"), "");
  ASSERT_EQ(::mkdir(tmp_.sub("b").c_str(), 0700), 0);
  int planted = 0;
  for (const auto& n : entries)
    if (cache::key_from_entry_name(n)) planted += ::mkdir(tmp_.sub("b/" + n).c_str(), 0700) == 0;
  ASSERT_GT(planted, 0);
  auto r = warmup({{"QJIT_CACHE_DIR", tmp_.sub("b")}});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("is a directory; refusing to replace it"), std::string::npos) << r.output;
}

TEST_F(SecurityExitStatusTest, WarmupAcceptsSm87) {
  EXPECT_EQ(*ops::parse_target_arch("sm_87"), 87);
  EXPECT_EQ(*ops::parse_target_arch("87"), 87);
  need_nvrtc();
  auto r = warmup({{"QJIT_CACHE_DIR", tmp_.sub("c87")}}, "sm_87");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("warmup for sm_87"), std::string::npos) << r.output;
}

TEST_F(SecurityExitStatusTest, DeviceNodesAsShapesOrTuningDbAreRefusedBeforeReading) {
  testing::ProcessLimits limits;
  limits.timeout_seconds = 30;
  if (!testing::built_with_asan()) limits.address_space_bytes = 1ull << 30;
  auto shapes = testing::run_process(kCli, {"warmup", "--arch", "sm_80", "--shapes", "/dev/zero"},
                                     {{"QJIT_CACHE_DIR", tmp_.sub("c")}}, limits);
  EXPECT_EQ(shapes.signal, 0) << shapes.output;
  EXPECT_EQ(shapes.code, 1) << shapes.output;
  EXPECT_NE(shapes.output.find("shapes file '/dev/zero' is a character device"), std::string::npos) << shapes.output;
  auto db = testing::run_process(
      kCli, {"warmup", "--arch", "sm_80", "--shapes", tmp_.sub("one.csv"), "--tuning-db", "/dev/zero"},
      {{"QJIT_CACHE_DIR", tmp_.sub("c")}}, limits);
  EXPECT_EQ(db.signal, 0) << db.output;
  EXPECT_EQ(db.code, 1) << db.output;
  EXPECT_NE(db.output.find("tuning database '/dev/zero' is a character device"), std::string::npos) << db.output;
  auto show = testing::run_process(kCli, {"db", "show", "/dev/zero"}, {}, limits);
  EXPECT_EQ(show.code, 1) << show.output;
}

TEST_F(SecurityExitStatusTest, DemoWithAHugeLayerIsRefusedUnderAnAddressSpaceLimit) {
  if (testing::built_with_asan()) GTEST_SKIP() << "RLIMIT_AS cannot be combined with ASan's shadow memory";
  testing::ProcessLimits limits;
  limits.address_space_bytes = 4ull << 30;
  limits.timeout_seconds = 60;
  auto r = testing::run_process(kCli, {"demo", "-m", "100000", "-n", "100000", "-k", "100000"},
                                {{"QJIT_CACHE_DIR", tmp_.sub("c")}}, limits);
  EXPECT_EQ(r.signal, 0) << r.output;
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("must need at most"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace qjit
