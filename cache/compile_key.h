// The compile key: the SHA-256 identity of one compiled kernel. It covers exactly what changes the binary -- the
// rendered source, the entry-point name, the NVRTC version, every compile option (in order), the target arch and the
// qjit version -- and nothing that does not (no paths, no timestamps, no host names), so a prebuilt store made on a
// build machine is found again on any machine with the same compiler. The ingredients are hashed through a
// length-prefixed, tagged encoding rather than by printing objects, so no two different ingredient lists can
// produce the same byte stream.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qjit::cache {

struct KeyIngredients {
  std::string_view source;           // the rendered CUDA C++ text
  std::string_view entry_name;       // the extern "C" kernel name
  std::string_view nvrtc_version;    // e.g. "13.0"
  std::vector<std::string> options;  // NVRTC options in the order they are passed (order can change the binary)
  std::string_view arch;             // "sm_80", "sm_90a"
  std::string_view qjit_version;     // the library version that rendered the source
};

struct CompileKey {
  static constexpr std::size_t kSize = 32;
  std::array<std::uint8_t, kSize> digest{};

  // 64 lower-case hex characters; the entry's file name in a store.
  std::string hex() const;
  // The inverse of hex(); nullopt unless `text` is exactly 64 hex digits.
  static std::optional<CompileKey> from_hex(std::string_view text);

  bool operator==(const CompileKey&) const = default;
};

// For unordered containers: the digest is already uniformly distributed, so its first 8 bytes are the hash.
struct CompileKeyHash {
  std::size_t operator()(const CompileKey& key) const noexcept;
};

CompileKey make_compile_key(const KeyIngredients& ingredients);

}  // namespace qjit::cache
