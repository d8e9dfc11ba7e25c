// Bounded JSON parsing for every JSON file a user hands qjit (safetensors headers, the tuning database, layer
// mappings). LLVM's parser recurses once per nesting level and spends tens of bytes per value, so '[' x 50000
// overflows the stack and a 100 MB header of tiny values costs gigabytes. parse_json_bounded first scans the text
// without allocating -- nesting depth, an upper bound on the number of values, the members of the top-level
// object -- refuses it when over the limits, and only then parses. It can also refuse duplicate top-level keys,
// which LLVM's parser would silently collapse (the last one winning).
#pragma once

#include <cstddef>
#include <string_view>

#include "llvm/Support/JSON.h"
#include "qjit/status.h"

namespace qjit::runtime {

struct JsonLimits {
  int max_depth = 32;                             // arrays and objects nested inside each other
  std::size_t max_values = std::size_t{1} << 22;  // values of any kind (bounds the parsed tree's memory)
  std::size_t max_top_level_members = 0;          // members of the top-level object; 0 = no separate limit
  bool unique_top_level_keys = false;             // refuse an object whose top level repeats a key
};

struct JsonScan {
  int depth = 0;           // deepest nesting seen
  std::size_t values = 0;  // upper bound on the number of values
  std::size_t top_level_members = 0;
};

// Scans without building anything. Strings are skipped with their escapes; the text need not be valid JSON (the
// parser judges that), only bounded.
JsonScan scan_json(std::string_view text);

// InvalidArgument "<what>: ..." naming the limit that was exceeded, the parser's message for malformed JSON, or the
// repeated key.
Result<llvm::json::Value> parse_json_bounded(std::string_view text, const JsonLimits& limits, std::string_view what);

}  // namespace qjit::runtime
