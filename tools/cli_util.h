// What the qjit subcommands share about their command lines: llvm::cl parsing under the name "qjit <command>" (so
// errors read "qjit bench: ..."), the usage-error convention (message naming the flag on stderr, exit 2), and the
// parsers for the values several commands take (--dtype, --arch, --pref).
#pragma once

#include <string>

#include "llvm/Support/CommandLine.h"
#include "qjit/element.h"
#include "qjit/status.h"
#include "qjit/stream.h"

namespace qjit::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the work failed (no GPU, a kernel failed, a check failed)
inline constexpr int kExitUsage = 2;    // bad flags or bad input files

// Unregisters every llvm::cl option of `category` when it goes out of scope. Declare it after the command's
// function-local cl::opt objects (so it is destroyed before them); the category itself must be static.
// NOTE: LLVM 14's option destructor does not unregister the option; without this a command run twice in one
// process (the in-process CLI tests) aborts with "Option 'x' registered more than once".
class OptionScope {
 public:
  explicit OptionScope(llvm::cl::OptionCategory& category) : category_(category) {}
  OptionScope(const OptionScope&) = delete;
  OptionScope& operator=(const OptionScope&) = delete;
  ~OptionScope();

 private:
  llvm::cl::OptionCategory& category_;
};

// Runs llvm::cl over argv[1..] with "qjit <command>" as the program name. False: cl already printed its error
// (which names the flag). The options must be function-local cl::opt objects in `category`.
bool parse_command_line(int argc, char** argv, const char* command, const char* overview);

// Prints "qjit <command>: <message>" and the hint to --help on stderr; returns kExitUsage.
int usage_error(const char* command, const std::string& message);
// Prints "qjit <command>: <status>" on stderr; returns kExitFailure.
int failure(const char* command, const Status& status);

// "f16" | "bf16" | "f32" (the output types the linear plans and `qjit bench` support).
Result<ElementKind> parse_dtype(const std::string& text, const char* flag);
// "sm_80" | "sm_86" | "sm_87" | "sm_89" | "sm_90a" (or "sm_90") -> 80 ... 90.
Result<int> parse_arch(const std::string& text, const char* flag);
// "heuristic" | "tuned" (Autotune is `qjit tune`'s business, not a reporting command's).
Result<PlanPreference> parse_preference(const std::string& text, const char* flag);

}  // namespace qjit::tools
