// cuModuleLoadData + cuModuleGetFunction + the shared-memory attribute, and cuLaunchKernel(Ex).
#include "runtime/module.h"

#include <cstring>

namespace qjit::runtime {

LoadedKernel::~LoadedKernel() {
  // NOTE: unloading needs the context that loaded the module to be alive; at process exit the driver may already
  // be torn down, so a failure here is ignored.
  if (module_ && api_) api_->cuModuleUnload(module_);
}

Result<std::shared_ptr<const LoadedKernel>> LoadedKernel::load(std::span<const std::uint8_t> cubin,
                                                               const std::string& entry, unsigned dynamic_smem_bytes) {
  QJIT_ASSIGN_OR_RETURN(const DriverApi* api, driver());
  std::shared_ptr<LoadedKernel> k(new LoadedKernel());
  k->api_ = api;
  k->entry_ = entry;
  QJIT_CU(*api, cuCtxGetCurrent, &k->context_);
  if (!k->context_) return Status(StatusCode::DriverError, "no current CUDA context while loading " + entry);
  QJIT_CU(*api, cuModuleLoadData, &k->module_, cubin.data());
  QJIT_CU(*api, cuModuleGetFunction, &k->function_, k->module_, entry.c_str());
  QJIT_CU(*api, cuFuncGetAttribute, &k->registers_, kFuncAttrNumRegs, k->function_);
  QJIT_CU(*api, cuFuncGetAttribute, &k->local_bytes_, kFuncAttrLocalSizeBytes, k->function_);
  QJIT_CU(*api, cuFuncGetAttribute, &k->static_smem_, kFuncAttrSharedSizeBytes, k->function_);
  if (dynamic_smem_bytes > 48 * 1024) {
    const CUresult rc =
        api->cuFuncSetAttribute(k->function_, kFuncAttrMaxDynamicSharedSizeBytes, static_cast<int>(dynamic_smem_bytes));
    if (rc != kCudaSuccess) {
      return Status(StatusCode::OutOfResources, entry + " needs " + std::to_string(dynamic_smem_bytes) +
                                                    " bytes of dynamic shared memory, more than this device allows (" +
                                                    driver_error(*api, rc, "cuFuncSetAttribute").message() + ")");
    }
  }
  return std::shared_ptr<const LoadedKernel>(std::move(k));
}

Status LoadedKernel::launch(const LaunchDims& d, CUstream stream, const void* params) const {
  void* args[] = {const_cast<void*>(params)};
  CUresult rc;
  const bool cluster = d.cluster[0] * d.cluster[1] * d.cluster[2] > 1;
  if (cluster || d.programmatic) {
    if (!api_->cuLaunchKernelEx)
      return Status(StatusCode::Unsupported,
                    entry_ + " needs cuLaunchKernelEx (cluster or programmatic launch), missing in this driver");
    LaunchAttribute attrs[2]{};
    unsigned n = 0;
    if (cluster) {
      attrs[n].id = kLaunchAttrClusterDimension;
      attrs[n++].value.cluster_dim = {d.cluster[0], d.cluster[1], d.cluster[2]};
    }
    if (d.programmatic) {
      attrs[n].id = kLaunchAttrProgrammaticStreamSerialization;
      const int allowed = 1;
      std::memcpy(attrs[n++].value.raw, &allowed, sizeof(allowed));
    }
    LaunchConfig cfg{d.grid[0], d.grid[1], d.grid[2], d.block[0], d.block[1], d.block[2], d.dynamic_smem_bytes,
                     stream,    attrs,     n};
    rc = api_->cuLaunchKernelEx(&cfg, function_, args, nullptr);
  } else {
    rc = api_->cuLaunchKernel(function_, d.grid[0], d.grid[1], d.grid[2], d.block[0], d.block[1], d.block[2],
                              d.dynamic_smem_bytes, stream, args, nullptr);
  }
  if (rc != kCudaSuccess) return driver_error(*api_, rc, "cuLaunchKernel(" + entry_ + ")");
  return Status();
}

}  // namespace qjit::runtime
