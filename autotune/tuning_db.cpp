// The tuning database's file format and its invariants: JSON in and out through llvm::json, every field of every
// record checked on load (a hand-edited or hostile file gets an InvalidArgument naming the file, the record and the
// field, never a crash or a silently wrong config), configs stored as the flat codegen::TileFields record whatever
// their family (TileConfig's generic interface: no family is special here), records kept sorted by key so lookups
// are a binary search and the written file diffs well, and saves that are atomic (temp file, fsync, rename, fsync of
// the directory).
#include "autotune/tuning_db.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include <sys/stat.h>

#include "cache/store_options.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "runtime/env.h"
#include "runtime/json_limits.h"
#include "runtime/log.h"
#include "runtime/safe_file.h"

namespace qjit::autotune {
namespace {

using codegen::KernelFamily;
using codegen::KernelOp;

// NOTE: a database holds a few thousand records at most (models x shapes x 13 M buckets x devices); anything far
// larger is not one of ours, and refusing it up front bounds the memory a hostile file can make us spend.
constexpr std::uint64_t kMaxFileBytes = 64ull << 20;
constexpr std::size_t kMaxRecords = std::size_t{1} << 18;
constexpr int kMaxTileDim = 1 << 16;
// NOTE: records nest three levels below the top; the depth bound refuses '[' x 50000 (which once overflowed the
// parser's stack in `qjit db show`) and the value bound keeps a 64 MiB file of tiny values from costing gigabytes.
constexpr runtime::JsonLimits kJsonLimits{/*max_depth=*/8, /*max_values=*/std::size_t{1} << 23};

auto key_tuple(const TuningKey& k) {
  return std::tie(k.device, k.sm_count, k.arch, k.op, k.in_dtype, k.out_dtype, k.has_bias, k.per_token_scale, k.n, k.k,
                  k.m_bucket);
}
bool key_less(const TuningKey& a, const TuningKey& b) { return key_tuple(a) < key_tuple(b); }

// A short rendering of an offending JSON value for error messages (a hostile file may hold a megabyte string).
std::string show(const llvm::json::Value& v) {
  std::string s = llvm::formatv("{0}", v).str();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

// Reads the fields of one JSON object, each with the error message the contract asks for: where (file, record),
// which field, what was expected, what was found.
class FieldReader {
 public:
  FieldReader(const llvm::json::Object& obj, std::string where) : obj_(obj), where_(std::move(where)) {}

  Status bad(std::string_view field, std::string_view expected, const llvm::json::Value* got) const {
    std::string msg = llvm::formatv("{0}: field '{1}' must be {2}", where_, field, expected).str();
    msg += got ? ", got " + show(*got) : " (missing)";
    return Status(StatusCode::InvalidArgument, std::move(msg));
  }

  Result<std::int64_t> integer(std::string_view field, std::int64_t lo, std::int64_t hi) const {
    const llvm::json::Value* v = obj_.get(field);
    const std::string expected = llvm::formatv("an integer in [{0}, {1}]", lo, hi).str();
    if (!v) return bad(field, expected, nullptr);
    const auto i = v->getAsInteger();
    if (!i || *i < lo || *i > hi) return bad(field, expected, v);
    return *i;
  }
  Result<int> small_int(std::string_view field, int lo, int hi) const {
    QJIT_ASSIGN_OR_RETURN(std::int64_t i, integer(field, lo, hi));
    return static_cast<int>(i);
  }
  Result<double> number(std::string_view field, double lo, bool lo_inclusive) const {
    const llvm::json::Value* v = obj_.get(field);
    const std::string expected = llvm::formatv("a finite number {0} {1}", lo_inclusive ? ">=" : ">", lo).str();
    if (!v) return bad(field, expected, nullptr);
    const auto d = v->getAsNumber();
    if (!d || !std::isfinite(*d) || (lo_inclusive ? *d < lo : *d <= lo)) return bad(field, expected, v);
    return *d;
  }
  Result<bool> boolean(std::string_view field) const {
    const llvm::json::Value* v = obj_.get(field);
    if (!v || !v->getAsBoolean()) return bad(field, "true or false", v);
    return *v->getAsBoolean();
  }
  Result<std::string> string(std::string_view field, std::string_view expected) const {
    const llvm::json::Value* v = obj_.get(field);
    if (!v || !v->getAsString() || v->getAsString()->empty() || v->getAsString()->size() > 256)
      return bad(field, expected, v);
    return v->getAsString()->str();
  }
  // Unknown fields are refused: a misspelt "split_k" silently falling back to 1 would be a wrong config.
  Status only(std::initializer_list<std::string_view> known) const {
    for (const auto& kv : obj_) {
      const llvm::StringRef name = kv.first;
      if (std::find(known.begin(), known.end(), std::string_view(name.data(), name.size())) == known.end())
        return Status(StatusCode::InvalidArgument,
                      llvm::formatv("{0}: unknown field '{1}'", where_, name.take_front(60)).str());
    }
    return Status();
  }
  const std::string& where() const { return where_; }

 private:
  const llvm::json::Object& obj_;
  std::string where_;
};

constexpr std::string_view kOps =
    "one of quantize_rowwise, quantize_absmax, quantize_apply_scale, gemm_s8, rms_norm_quantize, layer_norm_quantize";
constexpr std::string_view kDtypes = "one of f16, bf16, f32, f64, s8, u8, s32";

// NOTE: the config is stored flat (codegen::TileFields, the keys of the single struct TileConfig once was), so files
// written before the per-family config types read and write unchanged; TileConfig::from_fields checks that the
// fields a family does not have hold the values that family writes there.
Result<codegen::TileConfig> parse_config(const llvm::json::Object& obj, const std::string& where, KernelOp op,
                                         int arch) {
  FieldReader f(obj, where);
  QJIT_TRY(f.only({"family", "block_m", "block_n", "block_k", "warps_m", "warps_n", "stages", "split_k", "consumers",
                   "swap_ab", "pingpong", "cluster_m"}));
  codegen::TileFields c;
  QJIT_ASSIGN_OR_RETURN(std::string family, f.string("family", "one of quantize, gemm_sm80, gemm_sm90"));
  const auto fam = codegen::parse_kernel_family(family);
  if (!fam) return f.bad("family", "one of quantize, gemm_sm80, gemm_sm90", obj.get("family"));
  const bool gemm = op == KernelOp::GemmS8;
  if (gemm && *fam == KernelFamily::Quantize)
    return f.bad("family", "gemm_sm80 or gemm_sm90 for op gemm_s8", obj.get("family"));
  if (!gemm && *fam != KernelFamily::Quantize) return f.bad("family", "quantize for a quantize op", obj.get("family"));
  if (*fam == KernelFamily::GemmSm90 && arch != 90)
    return f.bad("family", llvm::formatv("gemm_sm80 for arch {0} (gemm_sm90 needs arch 90)", arch).str(),
                 obj.get("family"));
  QJIT_ASSIGN_OR_RETURN(c.block_m, f.small_int("block_m", 1, kMaxTileDim));
  QJIT_ASSIGN_OR_RETURN(c.block_n, f.small_int("block_n", 1, kMaxTileDim));
  QJIT_ASSIGN_OR_RETURN(c.block_k, f.small_int("block_k", 1, kMaxTileDim));
  QJIT_ASSIGN_OR_RETURN(c.warps_m, f.small_int("warps_m", 1, 64));
  QJIT_ASSIGN_OR_RETURN(c.warps_n, f.small_int("warps_n", 1, 64));
  QJIT_ASSIGN_OR_RETURN(c.stages, f.small_int("stages", 1, 64));
  QJIT_ASSIGN_OR_RETURN(c.split_k, f.small_int("split_k", 1, 1024));
  QJIT_ASSIGN_OR_RETURN(c.consumers, f.small_int("consumers", 0, 8));
  QJIT_ASSIGN_OR_RETURN(c.swap_ab, f.boolean("swap_ab"));
  // NOTE: optional (absent = false) so databases written before ping-pong configs existed still load.
  if (obj.get("pingpong")) {
    QJIT_ASSIGN_OR_RETURN(c.pingpong, f.boolean("pingpong"));
  }
  if (obj.get("cluster_m")) {
    QJIT_ASSIGN_OR_RETURN(c.cluster_m, f.small_int("cluster_m", 1, 2));
  }
  auto config = codegen::TileConfig::from_fields(*fam, c);
  if (!config) return Status(StatusCode::InvalidArgument, f.where() + ": " + config.error().message());
  return *config;
}

Result<TuningRecord> parse_record(const llvm::json::Value& value, const std::string& where) {
  const llvm::json::Object* obj = value.getAsObject();
  if (!obj)
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("{0}: must be a JSON object, got {1}", where, show(value)).str());
  FieldReader f(*obj, where);
  QJIT_TRY(f.only({"op", "in_dtype", "out_dtype", "has_bias", "per_token_scale", "n", "k", "m_bucket", "device",
                   "sm_count", "arch", "config", "heuristic_config", "time_us", "heuristic_time_us", "candidates"}));
  TuningRecord r;
  TuningKey& k = r.key;
  QJIT_ASSIGN_OR_RETURN(k.op, f.string("op", kOps));
  const auto op = codegen::parse_kernel_op(k.op);
  if (!op) return f.bad("op", kOps, obj->get("op"));
  QJIT_ASSIGN_OR_RETURN(k.in_dtype, f.string("in_dtype", kDtypes));
  if (!codegen::parse_element_name(k.in_dtype)) return f.bad("in_dtype", kDtypes, obj->get("in_dtype"));
  QJIT_ASSIGN_OR_RETURN(k.out_dtype, f.string("out_dtype", kDtypes));
  if (!codegen::parse_element_name(k.out_dtype)) return f.bad("out_dtype", kDtypes, obj->get("out_dtype"));
  QJIT_ASSIGN_OR_RETURN(k.has_bias, f.boolean("has_bias"));
  QJIT_ASSIGN_OR_RETURN(k.per_token_scale, f.boolean("per_token_scale"));
  // NOTE: quantize kernels have no N (their specs carry n = 0); every GEMM has one.
  QJIT_ASSIGN_OR_RETURN(k.n, f.integer("n", *op == KernelOp::GemmS8 ? 1 : 0, std::int64_t{1} << 31));
  QJIT_ASSIGN_OR_RETURN(k.k, f.integer("k", 1, std::int64_t{1} << 31));
  QJIT_ASSIGN_OR_RETURN(k.m_bucket, f.small_int("m_bucket", 1, 4096));
  if (codegen::m_bucket_of(k.m_bucket) != k.m_bucket)
    return f.bad("m_bucket", "a power of two in [1, 4096]", obj->get("m_bucket"));
  QJIT_ASSIGN_OR_RETURN(k.device, f.string("device", "a non-empty device name of at most 256 bytes"));
  QJIT_ASSIGN_OR_RETURN(k.sm_count, f.small_int("sm_count", 1, 100000));
  QJIT_ASSIGN_OR_RETURN(k.arch, f.small_int("arch", 0, 1000));
  if (!codegen::is_supported_arch(k.arch)) return f.bad("arch", "one of 80, 86, 87, 89, 90", obj->get("arch"));
  const llvm::json::Value* config = obj->get("config");
  if (!config || !config->getAsObject()) return f.bad("config", "an object", config);
  QJIT_ASSIGN_OR_RETURN(r.config, parse_config(*config->getAsObject(), where + ".config", *op, k.arch));
  if (const llvm::json::Value* h = obj->get("heuristic_config")) {
    if (!h->getAsObject()) return f.bad("heuristic_config", "an object", h);
    QJIT_ASSIGN_OR_RETURN(r.heuristic, parse_config(*h->getAsObject(), where + ".heuristic_config", *op, k.arch));
  }
  QJIT_ASSIGN_OR_RETURN(r.time_us, f.number("time_us", 0, /*lo_inclusive=*/false));
  QJIT_ASSIGN_OR_RETURN(r.heuristic_time_us, f.number("heuristic_time_us", 0, /*lo_inclusive=*/true));
  QJIT_ASSIGN_OR_RETURN(r.candidates, f.small_int("candidates", 0, 1 << 20));
  return r;
}

llvm::json::Object config_json(const codegen::TileConfig& config) {
  const codegen::TileFields c = config.fields();
  llvm::json::Object out{{"family", std::string(codegen::kernel_family_name(config.family()))},
                         {"block_m", c.block_m},
                         {"block_n", c.block_n},
                         {"block_k", c.block_k},
                         {"warps_m", c.warps_m},
                         {"warps_n", c.warps_n},
                         {"stages", c.stages},
                         {"split_k", c.split_k},
                         {"consumers", c.consumers},
                         {"swap_ab", c.swap_ab}};
  if (c.pingpong) out["pingpong"] = true;
  if (c.cluster_m > 1) out["cluster_m"] = c.cluster_m;
  return out;
}

llvm::json::Object record_json(const TuningRecord& r) {
  const TuningKey& k = r.key;
  llvm::json::Object config = config_json(r.config);
  llvm::json::Object out{{"op", k.op},
                         {"in_dtype", k.in_dtype},
                         {"out_dtype", k.out_dtype},
                         {"has_bias", k.has_bias},
                         {"per_token_scale", k.per_token_scale},
                         {"n", k.n},
                         {"k", k.k},
                         {"m_bucket", k.m_bucket},
                         {"device", k.device},
                         {"sm_count", k.sm_count},
                         {"arch", k.arch},
                         {"config", std::move(config)},
                         {"time_us", r.time_us},
                         {"heuristic_time_us", r.heuristic_time_us},
                         {"candidates", r.candidates}};
  if (r.heuristic) out["heuristic_config"] = config_json(*r.heuristic);
  return out;
}

}  // namespace

std::string TuningKey::to_string() const {
  std::string s = llvm::formatv("{0} {1}->{2}", op, in_dtype, out_dtype);
  if (op == codegen::kernel_op_name(KernelOp::GemmS8)) s += llvm::formatv(" n={0}", n).str();
  s += llvm::formatv(" k={0} m<={1}", k, m_bucket).str();
  if (op == codegen::kernel_op_name(KernelOp::GemmS8)) {
    s += has_bias ? " bias" : " nobias";
    s += per_token_scale ? " per_token" : " per_tensor";
  }
  return s + llvm::formatv(" {0} on {1} ({2} SMs)", codegen::arch_option(arch), device, sm_count).str();
}

TuningKey tuning_key(const codegen::KernelSpec& spec, const std::string& device_name, int sm_count) {
  TuningKey k;
  k.op = std::string(codegen::kernel_op_name(spec.op));
  k.in_dtype = std::string(element_name(spec.in_element));
  k.out_dtype = std::string(element_name(spec.out_element));
  k.has_bias = spec.has_bias;
  k.per_token_scale = spec.per_token_scale;
  k.n = spec.n;
  k.k = spec.k;
  k.m_bucket = spec.m_bucket;
  k.device = device_name;
  k.sm_count = sm_count;
  k.arch = spec.arch;
  return k;
}

std::string_view qjit_version() { return QJIT_VERSION_STRING; }

Result<TuningDb> TuningDb::parse(std::string_view json, const std::string& origin) {
  const std::string where = "tuning database '" + origin + "'";
  auto parsed = runtime::parse_json_bounded(json, kJsonLimits, where);
  if (!parsed) return parsed.error();
  const llvm::json::Object* top = parsed->getAsObject();
  if (!top)
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("{0}: must be a JSON object with 'format', 'qjit_version' and 'records', got {1}",
                                where, show(*parsed))
                      .str());
  FieldReader f(*top, where);
  const llvm::json::Value* format = top->get("format");
  llvm::Optional<std::int64_t> format_num;
  if (format) format_num = format->getAsInteger();
  if (!format_num || *format_num != kFormatVersion)
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("{0} has format {1}; this qjit ({2}) reads format {3}: re-tune, or use the qjit that "
                                "wrote it",
                                where, format ? show(*format) : "(missing)", qjit_version(), kFormatVersion)
                      .str());
  const llvm::json::Value* version = top->get("qjit_version");
  if (!version || !version->getAsString() || *version->getAsString() != llvm::StringRef(qjit_version()))
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("{0} was written by qjit version {1}; this is qjit version {2}, and configs are only "
                                "valid for the templates they were timed with: re-tune with `qjit tune`",
                                where, version ? show(*version) : "(missing)", qjit_version())
                      .str());
  // NOTE: checked after the versions, so a newer layout is reported as a version mismatch, not as a stray field.
  QJIT_TRY(f.only({"format", "qjit_version", "records"}));
  const llvm::json::Value* records = top->get("records");
  if (!records || !records->getAsArray()) return f.bad("records", "an array of records", records);
  TuningDb db;
  const llvm::json::Array& arr = *records->getAsArray();
  if (arr.size() > kMaxRecords)
    return Status(
        StatusCode::InvalidArgument,
        llvm::formatv("{0}: 'records' must hold at most {1} records, got {2}", where, kMaxRecords, arr.size()).str());
  db.records_.reserve(arr.size());
  for (std::size_t i = 0; i < arr.size(); ++i) {
    QJIT_ASSIGN_OR_RETURN(TuningRecord r, parse_record(arr[i], llvm::formatv("{0}: records[{1}]", where, i).str()));
    db.records_.push_back(std::move(r));
  }
  std::vector<std::size_t> order(db.records_.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return key_less(db.records_[a].key, db.records_[b].key); });
  for (std::size_t i = 1; i < order.size(); ++i)
    if (db.records_[order[i - 1]].key == db.records_[order[i]].key)
      return Status(StatusCode::InvalidArgument,
                    llvm::formatv("{0}: records[{1}] has the same key as records[{2}] ({3}); a key must appear once",
                                  where, order[i], order[i - 1], db.records_[order[i]].key.to_string())
                        .str());
  std::vector<TuningRecord> sorted;
  sorted.reserve(order.size());
  for (std::size_t i : order) sorted.push_back(std::move(db.records_[i]));
  db.records_ = std::move(sorted);
  return db;
}

