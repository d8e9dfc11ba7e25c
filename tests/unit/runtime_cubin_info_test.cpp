// The cubin resource reader (runtime/cubin_info.h) without a GPU or cuobjdump. Real kernels compiled by the real
// NVRTC for sm_80 and sm_90a: the Hopper GEMM with two consumer warp groups has exactly the 168 registers its
// __launch_bounds__(384, 1) allows (65536 / 384 rounded down to ptxas's allocation unit of 8), the portable GEMM and
// the quantize kernel have plausible counts within their launch bounds, and a probe module pins static shared
// memory, the stack frame of a local array, launch bounds and per-kernel attribution against values known from its
// source (cross-checked with `ptxas -v` when written). A hand-built ELF checks the attribute walk field by field, and
// every kind of malformed image -- truncated at any length, foreign, sections or names out of range, attribute
// records overrunning or mis-sized, no .nv.info at all -- is an error naming the defect, never a crash.
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ops/config_choice.h"
#include "runtime/cubin_info.h"
#include "runtime/nvrtc.h"
#include "tests/support/cubin_probe.h"

namespace qjit::runtime {
namespace {

using Bytes = std::vector<std::uint8_t>;

#define SKIP_WITHOUT_NVRTC() \
  if (!nvrtc().has_value()) GTEST_SKIP() << nvrtc().status().to_string()

Bytes compile(const std::string& text, const std::string& name, const std::string& arch) {
  auto out = (*nvrtc())->compile(text, name + ".cu", arch, default_compile_options());
  EXPECT_TRUE(out.has_value()) << name << " for " << arch << ": " << out.status().to_string();
  return out.has_value() ? out->cubin : Bytes{};
}

codegen::Source render(codegen::KernelOp op, codegen::TileConfig config, int arch) {
  codegen::KernelSpec spec;
  spec.op = op;
  spec.in_element = op == codegen::KernelOp::GemmS8 ? ElementKind::S8 : ElementKind::BF16;
  spec.out_element = op == codegen::KernelOp::GemmS8 ? ElementKind::BF16 : ElementKind::S8;
  spec.n = op == codegen::KernelOp::GemmS8 ? 4096 : 0;
  spec.k = 4096;
  spec.per_token_scale = true;
  spec.arch = arch;
  auto source = ops::render(spec, config);
  EXPECT_TRUE(source.has_value()) << source.status().to_string();
  return source.has_value() ? *source : codegen::Source{};
}

codegen::TileConfig sm90_two_consumers() {
  return codegen::Sm90Tile{.block_m = 128, .block_n = 256, .stages = 4, .consumers = 2};
}

TEST(RuntimeCubinInfoTest, Sm90aGemmWithTwoConsumersHas168Registers) {
  SKIP_WITHOUT_NVRTC();
  const codegen::Source src = render(codegen::KernelOp::GemmS8, sm90_two_consumers(), 90);
  ASSERT_EQ(src.threads, 384);
  const Bytes cubin = compile(src.text, src.entry, "sm_90a");
  auto r = read_cubin_resources(cubin, src.entry);
  ASSERT_TRUE(r.has_value()) << r.status().to_string();
  EXPECT_EQ(r->registers, 168);
  EXPECT_EQ(r->max_registers, 168);  // the cap ptxas derived from the launch bounds
  EXPECT_EQ(r->max_threads, 384);
  EXPECT_TRUE(r->spill_free()) << r->frame_bytes << " B frame";
  // Only dynamic shared memory in the template: the section holds at most sm_90's reserved KiB (cubin_info.h).
  EXPECT_LE(r->static_smem_bytes, 1024);
}

TEST(RuntimeCubinInfoTest, Sm80GemmAndQuantizeHavePlausibleCounts) {
  SKIP_WITHOUT_NVRTC();
  const codegen::TileConfig gemm =
      codegen::Sm80Tile{.block_m = 64, .block_n = 64, .block_k = 64, .warps_m = 2, .warps_n = 2, .stages = 4};
  const codegen::TileConfig quantize = codegen::QuantizeTile{.rows_per_cta = 1, .threads_per_row = 256};
  for (const auto& [op, config] :
       {std::pair{codegen::KernelOp::GemmS8, gemm}, std::pair{codegen::KernelOp::QuantizeRowwise, quantize}}) {
    const codegen::Source src = render(op, config, 80);
    const Bytes cubin = compile(src.text, src.entry, "sm_80");
    auto r = read_cubin_resources(cubin, src.entry);
    ASSERT_TRUE(r.has_value()) << src.entry << ": " << r.status().to_string();
    EXPECT_GE(r->registers, 16) << src.entry;
    EXPECT_LE(r->registers * src.threads, 65536) << src.entry << ": the block must fit the register file";
    EXPECT_LE(r->registers, 255) << src.entry;
    EXPECT_EQ(r->max_threads, src.threads) << src.entry;
    EXPECT_TRUE(r->spill_free()) << src.entry << ": " << r->frame_bytes << " B frame";
  }
}

constexpr const char* kProbe = test::kCubinProbeSource;

TEST(RuntimeCubinInfoTest, ProbeKernelsReportTheirOwnResourcesOnSm80AndSm90a) {
  SKIP_WITHOUT_NVRTC();
  for (const char* arch : {"sm_80", "sm_90a"}) {
    const Bytes cubin = compile(kProbe, "probe", arch);
    auto big = read_cubin_resources(cubin, "probe_big");
    auto small = read_cubin_resources(cubin, "probe_small");
    ASSERT_TRUE(big.has_value() && small.has_value()) << arch;
    const int reserved = std::string(arch) == "sm_90a" ? 1024 : 0;
    EXPECT_EQ(big->static_smem_bytes, 300 * 4 + reserved) << arch;
    EXPECT_EQ(big->frame_bytes, 64 * 4) << arch;  // v[] indexed at run time lives in local memory
    EXPECT_FALSE(big->spill_free()) << arch;
    EXPECT_EQ(big->max_threads, 256) << arch;
    EXPECT_GT(big->registers, 0) << arch;
    EXPECT_EQ(small->static_smem_bytes, 0) << arch;
    EXPECT_EQ(small->frame_bytes, 0) << arch;
    EXPECT_TRUE(small->spill_free()) << arch;
    EXPECT_EQ(small->max_threads, 1024) << arch;
    EXPECT_GT(small->registers, 0) << arch;
    EXPECT_LT(small->registers, big->registers) << arch;
    auto missing = read_cubin_resources(cubin, "probe");
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.status().code(), StatusCode::NotFound);
    EXPECT_NE(missing.status().message().find("'probe'"), std::string::npos) << missing.status().message();
  }
}

// ---- a hand-built cubin ----------------------------------------------------------------------------------------

void put16(Bytes& b, std::uint16_t v) { b.insert(b.end(), {std::uint8_t(v), std::uint8_t(v >> 8)}); }
void put32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(std::uint8_t(v >> (8 * i)));
}
void put64(Bytes& b, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(std::uint8_t(v >> (8 * i)));
}

