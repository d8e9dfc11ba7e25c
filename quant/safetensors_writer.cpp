// The safetensors writer: builds the JSON header with LLVM's JSON library, pads it with spaces so the data section
// starts 8-byte aligned, and writes the tensors in the order they were added — each either from bytes it holds or
// from a producer called at write time, so rewriting a model needs one tensor in memory, not the model. Files are
// written by the file rules (runtime/safe_file.h): a unique temporary beside the target, fsynced and renamed, so a
// reader never sees half a file and a failed or killed write leaves no temporary behind for long. A path that breaks
// a rule is InvalidArgument; a failing create, write, fsync or rename is CacheIo (the I/O code) naming the file.
#include <algorithm>
#include <cstring>

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"
#include "qjit/quant/safetensors.h"
#include "quant/check.h"
#include "runtime/safe_file.h"

namespace qjit::quant {

Status SafetensorsWriter::check_new(const std::string& name, SafetensorsDtype dtype,
                                    const std::vector<std::int64_t>& shape, std::uint64_t* nbytes) const {
  if (name.empty()) return detail::invalid("name must not be empty");
  if (name == "__metadata__") return detail::invalid("name must not be \"__metadata__\" (reserved by the format)");
  for (const auto& e : entries_)
    if (e.name == name) return detail::invalid("name must be unique, \"" + name + "\" was already added");
  std::uint64_t numel = 1;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] < 0)
      return detail::invalid(llvm::formatv("shape[{0}] of \"{1}\" must be >= 0, got {2}", d, name, shape[d]).str());
    if (__builtin_mul_overflow(numel, static_cast<std::uint64_t>(shape[d]), &numel) || numel > INT64_MAX)
      return detail::invalid("the element count of \"" + name + "\" overflows 63 bits");
  }
  if (!safetensors_nbytes(dtype, numel, nbytes))
    return detail::invalid("the byte size of \"" + name + "\" overflows 64 bits or, for a packed sub-byte dtype (" +
                           std::string(dtype.name()) + "), is not a whole number of bytes");
  return Status();
}

Status SafetensorsWriter::add(std::string name, SafetensorsDtype dtype, std::vector<std::int64_t> shape,
                              std::span<const std::byte> bytes) {
  std::uint64_t nbytes = 0;
  QJIT_TRY(check_new(name, dtype, shape, &nbytes));
  if (bytes.size() != nbytes)
    return detail::invalid(
        llvm::formatv("bytes.size() of \"{0}\" must equal numel * itemsize = {1}, got {2}", name, nbytes, bytes.size())
            .str());
  entries_.push_back(Entry{std::move(name), dtype, std::move(shape), nbytes, {bytes.begin(), bytes.end()}, nullptr});
  return Status();
}

Status SafetensorsWriter::add_streamed(std::string name, SafetensorsDtype dtype, std::vector<std::int64_t> shape,
                                       Producer producer) {
  std::uint64_t nbytes = 0;
  QJIT_TRY(check_new(name, dtype, shape, &nbytes));
  if (!producer) return detail::invalid("producer of \"" + name + "\" must not be empty");
  entries_.push_back(Entry{std::move(name), dtype, std::move(shape), nbytes, {}, std::move(producer)});
  return Status();
}

std::string SafetensorsWriter::header() const {
  llvm::json::Object root;
  if (!metadata_.empty()) {
    llvm::json::Object meta;
    for (const auto& [k, v] : metadata_) meta[k] = v;
    root["__metadata__"] = std::move(meta);
  }
  std::uint64_t offset = 0;
  for (const auto& e : entries_) {
    llvm::json::Array shape;
    for (auto d : e.shape) shape.push_back(d);
    llvm::json::Object entry;
    entry["dtype"] = std::string(e.dtype.name());
    entry["shape"] = std::move(shape);
    entry["data_offsets"] = llvm::json::Array{llvm::json::Value(offset), llvm::json::Value(offset + e.nbytes)};
    root[e.name] = std::move(entry);
    offset += e.nbytes;
  }
  std::string json;
  llvm::raw_string_ostream os(json);
  os << llvm::json::Value(std::move(root));
  os.flush();
  // NOTE: pad with spaces (valid JSON whitespace) so 8 + header length is a multiple of 8: the data section, and
  // every tensor whose offset is a multiple of its item size, is then naturally aligned when mapped.
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((static_cast<std::uint64_t>(json.size()) >> (8 * i)) & 0xff);
  return out + json;
}

namespace {

// Writes one entry's bytes through `sink`, running its producer when it has one.
template <class Sink>
Status emit(const std::string& name, std::uint64_t nbytes, const std::vector<std::byte>& bytes,
            const SafetensorsWriter::Producer& producer, std::vector<std::byte>& scratch, Sink sink) {
  if (!producer) return sink(std::span<const std::byte>(bytes));
  scratch.assign(nbytes, std::byte{0});
  QJIT_TRY(producer(std::span<std::byte>(scratch)).with_context("while producing tensor \"" + name + "\""));
  return sink(std::span<const std::byte>(scratch));
}

}  // namespace

Result<std::vector<std::byte>> SafetensorsWriter::serialize() const {
  const std::string head = header();
  std::vector<std::byte> out(reinterpret_cast<const std::byte*>(head.data()),
                             reinterpret_cast<const std::byte*>(head.data()) + head.size());
  std::vector<std::byte> scratch;
  for (const auto& e : entries_)
    QJIT_TRY(emit(e.name, e.nbytes, e.bytes, e.producer, scratch, [&](std::span<const std::byte> b) {
      out.insert(out.end(), b.begin(), b.end());
      return Status();
    }));
  return out;
}

Status SafetensorsWriter::write(const std::string& path, const std::vector<std::string>& inputs) const {
  runtime::WriteRules rules;
  rules.what = "safetensors output";
  rules.inputs = inputs;
  QJIT_ASSIGN_OR_RETURN(runtime::AtomicFile out, runtime::AtomicFile::create(path, rules));
  auto sink = [&](std::span<const std::byte> b) { return out.write(b); };
  const std::string head = header();
  QJIT_TRY(sink(std::as_bytes(std::span<const char>(head))).with_context("cannot write '" + path + "'"));
  std::vector<std::byte> scratch;
  for (const auto& e : entries_)
    QJIT_TRY(emit(e.name, e.nbytes, e.bytes, e.producer, scratch, sink).with_context("cannot write '" + path + "'"));
  return out.commit();
}

}  // namespace qjit::quant
