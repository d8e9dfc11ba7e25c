// libFuzzer target for the layer-mapping parser behind `qjit quantize --mapping FILE`: any text must either parse
// into a mapping whose layer prefix holds "{i}" and whose groups are non-empty and disjoint, or be refused with a
// Status -- never crash or overflow the stack. A parsed mapping is then applied to a few tensor names.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "qjit/quant/model_quantizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace qjit::quant;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = parse_layer_mapping(text, "fuzz");
  if (!m) {
    if (m.error().message().empty()) std::abort();
    return 0;
  }
  if (m->layer_prefix.find("{i}") == std::string::npos || m->groups.empty()) std::abort();
  std::set<std::string> seen;
  for (const auto& g : m->groups) {
    if (g.linears.empty()) std::abort();
    for (const auto& l : g.linears)
      if (l.empty() || !seen.insert(l).second) std::abort();
  }
  const auto pos = m->layer_prefix.find("{i}");
  const std::string before = m->layer_prefix.substr(0, pos), after = m->layer_prefix.substr(pos + 3);
  const auto layers = find_layer_indices(*m, {before + "0" + after + "x", before + "12" + after, before + "-1" + after,
                                              before + "1234567890" + after, "unrelated"});
  for (auto i : layers)
    if (i < 0 || i > 999999999) std::abort();
  return 0;
}
