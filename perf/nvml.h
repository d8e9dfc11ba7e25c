// The board's SM clock and power while a measurement runs, from NVML opened with dlopen (libnvidia-ml.so.1, which
// the driver installs; qjit never links it). Nvml finds the NVML device of a CUDA device by its PCI bus id (CUDA
// ordinals and NVML indices differ under CUDA_VISIBLE_DEVICES), else by index. ClockPowerSampler reads both values
// on a background thread between start() and stop() (plus one reading at each end, so a batch shorter than the
// period still gets two) and returns their means. Where NVML is absent the bench says so once and leaves the
// clock and power columns empty; nothing else depends on it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "qjit/status.h"

namespace qjit::perf {

// Means over a sampling window; samples == 0: nothing was read (no NVML).
struct ClockPower {
  double sm_mhz = 0;
  double power_w = 0;
  int samples = 0;
  // Merges another window's means, weighted by sample count.
  void add(const ClockPower& other);
};

// NVML's PCI bus id spelling for a CUDA device's PCI domain, bus and device: "00000000:1B:00.0".
std::string nvml_pci_bus_id(int domain, int bus, int device);

class Nvml {
 public:
  // Loads NVML (`library_path`, or libnvidia-ml.so.1 / libnvidia-ml.so when empty), nvmlInit_v2, and the handle of
  // CUDA device `cuda_ordinal`. Unsupported naming what is missing when NVML cannot be used here.
  static Result<std::unique_ptr<Nvml>> open(int cuda_ordinal, const std::string& library_path = "");
  ~Nvml();
  // One reading: SM clock (MHz) and board power (W).
  Result<ClockPower> read() const;
  const std::string& device_id() const { return device_id_; }  // how the device was found: "pci 0000...", "index 0"

 private:
  struct Api;
  Nvml() = default;
  std::unique_ptr<Api> api_;
  void* device_ = nullptr;
  std::string device_id_;
};

class ClockPowerSampler {
 public:
  // `nvml` may be null (NVML absent): start() and stop() then do nothing and stop() returns samples == 0.
  explicit ClockPowerSampler(const Nvml* nvml, int period_us = 5000) : nvml_(nvml), period_us_(period_us) {}
  ~ClockPowerSampler();
  ClockPowerSampler(const ClockPowerSampler&) = delete;
  ClockPowerSampler& operator=(const ClockPowerSampler&) = delete;
  void start();
  ClockPower stop();

 private:
  void sample();
  const Nvml* nvml_;
  int period_us_;
  std::atomic<bool> running_{false};
  std::thread thread_;
  std::mutex mu_;
  double mhz_sum_ = 0, watt_sum_ = 0;
  int count_ = 0;
};

}  // namespace qjit::perf
