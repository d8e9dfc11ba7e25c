// The qjit command's subcommands. Each lives in its own file (tools/<name>_cmd.cpp) and takes the arguments after
// its name; it returns the process exit code (0 success, 1 failure of the work, 2 bad usage).
#pragma once

#include <cstdio>

namespace qjit::tools {

int run_demo_command(int argc, char** argv);
int run_quantize_command(int argc, char** argv);
int run_cache_command(int argc, char** argv);
int run_bench_command(int argc, char** argv);
int run_inspect_command(int argc, char** argv);
int run_tune_command(int argc, char** argv);
int run_db_command(int argc, char** argv);
int run_warmup_command(int argc, char** argv);
int run_env_command(int argc, char** argv);

// "NAME=value" or "NAME unset (default: ...)" for every registered QJIT_* variable (env_cmd.cpp).
void print_environment(std::FILE* out, const char* indent);

}  // namespace qjit::tools
