// Memoised plan cores: a repeated select() of a seen descriptor is one hash lookup under a mutex (DESIGN.md's
// target is <= 2 µs). Keys are built from the descriptor's fields byte by byte, never by printing objects.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <unordered_map>

#include "qjit/status.h"

namespace qjit::ops {

// Appends the raw bytes of trivially copyable values to a key.
class KeyBuilder {
 public:
  template <class T>
  KeyBuilder& add(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const char*>(&v);
    key_.append(p, sizeof(T));
    return *this;
  }
  std::string take() { return std::move(key_); }

 private:
  std::string key_;
};

template <class Core>
class PlanCache {
 public:
  Result<std::shared_ptr<const Core>> get_or_create(const std::string& key,
                                                    const std::function<Result<std::shared_ptr<const Core>>()>& make) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = cores_.find(key); it != cores_.end()) return it->second;
    }
    // NOTE: built outside the lock; two threads racing on a new key both build, the kernel service below compiles
    // once (single flight), and the first insert wins.
    QJIT_ASSIGN_OR_RETURN(std::shared_ptr<const Core> core, make());
    std::lock_guard<std::mutex> lock(mu_);
    return cores_.emplace(key, std::move(core)).first->second;
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const Core>> cores_;
};

}  // namespace qjit::ops
