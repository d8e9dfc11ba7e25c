// `qjit warmup --arch sm_90a --shapes FILE.csv [...]`: the deployment step. Compiles every kernel a model's linear
// plans will need on the target arch into the kernel cache, in parallel, with no GPU (ops/warmup.h does the work;
// this file is flags and printing). Exit codes: 0 every kernel is cached, 1 some kernel failed (each is named) or
// an input could not be read, 2 bad usage.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "autotune/shapes.h"
#include "autotune/tuning_db.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"
#include "ops/warmup.h"
#include "tools/commands.h"

namespace qjit::tools {
namespace {

constexpr const char* kUsage =
    "usage: qjit warmup --arch ARCH --shapes FILE.csv [options]\n"
    "\n"
    "Compiles every kernel the linear plans need for the model's layers into the kernel cache (QJIT_CACHE_DIR),\n"
    "so the engine's first call of each layer loads a cubin instead of compiling. Needs NVRTC, not a GPU.\n"
    "\n"
    "  --arch ARCH          target: sm_80, sm_86, sm_87, sm_89 or sm_90a (80, 86, 87, 89, 90, sm_90 also accepted)\n"
    "  --shapes FILE.csv    the model's linears: '#' comments, a model,layer,N,K header, one layer per line\n"
    "  --m LIST             token counts to cover (default 1,16,128,2048,8192; each maps to its M bucket)\n"
    "  --dtype T            activation and output type: bf16 (default), f16, f32, f64\n"
    "  --plans LIST         ql (QuantizedLinear), sq (SmoothQuant), rmsnorm, layernorm (the fused norm +\n"
    "                       quantize kernels of each K: dynamic and static scale, with and without a residual),\n"
    "                       mm (ScaledMatmul: its GEMMs in all four scale modes), w8a16 (WeightOnlyLinear: per\n"
    "                       channel / tensor / group 64 / 128, with and without zero points), azp (asymmetric\n"
    "                       activations: QuantizedLinear asymmetric and ScaledMatmul with zero points); default ql,sq\n"
    "  --bias MODE          no (default), yes, or both: compile the bias-adding GEMM variants\n"
    "  --smooth MODE        no (default), yes, or both: the QuantizedLinear quantize pass with a pre_quant_scale\n"
    "                       (what a model qjit quantize smoothed through <module>.pre_quant_scale needs)\n"
    "  --tuning-db DB       take configs from this tuning database where it has them (else the heuristic)\n"
    "  --device NAME        the database's device to use (default: its only device)\n"
    "  --sm-count N         the target's SM count (default: the database device's, else 132)\n"
    "  --jobs J             parallel compiles (default: hardware concurrency)\n"
    "  --json               machine-readable output\n"
    "  -h, --help           this text\n"
    "\n"
    "QJIT_DISABLE_SM90=1 is honoured as the plans honour it (no Hopper-family kernels).\n";

struct Args {
  std::optional<int> arch;
  std::string shapes;
  std::string m_list = "1,16,128,2048,8192";
  ElementKind dtype = ElementKind::BF16;
  std::vector<ops::WarmupPlan> plans = {ops::WarmupPlan::QuantizedLinear, ops::WarmupPlan::SmoothQuant};
  std::vector<bool> bias_modes = {false};
  std::vector<bool> smooth_modes = {false};
  std::optional<std::string> tuning_db, device;
  std::optional<int> sm_count;
  unsigned jobs = 0;
  bool json = false;
  bool help = false;
};

Status bad(std::string message) { return Status(StatusCode::InvalidArgument, std::move(message)); }

Result<int> positive(std::string_view flag, const std::string& v, int max) {
  long long n = 0;
  std::size_t used = 0;
  try {
    n = std::stoll(v, &used);
  } catch (...) {
    used = 0;
  }
  if (used != v.size() || v.empty() || v[0] == '+' || v[0] == ' ' || n < 1 || n > max)
    return bad(llvm::formatv("{0} must be an integer in [1, {1}], got '{2}'", flag, max, v.substr(0, 40)).str());
  return static_cast<int>(n);
}

Result<Args> parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= argc) return bad(std::string(arg) + " needs a value");
      return std::string(argv[++i]);
    };
    if (arg == "--help" || arg == "-h") {
      a.help = true;
    } else if (arg == "--json") {
      a.json = true;
    } else if (arg == "--arch") {
      QJIT_ASSIGN_OR_RETURN(std::string v, value());
      QJIT_ASSIGN_OR_RETURN(a.arch, ops::parse_target_arch(v));
    } else if (arg == "--shapes") {
      QJIT_ASSIGN_OR_RETURN(a.shapes, value());
    } else if (arg == "--m") {
      QJIT_ASSIGN_OR_RETURN(a.m_list, value());
    } else if (arg == "--dtype") {
      QJIT_ASSIGN_OR_RETURN(std::string v, value());
      QJIT_ASSIGN_OR_RETURN(a.dtype, ops::parse_warmup_dtype(v));
    } else if (arg == "--plans") {
      QJIT_ASSIGN_OR_RETURN(std::string v, value());
      QJIT_ASSIGN_OR_RETURN(a.plans, ops::parse_warmup_plans(v));
    } else if (arg == "--bias") {
      QJIT_ASSIGN_OR_RETURN(std::string v, value());
      if (v == "no")
        a.bias_modes = {false};
      else if (v == "yes")
        a.bias_modes = {true};
      else if (v == "both")
        a.bias_modes = {false, true};
      else
        return bad("--bias must be no, yes or both, got '" + v.substr(0, 40) + "'");
    } else if (arg == "--smooth") {
      QJIT_ASSIGN_OR_RETURN(std::string v, value());
      if (v == "no")
        a.smooth_modes = {false};
      else if (v == "yes")
        a.smooth_modes = {true};
      else if (v == "both")
        a.smooth_modes = {false, true};
      else
        return bad("--smooth must be no, yes or both, got '" + v.substr(0, 40) + "'");
    } else if (arg == "--tuning-db") {
      QJIT_ASSIGN_OR_RETURN(a.tuning_db, value());
    } else if (arg == "--device") {
      QJIT_ASSIGN_OR_RETURN(a.device, value());
      if (a.device->empty()) return bad("--device must not be empty");
    } else if (arg == "--sm-count") {
      QJIT_ASSIGN_OR_RETURN(std::string v, value());
      QJIT_ASSIGN_OR_RETURN(a.sm_count, positive("--sm-count", v, 100000));
    } else if (arg == "--jobs") {
      QJIT_ASSIGN_OR_RETURN(std::string v, value());
      QJIT_ASSIGN_OR_RETURN(int j, positive("--jobs", v, 1024));
      a.jobs = static_cast<unsigned>(j);
    } else if (!arg.empty() && arg[0] == '-') {
      return bad("unknown option '" + std::string(arg.substr(0, 40)) + "'");
    } else {
      return bad("unexpected argument '" + std::string(arg.substr(0, 40)) + "'");
    }
  }
  if (a.help) return a;
  if (!a.arch) return bad("--arch is required (sm_80, sm_86, sm_87, sm_89 or sm_90a)");
  if (a.shapes.empty()) return bad("--shapes FILE.csv is required");
  if (!a.tuning_db && a.device) return bad("--device names a tuning database device; it needs --tuning-db");
  return a;
}

