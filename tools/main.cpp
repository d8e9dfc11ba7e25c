// Entry point of the qjit command: dispatches to a subcommand by name.
#include <cstdio>
#include <cstring>
#include <new>

#include "runtime/env.h"
#include "tools/commands.h"

namespace {

struct Subcommand {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

constexpr Subcommand kSubcommands[] = {
    {"demo", qjit::tools::run_demo_command, "quantize a synthetic layer, JIT-compile its kernels, run and check them"},
    {"quantize", qjit::tools::run_quantize_command, "smooth and quantize a model's linears (safetensors in and out)"},
    {"tune", qjit::tools::run_tune_command, "autotune the kernels of a model's layer shapes into the tuning database"},
    {"cache", qjit::tools::run_cache_command,
     "inspect and manage the kernel cache: stats | ls | verify | prune | clear"},
    {"warmup", qjit::tools::run_warmup_command, "compile a model's kernels into the cache for a target arch (no GPU)"},
    {"db", qjit::tools::run_db_command, "show and merge tuning databases: merge OUT IN... | show [PATH]"},
    {"bench", qjit::tools::run_bench_command, "time qjit against cuBLASLt (int8 and bf16) over a model's shapes"},
    {"inspect", qjit::tools::run_inspect_command, "show a layer's kernels: spec, config, family, key, cache, SASS"},
    {"env", qjit::tools::run_env_command, "the QJIT_* environment variables and the values in effect"},
};

void print_usage(std::FILE* out, bool with_environment) {
  std::fprintf(out, "usage: qjit <command> [options]\n\ncommands:\n");
  for (const auto& c : kSubcommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out, "\n'qjit <command> --help' describes a command's options.\n");
  if (!with_environment) return;
  // The epilog: every registered variable (runtime/env.h); `qjit env` shows the values in effect.
  std::fprintf(out, "\nenvironment ('qjit env' shows the values in effect):\n");
  for (const auto& v : qjit::env::variables())
    std::fprintf(out, "  %-27s %s (default: %s)\n", v.name.data(), qjit::env::plain(v.meaning).c_str(),
                 qjit::env::plain(v.default_value).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr, false);
    return 2;
  }
  if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    print_usage(stdout, true);
    return 0;
  }
  for (const auto& c : kSubcommands)
    if (!std::strcmp(argv[1], c.name)) {
      // NOTE: the commands bound what an input can make them allocate; this is the last line behind those bounds,
      // so an allocation that still fails ends with a message and exit 1 instead of an abort.
      try {
        return c.run(argc - 1, argv + 1);
      } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "qjit %s: out of memory\n", c.name);
        return 1;
      }
    }
  std::fprintf(stderr, "qjit: unknown command '%s'\n\n", argv[1]);
  print_usage(stderr, false);
  return 2;
}
