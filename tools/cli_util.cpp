// Command-line helpers shared by the qjit subcommands (see cli_util.h).
#include "tools/cli_util.h"

#include <cstdio>
#include <vector>

#include "codegen/kernel_spec.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

namespace qjit::tools {

OptionScope::~OptionScope() {
  std::vector<llvm::cl::Option*> mine;
  for (auto& entry : llvm::cl::getRegisteredOptions()) {
    llvm::cl::Option* o = entry.getValue();
    for (llvm::cl::OptionCategory* c : o->Categories)
      if (c == &category_) mine.push_back(o);
  }
  for (llvm::cl::Option* o : mine) o->removeArgument();
  // NOTE: parsing leaves occurrence counts on the process-wide options (--help and friends); reset them so the next
  // command in this process starts clean.
  llvm::cl::ResetAllOptionOccurrences();
}

bool parse_command_line(int argc, char** argv, const char* command, const char* overview) {
  // NOTE: cl names itself after argv[0]; the subcommand receives its own name there, so substitute "qjit <name>".
  std::string program = std::string("qjit ") + command;
  std::vector<const char*> args{program.c_str()};
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  const bool ok =
      llvm::cl::ParseCommandLineOptions(static_cast<int>(args.size()), args.data(), overview, &llvm::errs());
  llvm::errs().flush();
  return ok;
}

int usage_error(const char* command, const std::string& message) {
  std::fflush(stdout);
  std::fprintf(stderr, "qjit %s: %s\n(see 'qjit %s --help')\n", command, message.c_str(), command);
  return kExitUsage;
}

int failure(const char* command, const Status& status) {
  std::fflush(stdout);
  std::fprintf(stderr, "qjit %s: %s\n", command, status.to_string().c_str());
  return kExitFailure;
}

Result<ElementKind> parse_dtype(const std::string& text, const char* flag) {
  if (text == "bf16") return ElementKind::BF16;
  if (text == "f16") return ElementKind::F16;
  if (text == "f32") return ElementKind::F32;
  return Status(StatusCode::InvalidArgument, std::string(flag) + " must be bf16, f16 or f32, got '" + text + "'");
}

Result<int> parse_arch(const std::string& text, const char* flag) {
  for (int arch : {80, 86, 87, 89, 90})
    if (text == codegen::arch_option(arch) || text == "sm_" + std::to_string(arch)) return arch;
  return Status(StatusCode::InvalidArgument,
                std::string(flag) + " must be sm_80, sm_86, sm_87, sm_89 or sm_90a, got '" + text + "'");
}

Result<PlanPreference> parse_preference(const std::string& text, const char* flag) {
  if (text == "heuristic") return PlanPreference::Heuristic;
  if (text == "tuned") return PlanPreference::Tuned;
  return Status(StatusCode::InvalidArgument, std::string(flag) + " must be heuristic or tuned, got '" + text + "'");
}

}  // namespace qjit::tools
