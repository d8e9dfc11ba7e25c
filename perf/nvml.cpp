// NVML through dlopen and the background clock/power sampler (see nvml.h).
#include "perf/nvml.h"

#include <chrono>
#include <cstdio>

#include "runtime/device.h"
#include "runtime/driver.h"
#include "runtime/dynamic_library.h"

namespace qjit::perf {
namespace {

// nvml.h's values (NVML's ABI has been stable since these entry points appeared).
constexpr int kNvmlSuccess = 0;
constexpr int kNvmlClockSm = 1;  // NVML_CLOCK_SM
using NvmlDevice = void*;

}  // namespace

struct Nvml::Api {
  int (*init)() = nullptr;  // nvmlInit_v2
  int (*shutdown)() = nullptr;
  const char* (*error_string)(int) = nullptr;
  int (*by_index)(unsigned, NvmlDevice*) = nullptr;    // nvmlDeviceGetHandleByIndex_v2
  int (*by_pci)(const char*, NvmlDevice*) = nullptr;   // nvmlDeviceGetHandleByPciBusId_v2
  int (*clock)(NvmlDevice, int, unsigned*) = nullptr;  // nvmlDeviceGetClockInfo
  int (*power)(NvmlDevice, unsigned*) = nullptr;       // nvmlDeviceGetPowerUsage (milliwatts)
  std::string path;
  std::string error(int rc) const {
    const char* s = error_string ? error_string(rc) : nullptr;
    return s ? std::string(s) : "nvmlReturn " + std::to_string(rc);
  }
};

void ClockPower::add(const ClockPower& o) {
  if (o.samples <= 0) return;
  const double total = samples + o.samples;
  sm_mhz = (sm_mhz * samples + o.sm_mhz * o.samples) / total;
  power_w = (power_w * samples + o.power_w * o.samples) / total;
  samples += o.samples;
}

std::string nvml_pci_bus_id(int domain, int bus, int device) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%08X:%02X:%02X.0", static_cast<unsigned>(domain), static_cast<unsigned>(bus),
                static_cast<unsigned>(device));
  return buf;
}

Result<std::unique_ptr<Nvml>> Nvml::open(int cuda_ordinal, const std::string& library_path) {
  QJIT_ASSIGN_OR_RETURN(runtime::DynamicLibrary lib,
                        runtime::DynamicLibrary::open(library_path, {"libnvidia-ml.so.1", "libnvidia-ml.so"},
                                                      StatusCode::Unsupported, "NVML (clock and power readings)"));
  auto api = std::make_unique<Api>();
  std::string missing;
  lib.bind(api->init, "nvmlInit_v2", &missing);
  lib.bind(api->shutdown, "nvmlShutdown", &missing);
  lib.bind(api->by_index, "nvmlDeviceGetHandleByIndex_v2", &missing);
  lib.bind(api->clock, "nvmlDeviceGetClockInfo", &missing);
  lib.bind(api->power, "nvmlDeviceGetPowerUsage", &missing);
  lib.bind(api->error_string, "nvmlErrorString", nullptr);
  lib.bind(api->by_pci, "nvmlDeviceGetHandleByPciBusId_v2", nullptr);
  if (!missing.empty()) return Status(StatusCode::Unsupported, lib.path() + " lacks " + missing);
  api->path = lib.path();
  if (const int rc = api->init(); rc != kNvmlSuccess)
    return Status(StatusCode::Unsupported, "nvmlInit_v2 failed: " + api->error(rc));
  auto n = std::unique_ptr<Nvml>(new Nvml());
  n->api_ = std::move(api);
  // The CUDA device's PCI address, so the NVML device is the one being timed.
  if (n->api_->by_pci) {
    if (auto drv = runtime::driver(); drv.has_value()) {
      const runtime::DriverApi& d = **drv;
      runtime::CUdevice dev = 0;
      int domain = 0, bus = 0, slot = 0;
      if (d.cuDeviceGet(&dev, cuda_ordinal) == runtime::kCudaSuccess &&
          d.cuDeviceGetAttribute(&domain, runtime::kAttrPciDomainId, dev) == runtime::kCudaSuccess &&
          d.cuDeviceGetAttribute(&bus, runtime::kAttrPciBusId, dev) == runtime::kCudaSuccess &&
          d.cuDeviceGetAttribute(&slot, runtime::kAttrPciDeviceId, dev) == runtime::kCudaSuccess) {
        const std::string id = nvml_pci_bus_id(domain, bus, slot);
        if (n->api_->by_pci(id.c_str(), &n->device_) == kNvmlSuccess) n->device_id_ = "pci " + id;
      }
    }
  }
  if (!n->device_) {
    if (const int rc = n->api_->by_index(static_cast<unsigned>(cuda_ordinal), &n->device_); rc != kNvmlSuccess)
      return Status(StatusCode::Unsupported, "nvmlDeviceGetHandleByIndex_v2(" + std::to_string(cuda_ordinal) +
                                                 ") failed: " + n->api_->error(rc));
    n->device_id_ = "index " + std::to_string(cuda_ordinal);
  }
  return n;
}

Nvml::~Nvml() {
  if (api_ && api_->shutdown) api_->shutdown();
}

Result<ClockPower> Nvml::read() const {
  unsigned mhz = 0, mw = 0;
  if (const int rc = api_->clock(device_, kNvmlClockSm, &mhz); rc != kNvmlSuccess)
    return Status(StatusCode::DriverError, "nvmlDeviceGetClockInfo(NVML_CLOCK_SM) failed: " + api_->error(rc));
  if (const int rc = api_->power(device_, &mw); rc != kNvmlSuccess)
    return Status(StatusCode::DriverError, "nvmlDeviceGetPowerUsage failed: " + api_->error(rc));
  return ClockPower{static_cast<double>(mhz), mw / 1000.0, 1};
}

ClockPowerSampler::~ClockPowerSampler() {
  if (running_) stop();
}

void ClockPowerSampler::sample() {
  auto r = nvml_->read();
  if (!r.has_value()) return;
  std::lock_guard<std::mutex> lock(mu_);
  mhz_sum_ += r->sm_mhz;
  watt_sum_ += r->power_w;
  ++count_;
}

void ClockPowerSampler::start() {
  if (!nvml_ || running_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    mhz_sum_ = watt_sum_ = 0;
    count_ = 0;
  }
  sample();
  running_ = true;
  thread_ = std::thread([this] {
    while (running_) {
      std::this_thread::sleep_for(std::chrono::microseconds(period_us_));
      if (running_) sample();
    }
  });
}

ClockPower ClockPowerSampler::stop() {
  if (!nvml_ || !running_) return {};
  running_ = false;
  thread_.join();
  sample();
  std::lock_guard<std::mutex> lock(mu_);
  if (count_ == 0) return {};
  return ClockPower{mhz_sum_ / count_, watt_sum_ / count_, count_};
}

}  // namespace qjit::perf
