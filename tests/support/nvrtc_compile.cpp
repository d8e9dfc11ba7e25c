#include "tests/support/nvrtc_compile.h"

#include "codegen/kernel_spec.h"

namespace qjit::testing {

NvrtcOutcome nvrtc_compile(const std::string& text, const std::string& name, int arch) {
  NvrtcOutcome out;
  auto nvrtc = runtime::nvrtc();
  if (!nvrtc.has_value()) {
    out.log = nvrtc.status().to_string();
    return out;
  }
  auto r = (*nvrtc)->compile(text, name + ".cu", codegen::arch_option(arch), runtime::default_compile_options());
  if (!r.has_value()) {
    out.log = r.status().to_string();
    return out;
  }
  out.ok = !r->cubin.empty();
  out.log = r->log;
  out.ptx = r->ptx;
  out.cubin.assign(r->cubin.begin(), r->cubin.end());
  return out;
}

}  // namespace qjit::testing
