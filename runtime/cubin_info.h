// Resource usage of one kernel read straight from its cubin (an ELF64 image for EM_CUDA), with no GPU, no driver
// and no cuobjdump: registers per thread, static shared memory, the local-memory stack frame and the declared
// launch bounds. ptxas writes these as "EIATTR" attribute records -- {u8 format, u8 attribute, u16 size-or-value,
// payload} -- in the `.nv.info` section (per-function records keyed by symbol index: register count, frame and stack
// sizes) and in `.nv.info.<entry>` (launch bounds, parameter layout), and the static shared memory as the size of
// `.nv.shared.<entry>`. The reader is a bounds-checked hand parse of the ELF header, section headers and symbol
// table: every malformed image (truncated, foreign, sections out of range, records overrunning their section) is an
// InvalidArgument naming what is wrong, and a kernel the image does not describe is NotFound.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "qjit/status.h"

namespace qjit::runtime {

// The EIATTR codes and formats qjit reads (the values ptxas writes; see docs/CACHE.md).
inline constexpr std::uint8_t kEiFormatNoValue = 1;        // EIFMT_NVAL: no payload
inline constexpr std::uint8_t kEiFormatByte = 2;           // EIFMT_BVAL: the value in the size field
inline constexpr std::uint8_t kEiFormatHalf = 3;           // EIFMT_HVAL: the value in the size field
inline constexpr std::uint8_t kEiFormatSized = 4;          // EIFMT_SVAL: `size` payload bytes follow
inline constexpr std::uint8_t kEiAttrMaxThreads = 0x05;    // {u32 x, y, z}: __launch_bounds__ / .maxntid
inline constexpr std::uint8_t kEiAttrFrameSize = 0x11;     // {u32 symbol, u32 bytes}: the function's own frame
inline constexpr std::uint8_t kEiAttrMinStackSize = 0x12;  // {u32 symbol, u32 bytes}: frame plus callees
inline constexpr std::uint8_t kEiAttrMaxRegCount = 0x1b;   // half value: the register cap ptxas honoured
inline constexpr std::uint8_t kEiAttrRegCount = 0x2f;      // {u32 symbol, u32 registers}

struct CubinResources {
  int registers = 0;  // per thread, as allocated by ptxas (what limits occupancy)
  // Bytes of .nv.shared.<entry>: the static __shared__ data. NOTE: on sm_90 and later the toolchain places 1 KiB
  // of system-reserved shared memory at the start of this section whenever it exists, so it reads 1024 more than
  // `ptxas -v`'s "bytes smem" (which counts only the kernel's own variables).
  int static_smem_bytes = 0;
  int frame_bytes = 0;    // per-thread local memory of the kernel's own stack frame: spills or stack arrays
  int stack_bytes = 0;    // per-thread stack including callees (EIATTR_MIN_STACK_SIZE)
  int max_threads = 0;    // threads per block the kernel was compiled for (x*y*z); 0 when not declared
  int max_registers = 0;  // register cap ptxas was given (EIATTR_MAXREG_COUNT); 0 when not recorded

  // No local memory at all: nothing spilled (the converse needs ptxas's spill counts, which a cubin lacks).
  bool spill_free() const { return frame_bytes == 0 && stack_bytes == 0; }
};

// Reads the resources of kernel `entry` (its extern "C" name) from `cubin`.
Result<CubinResources> read_cubin_resources(std::span<const std::uint8_t> cubin, std::string_view entry);

}  // namespace qjit::runtime