Bytes sized_attr(std::uint8_t attr, std::vector<std::uint32_t> words) {
  Bytes b = {kEiFormatSized, attr};
  put16(b, static_cast<std::uint16_t>(4 * words.size()));
  for (auto w : words) put32(b, w);
  return b;
}
Bytes value_attr(std::uint8_t format, std::uint8_t attr, std::uint16_t value) {
  Bytes b = {format, attr};
  put16(b, value);
  return b;
}
Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

struct FakeSection {
  std::string name;
  std::uint32_t type = 0x70000000;  // SHT_LOPROC, as ptxas types .nv.info
  Bytes data;
  std::uint32_t link = 0;
  std::uint64_t nobits_size = 0;
};

// Sections 1..n are `sections`, then .shstrtab; the header table follows the data.
Bytes build_elf(const std::vector<FakeSection>& sections) {
  Bytes names = {0};
  std::vector<std::uint32_t> name_offsets;
  for (const auto& s : sections) {
    name_offsets.push_back(static_cast<std::uint32_t>(names.size()));
    names.insert(names.end(), s.name.begin(), s.name.end());
    names.push_back(0);
  }
  const std::uint32_t shstrtab_name = static_cast<std::uint32_t>(names.size());
  for (char c : std::string(".shstrtab")) names.push_back(static_cast<std::uint8_t>(c));
  names.push_back(0);

  Bytes image(64, 0);
  std::vector<std::uint64_t> offsets;
  for (const auto& s : sections) {
    offsets.push_back(image.size());
    image.insert(image.end(), s.data.begin(), s.data.end());
  }
  const std::uint64_t names_offset = image.size();
  image.insert(image.end(), names.begin(), names.end());
  const std::uint64_t shoff = image.size();
  const std::uint16_t shnum = static_cast<std::uint16_t>(sections.size() + 2);
  auto header = [&](std::uint32_t name, std::uint32_t type, std::uint64_t off, std::uint64_t size, std::uint32_t link) {
    put32(image, name), put32(image, type), put64(image, 0), put64(image, 0), put64(image, off), put64(image, size);
    put32(image, link), put32(image, 0), put64(image, 4), put64(image, 0);
  };
  header(0, 0, 0, 0, 0);
  for (std::size_t i = 0; i < sections.size(); ++i) {
    const auto& s = sections[i];
    header(name_offsets[i], s.type, offsets[i], s.type == 8 ? s.nobits_size : s.data.size(), s.link);
  }
  header(shstrtab_name, 3, names_offset, names.size(), 0);

  const std::uint8_t ident[] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
  std::memcpy(image.data(), ident, sizeof(ident));
  Bytes h;
  put16(h, 2), put16(h, 190), put32(h, 1), put64(h, 0), put64(h, 0), put64(h, shoff), put32(h, 0);
  put16(h, 64), put16(h, 0), put16(h, 0), put16(h, 64), put16(h, shnum), put16(h, shnum - 1);
  std::memcpy(image.data() + 16, h.data(), h.size());
  return image;
}

