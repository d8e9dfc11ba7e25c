// The cubin resource reader (runtime/cubin_info.h) against the driver's own view of the loaded kernel: registers and
// local memory must equal cuFuncGetAttribute's NUM_REGS and LOCAL_SIZE_BYTES for the probe kernels, the quantize
// kernel and this GPU's GEMM family. Static shared memory is compared too: the driver's SHARED_SIZE_BYTES must equal
// the .nv.shared.<entry> section size, or, on sm_90+, that size less the 1 KiB the toolchain reserves in it -- the
// test prints which, so cubin_info.h's note can be made exact.
#include <cstdio>

#include <gtest/gtest.h>

#include "ops/config_choice.h"
#include "runtime/cubin_info.h"
#include "runtime/module.h"
#include "runtime/nvrtc.h"
#include "tests/support/cubin_probe.h"
#include "tests/support/device.h"

namespace qjit::runtime {
namespace {

constexpr const char* kProbe = test::kCubinProbeSource;

struct Kernel {
  std::string text, entry;
  unsigned dynamic_smem = 0;
};

codegen::Source render(codegen::KernelOp op, const codegen::TileConfig& c, int arch) {
  codegen::KernelSpec spec;
  spec.op = op;
  spec.in_element = op == codegen::KernelOp::GemmS8 ? ElementKind::S8 : ElementKind::BF16;
  spec.out_element = op == codegen::KernelOp::GemmS8 ? ElementKind::BF16 : ElementKind::S8;
  spec.n = op == codegen::KernelOp::GemmS8 ? 4096 : 0;
  spec.k = 4096;
  spec.arch = arch;
  return ops::render(spec, c).value();
}

TEST(RuntimeCubinInfoGpuTest, RegistersLocalAndSharedMemoryMatchTheDriver) {
  QJIT_REQUIRE_GPU();
  auto compiler = nvrtc();
  if (!compiler.has_value()) GTEST_SKIP() << compiler.status().to_string();
  const int arch = ::qjit::testing::gpu()->arch;
  std::vector<Kernel> kernels = {{kProbe, "probe_big"}, {kProbe, "probe_small"}};
  const codegen::TileConfig q = codegen::QuantizeTile{.rows_per_cta = 1, .threads_per_row = 256};
  const codegen::TileConfig g =
      arch == 90 ? codegen::TileConfig(codegen::Sm90Tile{.block_m = 128, .block_n = 256, .stages = 4, .consumers = 2})
                 : codegen::TileConfig(codegen::Sm80Tile{
                       .block_m = 64, .block_n = 64, .block_k = 64, .warps_m = 2, .warps_n = 2, .stages = 4});
  for (const auto& [op, config] :
       {std::pair{codegen::KernelOp::QuantizeRowwise, q}, std::pair{codegen::KernelOp::GemmS8, g}}) {
    const codegen::Source s = render(op, config, arch);
    kernels.push_back({s.text, s.entry, static_cast<unsigned>(s.dynamic_smem_bytes)});
  }
  for (const Kernel& k : kernels) {
    auto out = (*compiler)->compile(k.text, k.entry + ".cu", codegen::arch_option(arch), default_compile_options());
    ASSERT_TRUE(out.has_value()) << out.status().to_string();
    auto mine = read_cubin_resources(out->cubin, k.entry);
    ASSERT_TRUE(mine.has_value()) << mine.status().to_string();
    auto loaded = LoadedKernel::load(out->cubin, k.entry, k.dynamic_smem);
    ASSERT_TRUE(loaded.has_value()) << loaded.status().to_string();
    EXPECT_EQ(mine->registers, (*loaded)->registers()) << k.entry;
    EXPECT_EQ(mine->frame_bytes, (*loaded)->local_bytes()) << k.entry;
    const int section = mine->static_smem_bytes, driver = (*loaded)->static_smem_bytes();
    std::printf("%s: registers %d, local %d B, .nv.shared section %d B, driver SHARED_SIZE_BYTES %d B\n",
                k.entry.c_str(), mine->registers, mine->frame_bytes, section, driver);
    EXPECT_TRUE(driver == section || (arch >= 90 && section >= 1024 && driver == section - 1024))
        << k.entry << ": section " << section << " B, driver " << driver << " B";
  }
}

}  // namespace
}  // namespace qjit::runtime
