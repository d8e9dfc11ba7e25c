// The cache entry a fresh compile produces records the kernel's resources read from its own cubin, with the real
// NVRTC and no GPU: the sm_90a GEMM with two consumer warp groups records 168 registers and the shared memory it
// launches with (dynamic + static); the value survives encode/decode, a disk store round trip, and the whole JIT
// service path (obtain() in a fresh process with a private store, then a second store object reading the file). A
// cubin the reader cannot parse keeps registers = 0 ("unknown") and logs why, without failing the compile.
#include <cstdio>
#include <stdlib.h>

#include <gtest/gtest.h>

#include "cache/disk_store.h"
#include "cache/entry_format.h"
#include "jit/kernel_service.h"
#include "ops/config_choice.h"
#include "runtime/cubin_info.h"
#include "runtime/nvrtc.h"
#include "tests/support/cache_test_util.h"

namespace qjit::ops {
namespace {

#define SKIP_WITHOUT_NVRTC() \
  if (!runtime::nvrtc().has_value()) GTEST_SKIP() << runtime::nvrtc().status().to_string()

codegen::Source sm90_gemm_two_consumers() {
  codegen::KernelSpec spec;
  spec.op = codegen::KernelOp::GemmS8;
  spec.out_element = ElementKind::BF16;
  spec.n = 4096;
  spec.k = 4096;
  spec.arch = 90;
  return render(spec, codegen::Sm90Tile{.block_m = 128, .block_n = 256, .stages = 4, .consumers = 2}).value();
}

codegen::Source sm80_quantize() {
  codegen::KernelSpec spec;
  spec.op = codegen::KernelOp::QuantizeRowwise;
  spec.in_element = ElementKind::F16;
  spec.out_element = ElementKind::S8;
  spec.k = 2048;
  spec.arch = 80;
  return render(spec, codegen::QuantizeTile{.rows_per_cta = 1, .threads_per_row = 256}).value();
}

TEST(OpsKernelEntryTest, Sm90aGemmEntryRecords168RegistersThroughEncodeAndDiskStore) {
  SKIP_WITHOUT_NVRTC();
  const codegen::Source src = sm90_gemm_two_consumers();
  auto out = (*runtime::nvrtc())->compile(src.text, src.entry + ".cu", "sm_90a", runtime::default_compile_options());
  ASSERT_TRUE(out.has_value()) << out.status().to_string();
  auto resources = runtime::read_cubin_resources(out->cubin, src.entry);
  ASSERT_TRUE(resources.has_value()) << resources.status().to_string();
  const cache::CompileKey key = jit::compile_key_for(src, 90, (*runtime::nvrtc())->version());

  const cache::Entry e = jit::make_cache_entry(src, 90, key, (*runtime::nvrtc())->version(), *out);
  EXPECT_EQ(e.meta.registers, 168);
  EXPECT_EQ(e.meta.shared_bytes, src.dynamic_smem_bytes + resources->static_smem_bytes);
  EXPECT_GT(e.meta.shared_bytes, 200 * 1024);  // the 4-stage 128x256 pipeline
  EXPECT_EQ(e.meta.arch, "sm_90a");
  EXPECT_EQ(e.payload, out->cubin);

  auto decoded = cache::decode_entry(cache::encode_entry(e), &key);
  ASSERT_TRUE(decoded.has_value()) << decoded.status().to_string();
  EXPECT_EQ(decoded->meta.registers, 168);
  EXPECT_EQ(decoded->meta.shared_bytes, e.meta.shared_bytes);

  cache::testing::TempDir tmp;
  auto store = cache::DiskStore::open(cache::testing::writable_options(tmp.sub("store")));
  ASSERT_TRUE(store.has_value()) << store.status().to_string();
  ASSERT_TRUE((*store)->store(e).ok());
  auto loaded = (*store)->load(key);
  ASSERT_TRUE(loaded.has_value()) << loaded.status().to_string();
  EXPECT_EQ(loaded->meta.registers, 168);
  EXPECT_EQ(loaded->meta.shared_bytes, e.meta.shared_bytes);
  auto listed = (*store)->list();
  ASSERT_TRUE(listed.has_value() && listed->size() == 1);
  EXPECT_EQ((*listed)[0].registers, 168);  // what `qjit cache list` prints
}

TEST(OpsKernelEntryTest, UnreadableCubinKeepsRegistersUnknownAndSaysWhy) {
  const codegen::Source src = sm80_quantize();
  runtime::CompileOutput out;
  out.cubin = {0x7f, 'E', 'L', 'F', 2, 1, 1};  // a torn image
  out.seconds = 0.25;
  cache::testing::LogCapture log;
  const cache::Entry e = jit::make_cache_entry(src, 80, cache::testing::test_key(3), "13.0", out);
  const std::string text = log.finish();
  EXPECT_EQ(e.meta.registers, 0);
  EXPECT_EQ(e.meta.shared_bytes, src.dynamic_smem_bytes);
  EXPECT_EQ(e.meta.compile_seconds, 0.25);
  EXPECT_EQ(e.payload, out.cubin);
  EXPECT_NE(text.find("cannot read its resource usage"), std::string::npos) << text;
  EXPECT_NE(text.find("an ELF64 header needs 64"), std::string::npos) << text;
}

// Runs in a fresh process (the jit::KernelService is per process and opens QJIT_CACHE_DIR once).
int obtain_in_fresh_process() {
  cache::testing::TempDir dir;
  const std::string store_dir = dir.sub("cache");
  cache::testing::use_only_cache_dir(store_dir);
  auto fail = [](const std::string& why) {
    std::fprintf(stderr, "%s\n", why.c_str());
    return 1;
  };
  for (const auto& [src, arch] : {std::pair{sm80_quantize(), 80}, std::pair{sm90_gemm_two_consumers(), 90}}) {
    auto ck = jit::KernelService::process().obtain(src, arch);
    if (!ck) return fail(ck.error().to_string());
    if (!ck->compiled_now) return fail(src.entry + " was not compiled in a fresh store");
    auto resources = runtime::read_cubin_resources(ck->entry->payload, src.entry);
    if (!resources) return fail(resources.error().to_string());
    if (ck->entry->meta.registers <= 0 || ck->entry->meta.registers != resources->registers ||
        (arch == 90 && resources->registers != 168))
      return fail(src.entry + ": entry records " + std::to_string(ck->entry->meta.registers) + " registers, cubin " +
                  std::to_string(resources->registers));
    auto reader = cache::DiskStore::open(cache::testing::writable_options(store_dir));
    if (!reader) return fail(reader.error().to_string());
    auto loaded = (*reader)->load(ck->key);
    if (!loaded) return fail(loaded.error().to_string());
    if (loaded->meta.registers != ck->entry->meta.registers ||
        loaded->meta.shared_bytes != ck->entry->meta.shared_bytes)
      return fail(src.entry + ": the stored entry differs from the one obtain() returned");
  }
  std::fprintf(stderr, "registers recorded\n");
  return 0;
}

TEST(OpsKernelEntryTest, ServiceStoresTheRegistersOfEveryFreshCompile) {
  SKIP_WITHOUT_NVRTC();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(obtain_in_fresh_process()), ::testing::ExitedWithCode(0), "registers recorded");
}

}  // namespace
}  // namespace qjit::ops