// .strtab "kern" (1) "other" (6); .symtab: null, kern, other (both STT_FUNC).
std::vector<FakeSection> fake_cubin_sections() {
  Bytes strtab = {0, 'k', 'e', 'r', 'n', 0, 'o', 't', 'h', 'e', 'r', 0};
  Bytes symtab(24, 0);
  for (std::uint32_t name : {1u, 6u}) {
    put32(symtab, name);
    symtab.push_back(0x12);  // STB_GLOBAL | STT_FUNC
    symtab.push_back(0), put16(symtab, 5), put64(symtab, 0), put64(symtab, 0);
  }
  return {
      {".strtab", 3, strtab},
      {".symtab", 2, symtab, /*link=*/1},
      {".nv.info", 0x70000000,
       concat({sized_attr(kEiAttrRegCount, {2, 99}), sized_attr(kEiAttrRegCount, {1, 40}),
               sized_attr(kEiAttrFrameSize, {1, 16}), sized_attr(kEiAttrMinStackSize, {1, 24}),
               sized_attr(kEiAttrFrameSize, {2, 0})})},
      {".nv.info.kern", 0x70000000,
       concat({sized_attr(0x37, {0x82}), value_attr(kEiFormatNoValue, 0x35, 0), value_attr(kEiFormatByte, 0x4c, 1),
               value_attr(kEiFormatHalf, kEiAttrMaxRegCount, 128), sized_attr(kEiAttrMaxThreads, {128, 2, 1})})},
      {".nv.shared.kern", 8, {}, 0, /*nobits_size=*/4096},
  };
}