const char* outcome_name(ops::WarmupOutcome o) {
  switch (o) {
    case ops::WarmupOutcome::Cached: return "cached";
    case ops::WarmupOutcome::Compiled: return "compiled";
    case ops::WarmupOutcome::Failed: return "failed";
  }
  return "?";
}

void print_json(const ops::WarmupReport& r, int arch, std::size_t items) {
  llvm::json::Array kernels;
  for (const auto& k : r.kernels)
    kernels.push_back(llvm::json::Object{{"entry", k.entry},
                                         {"spec", k.spec.to_string()},
                                         {"config", k.config.to_string()},
                                         {"tuned", k.tuned},
                                         {"outcome", outcome_name(k.outcome)},
                                         {"seconds", k.seconds},
                                         {"used_by", k.used_by},
                                         {"error", k.error.ok() ? llvm::json::Value(nullptr) : k.error.to_string()}});
  llvm::json::Object top{{"arch", codegen::arch_option(arch)},
                         {"work_items", static_cast<std::int64_t>(items)},
                         {"kernel_requests", static_cast<std::int64_t>(r.kernel_requests)},
                         {"kernels_needed", static_cast<std::int64_t>(r.kernels.size())},
                         {"already_cached", static_cast<std::int64_t>(r.cached)},
                         {"compiled", static_cast<std::int64_t>(r.compiled)},
                         {"failed", static_cast<std::int64_t>(r.failed)},
                         {"tuned", static_cast<std::int64_t>(r.tuned)},
                         {"tuned_rejected", static_cast<std::int64_t>(r.tuned_rejected)},
                         {"cache_dir", r.cache_dir},
                         {"wall_seconds", r.wall_seconds},
                         {"kernels", std::move(kernels)}};
  llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(std::move(top))) << "\n";
  llvm::outs().flush();
}

}  // namespace

