// The dlopen'ed runtime: NVRTC compiles real source for every architecture qjit targets, compile errors carry the
// log, and a missing driver or compiler library is reported cleanly (never a crash).
#include <string>

#include <gtest/gtest.h>

#include "codegen/kernel_spec.h"
#include "runtime/device.h"
#include "runtime/driver.h"
#include "runtime/nvrtc.h"

namespace qjit::runtime {
namespace {

constexpr const char* kTinyKernel = R"(
extern "C" __global__ void qjit_probe(int* out) { out[threadIdx.x] = __popc(threadIdx.x); }
)";

TEST(RuntimeLoaderTest, NvrtcCompilesForSm80Sm89Sm90a) {
  auto n = nvrtc();
  ASSERT_TRUE(n.has_value()) << n.error().to_string();
  EXPECT_FALSE((*n)->version().empty());
  for (int arch : {80, 89, 90}) {
    auto out = (*n)->compile(kTinyKernel, "probe.cu", codegen::arch_option(arch), default_compile_options());
    ASSERT_TRUE(out.has_value()) << out.error().to_string();
    EXPECT_GT(out->cubin.size(), 100u);
    // An ELF image.
    EXPECT_EQ(out->cubin[0], 0x7f);
    EXPECT_EQ(out->cubin[1], 'E');
  }
}

TEST(RuntimeLoaderTest, CompileErrorCarriesNvrtcLog) {
  auto n = nvrtc();
  ASSERT_TRUE(n.has_value()) << n.error().to_string();
  auto out = (*n)->compile("extern \"C\" __global__ void k() { undeclared_thing(); }", "bad.cu", "sm_80",
                           default_compile_options());
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().code(), StatusCode::CompileFailed);
  EXPECT_NE(out.error().message().find("undeclared_thing"), std::string::npos) << out.error().message();
}

TEST(RuntimeLoaderTest, MissingNvrtcIsCompilerUnavailable) {
  auto n = Nvrtc::open("/nonexistent/libnvrtc.so.13");
  ASSERT_FALSE(n.has_value());
  EXPECT_EQ(n.error().code(), StatusCode::CompilerUnavailable);
  EXPECT_NE(n.error().message().find("/nonexistent/libnvrtc.so.13"), std::string::npos);
}

TEST(RuntimeLoaderTest, MissingDriverIsDriverUnavailable) {
  auto d = load_driver("/nonexistent/libcuda.so.1");
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), StatusCode::DriverUnavailable);
  EXPECT_NE(d.error().message().find("libcuda"), std::string::npos);
}

// libc is a real library without a single CUDA symbol: the generated loop must name every required entry of the
// list, in list order, and none of the optional ones (those stay optional).
TEST(RuntimeLoaderTest, LibraryWithoutTheDriverNamesEveryRequiredEntryPoint) {
  auto d = load_driver("libc.so.6");
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), StatusCode::DriverUnavailable);
  const std::string& msg = d.error().message();
  EXPECT_NE(msg.find("lacks required entry points: cuInit, cuDriverGetVersion,"), std::string::npos) << msg;
  int required = 0, optional = 0;
  for (const EntryPoint& e : driver_entry_points()) {
    const std::string name = std::string(" ") + e.symbol;
    const bool listed = msg.find(name + ",") != std::string::npos || msg.ends_with(name);
    if (e.requirement == EntryRequirement::Required) {
      ++required;
      EXPECT_TRUE(listed) << e.symbol << " missing from: " << msg;
    } else {
      ++optional;
      EXPECT_FALSE(listed) << e.symbol << " is optional but was reported: " << msg;
    }
  }
  EXPECT_EQ(required, 37);  // cuMemcpy2DAsync (issue 15 staging) is the 37th
  // cuLaunchKernelEx, cuTensorMapEncodeTiled and the seven CUDA-graph entries.
  EXPECT_EQ(optional, 9);
}

TEST(RuntimeLoaderTest, LibraryWithoutNvrtcNamesEveryEntryPoint) {
  auto n = Nvrtc::open("libc.so.6");
  ASSERT_FALSE(n.has_value());
  EXPECT_EQ(n.error().code(), StatusCode::CompilerUnavailable);
  EXPECT_NE(n.error().message().find("lacks required entry points: nvrtcGetErrorString, nvrtcVersion, "
                                     "nvrtcCreateProgram, nvrtcDestroyProgram, nvrtcCompileProgram, "
                                     "nvrtcGetProgramLogSize, nvrtcGetProgramLog, nvrtcGetCUBINSize, nvrtcGetCUBIN, "
                                     "nvrtcGetPTXSize, nvrtcGetPTX"),
            std::string::npos)
      << n.error().message();
}

TEST(RuntimeLoaderTest, DriverEitherLoadsWithADeviceOrSaysWhyNot) {
  auto d = driver();
  if (d.has_value()) {
    auto dev = current_device();
    ASSERT_TRUE(dev.has_value()) << dev.error().to_string();
    EXPECT_GE(dev->arch, 80);
    EXPECT_GT(dev->sm_count, 0);
  } else {
    EXPECT_EQ(d.error().code(), StatusCode::DriverUnavailable);
    EXPECT_FALSE(d.error().message().empty());
  }
}

}  // namespace
}  // namespace qjit::runtime
