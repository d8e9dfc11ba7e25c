// `qjit tune`: offline autotuning over a model's layer shapes. For every (N, K) of the shape file, every M of --m
// and every kernel the chosen plans need, time the candidate configs on the GPU(s) (autotune::autotune_kernel), print a
// progress bar with ETA and a summary table, and merge the winners into the tuning database as each kernel finishes.
// Work is spread by estimated cost (autotune/cost_model.h, autotune/schedule.h): over `--devices` through one queue,
// most expensive kernel first; over the shards of an array job (`--shard i/n`, or `--shard auto` from Slurm or a
// Kubernetes Indexed Job) by the LPT split every shard computes alike; `qjit db merge` joins the shards' databases.
// `--dry-run` prints that plan without timing anything (and without a GPU, for an H200).
// Exit codes: 0 success, 1 a kernel failed to tune or disagreed with the heuristic's output, 2 bad usage.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "autotune/autotuner.h"
#include "autotune/cost_model.h"
#include "autotune/schedule.h"
#include "autotune/shapes.h"
#include "autotune/tuning_db.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"
#include "codegen/norm_quantize.h"
#include "ops/linear_specs.h"
#include "ops/tuning_store.h"
#include "runtime/device.h"
#include "runtime/driver.h"
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
    "  --plans LIST          ql (QuantizedLinear: quantize + per-token GEMM), sq (SmoothQuant GEMM), rmsnorm,\n"
    "                        layernorm (the fused norm + quantize kernels, per K: dynamic, with and without a\n"
    "                        residual); default ql\n"
    "  --devices LIST|all    GPU ordinals to tune on in parallel, or every visible GPU (default 0); kernels go to\n"
    "                        the next idle GPU, most expensive (estimated) first\n"
    "  --shard i/n           tune only slice i (0-based) of n; the n slices partition the kernels exactly and are\n"
    "                        balanced by estimated cost (every slice must run the same command and qjit build)\n"
    "  --shard auto[/N]      the slice of this array job task: Slurm (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT,\n"
    "                        SLURM_ARRAY_TASK_MIN) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with the\n"
    "                        count from N or QJIT_SHARD_COUNT); see deploy/README.md\n"
    "  --db PATH             tuning database to merge into (default QJIT_TUNING_DB or <cache dir>/tuning.json)\n"
    "  --jobs J              parallel compiles (default: all hardware threads)\n"
    "  --reps N              timed batches per candidate, median reported (default 20, at least 20)\n"
    "  --max-candidates N    try at most N configs per kernel (the heuristic's first; default all)\n"
    "  --resume              skip kernels the database already holds a current record for (this device, today's\n"
    "                        heuristic): re-run a job its time limit stopped to finish only what is missing\n"
    "  --dry-run             print the kernels, their estimated cost and the shard/device plan; time nothing (no\n"
    "                        GPU needed: without one the plan is made for an H200, sm_90a with 132 SMs)\n"
    "  --json                machine-readable summary on stdout\n";

struct Args {
  std::string shapes, m_list = "", dtype = "bf16", plans = "ql", devices = "0", shard, db;
  int jobs = 0, reps = 20, max_candidates = 0;
  bool json = false;
  bool resume = false;
  bool dry_run = false;
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
  int candidates = 0;     // configs the tuner will try (for the estimate)
  double estimate_s = 0;  // autotune::estimate_tune_seconds
};

