// `qjit db merge | show`: the tuning database's operator side. `merge OUT IN...` joins the pieces of a sharded
// `qjit tune` run (or databases from several machines) into OUT -- per key the faster record wins, records of other
// devices sit side by side -- and writes OUT atomically; OUT may be one of the inputs. `show [--json] [PATH]` prints
// every record with its speed-up over the heuristic. Exit codes: 0 success, 1 the work failed, 2 bad usage.
#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "autotune/tuning_db.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"
#include "tools/commands.h"

namespace qjit::tools {
namespace {

constexpr const char* kUsage =
    "usage: qjit db <merge|show> [options]\n"
    "\n"
    "  merge OUT IN [IN...]   join tuning databases into OUT (created if absent; may also be an input): for each\n"
    "                         key the record with the lower time wins; records of other devices are kept side by\n"
    "                         side. Prints how many records each input added or replaced.\n"
    "  show [--json] [PATH]   print every record: key, config, time, heuristic time, speed-up over the heuristic\n"
    "                         (PATH defaults to QJIT_TUNING_DB, else <cache dir>/tuning.json)\n"
    "\n"
    "options:\n"
    "  --json                 machine-readable output (merge: the counts; show: the records with 'speedup')\n"
    "  -h, --help             this text\n";

struct Args {
  std::string command;
  std::vector<std::string> paths;
  bool json = false;
  bool help = false;
};

int usage_error(const std::string& message) {
  std::fprintf(stderr, "qjit db: %s\n\n%s", message.c_str(), kUsage);
  return 2;
}

int failure(const Status& s) {
  std::fprintf(stderr, "qjit db: %s\n", s.to_string().c_str());
  return 1;
}

void print_json(const llvm::json::Value& v) {
  llvm::outs() << llvm::formatv("{0:2}", v) << "\n";
  llvm::outs().flush();
}

Result<Args> parse(int argc, char** argv) {
  Args a;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (!options_done && (arg == "--help" || arg == "-h")) {
      a.help = true;
    } else if (!options_done && arg == "--json") {
      a.json = true;
    } else if (!options_done && arg == "--") {
      options_done = true;
    } else if (!options_done && arg.size() > 1 && arg[0] == '-') {
      return Status(StatusCode::InvalidArgument, "unknown option '" + std::string(arg) + "'");
    } else if (a.command.empty()) {
      a.command = arg;
    } else {
      a.paths.emplace_back(arg);
    }
  }
  if (a.help) return a;
  if (a.command.empty()) return Status(StatusCode::InvalidArgument, "missing subcommand (merge or show)");
  if (a.command == "merge") {
    if (a.paths.size() < 2)
      return Status(StatusCode::InvalidArgument,
                    "merge needs OUT and at least one IN, got " + std::to_string(a.paths.size()) + " path(s)");
  } else if (a.command == "show") {
    if (a.paths.size() > 1) return Status(StatusCode::InvalidArgument, "show takes at most one PATH");
  } else {
    return Status(StatusCode::InvalidArgument, "unknown subcommand '" + a.command + "' (expected merge or show)");
  }
  for (const auto& p : a.paths)
    if (p.empty()) return Status(StatusCode::InvalidArgument, "a database path must not be empty");
  return a;
}

int run_merge(const Args& a) {
  const std::string& out_path = a.paths[0];
  struct Counts {
    std::string path;
    std::size_t records = 0;
    int added = 0, replaced = 0;
  };
  // The inputs are read first; OUT is then loaded, merged into and saved under its lock, so concurrent merges into
  // one file (a sharded job's last steps) each see the others' records and none is lost.
  std::vector<autotune::TuningDb> inputs;
  for (std::size_t i = 1; i < a.paths.size(); ++i) {
    const std::string& in_path = a.paths[i];
    // NOTE: load() reads a missing file as an empty database (nothing tuned yet); for an input that is almost
    // certainly a typo'd shard name, and merging "nothing" would hide the lost shard.
    if (!llvm::sys::fs::exists(in_path))
      return failure(Status(StatusCode::InvalidArgument, "input tuning database '" + in_path + "' does not exist"));
    auto in = autotune::TuningDb::load(in_path);
    if (!in) return failure(in.error());
    inputs.push_back(std::move(in).value());
  }
  std::size_t before = 0;
  std::vector<Counts> counts;
  auto out = autotune::TuningDb::update(out_path, [&](autotune::TuningDb& db) {
    before = db.size();
    counts.clear();
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      Counts c{a.paths[i + 1], inputs[i].size(), 0, 0};
      for (const auto& r : inputs[i].records()) {
        const bool existed = db.find(r.key) != nullptr;
        if (db.put(r)) ++(existed ? c.replaced : c.added);
      }
      counts.push_back(std::move(c));
    }
    return Status();
  });
  if (!out) return failure(out.error());
  if (a.json) {
    llvm::json::Array inputs;
    for (const auto& c : counts)
      inputs.push_back(llvm::json::Object{{"path", c.path},
                                          {"records", static_cast<std::int64_t>(c.records)},
                                          {"added", c.added},
                                          {"replaced", c.replaced}});
    print_json(llvm::json::Object{{"out", out_path},
                                  {"records_before", static_cast<std::int64_t>(before)},
                                  {"records_after", static_cast<std::int64_t>(out->size())},
                                  {"inputs", std::move(inputs)}});
    return 0;
  }
  for (const auto& c : counts)
    std::printf("%s: %zu records, %d added, %d replaced (faster)\n", c.path.c_str(), c.records, c.added, c.replaced);
  std::printf("wrote %s: %zu records (was %zu)\n", out_path.c_str(), out->size(), before);
  return 0;
}