TEST(RuntimeCubinInfoTest, HandBuiltCubinIsReadFieldByFieldPerKernel) {
  const Bytes image = build_elf(fake_cubin_sections());
  auto kern = read_cubin_resources(image, "kern");
  ASSERT_TRUE(kern.has_value()) << kern.status().to_string();
  EXPECT_EQ(kern->registers, 40);
  EXPECT_EQ(kern->frame_bytes, 16);
  EXPECT_EQ(kern->stack_bytes, 24);
  EXPECT_EQ(kern->static_smem_bytes, 4096);
  EXPECT_EQ(kern->max_threads, 256);
  EXPECT_EQ(kern->max_registers, 128);
  EXPECT_FALSE(kern->spill_free());
  auto other = read_cubin_resources(image, "other");  // no .nv.info.other, no .nv.shared.other
  ASSERT_TRUE(other.has_value()) << other.status().to_string();
  EXPECT_EQ(other->registers, 99);
  EXPECT_EQ(other->static_smem_bytes, 0);
  EXPECT_EQ(other->max_threads, 0);
  EXPECT_TRUE(other->spill_free());
}

void expect_malformed(const Result<CubinResources>& r, const std::string& needle, const char* what) {
  ASSERT_FALSE(r.has_value()) << what;
  EXPECT_EQ(r.status().code(), StatusCode::InvalidArgument) << what;
  EXPECT_NE(r.status().message().find("malformed cubin"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << what << ": " << r.status().message();
}

TEST(RuntimeCubinInfoTest, MalformedHeadersNameTheField) {
  const Bytes good = build_elf(fake_cubin_sections());
  expect_malformed(read_cubin_resources({}, "kern"), "0 bytes, an ELF64 header needs 64", "empty");
  expect_malformed(read_cubin_resources(Bytes(good.begin(), good.begin() + 63), "kern"), "63 bytes", "63 bytes");
  auto patched = [&](std::size_t offset, std::initializer_list<std::uint8_t> bytes) {
    Bytes b = good;
    std::copy(bytes.begin(), bytes.end(), b.begin() + static_cast<std::ptrdiff_t>(offset));
    return read_cubin_resources(b, "kern");
  };
  expect_malformed(patched(1, {'X'}), "ELF magic", "magic");
  expect_malformed(patched(4, {1}), "ELF class 1", "32-bit");
  expect_malformed(patched(5, {2}), "data encoding 2", "big-endian");
  expect_malformed(patched(18, {62, 0}), "e_machine is 62, expected 190 (EM_CUDA)", "x86-64 object");
  expect_malformed(patched(40, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}), "section header table",
                   "shoff past the end");
  expect_malformed(patched(60, {0xff, 0xff}), "section header table", "shnum too large");
  expect_malformed(patched(60, {0, 0}), "e_shnum is 0", "no sections");
  expect_malformed(patched(56, {1, 0}), "e_phentsize is 0, expected 56", "program headers of size 0");
  Bytes phdrs = good;
  const std::uint8_t table[] = {0x00, 0x10, 0, 0, 0, 0, 0, 0};  // e_phoff = 4096, past the end
  std::copy(std::begin(table), std::end(table), phdrs.begin() + 32);
  phdrs[54] = 56, phdrs[56] = 1;  // one 56-byte program header
  expect_malformed(read_cubin_resources(phdrs, "kern"), "program header table (1 x 56 bytes at offset 4096) runs past",
                   "program header table past the end");
  expect_malformed(patched(58, {40, 0}), "e_shentsize is 40, expected 64", "32-bit section headers");
  expect_malformed(patched(62, {0x40, 0}), "e_shstrndx is 64", "string table index");
  expect_malformed(patched(62, {2, 0}), "section 2 (e_shstrndx) has type 2, expected SHT_STRTAB",
                   "shstrndx names .symtab");
}

TEST(RuntimeCubinInfoTest, MalformedSectionsAndRecordsNameTheDefect) {
  const Bytes good = build_elf(fake_cubin_sections());
  const std::uint64_t shoff = good[40] | (good[41] << 8) | (good[42] << 16);
  auto with_section_field = [&](int section, int field_offset, std::uint64_t value) {
    Bytes b = good;
    for (int i = 0; i < 8; ++i) b[shoff + 64 * section + field_offset + i] = std::uint8_t(value >> (8 * i));
    return read_cubin_resources(b, "kern");
  };
  expect_malformed(with_section_field(3, 24, good.size()), "section 3 (", "sh_offset past the end");
  expect_malformed(with_section_field(3, 32, 1ull << 62), "runs past the end", "huge sh_size");
  expect_malformed(with_section_field(4, 0, 0xfffff), "name of section 4 is not inside .shstrtab", "sh_name");

  auto with = [](auto mutate, const char* entry = "kern") {
    auto sections = fake_cubin_sections();
    mutate(sections);
    return read_cubin_resources(build_elf(sections), entry);
  };
  expect_malformed(with([](auto& s) { s.erase(s.begin() + 2, s.begin() + 4); }),
                   "neither a .nv.info nor a "
                   ".nv.info.kern section",
                   "no attribute sections");
  expect_malformed(with([](auto& s) { s[2].data.resize(s[2].data.size() - 10); }), "too short for a 4-byte attribute",
                   "torn record header");
  expect_malformed(with([](auto& s) { s[2].data.resize(s[2].data.size() - 6); }), "declares 8 payload bytes, 2 remain",
                   "payload overruns the section");
  expect_malformed(with([](auto& s) { s[3].data[0] = 9; }), "has format 9, expected 1..4", "unknown format");
  expect_malformed(with([](auto& s) { s[2].data = sized_attr(kEiAttrRegCount, {1}); }), "expected 4 and 8",
                   "REGCOUNT of 4 bytes");
  expect_malformed(with([](auto& s) { s[3].data = sized_attr(kEiAttrMaxThreads, {128}); }), "expected 12",
                   "MAX_THREADS of 4 bytes");
  expect_malformed(with([](auto& s) {
                     s[2].data = sized_attr(kEiAttrRegCount, {2, 99});
                   }),
                   "no EIATTR_REGCOUNT record for 'kern' (symbol 1)", "registers only for another kernel");
  expect_malformed(with([](auto& s) { s[2].type = 8; }), ".nv.info is SHT_NOBITS", ".nv.info without bytes");
  expect_malformed(with([](auto& s) { s[1].link = 7; }), "sh_link is 7", "symtab without string table");
  expect_malformed(with([](auto& s) { s[0].data.back() = 'x'; }, "other"), "name of symbol 2",
                   "unterminated symbol name");
  expect_malformed(with([](auto& s) { s.erase(s.begin() + 1); }), "no SHT_SYMTAB", "no symbol table");
}

TEST(RuntimeCubinInfoTest, EveryTruncationAndByteFlipOfARealCubinIsHandled) {
  SKIP_WITHOUT_NVRTC();
  const Bytes cubin = compile(kProbe, "probe", "sm_90a");
  ASSERT_TRUE(read_cubin_resources(cubin, "probe_big").has_value());
  // NOTE: ptxas writes the section and program header tables last, so every proper prefix loses part of one.
  for (std::size_t n = 0; n < cubin.size(); ++n) {
    auto r = read_cubin_resources(std::span(cubin.data(), n), "probe_big");
    ASSERT_FALSE(r.has_value()) << "prefix of " << n << " bytes";
    ASSERT_EQ(r.status().code(), StatusCode::InvalidArgument) << r.status().to_string();
  }
  // Flips in the ELF header, the section header table and the attribute sections: an answer or a clean error.
  std::mt19937 rng(7);
  const std::size_t shoff = cubin[40] | (cubin[41] << 8) | (cubin[42] << 16);
  int errors = 0;
  for (int i = 0; i < 4000; ++i) {
    Bytes b = cubin;
    const std::size_t at = i % 2 ? shoff + rng() % (cubin.size() - shoff) : rng() % 64;
    b[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
    auto r = read_cubin_resources(b, "probe_big");
    if (!r.has_value()) {
      ++errors;
      EXPECT_FALSE(r.status().message().empty());
    } else {
      EXPECT_GE(r->registers, 0);
    }
  }
  EXPECT_GT(errors, 0);
}

}  // namespace
}  // namespace qjit::runtime
