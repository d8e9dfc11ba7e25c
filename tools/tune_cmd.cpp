// `qjit tune`: offline autotuning over a model's layer shapes. For every (N, K) of the shape file, every M of --m
// and every kernel the chosen plans need, time the candidate configs on the GPU(s) (ops::autotune_kernel), print a
// progress bar with ETA and a summary table, and merge the winners into the tuning database. `--shard i/n` tunes
// only the i-th of n disjoint slices of the work, for job arrays; `qjit db merge` joins the shards' databases.
// Exit codes: 0 success, 1 a kernel failed to tune or disagreed with the heuristic's output, 2 bad usage.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "autotune/shapes.h"
#include "autotune/tuning_db.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"
#include "ops/autotuner.h"
#include "ops/linear_specs.h"
#include "ops/tuning_store.h"
#include "runtime/device.h"
#include "tools/commands.h"

namespace qjit::tools {
namespace {

constexpr const char* kUsage =
    "usage: qjit tune --shapes FILE.csv --m LIST [options]\n"
    "\n"
    "Times every candidate kernel config of each layer shape on the GPU and records the fastest in the tuning\n"
    "database, which PlanPreference::Tuned (and `qjit warmup --tuning-db`) then use.\n"
    "\n"
    "  --shapes FILE.csv     model,layer,N,K lines ('#' comments), e.g. data/llm_linear_shapes.csv\n"
    "  --m LIST              token counts to tune for, e.g. 1,16,128,2048,8192 (one tuning per M bucket: the\n"
    "                        largest listed M of each bucket is used)\n"
    "  --dtype T             activation/output type: bf16 (default), f16, f32\n"
    "  --plans LIST          ql (QuantizedLinear: quantize + per-token GEMM), sq (SmoothQuant GEMM); default ql\n"
    "  --devices LIST        GPU ordinals to tune on in parallel (default 0)\n"
    "  --shard i/n           tune only slice i (0-based) of n; the n slices partition the work exactly\n"
    "  --db PATH             tuning database to merge into (default QJIT_TUNING_DB or <cache dir>/tuning.json)\n"
    "  --jobs J              parallel compiles (default: all hardware threads)\n"
    "  --reps N              timed batches per candidate, median reported (default 20, at least 20)\n"
    "  --max-candidates N    try at most N configs per kernel (the heuristic's first; default all)\n"
    "  --resume              skip kernels the database already holds a current record for (this device, today's\n"
    "                        heuristic): re-run a job its time limit stopped to finish only what is missing\n"
    "  --json                machine-readable summary on stdout\n";

struct Args {
  std::string shapes, m_list = "", dtype = "bf16", plans = "ql", devices = "0", shard, db;
  int jobs = 0, reps = 20, max_candidates = 0;
  bool json = false;
  bool resume = false;
};

int usage_error(const std::string& message) {
  std::fprintf(stderr, "qjit tune: %s\n\n%s", message.c_str(), kUsage);
  return 2;
}

bool parse_int(const char* text, int lo, int* out) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < lo || v > 1 << 20) return false;
  *out = static_cast<int>(v);
  return true;
}

struct Task {
  codegen::KernelSpec spec;
  std::int64_t m = 0;
  std::string label;
};

struct Done {
  Task task;
  Result<ops::TuneOutcome> outcome = Status(StatusCode::NotFound, "not run");
  int device = 0;
};

std::string clock_text(double s) {
  const int t = static_cast<int>(s + 0.5);
  return llvm::formatv("{0}:{1:d2}", t / 60, t % 60).str();
}