struct Done {
  Task task;
  Result<autotune::TuneOutcome> outcome = Status(StatusCode::NotFound, "not run");
  int device = -1;
  double seconds = 0;  // wall time of this kernel's tuning
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
    std::fprintf(stderr, "%s[%s] %d/%d kernels  elapsed %s  ETA %s  %s%s", tty_ ? "\r\033[K" : "", bar.c_str(), done_,
                 total_, clock_text(elapsed).c_str(), clock_text(eta).c_str(), what.c_str(), tty_ ? "" : "\n");
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

// "all" -> every GPU the driver reports (CUDA_VISIBLE_DEVICES applies); else distinct ordinals "0,1,...".
Result<std::vector<int>> parse_devices(const std::string& text) {
  if (text == "all") {
    auto api = runtime::driver();
    if (!api) return api.error().with_context("--devices all needs a GPU");
    int count = 0;
    if ((*api)->cuDeviceGetCount(&count) != runtime::kCudaSuccess || count < 1)
      return Status(StatusCode::DriverUnavailable, "--devices all needs a GPU: the driver reports none");
    std::vector<int> all(static_cast<std::size_t>(count));
    for (int d = 0; d < count; ++d) all[static_cast<std::size_t>(d)] = d;
    return all;
  }
  std::vector<int> devices;
  std::set<int> seen;
  for (llvm::StringRef rest = text; !rest.empty();) {
    auto [item, tail] = rest.split(',');
    rest = tail;
    int d = 0;
    if (item.getAsInteger(10, d) || d < 0)
      return Status(StatusCode::InvalidArgument,
                    "--devices must list GPU ordinals or be 'all', got '" + item.str() + "'");
    // NOTE: two workers on one GPU would time each other's kernels.
    if (!seen.insert(d).second)
      return Status(StatusCode::InvalidArgument, "--devices lists GPU " + std::to_string(d) + " twice");
    devices.push_back(d);
  }
  if (devices.empty()) return Status(StatusCode::InvalidArgument, "--devices must list at least one GPU ordinal");
  return devices;
}

// The device the estimates are made for: the arch of the GPU in use (it decides which kernels a layer needs), every
// other property fixed, so that shards on different machines compute the same costs.
runtime::DeviceInfo reference_device(int arch) {
  runtime::DeviceInfo d;
  d.arch = arch;
  d.sm_count = 132;
  d.name = "NVIDIA H200";
  d.l2_bytes = 60 << 20;
  d.total_memory = std::size_t{141} << 30;
  return d;
}

// One task per distinct kernel spec (its M bucket included) over ALL the work, tuned at the largest listed M of its
// bucket, with its cost estimate. The list depends only on the arguments and the arch, so every shard builds the same.
struct Wanted {
  bool ql = false, sq = false, rmsnorm = false, layernorm = false;
};

std::vector<Task> build_tasks(const std::vector<autotune::WorkItem>& items, Wanted want, ElementKind dtype, int arch,
                              const autotune::TuneOptions& options) {
  std::vector<Task> tasks;
  std::map<std::string, std::size_t> seen;
  auto add = [&](const codegen::KernelSpec& spec, const autotune::WorkItem& item) {
    const auto [it, added] = seen.emplace(spec.to_string(), tasks.size());
    if (!added) {
      tasks[it->second].m = std::max(tasks[it->second].m, item.m);
      return;
    }
    tasks.push_back({spec, item.m, item.label});
  };
  for (const auto& item : items) {
    // The norm kernels depend on K, the dtype and the M bucket (the static-scale variants share the dynamic ones'
    // loads and reductions; they are not tuned separately).
    for (auto [wanted, op] : {std::pair{want.rmsnorm, codegen::KernelOp::RmsNormQuantize},
                              std::pair{want.layernorm, codegen::KernelOp::LayerNormQuantize}})
      if (wanted)
        for (bool residual : {false, true})
          add(codegen::norm_quantize_spec(op, dtype, item.k, codegen::m_bucket_of(item.m), arch, true, residual), item);
    for (bool sq : {false, true}) {
      if ((sq && !want.sq) || (!sq && !want.ql)) continue;
      ops::LinearShape s;
      s.smooth_quant = sq;
      s.m = item.m;
      s.n = item.n;
      s.k = item.k;
      s.activation = s.output = dtype;
      const auto specs = ops::linear_kernel_specs(s, arch);
      for (const auto& spec : {specs.quantize, std::optional<codegen::KernelSpec>(specs.gemm)})
        if (spec) add(*spec, item);
    }
  }
  const runtime::DeviceInfo ref = reference_device(arch);
  autotune::CostModel model;
  model.reps = options.timing.reps;
  for (Task& t : tasks) {
    const auto configs = autotune::tuning_candidates(t.spec, ref);
    t.candidates = static_cast<int>(configs.size());
    if (options.max_candidates > 0) t.candidates = std::min(t.candidates, options.max_candidates);
    autotune::KernelWork w{t.spec, t.m, t.candidates,
                           configs.empty() ? codegen::KernelFamily::GemmSm80 : configs[0].family()};
    t.estimate_s = autotune::estimate_tune_seconds(w, model);
  }
  return tasks;
}

std::vector<double> estimates(const std::vector<Task>& tasks) {
  std::vector<double> costs;
  costs.reserve(tasks.size());
  for (const Task& t : tasks) costs.push_back(t.estimate_s);
  return costs;
}

// FNV-1a over every kernel of the whole work and the shard it went to: the shards of one array job print the same
// value exactly when they agree on the split.
std::string plan_fingerprint(const std::vector<Task>& all, const std::vector<int>& owner) {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&](llvm::StringRef s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  };
  for (std::size_t i = 0; i < all.size(); ++i)
    mix(llvm::formatv("{0} m={1} -> {2};", all[i].spec.to_string(), all[i].m, owner[i]).str());
  return llvm::formatv("{0:x-16}", h).str();
}

