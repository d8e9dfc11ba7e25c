// The QJIT_* environment, owned in one place: every variable qjit or its packages read is one entry of
// QJIT_ENV_VARIABLES below (its name, its type, its default, a one-line meaning and the room that reads it), and the
// code reads it through the typed accessors here, never with getenv. `qjit --help` lists the registry, `qjit env`
// and `qjit inspect` print the values in effect, and the README's environment table is `qjit env --markdown`
// (tests/unit/runtime_env_test.cpp keeps the two equal). A value that does not parse is an InvalidArgument (or, where
// the reader has no error path, a logged warning) naming the variable, the value and the accepted form.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qjit/status.h"

namespace qjit::env {

enum class Type {
  Path,      // a file or directory; empty is unset
  PathList,  // ':'-separated directories, empty parts skipped
  Flag,      // 1/true/yes/on or 0/false/no/off (case-insensitive); empty is 0
  Bytes,     // a byte count with an optional k/M/G/T suffix (powers of 1024)
  Integer,   // a decimal integer in the range the reader states
  Level,     // a log level: off|error|warn|info|debug
  Text,      // free text (a model name)
};

// X(id, name, type, default, room, meaning). `default` and `meaning` are Markdown (README table cells); `room` is the
// folder whose code reads the variable (python and bindings/rust read theirs in their own language).
#define QJIT_ENV_VARIABLES(X)                                                                                       \
  X(CacheDir, "QJIT_CACHE_DIR", Path, "`$XDG_CACHE_HOME/qjit`, else `~/.cache/qjit`", "cache",                      \
    "writable kernel cache")                                                                                        \
  X(CachePath, "QJIT_CACHE_PATH", PathList, "none", "cache",                                                        \
    "`:`-separated read-only caches searched after it (prebuilt caches shipped with an app)")                       \
  X(CacheReadonly, "QJIT_CACHE_READONLY", Flag, "`0`", "cache", "`1`: never write the cache")                       \
  X(CacheMaxBytes, "QJIT_CACHE_MAX_BYTES", Bytes, "unbounded", "cache",                                             \
    "bound on the writable cache (`512M`, `2G`); least recently used entries are pruned")                           \
  X(CacheLockTimeoutMs, "QJIT_CACHE_LOCK_TIMEOUT_MS", Integer, "`30000`", "cache",                                  \
    "milliseconds a process waits for another one compiling the same kernel (0 to 3600000)")                        \
  X(Log, "QJIT_LOG", Level, "`warn`", "runtime",                                                                    \
    "`off`, `error`, `warn`, `info` (hits, misses, compiles with times), `debug`")                                  \
  X(DumpDir, "QJIT_DUMP_DIR", Path, "none", "jit", "write the rendered source, PTX and cubin of each compile here") \
  X(NvrtcLibrary, "QJIT_NVRTC_LIBRARY", Path, "`libnvrtc.so.13`, `.so.12`, then the toolkit's", "runtime",          \
    "the NVRTC library to open (point it at a missing file to assert nothing compiles)")                            \
  X(CudaLibrary, "QJIT_CUDA_LIBRARY", Path, "`libcuda.so.1`", "runtime", "the CUDA driver library to open")         \
  X(TuningDb, "QJIT_TUNING_DB", Path, "`<cache dir>/tuning.json`", "autotune",                                      \
    "the tuning database `Tuned` reads and `Autotune` / `qjit tune` write")                                         \
  X(DisablePdl, "QJIT_DISABLE_PDL", Flag, "`0`", "jit",                                                             \
    "`1`: launch the Hopper GEMM and the quantize pass without programmatic dependent launch (A/B timing)")         \
  X(DisableSm90, "QJIT_DISABLE_SM90", Flag, "`0`", "jit",                                                           \
    "`1`: use the portable mma.sync GEMM on Hopper too (diagnostics, A/B comparisons)")                             \
  X(Device, "QJIT_DEVICE", Integer, "`0`", "runtime",                                                               \
    "device ordinal used when the calling thread has no current context")                                           \
  X(ShardCount, "QJIT_SHARD_COUNT", Integer, "none", "autotune",                                                    \
    "the shard count for `qjit tune --shard auto` in a Kubernetes Indexed Job (which exports only "                 \
    "`JOB_COMPLETION_INDEX`)")                                                                                      \
  X(BenchModel, "QJIT_BENCH_MODEL", Text, "`llama-2-7b`", "bench",                                                  \
    "the model (of `shared/data/llm_linear_shapes.csv`) whose shapes the Google Benchmark GEMM suite times")        \
  X(BenchPref, "QJIT_BENCH_PREF", Text, "`heuristic`", "bench",                                                    \
    "`tuned`: the fused norm + quantize benchmark times the tuning database's configs")                             \
  X(CublasLtLibrary, "QJIT_CUBLASLT_LIBRARY", Path, "`libcublasLt.so.13`, `.so.12`, then the toolkit's", "bench",   \
    "the cuBLASLt library the benchmark baseline opens")                                                            \
  X(Library, "QJIT_LIBRARY", Path, "the wheel's bundled copy", "python",                                            \
    "the `libqjit.so` the Python package loads when it has none bundled (and `setup.py` bundles)")                  \
  X(LibDir, "QJIT_LIB_DIR", Path, "`build/release`", "bindings/rust",                                               \
    "the directory the Rust crate's build script links `libqjit.so` from")

enum class Var {
#define QJIT_ENV_ID_(id, name, type, default_value, room, meaning) id,
  QJIT_ENV_VARIABLES(QJIT_ENV_ID_)
#undef QJIT_ENV_ID_
};

struct Variable {
  Var id;
  std::string_view name;
  Type type;
  std::string_view default_value;  // Markdown
  std::string_view room;
  std::string_view meaning;  // Markdown, one line
};

// Every registered variable, in list order.
std::span<const Variable> variables();
const Variable& variable(Var v);
inline const char* name(Var v) { return variable(v).name.data(); }
// The registered variable called `name`, or nullptr.
const Variable* find(std::string_view name);
// "1/true/yes/on or 0/false/no/off", "a byte count such as 1048576, 512k, 64M or 2G", ...
std::string_view expected_form(Type type);
std::string_view type_name(Type type);

// The process environment: the tree's one getenv. nullopt when unset (an empty value is returned as set).
std::optional<std::string> process_value(const char* name);
inline std::optional<std::string> value(Var v) { return process_value(name(v)); }
// A Path or Text variable: its value, or "" when unset.
std::string text(Var v);

// Parsers over a given value (readers that take their environment from a lookup, as the cache's tests do, use
// these); each error is "QJIT_X='value' is invalid: expected <form>".
Result<bool> parse_flag(Var v, std::string_view value);
Result<std::int64_t> parse_integer(Var v, std::string_view value, std::int64_t min, std::int64_t max);
// "1048576", "512k", "64M", "2G" (powers of 1024) -> bytes; an error naming `field` (a variable or a flag).
Result<std::uint64_t> parse_byte_size(std::string_view text, std::string_view field);
std::vector<std::string> split_path_list(std::string_view value);
Status invalid_value(std::string_view field, std::string_view value, std::string_view expected);

// Typed accessors over the process environment.
// A Flag: false when unset; a malformed value is logged as a warning naming the form and reads as false. For
// readers with no error path (a launch-time switch); the others return the parse error.
bool flag_or_warn(Var v);
// An Integer in [min, max]: nullopt when unset or empty.
Result<std::optional<std::int64_t>> integer(Var v, std::int64_t min, std::int64_t max);

// "QJIT_X" -> the value in effect ("unset" when not set), for `qjit env` and `qjit inspect`.
struct InEffect {
  const Variable* variable;
  std::optional<std::string> value;
};
std::vector<InEffect> in_effect();

// The README's environment table (Markdown, a trailing newline), generated from the registry.
std::string markdown_table();
// A Markdown cell as terminal text (the backticks dropped), for --help and `qjit env`.
std::string plain(std::string_view markdown);

}  // namespace qjit::env
