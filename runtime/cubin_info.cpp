// Reading a kernel's resource usage out of its cubin (see cubin_info.h). The parse trusts nothing in the image: each
// offset and size is checked against the bytes actually present before it is used (in 64-bit arithmetic, so a huge
// field cannot wrap around), and each attribute record against the section that holds it.
#include "runtime/cubin_info.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "llvm/BinaryFormat/ELF.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"

namespace qjit::runtime {
namespace {

namespace elf = llvm::ELF;
using llvm::support::endian::read16le;
using llvm::support::endian::read32le;
using llvm::support::endian::read64le;

constexpr std::uint64_t kElfHeaderSize = 64;
constexpr std::uint64_t kSectionHeaderSize = 64;
constexpr std::uint64_t kSymbolSize = 24;
constexpr std::uint64_t kProgramHeaderSize = 56;

struct Section {
  std::string name;
  std::uint32_t type = 0;
  std::uint64_t offset = 0, size = 0;
  std::uint32_t link = 0;
};

Status malformed(const std::string& what) { return Status(StatusCode::InvalidArgument, "malformed cubin: " + what); }

// True when [offset, offset + size) lies inside an image of `total` bytes.
bool fits(std::uint64_t offset, std::uint64_t size, std::uint64_t total) {
  return offset <= total && size <= total - offset;
}

int clamp_int(std::uint64_t v) { return static_cast<int>(std::min<std::uint64_t>(v, std::numeric_limits<int>::max())); }

class CubinReader {
 public:
  explicit CubinReader(std::span<const std::uint8_t> bytes) : b_(bytes) {}

  Status read_sections() {
    if (b_.size() < kElfHeaderSize)
      return malformed(llvm::formatv("{0} bytes, an ELF64 header needs {1}", b_.size(), kElfHeaderSize).str());
    if (b_[0] != 0x7f || b_[1] != 'E' || b_[2] != 'L' || b_[3] != 'F')
      return malformed("the first 4 bytes are not the ELF magic \"\\x7fELF\"");
    if (b_[elf::EI_CLASS] != elf::ELFCLASS64 || b_[elf::EI_DATA] != elf::ELFDATA2LSB)
      return malformed(llvm::formatv("ELF class {0} / data encoding {1}, expected 2 (64-bit) / 1 (little-endian)",
                                     unsigned{b_[elf::EI_CLASS]}, unsigned{b_[elf::EI_DATA]})
                           .str());
    const std::uint16_t machine = read16le(at(18));
    if (machine != elf::EM_CUDA)
      return malformed(llvm::formatv("e_machine is {0}, expected {1} (EM_CUDA)", machine, elf::EM_CUDA).str());
    const std::uint64_t shoff = read64le(at(40));
    const std::uint16_t shentsize = read16le(at(58)), shnum = read16le(at(60)), shstrndx = read16le(at(62));
    if (shentsize != kSectionHeaderSize)
      return malformed(llvm::formatv("e_shentsize is {0}, expected {1}", shentsize, kSectionHeaderSize).str());
    if (shnum == 0) return malformed("e_shnum is 0: the image has no section headers");
    if (!fits(shoff, shnum * kSectionHeaderSize, b_.size()))
      return malformed(llvm::formatv("the section header table ({0} x {1} bytes at offset {2}) runs past the end of "
                                     "the {3}-byte image",
                                     shnum, kSectionHeaderSize, shoff, b_.size())
                           .str());
    // NOTE: the reader never uses the program headers, but ptxas writes them last: checking that they are present
    // is what makes a truncated image an error rather than a silently shortened one.
    const std::uint64_t phoff = read64le(at(32));
    const std::uint16_t phentsize = read16le(at(54)), phnum = read16le(at(56));
    if (phnum > 0 && phentsize != kProgramHeaderSize)
      return malformed(llvm::formatv("e_phentsize is {0}, expected {1}", phentsize, kProgramHeaderSize).str());
    if (!fits(phoff, phnum * kProgramHeaderSize, b_.size()))
      return malformed(llvm::formatv("the program header table ({0} x {1} bytes at offset {2}) runs past the end of "
                                     "the {3}-byte image",
                                     phnum, kProgramHeaderSize, phoff, b_.size())
                           .str());
    if (shstrndx >= shnum)
      return malformed(llvm::formatv("e_shstrndx is {0}, expected < e_shnum = {1}", shstrndx, shnum).str());
    std::vector<std::uint32_t> name_offsets(shnum);
    sections_.resize(shnum);
    for (std::uint16_t i = 0; i < shnum; ++i) {
      const std::uint8_t* h = at(shoff + i * kSectionHeaderSize);
      Section& s = sections_[i];
      name_offsets[i] = read32le(h);
      s.type = read32le(h + 4);
      s.offset = read64le(h + 24);
      s.size = read64le(h + 32);
      s.link = read32le(h + 40);
      // NOBITS sections (.nv.shared.*) occupy no file bytes; every other one must lie inside the image.
      if (s.type != elf::SHT_NOBITS && !fits(s.offset, s.size, b_.size()))
        return malformed(llvm::formatv("section {0} ({1} bytes at offset {2}) runs past the end of the {3}-byte image",
                                       i, s.size, s.offset, b_.size())
                             .str());
    }
    const Section& names = sections_[shstrndx];
    if (names.type != elf::SHT_STRTAB)
      return malformed(
          llvm::formatv("section {0} (e_shstrndx) has type {1}, expected SHT_STRTAB", shstrndx, names.type).str());
    for (std::uint16_t i = 0; i < shnum; ++i) {
      auto name = string_at(names, name_offsets[i]);
      if (!name) return malformed(llvm::formatv("the name of section {0} is not inside .shstrtab", i).str());
      sections_[i].name = std::move(*name);
    }
    return Status::success();
  }

