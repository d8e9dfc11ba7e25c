// libFuzzer target for the tuning database parser (what `qjit db show|merge`, `qjit warmup --tuning-db` and every
// engine reading QJIT_TUNING_DB run on a user's file): any text must either parse into records that survive
// to_json -> parse unchanged, or be refused with a Status -- never crash, overflow the stack or allocate without
// bound (ASan/UBSan watch). Merging a parsed database into itself must change nothing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "autotune/tuning_db.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using qjit::autotune::TuningDb;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto db = TuningDb::parse(text, "fuzz");
  if (!db) {
    if (db.error().message().empty()) std::abort();
    return 0;
  }
  auto again = TuningDb::parse(db->to_json(), "roundtrip");
  if (!again || again->size() != db->size()) std::abort();
  for (std::size_t i = 0; i < db->size(); ++i) {
    const auto& a = db->records()[i];
    const auto* b = again->find(a.key);
    if (!b || !(b->config == a.config) || b->candidates != a.candidates) std::abort();
  }
  TuningDb copy = *db;
  if (copy.merge(*db) != 0 || copy.size() != db->size()) std::abort();
  return 0;
}
