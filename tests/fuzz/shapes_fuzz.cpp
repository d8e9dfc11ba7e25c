// libFuzzer target for the shapes CSV parser (`qjit warmup|tune|bench --shapes FILE`) and the small command-line
// grammars next to it (M lists, shards): any text must either parse into shapes with positive N and K, non-empty
// names, or be refused with a Status naming a line -- never crash or allocate without bound. Parsed shapes are
// expanded into work items and sharded, and the shards must partition the items exactly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "autotune/shapes.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace qjit::autotune;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)parse_m_list(text.substr(0, 256));
  (void)parse_shard(text.substr(0, 64));
  auto shapes = parse_shapes(text, "fuzz.csv");
  if (!shapes) {
    if (shapes.error().message().empty()) std::abort();
    return 0;
  }
  if (shapes->empty()) std::abort();
  for (const auto& s : *shapes)
    if (s.n < 1 || s.k < 1 || s.model.empty() || s.layer.empty()) std::abort();
  const auto items = work_items(*shapes, {1, 16, 1, 4096});
  std::size_t total = 0;
  for (int i = 0; i < 3; ++i) total += shard_items(items, Shard{i, 3}).size();
  if (total != items.size()) std::abort();
  return 0;
}
