// The safetensors reader: opens the file by the read rules (runtime/safe_file.h: regular files only, never mapped),
// reads and parses the JSON header within bounds (header size, nesting depth, value and tensor counts, unique
// names) and proves every entry sound before exposing it — dtype known, element count and byte size free of
// overflow, offsets inside the data section, size equal to numel·itemsize, no two tensors sharing bytes. Tensor
// data is read with pread when asked for, so a file truncated meanwhile is an error, not SIGBUS. Anything else is an
// InvalidArgument that names the tensor and the field, never a crash: this is the surface the fuzzer attacks.
#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

#include "llvm/Support/JSON.h"
#include "qjit/quant/safetensors.h"
#include "quant/check.h"
#include "runtime/json_limits.h"
#include "runtime/safe_file.h"

namespace qjit::quant {
namespace {

using detail::invalid;

// NOTE: the reference implementation refuses headers over 100 MB; a larger one is an attack, not a model.
constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;

Status bad(const std::string& what, const std::string& message) { return invalid(what + ": " + message); }

llvm::Optional<std::uint64_t> non_negative(const llvm::json::Value& v) { return v.getAsUINT64(); }

// NOTE: a safetensors header nests three levels deep and a model has at most tens of thousands of tensors, each
// a dozen JSON values; the bounds keep a hostile 100 MB header from costing gigabytes of parse tree (1.8 M tiny
// tensors once took 8.4 GB) or the parser's stack (LLVM's parser recurses once per nesting level).
constexpr runtime::JsonLimits kHeaderLimits{/*max_depth=*/8, /*max_values=*/std::size_t{1} << 22,
                                            /*max_top_level_members=*/kMaxSafetensorsTensors + 1,
                                            /*unique_top_level_keys=*/true};

}  // namespace

struct SafetensorsFile::Storage {
  std::optional<runtime::ReadFile> file;  // open(): tensor data is read from here
  std::vector<std::byte> owned;           // parse(): the whole image
};

SafetensorsFile::SafetensorsFile() : storage_(std::make_unique<Storage>()) {}
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

namespace {

using Code = SafetensorsDtype::Code;

struct DtypeRow {
  Code code;
  std::string_view name;
  unsigned bits;
};

// NOTE: the names and sizes of the reference implementation's Dtype enum (safetensors 0.5/0.6).
constexpr DtypeRow kDtypes[] = {
    {Code::kBool, "BOOL", 8},      {Code::kU8, "U8", 8},          {Code::kI8, "I8", 8},
    {Code::kI16, "I16", 16},       {Code::kU16, "U16", 16},       {Code::kI32, "I32", 32},
    {Code::kU32, "U32", 32},       {Code::kI64, "I64", 64},       {Code::kU64, "U64", 64},
    {Code::kF4, "F4", 4},          {Code::kF6E2M3, "F6_E2M3", 6}, {Code::kF6E3M2, "F6_E3M2", 6},
    {Code::kF8E4M3, "F8_E4M3", 8}, {Code::kF8E5M2, "F8_E5M2", 8}, {Code::kF8E8M0, "F8_E8M0", 8},
    {Code::kF16, "F16", 16},       {Code::kBF16, "BF16", 16},     {Code::kF32, "F32", 32},
    {Code::kF64, "F64", 64},
};

const DtypeRow& row_of(SafetensorsDtype d) {
  for (const auto& r : kDtypes)
    if (r.code == d.code()) return r;
  return kDtypes[0];  // NOTE: unreachable: every Code has a row
}

}  // namespace

std::string_view SafetensorsDtype::name() const { return row_of(*this).name; }
unsigned SafetensorsDtype::bits() const { return row_of(*this).bits; }

std::optional<ElementKind> SafetensorsDtype::element() const {
  switch (code_) {
    case Code::kF16: return ElementKind::F16;
    case Code::kBF16: return ElementKind::BF16;
    case Code::kF32: return ElementKind::F32;
    case Code::kF64: return ElementKind::F64;
    case Code::kI8: return ElementKind::S8;
    case Code::kU8: return ElementKind::U8;
    case Code::kI32: return ElementKind::S32;
    default: return std::nullopt;
  }
}

Result<SafetensorsDtype> parse_safetensors_dtype(std::string_view name) {
  for (const auto& r : kDtypes)
    if (r.name == name) return SafetensorsDtype(r.code);
  return Status(StatusCode::Unsupported,
                "dtype must be one of the safetensors dtypes (BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F4, F6_E2M3, "
                "F6_E3M2, F8_E4M3, F8_E5M2, F8_E8M0, F16, BF16, F32, F64), got \"" +
                    std::string(name.substr(0, 32)) + "\"");
}

std::string_view safetensors_dtype_name(SafetensorsDtype dtype) { return dtype.name(); }

bool safetensors_nbytes(SafetensorsDtype dtype, std::uint64_t numel, std::uint64_t* nbytes) {
  std::uint64_t bits = 0;
  if (__builtin_mul_overflow(numel, static_cast<std::uint64_t>(dtype.bits()), &bits) || bits % 8 != 0) return false;
  *nbytes = bits / 8;
  return true;
}

std::int64_t TensorInfo::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;  // NOTE: proven free of overflow when the entry was parsed or added
  return n;
}

