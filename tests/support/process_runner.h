// Runs a program (the built `qjit` binary, usually) in a child process the way an operator's shell would, with the
// extras the hardening tests need: environment overrides, an address-space limit (RLIMIT_AS, for the memory
// findings: the child must exit with an error, not die of bad_alloc), and a wall-clock timeout after which the
// child is killed (for the hang findings). Reports the exit code or the signal, and stdout + stderr together.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace qjit::testing {

struct ProcessLimits {
  std::uint64_t address_space_bytes = 0;  // 0 = unlimited
  int timeout_seconds = 120;
};

struct ProcessResult {
  int code = -1;   // exit status, -1 when killed by a signal
  int signal = 0;  // the signal that ended it (SIGKILL after a timeout)
  bool timed_out = false;
  std::string output;  // stdout and stderr
};

ProcessResult run_process(const std::string& program, const std::vector<std::string>& args,
                          const std::vector<std::pair<std::string, std::string>>& env = {},
                          const ProcessLimits& limits = {});

// The built `qjit` binary, or nullptr when the tools are not built. Inline so that it sees the QJIT_CLI_PATH the unit
// test target defines.
inline const char* qjit_cli() {
#ifdef QJIT_CLI_PATH
  return QJIT_CLI_PATH;
#else
  return nullptr;
#endif
}

// The whole file as bytes in a string ("" when it cannot be read).
std::string read_text(const std::string& path);

// True in builds with AddressSanitizer, whose shadow memory makes an RLIMIT_AS test meaningless.
bool built_with_asan();

}  // namespace qjit::testing