// One line per event when stderr is not a terminal; a redrawn bar when it is.
class Progress {
 public:
  explicit Progress(int total) : total_(total), tty_(::isatty(2)), t0_(std::chrono::steady_clock::now()) {}
  void finished(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    ++done_;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    const double eta = done_ > 0 ? elapsed / done_ * (total_ - done_) : 0;
    constexpr int kWidth = 30;
    const int fill = total_ > 0 ? kWidth * done_ / total_ : kWidth;
    std::string bar(fill, '=');
    bar.resize(kWidth, ' ');
    std::fprintf(stderr, "%s[%s] %d/%d kernels  elapsed %s  ETA %s  %s%s", tty_ ? "\r\033[K" : "", bar.c_str(),
                 done_, total_, clock_text(elapsed).c_str(), clock_text(eta).c_str(), what.c_str(),
                 tty_ ? "" : "\n");
    if (tty_ && done_ == total_) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  std::mutex mu_;
  int total_, done_ = 0;
  bool tty_;
  std::chrono::steady_clock::time_point t0_;
};

Result<ElementKind> parse_dtype(const std::string& s) {
  if (s == "bf16") return ElementKind::BF16;
  if (s == "f16") return ElementKind::F16;
  if (s == "f32") return ElementKind::F32;
  return Status(StatusCode::InvalidArgument, "--dtype must be bf16, f16 or f32, got '" + s + "'");
}

}  // namespace

