// A SASS summary of one cubin for `qjit inspect`: how many of each instruction mnemonic the kernel holds (the ones
// that say which path it took -- IMMA for mma.sync, IGMMA/HGMMA for wgmma, LDGSTS for cp.async, UTMALDG for TMA --
// first) and its resource usage (registers, local memory = spills or stack). It runs NVIDIA's disassemblers
// (cuobjdump, else nvdisasm) found in PATH on a temporary copy of the cubin; without them it says so. The parsers are
// separate functions so they can be tested on captured disassembler output.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qjit/status.h"

namespace qjit::tools {

// The mnemonics worth calling out, in the order they are reported.
inline constexpr std::string_view kKeyMnemonics[] = {"IMMA",    "IGMMA",   "HGMMA",  "HMMA", "WARPGROUP",
                                                     "UTMALDG", "UTMASTG", "LDGSTS", "LDSM", "SYNCS",
                                                     "LDG",     "STG",     "BAR"};

struct SassSummary {
  std::string tool;  // the disassembler used ("cuobjdump", "nvdisasm")
  std::int64_t instructions = 0;
  // Base mnemonic (the text before the first '.': "IMMA.16816.S8.S8" counts as "IMMA") -> count, most frequent
  // first (ties by name).
  std::vector<std::pair<std::string, std::int64_t>> mnemonics;
  std::optional<int> registers;    // per thread
  std::optional<int> local_bytes;  // per thread: > 0 means spills or a stack array
  std::optional<int> stack_bytes;
  std::int64_t count(std::string_view mnemonic) const;
};

// Counts the instructions of disassembler text (cuobjdump -sass or nvdisasm): lines "/*0a30*/ @P0 IMMA.16816 ... ;".
// Encoding-only lines ("/* 0x000fe2... */"), labels and directives are ignored.
void count_sass_mnemonics(std::string_view disassembly, SassSummary* out);

// Parses `cuobjdump -res-usage` for the function named `entry` ("REG:168 STACK:0 SHARED:0 LOCAL:0 ...").
void parse_resource_usage(std::string_view text, std::string_view entry, SassSummary* out);

// Disassembles `cubin` with the first tool found in PATH. Unsupported when neither cuobjdump nor nvdisasm is there.
Result<SassSummary> summarize_cubin(const std::vector<std::uint8_t>& cubin, std::string_view entry);

}  // namespace qjit::tools