double speedup(const autotune::TuningRecord& r) { return r.heuristic_time_us / r.time_us; }

// The key without its device (the table prints the device as a heading).
std::string shape_text(const autotune::TuningKey& k) {
  std::string s = llvm::formatv("{0} {1}->{2}", k.op, k.in_dtype, k.out_dtype);
  if (k.n > 0) s += llvm::formatv(" n={0}", k.n).str();
  s += llvm::formatv(" k={0} m<={1}", k.k, k.m_bucket).str();
  if (k.op == "gemm_s8")
    s += std::string(k.has_bias ? " bias" : "") + (k.per_token_scale ? " per_token" : " per_tensor");
  return s + " " + codegen::arch_option(k.arch);
}

int run_show(const Args& a) {
  const bool explicit_path = !a.paths.empty();
  const std::string path = explicit_path ? a.paths[0] : autotune::default_tuning_db_path();
  if (explicit_path && !llvm::sys::fs::exists(path))
    return failure(Status(StatusCode::InvalidArgument, "tuning database '" + path + "' does not exist"));
  auto db = autotune::TuningDb::load(
      path, explicit_path ? autotune::TuningDbSource::Named : autotune::TuningDbSource::Implicit);
  if (!db) return failure(db.error());
  if (a.json) {
    // The file's own layout, plus the path and each record's speed-up, so scripts need not recompute it.
    auto parsed = llvm::json::parse(db->to_json());
    if (!parsed) return failure(Status(StatusCode::InvalidArgument, llvm::toString(parsed.takeError())));
    llvm::json::Object* top = parsed->getAsObject();
    (*top)["path"] = path;
    llvm::json::Array* records = top->getArray("records");
    for (std::size_t i = 0; i < records->size(); ++i)
      (*records)[i].getAsObject()->try_emplace(
          "speedup", db->records()[i].heuristic_time_us > 0 ? llvm::json::Value(speedup(db->records()[i])) : nullptr);
    print_json(std::move(*parsed));
    return 0;
  }
  if (db->size() == 0) {
    std::printf("%s: no records%s\n", path.c_str(),
                llvm::sys::fs::exists(path) ? "" : " (the file does not exist yet)");
    return 0;
  }
  std::printf("%s: %zu records (qjit %s)\n", path.c_str(), db->size(), std::string(autotune::qjit_version()).c_str());
  // Records are sorted by device first: one heading per device, then a row per shape with widths that fit.
  std::size_t shape_w = 5, config_w = 6;
  for (const auto& r : db->records()) {
    shape_w = std::max(shape_w, shape_text(r.key).size());
    config_w = std::max(config_w, r.config.to_string().size());
  }
  const int sw = static_cast<int>(shape_w), cw = static_cast<int>(config_w);
  std::string device;
  for (const auto& r : db->records()) {
    const std::string d = llvm::formatv("{0} ({1} SMs)", r.key.device, r.key.sm_count).str();
    if (d != device) {
      device = d;
      std::printf("\n%s\n  %-*s  %-*s %10s %10s %8s %5s\n", d.c_str(), sw, "shape", cw, "config", "time us", "heur. us",
                  "speedup", "cands");
    }
    const std::string sp = r.heuristic_time_us > 0 ? llvm::formatv("{0:f2}x", speedup(r)).str() : "-";
    std::printf("  %-*s  %-*s %10.2f %10.2f %8s %5d\n", sw, shape_text(r.key).c_str(), cw, r.config.to_string().c_str(),
                r.time_us, r.heuristic_time_us, sp.c_str(), r.candidates);
  }
  return 0;
}

}  // namespace

int run_db_command(int argc, char** argv) {
  auto args = parse(argc, argv);
  if (!args) return usage_error(args.error().message());
  if (args->help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  return args->command == "merge" ? run_merge(*args) : run_show(*args);
}

}  // namespace qjit::tools