  const Section* find(std::string_view name) const {
    for (const Section& s : sections_)
      if (s.name == name) return &s;
    return nullptr;
  }

  // The .symtab index of the function symbol `entry`, which .nv.info's per-function records refer to.
  Result<std::uint32_t> function_symbol(std::string_view entry) const {
    const Section* symtab = nullptr;
    for (const Section& s : sections_)
      if (s.type == elf::SHT_SYMTAB) symtab = &s;
    if (!symtab) return malformed("no SHT_SYMTAB section");
    if (symtab->link >= sections_.size() || sections_[symtab->link].type != elf::SHT_STRTAB)
      return malformed(llvm::formatv(".symtab's sh_link is {0}, expected a SHT_STRTAB section", symtab->link).str());
    const Section& strings = sections_[symtab->link];
    for (std::uint64_t i = 0; i < symtab->size / kSymbolSize; ++i) {
      const std::uint8_t* sym = at(symtab->offset + i * kSymbolSize);
      if ((sym[4] & 0xf) != elf::STT_FUNC) continue;
      auto name = string_at(strings, read32le(sym));
      if (!name) return malformed(llvm::formatv("the name of symbol {0} is not inside its string table", i).str());
      if (*name == entry) return static_cast<std::uint32_t>(i);
    }
    return Status(StatusCode::NotFound,
                  "the cubin has no function symbol named '" + std::string(entry) + "' (the kernel's entry name)");
  }

  // Calls visit(section, attribute, format, value_or_size, payload, payload_size) for each record of an .nv.info
  // section.
  template <typename Visit>
  Status for_each_attribute(const Section& s, Visit&& visit) const {
    if (s.type == elf::SHT_NOBITS) return malformed(s.name + " is SHT_NOBITS: it has no bytes in the image");
    std::uint64_t pos = 0;
    while (pos < s.size) {
      if (s.size - pos < 4)
        return malformed(llvm::formatv("{0}: a {1}-byte tail at offset {2} is too short for a 4-byte attribute "
                                       "header",
                                       s.name, s.size - pos, pos)
                             .str());
      const std::uint8_t* r = at(s.offset + pos);
      const unsigned format = r[0], attribute = r[1];  // unsigned, not uint8_t: formatv prints them as numbers
      const std::uint16_t value = read16le(r + 2);
      if (format < kEiFormatNoValue || format > kEiFormatSized)
        return malformed(llvm::formatv("{0}: attribute {1:x2} at offset {2} has format {3}, expected 1..4", s.name,
                                       attribute, pos, format)
                             .str());
      const std::uint64_t payload = format == kEiFormatSized ? value : 0;
      if (payload > s.size - pos - 4)
        return malformed(llvm::formatv("{0}: attribute {1:x2} at offset {2} declares {3} payload bytes, {4} remain",
                                       s.name, attribute, pos, payload, s.size - pos - 4)
                             .str());
      QJIT_TRY(visit(s, attribute, format, value, r + 4, payload));
      pos += 4 + payload;
    }
    return Status::success();
  }