int run_tune_command(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (flag == "--json") {
      a.json = true;
      continue;
    }
    if (flag == "--resume") {
      a.resume = true;
      continue;
    }
    if (i + 1 >= argc) return usage_error("missing value after " + flag);
    const char* v = argv[++i];
    if (flag == "--shapes") a.shapes = v;
    else if (flag == "--m") a.m_list = v;
    else if (flag == "--dtype") a.dtype = v;
    else if (flag == "--plans") a.plans = v;
    else if (flag == "--devices") a.devices = v;
    else if (flag == "--shard") a.shard = v;
    else if (flag == "--db") a.db = v;
    else if (flag == "--jobs") {
      if (!parse_int(v, 1, &a.jobs)) return usage_error("--jobs must be a positive integer, got '" + std::string(v) + "'");
    } else if (flag == "--reps") {
      if (!parse_int(v, 20, &a.reps)) return usage_error("--reps must be an integer >= 20, got '" + std::string(v) + "'");
    } else if (flag == "--max-candidates") {
      if (!parse_int(v, 1, &a.max_candidates))
        return usage_error("--max-candidates must be a positive integer, got '" + std::string(v) + "'");
    } else {
      return usage_error("unknown option " + flag);
    }
  }
  if (a.shapes.empty()) return usage_error("--shapes FILE.csv is required");
  if (a.m_list.empty()) return usage_error("--m LIST is required (e.g. --m 1,16,128,2048,8192)");
  auto dtype = parse_dtype(a.dtype);
  if (!dtype) return usage_error(dtype.error().message());
  bool want_ql = false, want_sq = false;
  for (llvm::StringRef rest = a.plans; !rest.empty();) {
    auto [item, tail] = rest.split(',');
    rest = tail;
    if (item == "ql") want_ql = true;
    else if (item == "sq") want_sq = true;
    else return usage_error("--plans items must be ql or sq, got '" + item.str() + "'");
  }
  std::vector<int> devices;
  for (llvm::StringRef rest = a.devices; !rest.empty();) {
    auto [item, tail] = rest.split(',');
    rest = tail;
    int d = 0;
    if (item.getAsInteger(10, d) || d < 0) return usage_error("--devices must list GPU ordinals, got '" + item.str() + "'");
    devices.push_back(d);
  }
  if (devices.empty()) return usage_error("--devices must list at least one GPU ordinal");
  auto ms = autotune::parse_m_list(a.m_list);
  if (!ms) return usage_error("--m: " + ms.error().message());
  autotune::Shard shard;
  if (!a.shard.empty()) {
    auto s = autotune::parse_shard(a.shard);
    if (!s) return usage_error("--shard: " + s.error().message());
    shard = *s;
  }
  auto shapes = autotune::load_shapes(a.shapes);
  if (!shapes) {
    std::fprintf(stderr, "qjit tune: %s\n", shapes.error().to_string().c_str());
    return 2;
  }

  auto first = runtime::use_device(devices[0]);
  if (!first) {
    std::fprintf(stderr, "qjit tune: needs a GPU: %s\n", first.error().to_string().c_str());
    return 1;
  }
  const std::string db_path = a.db.empty() ? autotune::default_tuning_db_path() : a.db;
  auto db = autotune::TuningDb::load(db_path);
  if (!db) {
    std::fprintf(stderr, "qjit tune: %s\n", db.error().to_string().c_str());
    return 1;
  }

  // One task per distinct kernel spec (its M bucket included), tuned at the largest listed M of that bucket.
  std::vector<Task> tasks;
  std::map<std::string, std::size_t> seen;
  std::size_t resumed = 0;  // kernels --resume found current records for
  constexpr std::size_t kResumed = static_cast<std::size_t>(-1);
  for (const auto& item : autotune::shard_items(autotune::work_items(*shapes, *ms), shard)) {
    for (bool sq : {false, true}) {
      if ((sq && !want_sq) || (!sq && !want_ql)) continue;
      ops::LinearShape s;
      s.smooth_quant = sq;
      s.m = item.m;
      s.n = item.n;
      s.k = item.k;
      s.activation = s.output = *dtype;
      const auto specs = ops::linear_kernel_specs(s, first->arch);
      for (const auto& spec : {specs.quantize, std::optional<codegen::KernelSpec>(specs.gemm)}) {
        if (!spec) continue;
        const std::string key = spec->to_string();
        if (auto it = seen.find(key); it != seen.end()) {
          if (it->second != kResumed) tasks[it->second].m = std::max(tasks[it->second].m, item.m);
          continue;
        }
        if (a.resume && ops::has_current_record(*db, *spec, *first)) {
          seen.emplace(key, kResumed);
          ++resumed;
          continue;
        }
        seen.emplace(key, tasks.size());
        tasks.push_back({*spec, item.m, item.label});
      }
    }
  }
  std::fprintf(stderr, "qjit tune: %zu kernels (shard %d/%d) on %zu device(s), database %s\n", tasks.size(),
               shard.index, shard.count, devices.size(), db_path.c_str());
  if (a.resume)
    std::fprintf(stderr, "qjit tune: --resume: %zu kernel(s) already have a current record and are skipped\n", resumed);

  ops::TuneOptions options;
  options.jobs = a.jobs;
  options.timing.reps = a.reps;
  options.max_candidates = a.max_candidates;
  std::vector<Done> done(tasks.size());
  std::atomic<std::size_t> next{0};
  std::mutex db_mu;
  Status saved;  // of the latest save
  Progress progress(static_cast<int>(tasks.size()));
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int ordinal : devices) {
    workers.emplace_back([&, ordinal] {
      auto device = runtime::use_device(ordinal);
      for (std::size_t i; (i = next.fetch_add(1)) < tasks.size();) {
        done[i].task = tasks[i];
        done[i].device = ordinal;
        done[i].outcome = device ? ops::autotune_kernel(tasks[i].spec, tasks[i].m, *device, options)
                                 : Result<ops::TuneOutcome>(device.error());
        if (done[i].outcome.has_value()) {
          // Saved after every kernel, so a job killed at its time limit keeps what it measured; merged with what
          // other jobs saved meanwhile, so shards writing one file lose nothing.
          std::lock_guard<std::mutex> lock(db_mu);
          db->put(done[i].outcome->record);
          auto updated = autotune::TuningDb::update(db_path, [&](autotune::TuningDb& on_disk) {
            on_disk.merge(*db);
            return Status();
          });
          saved = updated.status();
          if (updated) *db = std::move(updated).value();
          if (!saved.ok())
            std::fprintf(stderr, "qjit tune: could not save %s: %s\n", db_path.c_str(), saved.to_string().c_str());
        }
        progress.finished(tasks[i].spec.to_string() + " m=" + std::to_string(tasks[i].m));
      }
    });
  }
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  int failed = 0, mismatched = 0, improved = 0;
  llvm::json::Array rows;
  if (!a.json) {
    std::printf("\n| shape | kernel | M | heuristic | µs | tuned | µs | speed-up | candidates |\n");
    std::printf("|---|---|---:|---|---:|---|---:|---:|---:|\n");
  }
  for (const Done& d : done) {
    if (!d.outcome) {
      ++failed;
      std::fprintf(stderr, "qjit tune: %s m=%lld failed: %s\n", d.task.spec.to_string().c_str(),
                   static_cast<long long>(d.task.m), d.outcome.error().to_string().c_str());
      continue;
    }
    const ops::TuneOutcome& o = *d.outcome;
    mismatched += o.mismatches;
    for (const auto& c : o.candidates)
      if (c.rejected.rfind("output differs", 0) == 0)
        std::fprintf(stderr, "qjit tune: BUG %s %s: %s\n", d.task.spec.to_string().c_str(),
                     c.config.to_string().c_str(), c.rejected.c_str());
    const double speedup = o.record.heuristic_time_us / o.record.time_us;
    if (!(o.record.config == o.heuristic)) ++improved;
    const std::string kernel(codegen::kernel_op_name(d.task.spec.op));
    if (a.json) {
      rows.push_back(llvm::json::Object{{"shape", d.task.label},
                                        {"spec", d.task.spec.to_string()},
                                        {"m", d.task.m},
                                        {"heuristic", o.heuristic.to_string()},
                                        {"heuristic_us", o.record.heuristic_time_us},
                                        {"tuned", o.record.config.to_string()},
                                        {"tuned_us", o.record.time_us},
                                        {"speedup", speedup},
                                        {"candidates", o.record.candidates},
                                        {"compile_s", o.compile_seconds},
                                        {"check_s", o.check_seconds},
                                        {"timing_s", o.timing_seconds},
                                        {"device", d.device}});
    } else {
      std::printf("| %s | %s %s | %lld | %s | %.2f | %s | %.2f | %.3f | %d |\n", d.task.label.c_str(),
                  kernel.c_str(), d.task.spec.per_token_scale ? "" : "(sq)", static_cast<long long>(d.task.m),
                  o.heuristic.to_string().c_str(), o.record.heuristic_time_us, o.record.config.to_string().c_str(),
                  o.record.time_us, speedup, o.record.candidates);
    }
  }
  if (a.json) {
    llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(llvm::json::Object{
                                               {"database", db_path},
                                               {"saved", saved.ok()},
                                               {"kernels", static_cast<std::int64_t>(tasks.size())},
                                               {"improved", improved},
                                               {"failed", failed},
                                               {"mismatches", mismatched},
                                               {"seconds", seconds},
                                               {"results", std::move(rows)}}))
                 << "\n";
    llvm::outs().flush();
  } else {
    std::printf("\n%zu kernels tuned in %.1f s: %d faster than the heuristic, %d failed, %d candidate mismatches; "
                "database %s (%zu records)\n",
                tasks.size(), seconds, improved, failed, mismatched, db_path.c_str(), db->size());
  }
  if (!saved.ok()) {
    std::fprintf(stderr, "qjit tune: %s\n", saved.to_string().c_str());
    return 1;
  }
  if (failed > 0 || mismatched > 0) {
    const Done* first = nullptr;
    for (const Done& d : done)
      if (!d.outcome) {
        first = &d;
        break;
      }
    std::fprintf(stderr, "qjit tune: %d of %zu kernel(s) failed, %d candidate mismatch(es)%s%s\n", failed,
                 tasks.size(), mismatched, first ? "; first failure: " : "",
                 first ? first->outcome.error().to_string().c_str() : "");
    return 1;
  }
  return 0;
}

}  // namespace qjit::tools
