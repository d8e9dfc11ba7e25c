// Shape files, M lists and shards (see shapes.h). Parsing is strict and line-numbered: a deployment script that
// feeds a typo'd CSV gets "file:line: what was expected, what was found" and a non-zero exit, never a partial run
// over the lines that happened to parse.
#include "autotune/shapes.h"

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FormatVariadic.h"
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
      if (fields.size() != 4 || !fields[0].equals_insensitive("model") || !fields[1].equals_insensitive("layer") ||
          !fields[2].equals_insensitive("n") || !fields[3].equals_insensitive("k"))
        return line_error(origin, line_no,
                          "expected the header 'model,layer,N,K' before any shape, got " + quote(line));
      seen_header = true;
      continue;
    }
    if (fields.size() != 4)
      return line_error(origin, line_no,
                        llvm::formatv("expected 4 comma-separated fields (model,layer,N,K), got {0}: {1}",
                                      fields.size(), quote(line)).str());
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
                                  quote(items[i].trim()), quote(all)).str());
    ms.push_back(*m);
  }
  return ms;
}

std::vector<WorkItem> work_items(const std::vector<LayerShape>& shapes, const std::vector<std::int64_t>& ms) {
  // Distinct (N, K) in first-appearance order, each with the layers that share it (each named once).
  struct Group {
    std::int64_t n, k;
    std::vector<std::string> names;
  };
  std::vector<Group> groups;
  std::map<std::pair<std::int64_t, std::int64_t>, std::size_t> index;
  for (const auto& s : shapes) {
    auto [it, added] = index.emplace(std::make_pair(s.n, s.k), groups.size());
    if (added) groups.push_back(Group{s.n, s.k, {}});
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
    for (std::int64_t m : distinct_ms) items.push_back(WorkItem{g.n, g.k, m, label});
  }
  return items;
}

Result<Shard> parse_shard(std::string_view text) {
  const llvm::StringRef s(text.data(), text.size());
  auto bad = [&](std::string_view why) {
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("shard must be 'i/n' with 0 <= i < n (0-based, as a Slurm array or Kubernetes indexed "
                                "job numbers them), got {0}: {1}", quote(s), why).str());
  };
  const auto [index_text, count_text] = s.split('/');
  if (index_text.size() == s.size()) return bad("no '/'");
  auto parse = [](llvm::StringRef t) -> std::optional<std::int64_t> {
    if (t.empty() || !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    std::int64_t v = 0;
    if (t.getAsInteger(10, v) || v > (1 << 20)) return std::nullopt;
    return v;
  };
  const auto index = parse(index_text.trim());
  const auto count = parse(count_text.trim());
  if (!index) return bad("i must be a non-negative integer");
  if (!count) return bad("n must be a positive integer of at most 1048576");
  if (*count < 1) return bad("n must be at least 1");
  if (*index >= *count) return bad("i must be less than n");
  return Shard{static_cast<int>(*index), static_cast<int>(*count)};
}

std::vector<WorkItem> shard_items(const std::vector<WorkItem>& items, const Shard& s) {
  std::vector<WorkItem> out;
  if (s.count < 1 || s.index < 0 || s.index >= s.count) return out;
  for (std::size_t j = static_cast<std::size_t>(s.index); j < items.size(); j += static_cast<std::size_t>(s.count))
    out.push_back(items[j]);
  return out;
}

}  // namespace qjit::autotune
