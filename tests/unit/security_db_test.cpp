// Issue 12, the tuning database findings: deeply nested JSON crashed `qjit db show` and `qjit quantize --mapping`
// (finding 4), the database an engine picks up by itself had no owner or permission check (finding 4), and 16
// concurrent `qjit db merge` into one file kept 2-8 of 32 records while all exited 0 (finding 5).
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "autotune/tuning_db.h"
#include "tests/support/cache_test_util.h"
#include "tests/support/process_runner.h"
#include "tests/support/tuning_test_util.h"

namespace qjit::autotune {
namespace {

using cache::testing::TempDir;

const char* const kCli = qjit::testing::qjit_cli();

TuningRecord record(std::int64_t n) { return testing::record(n, 16, 10.0 + static_cast<double>(n % 7)); }

class SecurityDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kCli) GTEST_SKIP() << "the qjit command is not built";
  }
  TempDir tmp_;
};

TEST_F(SecurityDbTest, DeeplyNestedJsonIsRefusedNotACrash) {
  const std::string deep = std::string(50000, '[') + std::string(50000, ']');
  std::ofstream(tmp_.sub("deep.json")) << deep;
  auto show = qjit::testing::run_process(kCli, {"db", "show", tmp_.sub("deep.json")});
  EXPECT_EQ(show.signal, 0) << show.output;
  EXPECT_EQ(show.code, 1) << show.output;
  EXPECT_NE(show.output.find("JSON must nest at most 8 levels deep, got 50000"), std::string::npos) << show.output;
  auto merge = qjit::testing::run_process(kCli, {"db", "merge", tmp_.sub("out.json"), tmp_.sub("deep.json")});
  EXPECT_EQ(merge.signal, 0) << merge.output;
  EXPECT_EQ(merge.code, 1) << merge.output;
  // The same text as a quantize mapping.
  auto mapping = qjit::testing::run_process(
      kCli, {"quantize", "--weights", tmp_.sub("w.st"), "--out", tmp_.sub("o.st"), "--mapping", tmp_.sub("deep.json")});
  EXPECT_EQ(mapping.signal, 0) << mapping.output;
  EXPECT_EQ(mapping.code, 2) << mapping.output;
  EXPECT_NE(mapping.output.find("JSON must nest at most 8 levels deep"), std::string::npos) << mapping.output;
  // And in-process, through the parsers every caller uses.
  EXPECT_FALSE(TuningDb::parse(deep, "deep").has_value());
}

TEST_F(SecurityDbTest, TheDatabaseAnEngineFindsByItselfMustBeTrusted) {
  TuningDb db;
  db.put(record(1024));
  const std::string path = tmp_.sub("tuning.json");
  ASSERT_TRUE(db.save(path).ok());
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  // Named on the command line: read as given.
  auto named = qjit::testing::run_process(kCli, {"db", "show", path});
  EXPECT_EQ(named.code, 0) << named.output;
  // Found through QJIT_TUNING_DB (what every engine does): refused, with the reason.
  auto implicit = qjit::testing::run_process(kCli, {"db", "show"}, {{"QJIT_TUNING_DB", path}});
  EXPECT_EQ(implicit.code, 1) << implicit.output;
  EXPECT_NE(implicit.output.find("is writable by group or others (mode 0666)"), std::string::npos) << implicit.output;
  EXPECT_FALSE(TuningDb::load(path, TuningDbSource::Implicit).has_value());
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_TRUE(TuningDb::load(path, TuningDbSource::Implicit).has_value());
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown(path.c_str(), 4242, 4242), 0);
    auto foreign = TuningDb::load(path, TuningDbSource::Implicit);
    ASSERT_FALSE(foreign.has_value());
    EXPECT_NE(foreign.error().message().find("is owned by uid 4242"), std::string::npos) << foreign.error().message();
  }
}

// Finding 5: 16 processes merging two records each into one file must leave all 32.
TEST_F(SecurityDbTest, ConcurrentMergesIntoOneFileLoseNoRecord) {
  constexpr int kParts = 16;
  for (int i = 0; i < kParts; ++i) {
    TuningDb part;
    part.put(record(1000 + 2 * i));
    part.put(record(1001 + 2 * i));
    ASSERT_TRUE(part.save(tmp_.sub("part" + std::to_string(i) + ".json")).ok());
  }
  const std::string out = tmp_.sub("m.json");
  std::vector<pid_t> children;
  for (int i = 0; i < kParts; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      const std::string part = tmp_.sub("part" + std::to_string(i) + ".json");
      ::execl(kCli, kCli, "db", "merge", out.c_str(), part.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto merged = TuningDb::load(out);
  ASSERT_TRUE(merged.has_value()) << merged.error().to_string();
  EXPECT_EQ(merged->size(), 2u * kParts);
  EXPECT_TRUE(cache::testing::temp_files(tmp_.path()).empty());
}

}  // namespace
}  // namespace qjit::autotune