struct Plan {
  autotune::ResolvedShard shard;
  std::vector<int> devices;
  std::string fingerprint;
  double shard_estimate_s = 0, largest_shard_s = 0,
         all_estimate_s = 0;   // the estimated work of this/the largest/all shards
  double makespan_s = 0;       // simulated: this shard's kernels over `devices` through the queue
  std::vector<int> simulated;  // per task of this shard: the position in `devices` the simulation gave it
};

int print_dry_run(const std::vector<Task>& tasks, const Plan& plan, bool json, bool assumed_device) {
  if (json) {
    llvm::json::Array rows;
    for (std::size_t i = 0; i < tasks.size(); ++i)
      rows.push_back(llvm::json::Object{{"shape", tasks[i].label},
                                        {"spec", tasks[i].spec.to_string()},
                                        {"m", tasks[i].m},
                                        {"candidates", tasks[i].candidates},
                                        {"estimated_s", tasks[i].estimate_s},
                                        {"device", plan.devices[static_cast<std::size_t>(plan.simulated[i])]}});
    llvm::json::Array devices;
    for (int d : plan.devices) devices.push_back(d);
    llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(llvm::json::Object{
                                               {"dry_run", true},
                                               {"assumed_device", assumed_device},
                                               {"shard", llvm::json::Object{{"index", plan.shard.shard.index},
                                                                            {"count", plan.shard.shard.count},
                                                                            {"source", plan.shard.source}}},
                                               {"plan", plan.fingerprint},
                                               {"devices", std::move(devices)},
                                               {"kernels", static_cast<std::int64_t>(tasks.size())},
                                               {"estimated_serial_s", plan.shard_estimate_s},
                                               {"estimated_makespan_s", plan.makespan_s},
                                               {"estimated_all_shards_s", plan.all_estimate_s},
                                               {"estimated_largest_shard_s", plan.largest_shard_s},
                                               {"results", std::move(rows)}}))
                 << "\n";
    llvm::outs().flush();
    return 0;
  }
  std::printf("| shape | kernel | M | candidates | est. s | device |\n|---|---|---:|---:|---:|---:|\n");
  for (std::size_t i = 0; i < tasks.size(); ++i)
    std::printf("| %s | %s | %lld | %d | %.2f | %d |\n", tasks[i].label.c_str(), tasks[i].spec.to_string().c_str(),
                static_cast<long long>(tasks[i].m), tasks[i].candidates, tasks[i].estimate_s,
                plan.devices[static_cast<std::size_t>(plan.simulated[i])]);
  std::printf(
      "\n%zu kernels, shard %d/%d (%s), plan %s: estimated %.1f s serial, %.1f s on %zu device(s); all "
      "shards %.1f s, the largest %.1f s%s\n",
      tasks.size(), plan.shard.shard.index, plan.shard.shard.count, plan.shard.source.c_str(), plan.fingerprint.c_str(),
      plan.shard_estimate_s, plan.makespan_s, plan.devices.size(), plan.all_estimate_s, plan.largest_shard_s,
      assumed_device ? " (no GPU: planned for an H200)" : "");
  return 0;
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
    if (flag == "--json" || flag == "--resume" || flag == "--dry-run") {
      (flag == "--json" ? a.json : flag == "--resume" ? a.resume : a.dry_run) = true;
      continue;
    }
    if (i + 1 >= argc) return usage_error("missing value after " + flag);
    const char* v = argv[++i];
    if (flag == "--shapes")
      a.shapes = v;
    else if (flag == "--m")
      a.m_list = v;
    else if (flag == "--dtype")
      a.dtype = v;
    else if (flag == "--plans")
      a.plans = v;
    else if (flag == "--devices")
      a.devices = v;
    else if (flag == "--shard")
      a.shard = v;
    else if (flag == "--db")
      a.db = v;
    else if (flag == "--jobs") {
      if (!parse_int(v, 1, &a.jobs))
        return usage_error("--jobs must be a positive integer, got '" + std::string(v) + "'");
    } else if (flag == "--reps") {
      if (!parse_int(v, 20, &a.reps))
        return usage_error("--reps must be an integer >= 20, got '" + std::string(v) + "'");
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
  Wanted want;
  for (llvm::StringRef rest = a.plans; !rest.empty();) {
    auto [item, tail] = rest.split(',');
    rest = tail;
    if (item == "ql")
      want.ql = true;
    else if (item == "sq")
      want.sq = true;
    else if (item == "rmsnorm")
      want.rmsnorm = true;
    else if (item == "layernorm")
      want.layernorm = true;
    else
      return usage_error("--plans items must be ql, sq, rmsnorm or layernorm, got '" + item.str() + "'");
  }
  if (a.devices.empty() || a.devices == ",") return usage_error("--devices must list at least one GPU ordinal");
  auto ms = autotune::parse_m_list(a.m_list);
  if (!ms) return usage_error("--m: " + ms.error().message());
  Plan plan;
  plan.shard.source = "no --shard";
  if (!a.shard.empty()) {
    auto s = autotune::resolve_shard(a.shard);
    if (!s) return usage_error("--shard: " + s.error().message());
    plan.shard = *s;
  }
  auto shapes = autotune::load_shapes(a.shapes);
  if (!shapes) {
    std::fprintf(stderr, "qjit tune: %s\n", shapes.error().to_string().c_str());
    return 2;
  }
  // "all" asks the driver; a list is checked here and again, per ordinal, when its worker binds it.
  auto devices = parse_devices(a.devices);
  if (!devices) {
    if (devices.error().code() == StatusCode::InvalidArgument) return usage_error(devices.error().message());
    std::fprintf(stderr, "qjit tune: %s\n", devices.error().to_string().c_str());
    return 1;
  }
  plan.devices = *devices;

  auto first = runtime::use_device(plan.devices[0]);
  const bool assumed_device = !first && a.dry_run;
  if (assumed_device) first = reference_device(90);
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

  autotune::TuneOptions options;
  options.jobs = a.jobs;
  options.timing.reps = a.reps;
  options.max_candidates = a.max_candidates;

  // The whole work, split by cost; then this shard's part; then --resume drops what is already current (after the
  // split, so that a resumed shard keeps exactly its own kernels).
  const std::vector<Task> all =
      build_tasks(autotune::work_items(*shapes, *ms), want, *dtype, first->arch, options);
  const std::vector<double> all_costs = estimates(all);
  const std::vector<int> owner = autotune::lpt_assign(all_costs, plan.shard.shard.count);
  plan.fingerprint = plan_fingerprint(all, owner);
  std::vector<double> shard_load(static_cast<std::size_t>(plan.shard.shard.count), 0.0);
  for (std::size_t i = 0; i < all.size(); ++i) shard_load[static_cast<std::size_t>(owner[i])] += all_costs[i];
  for (double load : shard_load) {
    plan.all_estimate_s += load;
    plan.largest_shard_s = std::max(plan.largest_shard_s, load);
  }
  std::vector<Task> tasks;
  std::size_t resumed = 0;  // kernels --resume found current records for
  for (std::size_t i : autotune::shard_indices(all_costs, plan.shard.shard)) {
    if (a.resume && ops::has_current_record(*db, all[i].spec, *first)) {
      ++resumed;
      continue;
    }
    tasks.push_back(all[i]);
  }
  const std::vector<double> costs = estimates(tasks);
  const std::vector<std::size_t> order = autotune::cost_order(costs);
  const autotune::QueueRun simulated = autotune::simulate_queue(order, costs, static_cast<int>(plan.devices.size()));
  plan.simulated = simulated.worker;
  plan.makespan_s = simulated.makespan;
  for (double c : costs) plan.shard_estimate_s += c;

  std::fprintf(stderr,
               "qjit tune: %zu kernels (shard %d/%d, %s; plan %s) on %zu device(s), database %s; estimated %.0f s "
               "(%.0f s of kernel work)\n",
               tasks.size(), plan.shard.shard.index, plan.shard.shard.count, plan.shard.source.c_str(),
               plan.fingerprint.c_str(), plan.devices.size(), db_path.c_str(), plan.makespan_s, plan.shard_estimate_s);
  if (a.resume)
    std::fprintf(stderr, "qjit tune: --resume: %zu kernel(s) already have a current record and are skipped\n", resumed);
  if (a.dry_run) return print_dry_run(tasks, plan, a.json, assumed_device);

  std::vector<Done> done(tasks.size());
  for (std::size_t i = 0; i < tasks.size(); ++i) done[i].task = tasks[i];
  std::atomic<std::size_t> next{0};  // position in `order`: the shared queue, most expensive first
  std::mutex db_mu;
  Status saved;  // of the latest save
  std::vector<std::string> device_errors(plan.devices.size());
  std::vector<double> busy(plan.devices.size(), 0.0);
  Progress progress(static_cast<int>(tasks.size()));
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (std::size_t w = 0; w < plan.devices.size(); ++w) {
    workers.emplace_back([&, w] {
      const int ordinal = plan.devices[w];
      auto device = runtime::use_device(ordinal);
      if (!device) {
        // NOTE: a GPU that cannot be used takes no work, so the others still finish the queue.
        device_errors[w] = device.error().to_string();
        std::fprintf(stderr, "qjit tune: GPU %d is not used: %s\n", ordinal, device_errors[w].c_str());
        return;
      }
      for (std::size_t q; (q = next.fetch_add(1)) < order.size();) {
        const std::size_t i = order[q];
        done[i].device = ordinal;
        const auto k0 = std::chrono::steady_clock::now();
        done[i].outcome = autotune::autotune_kernel(tasks[i].spec, tasks[i].m, *device, options);
        done[i].seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - k0).count();
        busy[w] += done[i].seconds;
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
        progress.finished(tasks[i].spec.to_string() + " m=" + std::to_string(tasks[i].m) + " on GPU " +
                          std::to_string(ordinal));
      }
    });
  }
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (Done& d : done)
    if (d.device < 0) d.outcome = Status(StatusCode::DriverUnavailable, "not run: no GPU of --devices could be used");

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
    const autotune::TuneOutcome& o = *d.outcome;
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
                                        {"estimated_s", d.task.estimate_s},
                                        {"wall_s", d.seconds},
                                        {"device", d.device}});
    } else {
      std::printf("| %s | %s %s | %lld | %s | %.2f | %s | %.2f | %.3f | %d |\n", d.task.label.c_str(), kernel.c_str(),
                  d.task.spec.per_token_scale ? "" : "(sq)", static_cast<long long>(d.task.m),
                  o.heuristic.to_string().c_str(), o.record.heuristic_time_us, o.record.config.to_string().c_str(),
                  o.record.time_us, speedup, o.record.candidates);
    }
  }
  if (a.json) {
    llvm::json::Array device_rows;
    for (std::size_t w = 0; w < plan.devices.size(); ++w)
      device_rows.push_back(llvm::json::Object{
          {"ordinal", plan.devices[w]},
          {"busy_s", busy[w]},
          {"error", device_errors[w].empty() ? llvm::json::Value(nullptr) : llvm::json::Value(device_errors[w])}});
    llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(llvm::json::Object{
                                               {"database", db_path},
                                               {"saved", saved.ok()},
                                               {"shard", llvm::json::Object{{"index", plan.shard.shard.index},
                                                                            {"count", plan.shard.shard.count},
                                                                            {"source", plan.shard.source}}},
                                               {"plan", plan.fingerprint},
                                               {"devices", std::move(device_rows)},
                                               {"estimated_s", plan.makespan_s},
                                               {"kernels", static_cast<std::int64_t>(tasks.size())},
                                               {"improved", improved},
                                               {"failed", failed},
                                               {"mismatches", mismatched},
                                               {"seconds", seconds},
                                               {"results", std::move(rows)}}))
                 << "\n";
    llvm::outs().flush();
  } else {
    std::printf(
        "\n%zu kernels tuned in %.1f s (estimated %.1f s) on %zu GPU(s): %d faster than the heuristic, %d "
        "failed, %d candidate mismatches; database %s (%zu records)\n",
        tasks.size(), seconds, plan.makespan_s, plan.devices.size(), improved, failed, mismatched, db_path.c_str(),
        db->size());
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
    std::fprintf(stderr, "qjit tune: %d of %zu kernel(s) failed, %d candidate mismatch(es)%s%s\n", failed, tasks.size(),
                 mismatched, first ? "; first failure: " : "", first ? first->outcome.error().to_string().c_str() : "");
    return 1;
  }
  return 0;
}

}  // namespace qjit::tools