Result<TuningDb> TuningDb::load(const std::string& path, TuningDbSource source) {
  runtime::ReadRules rules;
  rules.what = "tuning database";
  rules.code = StatusCode::InvalidArgument;
  rules.max_bytes = kMaxFileBytes;
  if (source == TuningDbSource::Implicit) {
    // NOTE: the file an engine picks up by itself (QJIT_TUNING_DB or the cache directory's) steers which kernels it
    // runs, so it is trusted as the cache is: its own user's or root's, and writable by no one else.
    rules.owner = runtime::Owner::MeOrRoot;
    rules.refuse_foreign_write = true;
  }
  auto text = runtime::read_text_file(path, rules);
  if (!text) {
    if (text.error().code() == StatusCode::NotFound) return TuningDb();
    return text.error();
  }
  return parse(*text, path);
}

Result<TuningDb> TuningDb::update(const std::string& path, llvm::function_ref<Status(TuningDb&)> change,
                                  std::chrono::milliseconds lock_timeout) {
  if (path.empty()) return Status(StatusCode::InvalidArgument, "tuning database path must not be empty");
  QJIT_TRY(prepare_directory(path));
  // NOTE: load, change and save under one lock, or concurrent updates (16 `qjit db merge` into one file, tuning
  // processes recording winners) each save what they loaded and the last one drops everybody else's records.
  QJIT_ASSIGN_OR_RETURN(
      runtime::FileLock lock,
      runtime::FileLock::acquire(path + ".lock", lock_timeout, "tuning database lock", StatusCode::CacheIo));
  QJIT_ASSIGN_OR_RETURN(TuningDb db, load(path));
  QJIT_TRY(change(db));
  QJIT_TRY(db.save(path));
  return db;
}

