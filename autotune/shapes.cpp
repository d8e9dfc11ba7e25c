// Shape files, M lists and shards (see shapes.h). Parsing is strict and line-numbered: a deployment script that
// feeds a typo'd CSV gets "file:line: what was expected, what was found" and a non-zero exit, never a partial run
// over the lines that happened to parse.
#include "autotune/shapes.h"

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "autotune/cost_model.h"
#include "autotune/schedule.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FormatVariadic.h"
#include "runtime/env.h"
#include "runtime/safe_file.h"

namespace qjit::autotune {
namespace {

constexpr std::int64_t kMaxDim = (std::int64_t{1} << 31) - 1;
// NOTE: a shapes file lists a few dozen layers; the bound only keeps a wrong path (a model checkpoint) from being
// read into memory whole.
constexpr std::uint64_t kMaxShapesFileBytes = 16ull << 20;
constexpr std::size_t kMaxShapes = 1u << 16;

Status line_error(const std::string& origin, std::size_t line, const std::string& what) {
  return Status(StatusCode::InvalidArgument, llvm::formatv("{0}:{1}: {2}", origin, line, what).str());
}

// Text quoted in an error, shortened so a binary file does not flood the terminal.
std::string quote(llvm::StringRef s) {
  if (s.size() > 60) return "'" + s.take_front(57).str() + "...'";
  return "'" + s.str() + "'";
}

// A positive integer in [1, kMaxDim]; nullopt otherwise (signs, spaces inside, hex, overflow are all refused).
std::optional<std::int64_t> positive_int(llvm::StringRef s) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  std::int64_t v = 0;
  if (s.getAsInteger(10, v) || v < 1 || v > kMaxDim) return std::nullopt;
  return v;
}

}  // namespace

Result<std::vector<LayerShape>> parse_shapes(std::string_view text, const std::string& origin) {
  std::vector<LayerShape> shapes;
  bool seen_header = false;
  std::size_t columns = 4;
  // NOTE: one line at a time, without a vector of every line: a file of 16 M newlines costs nothing extra.
  llvm::StringRef rest(text.data(), text.size());
  for (std::size_t line_no = 1; !rest.empty(); ++line_no) {
    llvm::StringRef raw;
    std::tie(raw, rest) = rest.split('\n');
    const llvm::StringRef line = raw.rtrim("\r").trim();
    if (line.empty() || line.startswith("#")) continue;
    if (shapes.size() == kMaxShapes)
      return line_error(origin, line_no, llvm::formatv("a shapes file may list at most {0} shapes", kMaxShapes).str());
    llvm::SmallVector<llvm::StringRef, 4> fields;
    line.split(fields, ',', /*MaxSplit=*/8);
    for (auto& f : fields) f = f.trim();
    if (!seen_header) {
      if ((fields.size() != 4 && fields.size() != 5) || !fields[0].equals_insensitive("model") ||
          !fields[1].equals_insensitive("layer") || !fields[2].equals_insensitive("n") ||
          !fields[3].equals_insensitive("k") || (fields.size() == 5 && !fields[4].equals_insensitive("act_stride")))
        return line_error(origin, line_no,
                          "expected the header 'model,layer,N,K' (or 'model,layer,N,K,act_stride') before any shape, "
                          "got " +
                              quote(line));
      seen_header = true;
      columns = fields.size();
      continue;
    }
    if (fields.size() != columns)
      return line_error(origin, line_no,
                        llvm::formatv("expected {0} comma-separated fields ({1}), got {2}: {3}", columns,
                                      columns == 5 ? "model,layer,N,K,act_stride" : "model,layer,N,K", fields.size(),
                                      quote(line))
                            .str());
    LayerShape s;
    if (fields[0].empty()) return line_error(origin, line_no, "model must not be empty");
    if (fields[1].empty()) return line_error(origin, line_no, "layer must not be empty");
    s.model = fields[0].str();
    s.layer = fields[1].str();
    const auto n = positive_int(fields[2]);
    if (!n)
      return line_error(origin, line_no,
                        llvm::formatv("N must be an integer in [1, {0}], got {1}", kMaxDim, quote(fields[2])).str());
    const auto k = positive_int(fields[3]);
    if (!k)
      return line_error(origin, line_no,
                        llvm::formatv("K must be an integer in [1, {0}], got {1}", kMaxDim, quote(fields[3])).str());
    s.n = *n;
    s.k = *k;
    if (columns == 5 && !fields[4].empty()) {
      const auto stride = positive_int(fields[4]);
      if (!stride || *stride < s.k)
        return line_error(origin, line_no,
                          llvm::formatv("act_stride must be empty or an integer in [K = {0}, {1}], got {2}", s.k,
                                        kMaxDim, quote(fields[4]))
                              .str());
      s.act_stride = *stride == s.k ? 0 : *stride;
    }
    shapes.push_back(std::move(s));
  }
  if (!seen_header)
    return Status(StatusCode::InvalidArgument,
                  origin + ": no header 'model,layer,N,K' (the file is empty or holds only comments)");
  if (shapes.empty())
    return Status(StatusCode::InvalidArgument, origin + ": no shapes after the header 'model,layer,N,K'");
  return shapes;
}

