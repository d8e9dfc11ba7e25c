// safetensors I/O. The format: an 8-byte little-endian header length H, then H bytes of JSON mapping each tensor
// name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data section that follows the
// header; an optional "__metadata__" object maps strings to strings), then the raw little-endian data.
//
// The reader accepts every dtype the format names (SafetensorsDtype: the floats F64 ... F4, the integers I64 ... U8,
// BOOL), so a tensor qjit only copies is copied byte for byte whatever its type; only F32/F16/BF16 are ever decoded
// (read_f32). It rejects anything it cannot prove sound: a header length past the end of the file, bad JSON,
// unknown dtypes, shapes whose element count overflows, offsets out of bounds or overlapping, size != numel·itemsize
// (gaps between tensors are tolerated), repeated tensor names, and headers past the bounds below. Files are opened
// by qjit's read rules (regular files only) and read with pread, never mapped, so a file truncated while in use is
// an error rather than SIGBUS; tensors are listed sorted by name. The writer pads the header with spaces so the data
// section starts 8-byte aligned, keeps the tensors in the order they were added, and can stream each tensor's bytes
// from a callback so a model larger than memory can be rewritten.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qjit/element.h"
#include "qjit/status.h"

namespace qjit::quant {

// Bounds of a header the reader accepts (a model has at most tens of thousands of tensors).
inline constexpr std::size_t kMaxSafetensorsTensors = std::size_t{1} << 18;
inline constexpr std::size_t kMaxSafetensorsRank = 16;

// A dtype as the safetensors format names it. qjit's ElementKinds convert to it implicitly (each is one of the
// format's dtypes) and compare equal to it; the other dtypes (I64, BOOL, F8_E4M3, ...) exist so that tensors qjit
// does not compute with can still be read, described and copied exactly. Sub-byte dtypes (F4, F6_*) are packed:
// a tensor's element count times bits() must be a multiple of 8.
class SafetensorsDtype {
 public:
  enum class Code : std::uint8_t {
    kBool,
    kU8,
    kI8,
    kI16,
    kU16,
    kI32,
    kU32,
    kI64,
    kU64,
    kF4,
    kF6E2M3,
    kF6E3M2,
    kF8E4M3,
    kF8E5M2,
    kF8E8M0,
    kF16,
    kBF16,
    kF32,
    kF64,
  };
  constexpr SafetensorsDtype() = default;
  constexpr SafetensorsDtype(Code code) : code_(code) {}                    // NOLINT(google-explicit-constructor)
  constexpr SafetensorsDtype(ElementKind kind) : code_(from_kind(kind)) {}  // NOLINT(google-explicit-constructor)

  constexpr Code code() const { return code_; }
  // The format's name ("I64", "F8_E4M3", ...).
  std::string_view name() const;
  // Bits per element (1 byte for BOOL, 4 for F4, 6 for F6_*).
  unsigned bits() const;
  // The ElementKind this dtype is, when qjit has one.
  std::optional<ElementKind> element() const;
  // F32, F16 or BF16: what read_f32 decodes and what qjit quantizes.
  constexpr bool readable_as_f32() const { return code_ == Code::kF32 || code_ == Code::kF16 || code_ == Code::kBF16; }

  friend constexpr bool operator==(SafetensorsDtype a, SafetensorsDtype b) { return a.code_ == b.code_; }