std::string TuningDb::to_json() const {
  llvm::json::Array arr;
  for (const auto& r : records_) arr.push_back(record_json(r));
  llvm::json::Value top = llvm::json::Object{
      {"format", kFormatVersion}, {"qjit_version", std::string(qjit_version())}, {"records", std::move(arr)}};
  return llvm::formatv("{0:2}", top).str() + "\n";
}

Status TuningDb::prepare_directory(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return Status();
  const std::string dir = path.substr(0, slash);
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) return Status();
  return runtime::make_directories(dir, "directory of the tuning database", StatusCode::CacheIo);
}

Status TuningDb::save(const std::string& path) const {
  if (path.empty()) return Status(StatusCode::InvalidArgument, "tuning database path must not be empty");
  const runtime::WriteRules rules{.what = "tuning database",
                                  .code = StatusCode::CacheIo,
                                  .mode = 0644,
                                  .dir_rule = runtime::DirRule::Shared,
                                  .create_directories = true};
  return runtime::write_file_atomically(path, to_json(), rules);
}

const TuningRecord* TuningDb::find(const TuningKey& key) const {
  auto it = std::lower_bound(records_.begin(), records_.end(), key,
                             [](const TuningRecord& r, const TuningKey& k) { return key_less(r.key, k); });
  return it != records_.end() && it->key == key ? &*it : nullptr;
}

