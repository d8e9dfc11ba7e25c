// Diagnostics to stderr, gated by QJIT_LOG (off | error | warn | info | debug; default warn). Cheap when off: the
// level is read from the environment once and each call site checks it before formatting anything.
#pragma once

#include <string_view>

#include "llvm/Support/FormatVariadic.h"

namespace qjit::log {

enum class Level : int { Off = 0, Error = 1, Warn = 2, Info = 3, Debug = 4 };

Level current_level() noexcept;
void set_level_for_testing(Level level) noexcept;
void write(Level level, std::string_view component, std::string_view message);

inline bool enabled(Level level) noexcept { return static_cast<int>(level) <= static_cast<int>(current_level()); }

}  // namespace qjit::log

// QJIT_LOG_INFO("cache", "hit {0} ({1} bytes)", key, size) -- llvm::formatv syntax.
#define QJIT_LOG_AT_(lvl, component, ...)                                                                \
  do {                                                                                                   \
    if (::qjit::log::enabled(lvl)) ::qjit::log::write(lvl, component, llvm::formatv(__VA_ARGS__).str()); \
  } while (0)
#define QJIT_LOG_ERROR(component, ...) QJIT_LOG_AT_(::qjit::log::Level::Error, component, __VA_ARGS__)
#define QJIT_LOG_WARN(component, ...) QJIT_LOG_AT_(::qjit::log::Level::Warn, component, __VA_ARGS__)
#define QJIT_LOG_INFO(component, ...) QJIT_LOG_AT_(::qjit::log::Level::Info, component, __VA_ARGS__)
#define QJIT_LOG_DEBUG(component, ...) QJIT_LOG_AT_(::qjit::log::Level::Debug, component, __VA_ARGS__)
