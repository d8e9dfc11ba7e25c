// Regression test for the safetensors fuzzer: replays every file of tests/fuzz/corpus/safetensors through the
// reader. Files named valid_* must parse, bad_* must be refused with a message; none may crash (the sanitizer
// build turns any out-of-bounds read into a failure). Crashes the fuzzer finds are added here as bad_* files.
#include <string>

#include <gtest/gtest.h>

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "qjit/quant/safetensors.h"

namespace qjit::quant {
namespace {

TEST(QuantSafetensorsCorpusTest, ReplaysFuzzCorpus) {
  const std::string dir = std::string(QJIT_SOURCE_DIR) + "/tests/fuzz/corpus/safetensors";
  std::error_code ec;
  int valid = 0, bad = 0;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec; it.increment(ec)) {
    const std::string name = llvm::sys::path::filename(it->path()).str();
    auto buf = llvm::MemoryBuffer::getFile(it->path(), false, false);
    ASSERT_TRUE(static_cast<bool>(buf)) << it->path();
    const auto* p = reinterpret_cast<const std::byte*>((*buf)->getBufferStart());
    auto file = SafetensorsFile::parse(std::span<const std::byte>(p, (*buf)->getBufferSize()), name);
    if (name.rfind("valid_", 0) == 0) {
      EXPECT_TRUE(file.has_value()) << name << ": " << file.error().to_string();
      ++valid;
    } else if (name.rfind("bad_", 0) == 0) {
      ASSERT_FALSE(file.has_value()) << name << " parsed but should be refused";
      EXPECT_FALSE(file.error().message().empty());
      ++bad;
    } else {
      (void)file;  // fuzzer-found inputs: only "does not crash" is asserted
    }
  }
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_GE(valid, 3);
  EXPECT_GE(bad, 10);
}

}  // namespace
}  // namespace qjit::quant
