// The codegen tests' NVRTC compile: the library's own wrapper (runtime/nvrtc.h) with the exact options every qjit
// compile uses, for one arch, keeping the log, the PTX and the cubin; and the skip for machines without NVRTC.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/nvrtc.h"

namespace qjit::testing {

struct NvrtcOutcome {
  bool ok = false;  // a non-empty cubin came back
  std::string log, ptx;
  std::vector<std::uint8_t> cubin;
};

// Compiles `text` as `name`.cu for `arch` (80, 86, 89, 90 = sm_90a); on failure `log` says why (NVRTC's log, or the
// reason there is no NVRTC).
NvrtcOutcome nvrtc_compile(const std::string& text, const std::string& name, int arch);

}  // namespace qjit::testing

#define QJIT_SKIP_WITHOUT_NVRTC() \
  if (!::qjit::runtime::nvrtc().has_value()) GTEST_SKIP() << ::qjit::runtime::nvrtc().status().to_string()
