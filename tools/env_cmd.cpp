// `qjit env`: the QJIT_* variables of the registry (runtime/env.h) with the values in effect for this process, or,
// with --markdown, the README's environment table generated from the same registry. Exit codes: 0, 2 bad usage.
#include <cstdio>
#include <cstring>
#include <string>

#include "runtime/env.h"
#include "tools/cli_util.h"
#include "tools/commands.h"

namespace qjit::tools {

void print_environment(std::FILE* out, const char* indent) {
  for (const auto& [var, value] : env::in_effect()) {
    if (value)
      std::fprintf(out, "%s%s=%s\n", indent, var->name.data(), value->c_str());
    else
      std::fprintf(out, "%s%s unset (default: %s)\n", indent, var->name.data(), env::plain(var->default_value).c_str());
  }
}

int run_env_command(int argc, char** argv) {
  constexpr const char* kCommand = "env";
  bool markdown = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--markdown")) {
      markdown = true;
    } else if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf(
          "usage: qjit env [--markdown]\n\nThe QJIT_* environment variables and the values in effect; "
          "--markdown prints the README's table of them.\n");
      return kExitOk;
    } else {
      return usage_error(kCommand, std::string("unknown argument '") + argv[i] + "': expected --markdown or nothing");
    }
  }
  if (markdown) {
    std::fputs(env::markdown_table().c_str(), stdout);
    return kExitOk;
  }
  print_environment(stdout, "");
  return kExitOk;
}

}  // namespace qjit::tools
