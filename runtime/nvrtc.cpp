// The NVRTC function table and the compile call: create program, compile with options, fetch log and cubin.
#include "runtime/nvrtc.h"

#include <chrono>
#include <memory>

#include "runtime/dynamic_library.h"
#include "runtime/env.h"
#include "runtime/log.h"

namespace qjit::runtime {

struct Nvrtc::Api {
  using Program = NvrtcProgram;
#define QJIT_NVRTC_MEMBER_(symbol, result, params) result(*symbol) params = nullptr;
  QJIT_NVRTC_ENTRY_POINTS(QJIT_NVRTC_MEMBER_)
#undef QJIT_NVRTC_MEMBER_
};

namespace {

Status nvrtc_error(const Nvrtc::Api& api, int rc, const char* call) {
  return Status(StatusCode::CompileFailed, std::string(call) + " failed: " + api.nvrtcGetErrorString(rc));
}

}  // namespace

Result<Nvrtc> Nvrtc::open(const std::string& override_path) {
  QJIT_ASSIGN_OR_RETURN(DynamicLibrary lib, DynamicLibrary::open(override_path,
                                                                 {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so",
                                                                  "/usr/local/cuda/lib64/libnvrtc.so"},
                                                                 StatusCode::CompilerUnavailable, "NVRTC (libnvrtc)"));
  // NOTE: leaked on purpose: function tables live as long as the process.
  auto& api = *new Nvrtc::Api{};
  std::string missing;
#define QJIT_NVRTC_BIND_(symbol, result, params) lib.bind(api.symbol, #symbol, &missing);
  QJIT_NVRTC_ENTRY_POINTS(QJIT_NVRTC_BIND_)
#undef QJIT_NVRTC_BIND_
  if (!missing.empty())
    return Status(StatusCode::CompilerUnavailable, lib.path() + " lacks required entry points: " + missing);
  int major = 0, minor = 0;
  if (int rc = api.nvrtcVersion(&major, &minor); rc != 0) return nvrtc_error(api, rc, "nvrtcVersion");
  Nvrtc n;
  n.api_ = &api;
  n.version_ = std::to_string(major) + "." + std::to_string(minor);
  n.path_ = lib.path();
  QJIT_LOG_INFO("runtime", "loaded {0} (NVRTC {1})", n.path_, n.version_);
  return n;
}

Result<const Nvrtc*> nvrtc() {
  static const Result<Nvrtc> loaded = Nvrtc::open(env::text(env::Var::NvrtcLibrary));
  if (!loaded.has_value()) return loaded.error();
  return &loaded.value();
}

const std::vector<std::string>& default_compile_options() {
  // NOTE: no fast-math: the quantize kernels rely on IEEE division and the epilogue on one rounding per step.
  static const std::vector<std::string> options = {"-std=c++17", "--device-as-default-execution-space",
                                                   "-default-device"};
  return options;
}

Result<CompileOutput> Nvrtc::compile(std::string_view source, std::string_view program_name,
                                     std::string_view arch_option, const std::vector<std::string>& options) const {
  const auto start = std::chrono::steady_clock::now();
  const std::string src(source);
  const std::string name(program_name);
  Api::Program prog = nullptr;
  if (int rc = api_->nvrtcCreateProgram(&prog, src.c_str(), name.c_str(), 0, nullptr, nullptr); rc != 0)
    return nvrtc_error(*api_, rc, "nvrtcCreateProgram");
  struct Destroy {
    const Api* api;
    Api::Program* prog;
    ~Destroy() { api->nvrtcDestroyProgram(prog); }
  } destroy{api_, &prog};

  std::vector<std::string> all;
  all.reserve(options.size() + 1);
  all.push_back("--gpu-architecture=" + std::string(arch_option));
  all.insert(all.end(), options.begin(), options.end());
  std::vector<const char*> argv;
  for (const auto& o : all) argv.push_back(o.c_str());

  const int compile_rc = api_->nvrtcCompileProgram(prog, static_cast<int>(argv.size()), argv.data());
  CompileOutput out;
  std::size_t log_size = 0;
  if (api_->nvrtcGetProgramLogSize(prog, &log_size) == 0 && log_size > 1) {
    out.log.resize(log_size);
    api_->nvrtcGetProgramLog(prog, out.log.data());
    out.log.resize(log_size - 1);
  }
  if (compile_rc != 0)
    return Status(StatusCode::CompileFailed, "NVRTC rejected " + name + " for " + std::string(arch_option) + " (" +
                                                 api_->nvrtcGetErrorString(compile_rc) + "):\n" + out.log);
  std::size_t cubin_size = 0;
  if (int rc = api_->nvrtcGetCUBINSize(prog, &cubin_size); rc != 0) return nvrtc_error(*api_, rc, "nvrtcGetCUBINSize");
  if (cubin_size == 0)
    return Status(StatusCode::CompileFailed, "NVRTC produced no cubin for " + name + " (arch " +
                                                 std::string(arch_option) + " must be a real sm_XX target)");
  out.cubin.resize(cubin_size);
  if (int rc = api_->nvrtcGetCUBIN(prog, reinterpret_cast<char*>(out.cubin.data())); rc != 0)
    return nvrtc_error(*api_, rc, "nvrtcGetCUBIN");
  std::size_t ptx_size = 0;
  if (api_->nvrtcGetPTXSize(prog, &ptx_size) == 0 && ptx_size > 1) {
    out.ptx.resize(ptx_size);
    if (api_->nvrtcGetPTX(prog, out.ptx.data()) == 0)
      out.ptx.resize(ptx_size - 1);
    else
      out.ptx.clear();
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace qjit::runtime