bool TuningDb::put(const TuningRecord& r) {
  auto it = std::lower_bound(records_.begin(), records_.end(), r.key,
                             [](const TuningRecord& x, const TuningKey& k) { return key_less(x.key, k); });
  if (it != records_.end() && it->key == r.key) {
    // NOTE: `!(a < b)` keeps the stored record when the new time is NaN or slower. An equal time is settled by the
    // records' JSON (the smaller wins), not by arrival: the kept record is then the least of all records put, in
    // any order, so merging parts in any order writes the same bytes, and merging one twice changes nothing.
    if (r.time_us == it->time_us) {
      const std::string mine = llvm::formatv("{0}", llvm::json::Value(record_json(r))).str();
      if (!(mine < llvm::formatv("{0}", llvm::json::Value(record_json(*it))).str())) return false;
    } else if (!(r.time_us < it->time_us)) {
      return false;
    }
    *it = r;
    return true;
  }
  records_.insert(it, r);
  return true;
}

int TuningDb::merge(const TuningDb& other) {
  int changed = 0;
  for (const auto& r : other.records_) changed += put(r) ? 1 : 0;
  return changed;
}

std::string default_tuning_db_path() {
  if (std::string path = env::text(env::Var::TuningDb); !path.empty()) return path;
  auto options = cache::options_from_environment();
  if (!options) {
    QJIT_LOG_WARN("autotune", "no cache directory for the tuning database ({0}); using ./tuning.json",
                  options.error().message());
    return "tuning.json";
  }
  return options->writable_dir + "/tuning.json";
}

}  // namespace qjit::autotune
