// Loading libcuda into the DriverApi table, and translating CUresult codes into Status values.
#include "runtime/driver.h"

#include <mutex>

#include "runtime/dynamic_library.h"
#include "runtime/env.h"
#include "runtime/log.h"

namespace qjit::runtime {
Result<DriverApi> load_driver(const std::string& override_path) {
  QJIT_ASSIGN_OR_RETURN(DynamicLibrary lib,
                        DynamicLibrary::open(override_path, {"libcuda.so.1", "libcuda.so"},
                                             StatusCode::DriverUnavailable, "the CUDA driver library (libcuda)"));
  DriverApi api{};
  std::string missing;
  // NOTE: a missing optional entry (newer drivers only) leaves its member nullptr: no cluster launches, no TMA
  // kernels, no graph capture. Required entries are listed together, in list order, when any is absent.
#define QJIT_DRIVER_BIND_(requirement, member, symbol, params) \
  lib.bind(api.member, #symbol, EntryRequirement::requirement == EntryRequirement::Required ? &missing : nullptr);
  QJIT_DRIVER_ENTRY_POINTS(QJIT_DRIVER_BIND_)
#undef QJIT_DRIVER_BIND_
  if (!missing.empty())
    return Status(StatusCode::DriverUnavailable, lib.path() + " lacks required entry points: " + missing);

  if (CUresult rc = api.cuInit(0); rc != kCudaSuccess) {
    Status s = driver_error(api, rc, "cuInit");
    return Status(StatusCode::DriverUnavailable, s.message());
  }
  int count = 0;
  if (CUresult rc = api.cuDeviceGetCount(&count); rc != kCudaSuccess || count == 0)
    return Status(StatusCode::DriverUnavailable, "the CUDA driver loaded but reports no GPU (cuDeviceGetCount = 0)");
  api.cuDriverGetVersion(&api.driver_version);
  QJIT_LOG_INFO("runtime", "loaded {0} (driver {1}, {2} device(s))", lib.path(), api.driver_version, count);
  return api;
}

std::span<const EntryPoint> driver_entry_points() {
  static constexpr EntryPoint kEntries[] = {
#define QJIT_DRIVER_ENTRY_(requirement, member, symbol, params) {#symbol, EntryRequirement::requirement},
      QJIT_DRIVER_ENTRY_POINTS(QJIT_DRIVER_ENTRY_)
#undef QJIT_DRIVER_ENTRY_
  };
  return kEntries;
}

Result<const DriverApi*> driver() {
  // NOTE: a function-local static gives thread-safe one-time loading; the failure is remembered too, so a machine
  // without a GPU pays for the dlopen attempt once.
  static const Result<DriverApi> loaded = load_driver(env::text(env::Var::CudaLibrary));
  if (!loaded.has_value()) return loaded.error();
  return &loaded.value();
}

Status driver_error(const DriverApi& api, CUresult rc, std::string_view call) {
  const char* name = nullptr;
  const char* text = nullptr;
  if (api.cuGetErrorName) api.cuGetErrorName(rc, &name);
  if (api.cuGetErrorString) api.cuGetErrorString(rc, &text);
  std::string msg(call);
  msg += " failed: ";
  msg += name ? name : ("CUresult " + std::to_string(rc));
  if (text) {
    msg += " (";
    msg += text;
    msg += ")";
  }
  const StatusCode code = (rc == kCudaErrorOutOfMemory || rc == kCudaErrorLaunchOutOfResources)
                              ? StatusCode::OutOfResources
                              : StatusCode::DriverError;
  return Status(code, std::move(msg));
}

}  // namespace qjit::runtime
