// The pre-parse scan and the bounded parse (see json_limits.h).
#include "runtime/json_limits.h"

#include <set>
#include <string>

#include "llvm/Support/FormatVariadic.h"

namespace qjit::runtime {
namespace {

Status bad(std::string_view what, const std::string& message) {
  return Status(StatusCode::InvalidArgument, std::string(what) + ": " + message);
}

// Calls `key(raw)` with the raw text (quotes excluded) of every key of the top-level object.
template <class F>
void for_each_top_level_key(std::string_view text, F key) {
  int depth = 0;
  bool in_string = false, escaped = false, expect_key = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"') {
        in_string = false;
        if (depth == 1 && expect_key) {
          key(text.substr(start, i - start));
          expect_key = false;
        }
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      start = i + 1;
    } else if (c == '{' || c == '[') {
      ++depth;
      if (depth == 1) expect_key = c == '{';
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == ',' && depth == 1) {
      expect_key = true;
    }
  }
}

}  // namespace

JsonScan scan_json(std::string_view text) {
  JsonScan s;
  s.values = 1;
  int depth = 0;
  bool in_string = false, escaped = false, top_is_object = false, top_has_member = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (depth == 0) top_is_object = c == '{';
        ++s.values;  // NOTE: every value but the first follows '[', ',' or ':', so this bounds the count
        if (++depth > s.depth) s.depth = depth;
        break;
      case ']':
      case '}': --depth; break;
      case ',':
        ++s.values;
        if (depth == 1 && top_is_object) ++s.top_level_members;
        break;
      case ':':
        ++s.values;
        if (depth == 1 && top_is_object) top_has_member = true;
        break;
      default: break;
    }
  }
  if (top_has_member) ++s.top_level_members;
  return s;
}

Result<llvm::json::Value> parse_json_bounded(std::string_view text, const JsonLimits& limits, std::string_view what) {
  const JsonScan scan = scan_json(text);
  if (scan.depth > limits.max_depth)
    return bad(what,
               llvm::formatv("JSON must nest at most {0} levels deep, got {1}", limits.max_depth, scan.depth).str());
  if (limits.max_top_level_members > 0 && scan.top_level_members > limits.max_top_level_members)
    return bad(what, llvm::formatv("the top-level object must have at most {0} members, got {1}",
                                   limits.max_top_level_members, scan.top_level_members)
                         .str());
  if (scan.values > limits.max_values)
    return bad(what,
               llvm::formatv("JSON must hold at most {0} values, got about {1}", limits.max_values, scan.values).str());
  auto parsed = llvm::json::parse(llvm::StringRef(text.data(), text.size()));
  if (!parsed) return bad(what, "not valid JSON: " + llvm::toString(parsed.takeError()));
  if (limits.unique_top_level_keys) {
    const llvm::json::Object* root = parsed->getAsObject();
    if (root && root->size() != scan.top_level_members) {
      // Some key repeats: find the first one, decoded (a key may hold escapes), to name it.
      std::set<std::string> seen;
      std::string repeated;
      bool found = false;
      for_each_top_level_key(text, [&](std::string_view raw) {
        if (found) return;
        auto decoded = llvm::json::parse("\"" + std::string(raw) + "\"");
        std::string k = decoded && decoded->getAsString() ? decoded->getAsString()->str() : std::string(raw);
        if (!seen.insert(k).second) {
          repeated = k.substr(0, 80);
          found = true;
        }
      });
      return bad(what, "key \"" + repeated + "\" appears more than once; each key must be unique");
    }
  }
  return std::move(*parsed);
}

}  // namespace qjit::runtime
