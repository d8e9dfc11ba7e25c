// Running a qjit subcommand in-process for the CLI tests: argv built from strings, stdout and stderr captured (the
// commands print with stdio and llvm::outs/errs, which write to the same descriptors), the exit code returned.
// Also a scoped environment override, so a test can point QJIT_CACHE_DIR at a private directory.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace qjit::testing {

struct CommandResult {
  int code = -1;
  std::string out, err;
};

// `args` excludes the command name (`name` becomes argv[0], as tools/main.cpp passes it).
CommandResult run_command(int (*command)(int, char**), const std::string& name, const std::vector<std::string>& args);

// Sets environment variables for one test and restores them afterwards.
class ScopedEnv {
 public:
  ScopedEnv() = default;
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv();
  void set(const char* name, const std::string& value);

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

}  // namespace qjit::testing