int run_warmup_command(int argc, char** argv) {
  auto args = parse(argc, argv);
  if (!args) {
    std::fprintf(stderr, "qjit warmup: %s\n\n%s", args.error().message().c_str(), kUsage);
    return 2;
  }
  if (args->help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  auto fail = [](const Status& s, int code) {
    std::fprintf(stderr, "qjit warmup: %s\n", s.to_string().c_str());
    return code;
  };
  auto ms = autotune::parse_m_list(args->m_list);
  if (!ms) return fail(ms.error().with_context("--m"), 2);
  auto shapes = autotune::load_shapes(args->shapes);
  if (!shapes) return fail(shapes.error(), 1);

  ops::WarmupRequest req;
  req.arch = *args->arch;
  req.items = autotune::work_items(*shapes, *ms);
  req.plans = args->plans;
  req.dtype = args->dtype;
  req.bias_modes = args->bias_modes;
  req.smooth_modes = args->smooth_modes;
  req.jobs = args->jobs;
  req.sm_count = args->sm_count.value_or(132);
  std::optional<autotune::TuningDb> db;
  if (args->tuning_db) {
    // NOTE: load() reads a missing file as "nothing tuned"; a path given on the command line that does not exist
    // is a mistake, and warming the heuristic's kernels instead of the tuned ones would go unnoticed.
    if (!llvm::sys::fs::exists(*args->tuning_db))
      return fail(Status(StatusCode::InvalidArgument, "tuning database '" + *args->tuning_db + "' does not exist"), 1);
    auto loaded = autotune::TuningDb::load(*args->tuning_db);
    if (!loaded) return fail(loaded.error(), 1);
    db = std::move(loaded).value();
    auto picked = ops::pick_tuning_device(*db, args->device, args->sm_count);
    if (!picked) return fail(picked.error(), 2);
    req.device_name = picked->first;
    if (picked->second > 0) req.sm_count = picked->second;
    req.tuning_db = &*db;
  }
  auto report = ops::run_warmup(req);
  if (!report) return fail(report.error(), 1);
  const ops::WarmupReport& r = *report;
  if (args->json) {
    print_json(r, req.arch, req.items.size());
  } else {
    std::set<std::pair<std::int64_t, std::int64_t>> nks;
    for (const auto& w : req.items) nks.insert({w.n, w.k});
    std::printf("warmup for %s: %zu distinct (N, K) x M values = %zu work items, %zu plan kind(s)%s\n",
                codegen::arch_option(req.arch).c_str(), nks.size(), req.items.size(), req.plans.size(),
                db ? llvm::formatv(", tuning database {0} ('{1}', {2} SMs)", *args->tuning_db,
                                   req.device_name.empty() ? "no records" : req.device_name, req.sm_count)
                         .str()
                         .c_str()
                   : "");
    std::printf("kernels needed: %zu (from %zu requests; %zu tuned configs)\n", r.kernels.size(), r.kernel_requests,
                r.tuned);
    std::printf("already cached: %zu\ncompiled:       %zu\nfailed:         %zu\n", r.cached, r.compiled, r.failed);
    std::printf("wall time:      %.2f s\ncache:          %s\n", r.wall_seconds,
                r.cache_dir.empty() ? "(disabled: kernels were compiled but not stored)" : r.cache_dir.c_str());
    if (r.tuned_rejected)
      std::printf("note: %zu tuned configs did not render; the heuristic's kernels were compiled instead\n",
                  r.tuned_rejected);
  }
  for (const auto& k : r.kernels)
    if (k.outcome == ops::WarmupOutcome::Failed)
      std::fprintf(stderr, "FAILED %s [%s / %s] needed by %s: %s\n",
                   k.entry.empty() ? "(not rendered)" : k.entry.c_str(), k.spec.to_string().c_str(),
                   k.config.to_string().c_str(), k.used_by.c_str(), k.error.to_string().c_str());
  if (r.cache_dir.empty() && !args->json)
    std::fprintf(stderr, "qjit warmup: the kernel cache could not be opened, so nothing was stored (see above)\n");
  if (r.failed > 0) {
    for (const auto& k : r.kernels)
      if (k.outcome == ops::WarmupOutcome::Failed) {
        std::fprintf(stderr, "qjit warmup: %zu of %zu kernel(s) are not cached; first: %s\n", r.failed,
                     r.kernels.size(), k.error.to_string().c_str());
        break;
      }
  }
  return r.failed > 0 || r.cache_dir.empty() ? 1 : 0;
}

}  // namespace qjit::tools
