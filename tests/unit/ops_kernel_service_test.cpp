// The JIT front end to end with the real NVRTC and a real disk store, no GPU: 8 processes racing through the same
// 20 kernels from a cold store compile each kernel once between them, agree on the cubins, and leave only verified
// entries. Each child is this test binary re-executed on one disabled test (so every child starts with a fresh
// process-wide jit::KernelService, as a real engine process would) and reports its stats through a file.
#include <fstream>
#include <sstream>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "cache/disk_store.h"
#include "jit/kernel_service.h"
#include "ops/config_choice.h"
#include "ops/linear_specs.h"
#include "runtime/nvrtc.h"
#include "tests/support/cache_test_util.h"

namespace qjit::ops {
namespace {

constexpr int kProcesses = 8;
constexpr int kKernels = 20;

// 20 distinct kernels a QuantizedLinear layer could need: the quantize pass for four input types x five K.
codegen::Source kernel_source(int i) {
  constexpr ElementKind kTypes[] = {ElementKind::F16, ElementKind::BF16, ElementKind::F32, ElementKind::F64};
  LinearShape s;
  s.m = 16;
  s.n = 256;
  s.k = 1024 + 8 * (i / 4);
  s.activation = s.output = kTypes[i % 4];
  const auto spec = *linear_kernel_specs(s, 90).quantize;
  runtime::DeviceInfo d;
  d.arch = 90;
  d.sm_count = 132;
  return *render(spec, *choose_config(spec, PlanPreference::Heuristic, d));
}

// Child side: obtain every kernel (in an order of its own), then write "compiles disk_hits fingerprint".
TEST(OpsKernelServiceChild, DISABLED_ObtainAll) {
  const char* index_env = std::getenv("QJIT_TEST_CHILD_INDEX");
  const char* report = std::getenv("QJIT_TEST_CHILD_REPORT");
  ASSERT_TRUE(index_env && report) << "runs only as a child of OpsKernelServiceTest";
  const int index = std::atoi(index_env);
  std::uint64_t fingerprint = 0;
  for (int j = 0; j < kKernels; ++j) {
    const int i = (j + index * 3) % kKernels;
    auto compiled = jit::KernelService::process().obtain(kernel_source(i), 90);
    ASSERT_TRUE(compiled.has_value()) << compiled.error().to_string();
    std::uint64_t h = 1469598103934665603ull + static_cast<std::uint64_t>(i);
    for (std::uint8_t b : compiled->entry->payload) h = (h ^ b) * 1099511628211ull;
    fingerprint += h;  // order-independent: children obtain the kernels in different orders
  }
  const auto stats = jit::KernelService::process().stats();
  std::ofstream(report) << stats.compiles << " " << stats.disk_hits << " " << fingerprint << "\n";
}

TEST(OpsKernelServiceTest, EightProcessesCompileTwentyRealKernelsOnceBetweenThem) {
  if (!runtime::nvrtc().has_value()) GTEST_SKIP() << "NVRTC unavailable: " << runtime::nvrtc().status().to_string();
  cache::testing::TempDir tmp;
  const std::string dir = tmp.sub("store");
  std::vector<pid_t> pids;
  for (int i = 0; i < kProcesses; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      cache::testing::use_only_cache_dir(dir);
      ::setenv("QJIT_TEST_CHILD_INDEX", std::to_string(i).c_str(), 1);
      ::setenv("QJIT_TEST_CHILD_REPORT", tmp.sub("child" + std::to_string(i)).c_str(), 1);
      ::execl("/proc/self/exe", "qjit_unit_tests", "--gtest_filter=OpsKernelServiceChild.DISABLED_ObtainAll",
              "--gtest_also_run_disabled_tests", "--gtest_brief=1", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child exit status " << status;
  }
  std::uint64_t compiles = 0, hits = 0, first_fingerprint = 0;
  for (int i = 0; i < kProcesses; ++i) {
    std::ifstream in(tmp.sub("child" + std::to_string(i)));
    std::uint64_t c = 0, h = 0, f = 0;
    ASSERT_TRUE(in >> c >> h >> f) << "child " << i << " wrote no report";
    compiles += c;
    hits += h;
    if (i == 0) first_fingerprint = f;
    EXPECT_EQ(f, first_fingerprint) << "child " << i << " got different cubins";
  }
  std::printf("[ compiles ] %d processes x %d real kernels from a cold store: %llu NVRTC compiles, %llu disk hits\n",
              kProcesses, kKernels, static_cast<unsigned long long>(compiles), static_cast<unsigned long long>(hits));
  RecordProperty("compiles", static_cast<int>(compiles));
  EXPECT_EQ(compiles, static_cast<std::uint64_t>(kKernels));
  EXPECT_EQ(compiles + hits, static_cast<std::uint64_t>(kProcesses * kKernels));

  cache::StoreOptions o;
  o.writable_dir = dir;
  auto store = cache::DiskStore::open(o);
  ASSERT_TRUE(store.has_value());
  auto v = (*store)->verify();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->size(), static_cast<std::size_t>(kKernels));
  for (const auto& r : *v) EXPECT_TRUE(r.ok) << r.path << ": " << r.problem;
}

}  // namespace
}  // namespace qjit::ops
