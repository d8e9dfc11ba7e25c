// runtime/env: the one registry of QJIT_* variables. The README's table is the registry's (`qjit env --markdown`),
// `qjit --help` and `qjit env` list every variable, no source outside runtime/env.cpp calls getenv on a QJIT_ name,
// the variables the Python package and the Rust build read are registered, and malformed values are errors (or
// warnings) that name the variable and the accepted form.
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "runtime/env.h"
#include "tests/support/process_runner.h"

namespace qjit::env {
namespace {

const std::string kRoot = QJIT_SOURCE_DIR;

// Sets a variable for the scope of a test, restoring the old value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(RuntimeEnv, ReadmeTableIsTheRegistrysMarkdown) {
  const std::string readme = testing::read_text(kRoot + "/README.md");
  const std::string begin = "<!-- BEGIN qjit env --markdown -->\n", end = "<!-- END qjit env --markdown -->";
  const auto b = readme.find(begin), e = readme.find(end);
  ASSERT_NE(b, std::string::npos) << "README.md lacks the marker " << begin;
  ASSERT_NE(e, std::string::npos);
  ASSERT_LT(b, e);
  EXPECT_EQ(readme.substr(b + begin.size(), e - b - begin.size()), markdown_table())
      << "regenerate README.md's environment table: qjit env --markdown";
}

TEST(RuntimeEnv, RegistryIsCompleteAndOneLine) {
  std::set<std::string_view> names;
  for (const Variable& v : variables()) {
    EXPECT_TRUE(v.name.starts_with("QJIT_")) << v.name;
    EXPECT_TRUE(names.insert(v.name).second) << v.name << " registered twice";
    EXPECT_FALSE(v.meaning.empty()) << v.name;
    EXPECT_EQ(v.meaning.find('\n'), std::string_view::npos) << v.name;
    EXPECT_EQ(v.meaning.find('|'), std::string_view::npos) << v.name << ": '|' breaks the Markdown table";
    EXPECT_FALSE(v.default_value.empty()) << v.name;
    EXPECT_TRUE(std::filesystem::is_directory(kRoot + "/" + std::string(v.room))) << v.name << " room " << v.room;
    EXPECT_EQ(&variable(v.id), &v);
    EXPECT_EQ(find(v.name), &v);
  }
  EXPECT_EQ(find("QJIT_NO_SUCH_VARIABLE"), nullptr);
}

// Every variable a source reads: getenv only in runtime/env.cpp, and the names the Python package, its setup.py
// and the Rust crate and build script read from the environment are registered (test files excepted).
TEST(RuntimeEnv, NoSourceReadsAnUnregisteredVariable) {
  const std::regex cxx_getenv(R"re(getenv\(\s*"(QJIT_[A-Z0-9_]+)")re");
  const std::regex py_env(R"re(os\.environ(?:\.get\(|\[)\s*["'](QJIT_[A-Z0-9_]+)["'])re");
  const std::regex py_const(R"re(^ENV\s*=\s*"(QJIT_[A-Z0-9_]+)")re", std::regex::multiline);
  const std::regex rs_env(R"re(env::var(?:_os)?\(\s*"(QJIT_[A-Z0-9_]+)")re");
  int files = 0;
  for (const char* dir : {"runtime", "codegen", "cache", "jit", "autotune", "ops", "quant", "tools", "bench", "perf",
                          "python/qjit", "bindings/rust/src"}) {
    const std::filesystem::path root = kRoot + "/" + dir;
    if (!std::filesystem::is_directory(root)) continue;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || !(ext == ".cpp" || ext == ".h" || ext == ".py" || ext == ".rs")) continue;
      // NOTE: test harnesses' own switches (QJIT_TEST_*, the Rust layout test's QJIT_C_LAYOUT) are not qjit's.
      if (entry.path().filename().string().find("test") != std::string::npos) continue;
      ++files;
      const std::string text = testing::read_text(entry.path().string());
      const std::string rel = std::filesystem::relative(entry.path(), kRoot).string();
      for (std::sregex_iterator it(text.begin(), text.end(), cxx_getenv), e; it != e; ++it)
        ADD_FAILURE() << rel << " calls getenv(\"" << (*it)[1] << "\"): read it through runtime/env.h";
      for (const std::regex* re : {&py_env, &py_const, &rs_env})
        for (std::sregex_iterator it(text.begin(), text.end(), *re), e; it != e; ++it)
          EXPECT_NE(find((*it)[1].str()), nullptr) << rel << " reads " << (*it)[1] << ", which runtime/env.h lacks";
    }
  }
  for (const char* file : {"python/setup.py", "bindings/rust/build.rs"}) {
    const std::string text = testing::read_text(kRoot + "/" + file);
    for (const std::regex* re : {&py_env, &rs_env})
      for (std::sregex_iterator it(text.begin(), text.end(), *re), e; it != e; ++it)
        EXPECT_NE(find((*it)[1].str()), nullptr) << file << " reads " << (*it)[1] << ", which runtime/env.h lacks";
  }
  EXPECT_GT(files, 100);
}

