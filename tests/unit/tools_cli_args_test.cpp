// The `qjit db` and `qjit warmup` command lines as a script sees them: bad usage exits 2 with a message naming the
// flag and what it accepts, failures of the work (unreadable or corrupt inputs) exit 1 naming the file, --help
// exits 0. Runs the built binary; no kernel is compiled.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "autotune/tuning_db.h"
#include "tests/support/cache_test_util.h"

namespace qjit::tools {
namespace {

#ifdef QJIT_CLI_PATH
constexpr const char* kCli = QJIT_CLI_PATH;
#else
constexpr const char* kCli = nullptr;
#endif

struct CliRun {
  int code = -1;
  std::string output;  // stdout and stderr together
};

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

class CliArgs : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kCli) GTEST_SKIP() << "the qjit command is not built (QJIT_BUILD_TOOLS=OFF)";
    // Nothing here should compile or write a cache, but if it did it would land in the temporary directory.
    ::setenv("QJIT_CACHE_DIR", dir_.sub("cache").c_str(), 1);
  }
  void TearDown() override { ::unsetenv("QJIT_CACHE_DIR"); }

  CliRun qjit(const std::vector<std::string>& args) {
    std::string cmd = shell_quote(kCli);
    for (const auto& a : args) cmd += " " + shell_quote(a);
    cmd += " 2>&1";
    CliRun r;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return r;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof(buf), p)) > 0;) r.output.append(buf, n);
    const int status = ::pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  }

  std::string file(const std::string& name, const std::string& text) {
    std::ofstream(dir_.sub(name)) << text;
    return dir_.sub(name);
  }

  cache::testing::TempDir dir_;
};

#define EXPECT_RUN(args, want_code, want_text)                                                                     \
  do {                                                                                                             \
    const CliRun r_ = qjit(args);                                                                                  \
    EXPECT_EQ(r_.code, want_code) << r_.output;                                                                    \
    EXPECT_NE(r_.output.find(want_text), std::string::npos) << "missing '" << want_text << "' in:\n" << r_.output; \
  } while (0)

using Args = std::vector<std::string>;

TEST_F(CliArgs, DbBadUsageExits2) {
  EXPECT_RUN((Args{"db"}), 2, "missing subcommand");
  EXPECT_RUN((Args{"db", "frob"}), 2, "unknown subcommand 'frob'");
  EXPECT_RUN((Args{"db", "merge", "out.json"}), 2, "merge needs OUT and at least one IN");
  EXPECT_RUN((Args{"db", "show", "a.json", "b.json"}), 2, "at most one PATH");
  EXPECT_RUN((Args{"db", "show", "--bogus"}), 2, "unknown option '--bogus'");
  EXPECT_RUN((Args{"db", "--help"}), 0, "usage: qjit db");
  EXPECT_RUN((Args{"db", "merge", "--help"}), 0, "merge OUT IN");
}

TEST_F(CliArgs, DbFailuresExit1NamingTheFile) {
  const std::string corrupt = file("corrupt.json", "{\"format\": 1, \"qjit_version\": ");
  EXPECT_RUN((Args{"db", "show", dir_.sub("absent.json")}), 1, "absent.json' does not exist");
  EXPECT_RUN((Args{"db", "show", corrupt}), 1, corrupt);
  EXPECT_RUN((Args{"db", "merge", dir_.sub("out.json"), dir_.sub("absent.json")}), 1, "absent.json' does not exist");
  EXPECT_RUN((Args{"db", "merge", dir_.sub("out.json"), corrupt}), 1, "not valid JSON");
  // A failed merge writes nothing.
  EXPECT_FALSE(std::ifstream(dir_.sub("out.json")).good());
}

TEST_F(CliArgs, WarmupBadUsageExits2) {
  const std::string shapes = file("s.csv", "model,layer,N,K\nt,a,256,512\n");
  EXPECT_RUN((Args{"warmup"}), 2, "--arch is required");
  EXPECT_RUN((Args{"warmup", "--arch"}), 2, "--arch needs a value");
  EXPECT_RUN((Args{"warmup", "--arch", "sm_75", "--shapes", shapes}), 2, "sm_80, sm_86, sm_87, sm_89 or sm_90a");
  EXPECT_RUN((Args{"warmup", "--arch", "sm_80"}), 2, "--shapes FILE.csv is required");
  EXPECT_RUN((Args{"warmup", "--arch", "sm_80", "--shapes", shapes, "--m", "1,0"}), 2, "M list item 2");
  EXPECT_RUN((Args{"warmup", "--arch", "sm_80", "--shapes", shapes, "--plans", "ql,xx"}), 2, "ql (QuantizedLinear)");
  EXPECT_RUN((Args{"warmup", "--arch", "sm_80", "--shapes", shapes, "--dtype", "s8"}), 2, "--dtype must be");
  EXPECT_RUN((Args{"warmup", "--arch", "sm_80", "--shapes", shapes, "--bias", "maybe"}), 2, "--bias must be");
  EXPECT_RUN((Args{"warmup", "--arch", "sm_80", "--shapes", shapes, "--jobs", "0"}), 2, "--jobs must be");
  EXPECT_RUN((Args{"warmup", "--arch", "sm_80", "--shapes", shapes, "--sm-count", "12x"}), 2, "--sm-count must be");
  EXPECT_RUN((Args{"warmup", "--arch", "sm_80", "--shapes", shapes, "--device", "A10"}), 2, "needs --tuning-db");
  EXPECT_RUN((Args{"warmup", "--arch", "sm_80", "--shapes", shapes, "--frobnicate"}), 2, "unknown option");
  EXPECT_RUN((Args{"warmup", "--arch", "sm_80", "extra"}), 2, "unexpected argument 'extra'");
  EXPECT_RUN((Args{"warmup", "--help"}), 0, "usage: qjit warmup");
}

TEST_F(CliArgs, WarmupInputFailuresNameTheFile) {
  const std::string bad = file("bad.csv", "model,layer,N,K\nt,a,256,512\nt,b,x,512\n");
  EXPECT_RUN((Args{"warmup", "--arch", "sm_80", "--shapes", bad}), 1, "bad.csv:3: N must be");
  EXPECT_RUN((Args{"warmup", "--arch", "sm_80", "--shapes", dir_.sub("absent.csv")}), 1, "absent.csv");
  const std::string shapes = file("s.csv", "model,layer,N,K\nt,a,256,512\n");
  EXPECT_RUN((Args{"warmup", "--arch", "sm_80", "--shapes", shapes, "--tuning-db", dir_.sub("absent.json")}), 1,
             "absent.json' does not exist");
  // A database with two devices needs --device.
  autotune::TuningDb db;
  for (const char* device : {"NVIDIA A100-SXM4-80GB", "NVIDIA A10"}) {
    autotune::TuningRecord r;
    r.key.op = "gemm_s8";
    r.key.in_dtype = "s8";
    r.key.out_dtype = "bf16";
    r.key.n = r.key.k = 4096;
    r.key.device = device;
    r.key.sm_count = 108;
    r.key.arch = 80;
    r.time_us = 1;
    db.put(r);
  }
  ASSERT_TRUE(db.save(dir_.sub("two.json")).ok());
  EXPECT_RUN((Args{"warmup", "--arch", "sm_80", "--shapes", shapes, "--tuning-db", dir_.sub("two.json")}), 2,
             "name the target with --device");
}

}  // namespace
}  // namespace qjit::tools
