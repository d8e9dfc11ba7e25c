// Issue 12, finding 1: QJIT_DUMP_DIR followed symlinks and ignored errors, so a local user who could write the dump
// directory planted `<entry>.cu` as a symlink and root's next compile overwrote its target (/etc/passwd in the
// probe). The dump now goes through the file rules (runtime/safe_file.h): a directory another user could write
// without the sticky bit is refused, a symlink at an entry's name is refused and never written through, and a
// private directory still gets its three files.
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "jit/kernel_service.h"
#include "runtime/nvrtc.h"
#include "tests/support/cache_test_util.h"
#include "tests/support/process_runner.h"

namespace qjit::ops {
namespace {

using cache::testing::TempDir;

const char* const kCli = qjit::testing::qjit_cli();

using qjit::testing::read_text;

struct DumpCase {
  codegen::Source source;
  runtime::CompileOutput out;
  DumpCase() {
    source.entry = "qjit_probe_entry";
    source.text = "extern \"C\" __global__ void qjit_probe_entry() {}\n";
    out.ptx = "// ptx\n";
    out.cubin = {0x7f, 'E', 'L', 'F'};
  }
};

// A dump directory `tmp/dumps` with `mode`, holding `qjit_probe_entry.cu` as a symlink to `tmp/passwd`; dumps into
// it and checks the victim is untouched. Returns the dump's status.
Status dump_into_planted_dir(const TempDir& tmp, mode_t mode) {
  const std::string victim = tmp.sub("passwd");
  std::ofstream(victim) << "root:x:0:0\n";
  const std::string d = tmp.sub("dumps");
  EXPECT_EQ(::mkdir(d.c_str(), 0700), 0);
  EXPECT_EQ(::chmod(d.c_str(), mode), 0);
  EXPECT_EQ(::symlink(victim.c_str(), (d + "/qjit_probe_entry.cu").c_str()), 0);
  DumpCase c;
  Status s = jit::dump_compile(d, c.source, c.out);
  EXPECT_EQ(read_text(victim), "root:x:0:0\n");
  struct stat st;
  EXPECT_EQ(::lstat((d + "/qjit_probe_entry.cu").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_TRUE(cache::testing::temp_files(d).empty());
  return s;
}

TEST(SecurityDumpDirTest, SymlinkPlantedInAWorldWritableDumpDirIsNeverWrittenThrough) {
  TempDir tmp;
  const Status s = dump_into_planted_dir(tmp, 0777);  // world-writable, no sticky bit: what the probe used
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("writable by group or others without the sticky bit"), std::string::npos) << s.message();
}

TEST(SecurityDumpDirTest, SymlinkAtAnEntryNameInAStickyDirIsRefusedAndLeftAlone) {
  TempDir tmp;
  const Status s = dump_into_planted_dir(tmp, 01777);  // like /tmp: shared, but nobody may replace others' files
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("is a symbolic link; refusing to replace it"), std::string::npos) << s.message();
}

TEST(SecurityDumpDirTest, PrivateDumpDirGetsSourcePtxAndCubin) {
  TempDir tmp;
  const std::string d = tmp.sub("new/dumps");  // created (0700) when missing
  DumpCase c;
  ASSERT_TRUE(jit::dump_compile(d, c.source, c.out).ok());
  EXPECT_EQ(read_text(d + "/qjit_probe_entry.cu"), c.source.text);
  EXPECT_EQ(read_text(d + "/qjit_probe_entry.ptx"), c.out.ptx);
  EXPECT_EQ(read_text(d + "/qjit_probe_entry.cubin").size(), 4u);
  struct stat st;
  ASSERT_EQ(::stat(d.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // A second dump replaces the files (regular files are ours to replace).
  c.source.text += "// again\n";
  ASSERT_TRUE(jit::dump_compile(d, c.source, c.out).ok());
  EXPECT_EQ(read_text(d + "/qjit_probe_entry.cu"), c.source.text);
  EXPECT_TRUE(cache::testing::temp_files(d).empty());
}

// The probe as it was run: `QJIT_DUMP_DIR=d qjit warmup ...` with d world-writable and every dump name planted as a
// symlink to a file the attacker wants overwritten.
TEST(SecurityDumpDirTest, WarmupNeverOverwritesASymlinkTargetThroughTheDumpDir) {
  if (!kCli) GTEST_SKIP() << "the qjit command is not built";
  if (!runtime::nvrtc().has_value()) GTEST_SKIP() << "NVRTC is not available";
  TempDir tmp;
  std::ofstream(tmp.sub("one.csv")) << "model,layer,N,K\nprobe,o_proj,256,256\n";
  const std::vector<std::string> args{"warmup",  "--arch", "sm_80",  "--shapes", tmp.sub("one.csv"), "--m", "1",
                                      "--plans", "ql",     "--jobs", "1"};
  // Learn the dump names from a private directory first.
  const std::string learn = tmp.sub("learn");
  auto first = testing::run_process(kCli, args, {{"QJIT_CACHE_DIR", tmp.sub("cache1")}, {"QJIT_DUMP_DIR", learn}});
  ASSERT_EQ(first.code, 0) << first.output;
  const auto names = cache::testing::names_with_prefix(learn, "qjit_");
  ASSERT_FALSE(names.empty());
  const std::string victim = tmp.sub("passwd");
  std::ofstream(victim) << "root:x:0:0\n";
  const std::string d = tmp.sub("dumps");
  ASSERT_EQ(::mkdir(d.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(d.c_str(), 0777), 0);
  for (const auto& n : names)
    ASSERT_EQ(::symlink(victim.c_str(), (d + "/" + n).c_str()), 0) << n << ": " << std::strerror(errno);
  auto second = testing::run_process(kCli, args, {{"QJIT_CACHE_DIR", tmp.sub("cache2")}, {"QJIT_DUMP_DIR", d}});
  EXPECT_EQ(second.code, 0) << second.output;  // the kernels themselves are fine and cached
  EXPECT_EQ(read_text(victim), "root:x:0:0\n");
  EXPECT_NE(second.output.find("was not dumped"), std::string::npos) << second.output;
}

}  // namespace
}  // namespace qjit::ops