TEST(RuntimeEnv, FlagsAcceptOneVocabularyAndNameTheVariableOtherwise) {
  for (const char* yes : {"1", "true", "YES", "on", " 1 "}) EXPECT_TRUE(*parse_flag(Var::DisablePdl, yes)) << yes;
  for (const char* no : {"0", "", "false", "Off", "no"}) EXPECT_FALSE(*parse_flag(Var::DisablePdl, no)) << no;
  auto bad = parse_flag(Var::DisableSm90, "maybe");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), StatusCode::InvalidArgument);
  EXPECT_EQ(bad.error().message(), "QJIT_DISABLE_SM90='maybe' is invalid: expected 1/true/yes/on or 0/false/no/off");
  {
    ScopedEnv set(name(Var::DisablePdl), "yes");
    EXPECT_TRUE(flag_or_warn(Var::DisablePdl));
  }
  {
    ScopedEnv set(name(Var::DisablePdl), "sometimes");
    EXPECT_FALSE(flag_or_warn(Var::DisablePdl));  // and a warning on stderr
  }
}

TEST(RuntimeEnv, IntegersAreRangeCheckedAndUnsetIsNullopt) {
  {
    ScopedEnv set(name(Var::Device), "3");
    auto v = integer(Var::Device, 0, 1 << 20);
    ASSERT_TRUE(v.has_value()) << v.error().to_string();
    EXPECT_EQ(v->value_or(-1), 3);
  }
  {
    ScopedEnv set(name(Var::Device), "");
    auto v = integer(Var::Device, 0, 1 << 20);
    ASSERT_TRUE(v.has_value());
    EXPECT_FALSE(v->has_value());
  }
  for (const char* bad : {"gpu1", "-1", "1.5"}) {
    ScopedEnv set(name(Var::Device), bad);
    auto v = integer(Var::Device, 0, 1 << 20);
    ASSERT_FALSE(v.has_value()) << bad;
    EXPECT_EQ(v.error().message(),
              std::string("QJIT_DEVICE='") + bad + "' is invalid: expected an integer from 0 to 1048576");
  }
}

TEST(RuntimeEnv, ByteSizesAndPathLists) {
  EXPECT_EQ(*parse_byte_size("64M", "QJIT_CACHE_MAX_BYTES"), 64ull << 20);
  EXPECT_EQ(*parse_byte_size("512k", "QJIT_CACHE_MAX_BYTES"), 512ull << 10);
  auto bad = parse_byte_size("lots", "--max-bytes");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("--max-bytes='lots' is invalid: expected a byte count"), std::string::npos);
  EXPECT_EQ(split_path_list("/a::/b:"), (std::vector<std::string>{"/a", "/b"}));
}

TEST(RuntimeEnv, ValuesInEffectAreTheProcesss) {
  ScopedEnv set(name(Var::BenchModel), "opt-6.7b");
  bool seen = false;
  for (const auto& [var, value] : in_effect())
    if (var->id == Var::BenchModel) {
      seen = true;
      EXPECT_EQ(value, std::optional<std::string>("opt-6.7b"));
    }
  EXPECT_TRUE(seen);
  EXPECT_EQ(text(Var::BenchModel), "opt-6.7b");
}

TEST(RuntimeEnv, HelpAndEnvCommandListEveryVariable) {
  const char* cli = testing::qjit_cli();
  if (!cli) GTEST_SKIP() << "the qjit command is not built";
  const auto help = testing::run_process(cli, {"--help"});
  ASSERT_EQ(help.code, 0) << help.output;
  const auto shown = testing::run_process(cli, {"env"}, {{"QJIT_TUNING_DB", "/tmp/qjit-env-test.json"}});
  ASSERT_EQ(shown.code, 0) << shown.output;
  for (const Variable& v : variables()) {
    EXPECT_NE(help.output.find(std::string(v.name)), std::string::npos) << v.name << " missing from qjit --help";
    EXPECT_NE(shown.output.find(std::string(v.name)), std::string::npos) << v.name << " missing from qjit env";
  }
  EXPECT_NE(shown.output.find("QJIT_TUNING_DB=/tmp/qjit-env-test.json\n"), std::string::npos) << shown.output;
  const auto md = testing::run_process(cli, {"env", "--markdown"});
  ASSERT_EQ(md.code, 0);
  EXPECT_EQ(md.output, markdown_table());
  const auto bad = testing::run_process(cli, {"env", "--json"});
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--json"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace qjit::env