Result<std::vector<LayerShape>> load_shapes(const std::string& path) {
  runtime::ReadRules rules;
  rules.what = "shapes file";
  rules.max_bytes = kMaxShapesFileBytes;
  QJIT_ASSIGN_OR_RETURN(std::string text, runtime::read_text_file(path, rules));
  return parse_shapes(text, path);
}

Result<std::vector<std::int64_t>> parse_m_list(std::string_view text) {
  const llvm::StringRef all = llvm::StringRef(text.data(), text.size()).trim();
  if (all.empty())
    return Status(StatusCode::InvalidArgument, "M list must be comma-separated integers such as 1,16,128, got ''");
  llvm::SmallVector<llvm::StringRef, 16> items;
  all.split(items, ',');
  std::vector<std::int64_t> ms;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto m = positive_int(items[i].trim());
    if (!m)
      return Status(StatusCode::InvalidArgument,
                    llvm::formatv("M list item {0} must be an integer in [1, {1}], got {2} (in {3})", i + 1, kMaxDim,
                                  quote(items[i].trim()), quote(all))
                        .str());
    ms.push_back(*m);
  }
  return ms;
}

std::vector<WorkItem> work_items(const std::vector<LayerShape>& shapes, const std::vector<std::int64_t>& ms,
                                 bool views) {
  // Distinct (N, K) in first-appearance order, each with the layers that share it (each named once).
  struct Group {
    std::int64_t n, k, act_stride;
    std::vector<std::string> names;
  };
  std::vector<Group> groups;
  std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, std::size_t> index;
  for (const auto& s : shapes) {
    const std::int64_t stride = views ? s.act_stride : 0;
    auto [it, added] = index.emplace(std::make_tuple(s.n, s.k, stride), groups.size());
    if (added) groups.push_back(Group{s.n, s.k, stride, {}});
    auto& names = groups[it->second].names;
    std::string name = s.model + " " + s.layer;
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(std::move(name));
  }
  std::vector<std::int64_t> distinct_ms;
  for (std::int64_t m : ms)
    if (std::find(distinct_ms.begin(), distinct_ms.end(), m) == distinct_ms.end()) distinct_ms.push_back(m);
  std::vector<WorkItem> items;
  items.reserve(groups.size() * distinct_ms.size());
  for (const auto& g : groups) {
    std::string label;
    for (const auto& name : g.names) label += (label.empty() ? "" : ", ") + name;
    for (std::int64_t m : distinct_ms) items.push_back(WorkItem{g.n, g.k, m, label, g.act_stride});
  }
  return items;
}