namespace {

// The header length from the 8-byte prefix, checked against the file size and the format's bound.
Result<std::uint64_t> header_length(std::span<const std::byte> prefix, std::uint64_t file_size,
                                    const std::string& what) {
  if (file_size < 8)
    return bad(what, llvm::formatv("file size must be >= 8 (the header length), got {0}", file_size).str());
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | std::to_integer<std::uint64_t>(prefix[i]);
  const std::uint64_t available = file_size - 8;
  if (header_len > available)
    return bad(what, llvm::formatv("header length must be <= {0} (bytes after the length prefix), got {1}", available,
                                   header_len)
                         .str());
  if (header_len > kMaxHeaderBytes)
    return bad(what, llvm::formatv("header length must be <= {0}, got {1}", kMaxHeaderBytes, header_len).str());
  return header_len;
}

}  // namespace

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  runtime::ReadRules rules;
  rules.what = "safetensors file";
  QJIT_ASSIGN_OR_RETURN(runtime::ReadFile f, runtime::ReadFile::open(path, rules));
  std::byte prefix[8] = {};
  if (f.size() >= 8) QJIT_TRY(f.read_at(0, prefix));
  QJIT_ASSIGN_OR_RETURN(std::uint64_t header_len, header_length(prefix, f.size(), path));
  std::string header(static_cast<std::size_t>(header_len), '\0');
  QJIT_TRY(f.read_at(8, std::as_writable_bytes(std::span<char>(header))));
  SafetensorsFile file;
  file.data_offset_ = 8 + header_len;
  const std::uint64_t data_size = f.size() - file.data_offset_;
  file.storage_->file.emplace(std::move(f));
  QJIT_TRY(file.index(header, data_size, path));
  return file;
}

Result<SafetensorsFile> SafetensorsFile::parse(std::span<const std::byte> bytes, const std::string& what) {
  SafetensorsFile file;
  QJIT_ASSIGN_OR_RETURN(std::uint64_t header_len, header_length(bytes, bytes.size(), what));
  file.storage_->owned.assign(bytes.begin(), bytes.end());
  file.data_offset_ = 8 + header_len;
  const std::string_view header(reinterpret_cast<const char*>(file.storage_->owned.data()) + 8, header_len);
  QJIT_TRY(file.index(header, bytes.size() - file.data_offset_, what));
  return file;
}