 private:
  static constexpr Code from_kind(ElementKind kind) {
    switch (kind) {
      case ElementKind::F16: return Code::kF16;
      case ElementKind::BF16: return Code::kBF16;
      case ElementKind::F32: return Code::kF32;
      case ElementKind::F64: return Code::kF64;
      case ElementKind::S8: return Code::kI8;
      case ElementKind::U8: return Code::kU8;
      case ElementKind::S32: return Code::kI32;
    }
    return Code::kF32;
  }
  Code code_ = Code::kF32;
};

// The format's dtype names <-> SafetensorsDtype; a name the format does not define is Unsupported.
Result<SafetensorsDtype> parse_safetensors_dtype(std::string_view name);
std::string_view safetensors_dtype_name(SafetensorsDtype dtype);
// The byte size of `numel` elements of `dtype`: false when it overflows or a packed sub-byte tensor does not fill
// whole bytes.
bool safetensors_nbytes(SafetensorsDtype dtype, std::uint64_t numel, std::uint64_t* nbytes);

struct TensorInfo {
  std::string name;
  SafetensorsDtype dtype = ElementKind::F32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  // byte offsets into the data section
  std::uint64_t end = 0;
  std::int64_t numel() const;
  std::uint64_t nbytes() const { return end - begin; }
};

class SafetensorsFile {
 public:
  // Opens a file and validates its header (tensor data is read when asked for).
  static Result<SafetensorsFile> open(const std::string& path);
  // Validates an in-memory image (copied). `what` names it in messages.
  static Result<SafetensorsFile> parse(std::span<const std::byte> bytes, const std::string& what = "<memory>");

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorInfo* find(std::string_view name) const;
  // The raw little-endian bytes of a tensor (out.size() must be info.nbytes()); an error when the file no longer
  // holds them.
  Status read_into(const TensorInfo& info, std::span<std::byte> out) const;
  Result<std::vector<std::byte>> read_bytes(const TensorInfo& info) const;
  // A floating tensor (F32/F16/BF16) widened to f32; NotFound if absent, InvalidArgument for other dtypes.
  Result<std::vector<float>> read_f32(std::string_view name) const;

 private:
  SafetensorsFile();
  Status index(std::string_view header, std::uint64_t data_size, const std::string& what);
  struct Storage;
  std::unique_ptr<Storage> storage_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
  std::uint64_t data_offset_ = 0;  // start of the data section in the file or image
};

class SafetensorsWriter {
 public:
  // Fills exactly out.size() bytes of one tensor's data.
  using Producer = std::function<Status(std::span<std::byte> out)>;

  // Adds a tensor with its bytes (copied). Errors: empty or duplicate name, "__metadata__", bytes.size() !=
  // numel·itemsize (or a packed sub-byte size that is not whole bytes), negative dimensions.
  Status add(std::string name, SafetensorsDtype dtype, std::vector<std::int64_t> shape,
             std::span<const std::byte> bytes);
  template <class T>
  Status add_typed(std::string name, std::vector<std::int64_t> shape, std::span<const T> values) {
    return add(std::move(name), kind_of<T>, std::move(shape), std::as_bytes(values));
  }
  // Adds a tensor whose bytes are produced while writing (called once, in order, by write()).
  Status add_streamed(std::string name, SafetensorsDtype dtype, std::vector<std::int64_t> shape, Producer producer);
  void set_metadata(std::string key, std::string value) { metadata_[std::move(key)] = std::move(value); }

  // The header bytes (length prefix + padded JSON) for the tensors added so far.
  std::string header() const;
  // The whole file image (runs the producers).
  Result<std::vector<std::byte>> serialize() const;
  // Writes by qjit's file rules (runtime/safe_file.h): a temporary beside path (in a directory no other user
  // controls), fsynced and renamed over path. Refuses a path that is a symlink, device or other non-regular file,
  // or the same file as one of `inputs` (the files the producers read from).
  Status write(const std::string& path, const std::vector<std::string>& inputs = {}) const;

 private:
  struct Entry {
    std::string name;
    SafetensorsDtype dtype;
    std::vector<std::int64_t> shape;
    std::uint64_t nbytes = 0;
    std::vector<std::byte> bytes;  // when not streamed
    Producer producer;
  };
  Status check_new(const std::string& name, SafetensorsDtype dtype, const std::vector<std::int64_t>& shape,
                   std::uint64_t* nbytes) const;
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace qjit::quant