namespace {

constexpr std::int64_t kMaxShards = 1 << 20;

// A non-negative decimal integer of at most kMaxShards; nullopt otherwise.
std::optional<std::int64_t> shard_number(llvm::StringRef t) {
  t = t.trim();
  if (t.empty() || !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  std::int64_t v = 0;
  if (t.getAsInteger(10, v) || v > kMaxShards) return std::nullopt;
  return v;
}

Status shard_env_error(std::string what) {
  return Status(StatusCode::InvalidArgument, "--shard auto: " + std::move(what));
}

// A variable that must hold a shard number when set.
Result<std::optional<std::int64_t>> env_number(const EnvLookup& env, const char* name) {
  const std::optional<std::string> v = env(name);
  if (!v) return std::optional<std::int64_t>();
  const auto n = shard_number(*v);
  if (!n)
    return shard_env_error(
        llvm::formatv("{0} must be a non-negative integer of at most {1}, got {2}", name, kMaxShards, quote(*v)).str());
  return std::optional<std::int64_t>(*n);
}

// The count the caller gave (the N of "auto/N", QJIT_SHARD_COUNT), checked against each other and, when the
// scheduler has one, against the scheduler's.
Result<std::optional<std::int64_t>> given_count(const EnvLookup& env, std::optional<std::int64_t> from_flag) {
  const char* const count_var = env::name(env::Var::ShardCount);
  QJIT_ASSIGN_OR_RETURN(std::optional<std::int64_t> from_env, env_number(env, count_var));
  if (from_flag && from_env && *from_flag != *from_env)
    return shard_env_error(
        llvm::formatv("--shard auto/{0} disagrees with {1}={2}", *from_flag, count_var, *from_env).str());
  return from_flag ? from_flag : from_env;
}

Result<ResolvedShard> finish(std::int64_t index, std::int64_t count, std::string source) {
  if (count < 1) return shard_env_error(source + ": the shard count must be at least 1");
  if (index >= count)
    return shard_env_error(llvm::formatv("{0}: index {1} is not below the count {2}", source, index, count).str());
  ResolvedShard r{Shard{static_cast<int>(index), static_cast<int>(count)}, std::move(source)};
  return r;
}

Result<ResolvedShard> slurm_shard(const EnvLookup& env, std::optional<std::int64_t> count_given) {
  QJIT_ASSIGN_OR_RETURN(std::optional<std::int64_t> id, env_number(env, "SLURM_ARRAY_TASK_ID"));
  QJIT_ASSIGN_OR_RETURN(std::optional<std::int64_t> min, env_number(env, "SLURM_ARRAY_TASK_MIN"));
  QJIT_ASSIGN_OR_RETURN(std::optional<std::int64_t> max, env_number(env, "SLURM_ARRAY_TASK_MAX"));
  QJIT_ASSIGN_OR_RETURN(std::optional<std::int64_t> step, env_number(env, "SLURM_ARRAY_TASK_STEP"));
  QJIT_ASSIGN_OR_RETURN(std::optional<std::int64_t> count, env_number(env, "SLURM_ARRAY_TASK_COUNT"));
  const std::int64_t lo = min.value_or(0), stride = step.value_or(1);
  if (stride < 1) return shard_env_error("SLURM_ARRAY_TASK_STEP must be at least 1, got 0");
  if (max && *max < lo)
    return shard_env_error(llvm::formatv("SLURM_ARRAY_TASK_MAX={0} is below SLURM_ARRAY_TASK_MIN={1}", *max, lo).str());
  const std::optional<std::int64_t> spanned =
      max ? std::optional<std::int64_t>((*max - lo) / stride + 1) : std::nullopt;
  // NOTE: a list array (--array=1,5,9) reports COUNT=3 but MIN..MAX spans 9 ids: its ids cannot be turned into
  // 0..COUNT-1 without the list, which Slurm does not export. Refused rather than leaving shards untuned.
  if (count && spanned && *count != *spanned)
    return shard_env_error(llvm::formatv("the Slurm array is not a range: SLURM_ARRAY_TASK_COUNT={0} but "
                                         "SLURM_ARRAY_TASK_MIN..MAX = {1}..{2} (step {3}) spans {4} ids; submit it "
                                         "as --array=A-B or pass --shard i/n",
                                         *count, lo, *max, stride, *spanned)
                               .str());
  if (!count) count = spanned;
  if (!count)
    return shard_env_error(
        "SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX "
        "is: cannot tell how many shards the array has (pass --shard auto/N)");
  if (count_given && *count_given != *count)
    return shard_env_error(llvm::formatv("the shard count {0} (--shard auto/N or QJIT_SHARD_COUNT) disagrees with "
                                         "the Slurm array's {1} tasks",
                                         *count_given, *count)
                               .str());
  if (*id < lo || (*id - lo) % stride != 0)
    return shard_env_error(llvm::formatv("SLURM_ARRAY_TASK_ID={0} is not an id of the array {1}-{2}:{3}", *id, lo,
                                         max.value_or(lo + (*count - 1) * stride), stride)
                               .str());
  std::string source = llvm::formatv("Slurm array task {0}", *id).str();
  if (lo != 0 || stride != 1) source += llvm::formatv(" (ids from {0}, step {1})", lo, stride).str();
  return finish((*id - lo) / stride, *count, std::move(source));
}

Result<ResolvedShard> kubernetes_shard(const EnvLookup& env, std::optional<std::int64_t> count_given) {
  QJIT_ASSIGN_OR_RETURN(std::optional<std::int64_t> index, env_number(env, "JOB_COMPLETION_INDEX"));
  if (!count_given)
    return shard_env_error(
        "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but the shard count is not: "
        "Kubernetes does not export the Job's completions, so set QJIT_SHARD_COUNT to "
        "spec.completions (deploy/k8s/tune-job.yaml does) or pass --shard auto/N");
  return finish(*index, *count_given, llvm::formatv("Kubernetes completion index {0}", *index).str());
}

}  // namespace

Result<Shard> parse_shard(std::string_view text) {
  const llvm::StringRef s(text.data(), text.size());
  auto bad = [&](std::string_view why) {
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("shard must be 'i/n' with 0 <= i < n (0-based, as a Slurm array or Kubernetes indexed "
                                "job numbers them), or 'auto', got {0}: {1}",
                                quote(s), why)
                      .str());
  };
  const auto [index_text, count_text] = s.split('/');
  if (index_text.size() == s.size()) return bad("no '/'");
  const auto index = shard_number(index_text);
  const auto count = shard_number(count_text);
  if (!index) return bad("i must be a non-negative integer");
  if (!count) return bad("n must be a positive integer of at most 1048576");
  if (*count < 1) return bad("n must be at least 1");
  if (*index >= *count) return bad("i must be less than n");
  return Shard{static_cast<int>(*index), static_cast<int>(*count)};
}