 private:
  const std::uint8_t* at(std::uint64_t offset) const { return b_.data() + offset; }

  std::optional<std::string> string_at(const Section& table, std::uint32_t offset) const {
    if (offset >= table.size) return std::nullopt;
    const auto* begin = reinterpret_cast<const char*>(at(table.offset + offset));
    const std::size_t n = static_cast<std::size_t>(table.size - offset);
    const std::size_t len = std::string_view(begin, n).find('\0');
    if (len == std::string_view::npos) return std::nullopt;  // unterminated: the name would run out of the table
    return std::string(begin, len);
  }

  std::span<const std::uint8_t> b_;
  std::vector<Section> sections_;
};

}  // namespace

Result<CubinResources> read_cubin_resources(std::span<const std::uint8_t> cubin, std::string_view entry) {
  CubinReader reader(cubin);
  QJIT_TRY(reader.read_sections());
  QJIT_ASSIGN_OR_RETURN(const std::uint32_t symbol, reader.function_symbol(entry));
  const std::string own_info = ".nv.info." + std::string(entry);
  const Section* info = reader.find(".nv.info");
  const Section* function_info = reader.find(own_info);
  if (!info && !function_info)
    return malformed("neither a .nv.info nor a " + own_info + " section: the image carries no kernel attributes");

  CubinResources r;
  bool have_registers = false;
  // Records {u32 symbol, u32 value} describe one function; they belong to `entry` when the symbol is its own.
  auto visit = [&](const Section& s, unsigned attribute, unsigned format, std::uint16_t value,
                   const std::uint8_t* payload, std::uint64_t size) -> Status {
    if (attribute == kEiAttrRegCount || attribute == kEiAttrFrameSize || attribute == kEiAttrMinStackSize) {
      if (format != kEiFormatSized || size != 8)
        return malformed(llvm::formatv("{0}: attribute {1:x2} has format {2} and {3} payload bytes, expected 4 "
                                       "and 8 ({{symbol, value})",
                                       s.name, attribute, format, size)
                             .str());
      if (read32le(payload) != symbol) return Status::success();
      const int v = clamp_int(read32le(payload + 4));
      if (attribute == kEiAttrRegCount) {
        r.registers = v;
        have_registers = true;
      } else if (attribute == kEiAttrFrameSize) {
        r.frame_bytes = v;
      } else {
        r.stack_bytes = v;
      }
    } else if (attribute == kEiAttrMaxThreads && &s == function_info) {
      if (format != kEiFormatSized || size != 12)
        return malformed(
            llvm::formatv("{0}: EIATTR_MAX_THREADS has {1} payload bytes, expected 12 ({{x, y, z})", s.name, size)
                .str());
      // NOTE: each dimension is capped first so that the product cannot overflow 64 bits.
      std::uint64_t threads = 1;
      for (int d = 0; d < 3; ++d) threads *= std::min<std::uint32_t>(read32le(payload + 4 * d), 1u << 20);
      r.max_threads = clamp_int(threads);
    } else if (attribute == kEiAttrMaxRegCount && &s == function_info && format == kEiFormatHalf) {
      r.max_registers = value;
    }
    return Status::success();
  };
  if (info) QJIT_TRY(reader.for_each_attribute(*info, visit));
  if (function_info) QJIT_TRY(reader.for_each_attribute(*function_info, visit));
  if (!have_registers)
    return malformed("no EIATTR_REGCOUNT record for '" + std::string(entry) + "' (symbol " + std::to_string(symbol) +
                     ") in .nv.info or " + own_info);
  if (const Section* shared = reader.find(".nv.shared." + std::string(entry)))
    r.static_smem_bytes = clamp_int(shared->size);
  return r;
}

}  // namespace qjit::runtime