Status SafetensorsFile::index(std::string_view text, std::uint64_t data_size, const std::string& what) {
  auto parsed = runtime::parse_json_bounded(text, kHeaderLimits, what + ": header");
  if (!parsed) return parsed.error();
  const llvm::json::Object* root = parsed->getAsObject();
  if (!root) return bad(what, "header must be a JSON object");

  if (root->size() > kMaxSafetensorsTensors + 1)
    return bad(
        what,
        llvm::formatv("header must list at most {0} tensors, got {1}", kMaxSafetensorsTensors, root->size()).str());
  for (const auto& [key, value] : *root) {
    const std::string name = key.str();
    if (name == "__metadata__") {
      const auto* meta = value.getAsObject();
      if (!meta) return bad(what, "__metadata__ must be an object of strings");
      for (const auto& [mk, mv] : *meta) {
        auto s = mv.getAsString();
        if (!s) return bad(what, "__metadata__[\"" + mk.str() + "\"] must be a string");
        metadata_[mk.str()] = s->str();
      }
      continue;
    }
    const std::string where = what + ": tensor \"" + name + "\"";
    if (name.empty()) return bad(what, "tensor names must not be empty");
    const auto* entry = value.getAsObject();
    if (!entry) return invalid(where + " must map to an object");
    TensorInfo info;
    info.name = name;
    auto dtype = entry->getString("dtype");
    if (!dtype) return invalid(where + ": \"dtype\" must be a string");
    auto kind = parse_safetensors_dtype(*dtype);
    if (!kind) return kind.error().with_context(where);
    info.dtype = *kind;
    const auto* shape = entry->getArray("shape");
    if (!shape) return invalid(where + ": \"shape\" must be an array of integers");
    if (shape->size() > kMaxSafetensorsRank)
      return invalid(llvm::formatv("{0}: \"shape\" must have at most {1} dimensions, got {2}", where,
                                   kMaxSafetensorsRank, shape->size())
                         .str());
    std::uint64_t numel = 1;
    for (std::size_t d = 0; d < shape->size(); ++d) {
      auto dim = non_negative((*shape)[d]);
      if (!dim || *dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return invalid(llvm::formatv("{0}: shape[{1}] must be a non-negative integer", where, d).str());
      if (__builtin_mul_overflow(numel, *dim, &numel) || numel > static_cast<std::uint64_t>(INT64_MAX))
        return invalid(where + ": the element count of \"shape\" overflows 63 bits");
      info.shape.push_back(static_cast<std::int64_t>(*dim));
    }
    std::uint64_t nbytes = 0;
    if (!safetensors_nbytes(info.dtype, numel, &nbytes))
      return invalid(where +
                     ": the byte size numel * itemsize overflows 64 bits or, for a packed sub-byte dtype, is "
                     "not a whole number of bytes");
    const auto* offsets = entry->getArray("data_offsets");
    if (!offsets || offsets->size() != 2)
      return invalid(where + ": \"data_offsets\" must be an array of two integers [begin, end]");
    auto begin = non_negative((*offsets)[0]);
    auto end = non_negative((*offsets)[1]);
    if (!begin || !end) return invalid(where + ": \"data_offsets\" must hold non-negative integers");
    if (*begin > *end)
      return invalid(llvm::formatv("{0}: data_offsets begin must be <= end = {1}, got {2}", where, *end, *begin).str());
    if (*end > data_size)
      return invalid(
          llvm::formatv("{0}: data_offsets end must be <= the data section size {1}, got {2}", where, data_size, *end)
              .str());
    if (*end - *begin != nbytes)
      return invalid(llvm::formatv("{0}: data_offsets must span numel * itemsize = {1} bytes, got {2}", where, nbytes,
                                   *end - *begin)
                         .str());
    info.begin = *begin;
    info.end = *end;
    tensors_.push_back(std::move(info));
  }

  // Non-overlap: sorted by begin, each tensor must start at or after the previous one's end.
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  for (std::size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      return bad(what, "tensors \"" + by_offset[i - 1]->name + "\" and \"" + by_offset[i]->name +
                           "\" overlap: data_offsets must not share bytes");
  std::sort(tensors_.begin(), tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  return Status();
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorInfo& t, std::string_view n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

Status SafetensorsFile::read_into(const TensorInfo& info, std::span<std::byte> out) const {
  if (out.size() != info.nbytes())
    return invalid(
        llvm::formatv("out.size() for tensor \"{0}\" must be {1}, got {2}", info.name, info.nbytes(), out.size())
            .str());
  if (out.empty()) return Status();
  if (storage_->file) return storage_->file->read_at(data_offset_ + info.begin, out);
  std::memcpy(out.data(), storage_->owned.data() + data_offset_ + info.begin, out.size());
  return Status();
}

Result<std::vector<std::byte>> SafetensorsFile::read_bytes(const TensorInfo& info) const {
  std::vector<std::byte> out(info.nbytes());
  QJIT_TRY(read_into(info, out));
  return out;
}

Result<std::vector<float>> SafetensorsFile::read_f32(std::string_view name) const {
  const TensorInfo* t = find(name);
  if (!t) return Status(StatusCode::NotFound, "tensor \"" + std::string(name) + "\" is not in the file");
  if (!t->dtype.readable_as_f32())
    return invalid("tensor \"" + t->name + "\" dtype must be F32, F16 or BF16 to read as f32, got " +
                   std::string(t->dtype.name()));
  QJIT_ASSIGN_OR_RETURN(const auto raw, read_bytes(*t));
  std::vector<float> out(static_cast<std::size_t>(t->numel()));
  switch (*t->dtype.element()) {
    case ElementKind::F32:
      if (!raw.empty()) std::memcpy(out.data(), raw.data(), raw.size());
      break;
    case ElementKind::F16:
    case ElementKind::BF16:
      for (std::size_t i = 0; i < out.size(); ++i) {
        std::uint16_t h;
        std::memcpy(&h, raw.data() + 2 * i, 2);
        out[i] = t->dtype == ElementKind::F16 ? f16_to_float(f16{h}) : bf16_to_float(bf16{h});
      }
      break;
    default:
      return invalid("tensor \"" + t->name + "\" dtype must be F32, F16 or BF16 to read as f32, got " +
                     std::string(t->dtype.name()));
  }
  return out;
}

}  // namespace qjit::quant