std::optional<std::string> process_environment(const char* name) {
  std::optional<std::string> v = env::process_value(name);
  if (v && v->empty()) return std::nullopt;
  return v;
}

Result<ResolvedShard> resolve_shard(std::string_view text, const EnvLookup& env) {
  const llvm::StringRef s = llvm::StringRef(text.data(), text.size()).trim();
  if (s != "auto" && !s.startswith("auto/")) {
    QJIT_ASSIGN_OR_RETURN(Shard shard, parse_shard(text));
    return ResolvedShard{shard, "--shard " + s.str()};
  }
  std::optional<std::int64_t> from_flag;
  if (s.startswith("auto/")) {
    from_flag = shard_number(s.drop_front(5));
    if (!from_flag || *from_flag < 1)
      return shard_env_error(llvm::formatv("'auto/N' needs N, the shard count, as a positive integer of at most {0}, "
                                           "got {1}",
                                           kMaxShards, quote(s))
                                 .str());
  }
  QJIT_ASSIGN_OR_RETURN(std::optional<std::int64_t> count_given, given_count(env, from_flag));
  const bool slurm = env("SLURM_ARRAY_TASK_ID").has_value();
  const bool kubernetes = env("JOB_COMPLETION_INDEX").has_value();
  if (slurm && kubernetes)
    return shard_env_error(
        "both SLURM_ARRAY_TASK_ID (Slurm) and JOB_COMPLETION_INDEX (Kubernetes) are set; pass "
        "--shard i/n to say which index is meant");
  if (slurm) return slurm_shard(env, count_given);
  if (kubernetes) return kubernetes_shard(env, count_given);
  return shard_env_error(
      "no array index in the environment: expected SLURM_ARRAY_TASK_ID (with "
      "SLURM_ARRAY_TASK_COUNT, SLURM_ARRAY_TASK_MIN) from a Slurm job array (sbatch --array), or "
      "JOB_COMPLETION_INDEX (with QJIT_SHARD_COUNT or --shard auto/N) from a Kubernetes Indexed "
      "Job; outside an array job pass --shard i/n");
}

double work_item_cost(const WorkItem& item) {
  KernelWork work;
  work.spec.op = codegen::KernelOp::GemmS8;
  work.spec.in_element = ElementKind::S8;
  work.spec.out_element = ElementKind::BF16;
  work.spec.n = item.n;
  work.spec.k = item.k;
  work.spec.m_bucket = codegen::m_bucket_of(item.m);
  work.m = item.m;
  return estimate_tune_seconds(work);
}

std::vector<WorkItem> shard_items(const std::vector<WorkItem>& items, const Shard& s) {
  std::vector<double> costs;
  costs.reserve(items.size());
  for (const auto& w : items) costs.push_back(work_item_cost(w));
  std::vector<WorkItem> out;
  for (std::size_t i : shard_indices(costs, s)) out.push_back(items[i]);
  return out;
}

}  // namespace qjit::autotune
