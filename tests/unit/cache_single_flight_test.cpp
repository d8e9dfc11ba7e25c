// SingleFlight: 16 threads asking for one key at once run the work once and all receive its result; different keys
// run independently; a failure is shared with that flight's waiters but not remembered.
#include <atomic>
#include <barrier>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "cache/single_flight.h"
#include "tests/support/cache_test_util.h"

namespace qjit::cache {
namespace {

using Kernel = std::shared_ptr<const std::string>;  // what the plan layer will share: a loaded kernel handle

TEST(CacheSingleFlightTest, SixteenThreadsOneKeyRunOnce) {
  SingleFlight<Kernel> flight;
  constexpr int kThreads = 16;
  std::atomic<int> runs{0}, leaders{0};
  std::barrier start(kThreads);
  std::vector<Kernel> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      bool ran = false;
      auto r = flight.get_or_run(
          testing::test_key(1),
          [&]() -> Result<Kernel> {
            ++runs;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a compile
            return std::make_shared<const std::string>("cubin-1");
          },
          &ran);
      if (ran) ++leaders;
      ASSERT_TRUE(r.has_value());
      got[t] = *r;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(leaders.load(), 1);
  EXPECT_EQ(flight.runs(), 1u);
  for (const auto& k : got) {
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k.get(), got[0].get()) << "every waiter shares the leader's object";
  }
}

TEST(CacheSingleFlightTest, DifferentKeysRunConcurrently) {
  SingleFlight<int> flight;
  std::atomic<int> inside{0}, max_inside{0};
  std::barrier start(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      auto r = flight.get_or_run(testing::test_key(t), [&]() -> Result<int> {
        const int now = ++inside;
        int prev = max_inside.load();
        while (prev < now && !max_inside.compare_exchange_weak(prev, now)) {}
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        --inside;
        return t;
      });
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(*r, t);
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(flight.runs(), 4u);
  EXPECT_GT(max_inside.load(), 1) << "distinct keys must not serialise";
}

TEST(CacheSingleFlightTest, FailureIsSharedThenForgotten) {
  SingleFlight<int> flight;
  std::barrier start(3);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&] {
      start.arrive_and_wait();
      auto r = flight.get_or_run(testing::test_key(9), [] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return Result<int>(Status(StatusCode::CompileFailed, "nvrtc said no"));
      });
      if (!r && r.error().code() == StatusCode::CompileFailed && r.error().message() == "nvrtc said no") ++failures;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 3);
  EXPECT_EQ(flight.runs(), 1u);
  auto retry = flight.get_or_run(testing::test_key(9), [] { return Result<int>(7); });
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(*retry, 7);
  EXPECT_EQ(flight.runs(), 2u);
}

TEST(CacheSingleFlightTest, WorksWithOtherKeyTypes) {
  SingleFlight<int, std::string, std::hash<std::string>> flight;
  auto r = flight.get_or_run("gemm N=4096 K=4096 M<=16", [] { return Result<int>(3); });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 3);
}

}  // namespace
}  // namespace qjit::cache
