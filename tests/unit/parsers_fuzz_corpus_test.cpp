// Regression tests for the parser fuzzers added by issue 12 (tests/fuzz/{tuning_db,mapping,shapes}_fuzz.cpp):
// every file of tests/fuzz/corpus/<name>/ is replayed through the parser its fuzzer attacks. Files named valid_*
// must parse, bad_* must be refused with a message, and the rest (what the fuzzers kept) must only not crash --
// under the debug preset's ASan/UBSan that also means no invalid access and no undefined behaviour.
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "autotune/shapes.h"
#include "autotune/tuning_db.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "qjit/quant/model_quantizer.h"

namespace qjit {
namespace {

// Replays corpus/<name>; `parse` returns the error message, empty when the text parsed.
void replay(const std::string& name, const std::function<std::string(const std::string&)>& parse, int min_valid,
            int min_bad) {
  const std::string dir = std::string(QJIT_SOURCE_DIR) + "/tests/fuzz/corpus/" + name;
  std::error_code ec;
  int valid = 0, bad = 0, other = 0;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec; it.increment(ec)) {
    const std::string file = llvm::sys::path::filename(it->path()).str();
    std::ifstream in(it->path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string error = parse(ss.str());
    if (file.rfind("valid_", 0) == 0) {
      EXPECT_TRUE(error.empty()) << name << "/" << file << ": " << error;
      ++valid;
    } else if (file.rfind("bad_", 0) == 0) {
      EXPECT_FALSE(error.empty()) << name << "/" << file << " parsed but should be refused";
      ++bad;
    } else {
      ++other;
    }
  }
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_GE(valid, min_valid) << name;
  EXPECT_GE(bad, min_bad) << name;
  std::printf("[ corpus   ] %s: %d valid, %d bad, %d fuzzer-found\n", name.c_str(), valid, bad, other);
}

TEST(ParsersFuzzCorpusTest, TuningDb) {
  replay(
      "tuning_db",
      [](const std::string& text) {
        auto db = autotune::TuningDb::parse(text, "corpus");
        return db ? std::string() : db.error().message();
      },
      3, 5);
}

TEST(ParsersFuzzCorpusTest, Mapping) {
  replay(
      "mapping",
      [](const std::string& text) {
        auto m = quant::parse_layer_mapping(text, "corpus");
        return m ? std::string() : m.error().message();
      },
      2, 4);
}

TEST(ParsersFuzzCorpusTest, Shapes) {
  replay(
      "shapes",
      [](const std::string& text) {
        auto s = autotune::parse_shapes(text, "corpus.csv");
        return s ? std::string() : s.error().message();
      },
      2, 5);
}

}  // namespace
}  // namespace qjit
