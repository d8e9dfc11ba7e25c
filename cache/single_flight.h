// SingleFlight<V>: in-process deduplication of concurrent work by key. When several threads call get_or_run with one
// key at the same time, the first runs `fn` and the others wait and receive a copy of its Result -- so 16 threads
// selecting one descriptor compile it once. It is not a cache: once a call finishes its key is forgotten, and the
// next call runs fn again (the plan layer's memory cache and the disk store sit in front of it). Failures are shared
// with the waiters of that flight but not remembered, so a later call retries.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include "cache/compile_key.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "qjit/status.h"

namespace qjit::cache {

template <class V, class Key = CompileKey, class Hash = CompileKeyHash>
class SingleFlight {
 public:
  // Runs fn, or waits for the run already in flight for `key` and returns its result. `*ran` (if given) says which.
  Result<V> get_or_run(const Key& key, llvm::function_ref<Result<V>()> fn, bool* ran = nullptr) {
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
      std::lock_guard<std::mutex> g(mu_);
      auto& slot = flights_[key];
      if (!slot) {
        slot = std::make_shared<Flight>();
        leader = true;
        ++runs_;
      }
      flight = slot;
    }
    if (ran) *ran = leader;
    if (!leader) {
      std::unique_lock<std::mutex> l(flight->mu);
      flight->cv.wait(l, [&] { return flight->result.has_value(); });
      return *flight->result;
    }
    // NOTE: the guard publishes a result even if fn unwinds (bad_alloc), so waiters can never hang.
    struct Publisher {
      SingleFlight* self;
      const Key& key;
      Flight& flight;
      std::optional<Result<V>> value;
      ~Publisher() {
        {
          std::lock_guard<std::mutex> g(self->mu_);
          self->flights_.erase(key);
        }
        std::lock_guard<std::mutex> l(flight.mu);
        flight.result = value ? std::move(*value)
                              : Result<V>(Status(StatusCode::CacheIo, "the in-flight computation was abandoned"));
        flight.cv.notify_all();
      }
    } publish{this, key, *flight, std::nullopt};
    Result<V> r = fn();
    publish.value.emplace(r);
    return r;
  }

  // How many times fn has run (for tests and stats).
  std::uint64_t runs() const {
    std::lock_guard<std::mutex> g(mu_);
    return runs_;
  }

 private:
  struct Flight {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result<V>> result;
  };
  mutable std::mutex mu_;
  std::unordered_map<Key, std::shared_ptr<Flight>, Hash> flights_;
  std::uint64_t runs_ = 0;  // guarded by mu_
};

}  // namespace qjit::cache
