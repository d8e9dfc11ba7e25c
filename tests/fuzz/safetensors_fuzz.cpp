// libFuzzer target for the safetensors reader: any byte string must either parse into tensors whose byte ranges lie
// inside the input, or be rejected with a Status — never crash, hang or read out of bounds (ASan/UBSan watch).
// A parsed file is re-serialised and re-parsed to check the writer against the reader too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "qjit/quant/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace qjit::quant;
  auto file =
      SafetensorsFile::parse(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size), "fuzz");
  if (!file) return 0;
  SafetensorsWriter writer;
  for (const auto& [k, v] : file->metadata()) writer.set_metadata(k, v);
  for (const auto& t : file->tensors()) {
    auto bytes = file->read_bytes(t);
    if (!bytes || t.end > size) std::abort();  // a parsed range must lie inside the input
    if (!writer.add(t.name, t.dtype, t.shape, *bytes).ok()) std::abort();
    if (t.dtype == qjit::ElementKind::F32 || t.dtype == qjit::ElementKind::F16 || t.dtype == qjit::ElementKind::BF16)
      if (!file->read_f32(t.name)) std::abort();
  }
  auto image = writer.serialize();
  if (!image) std::abort();
  auto again = SafetensorsFile::parse(*image, "roundtrip");
  if (!again || again->tensors().size() != file->tensors().size()) std::abort();
  for (std::size_t i = 0; i < again->tensors().size(); ++i) {
    const auto a = *file->read_bytes(file->tensors()[i]);
    const auto b = *again->read_bytes(again->tensors()[i]);
    if (a.size() != b.size() || (a.size() && std::memcmp(a.data(), b.data(), a.size()) != 0)) std::abort();
  }
  return 0;
}
