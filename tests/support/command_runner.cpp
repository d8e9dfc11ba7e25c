// In-process subcommand runs with captured output (see command_runner.h).
#include "tests/support/command_runner.h"

#include <cstdio>
#include <stdlib.h>

#include <gtest/gtest.h>

#include "llvm/Support/raw_ostream.h"

namespace qjit::testing {

CommandResult run_command(int (*command)(int, char**), const std::string& name, const std::vector<std::string>& args) {
  std::vector<std::string> storage{name};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  CommandResult r;
  std::fflush(stdout);
  llvm::outs().flush();
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  r.code = command(static_cast<int>(storage.size()), argv.data());
  llvm::outs().flush();
  llvm::errs().flush();
  r.err = ::testing::internal::GetCapturedStderr();
  r.out = ::testing::internal::GetCapturedStdout();
  return r;
}

ScopedEnv::~ScopedEnv() {
  for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
    if (it->second)
      ::setenv(it->first.c_str(), it->second->c_str(), 1);
    else
      ::unsetenv(it->first.c_str());
  }
}

void ScopedEnv::set(const char* name, const std::string& value) {
  const char* old = std::getenv(name);
  saved_.push_back({name, old ? std::optional<std::string>(old) : std::nullopt});
  ::setenv(name, value.c_str(), 1);
}

}  // namespace qjit::testing
