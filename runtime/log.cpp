// QJIT_LOG parsing and the single stderr writer (one fprintf per line, so lines from threads do not interleave).
#include "runtime/log.h"

#include <atomic>
#include <cstdio>
#include <optional>
#include <string>

#include "runtime/env.h"

namespace qjit::log {
namespace {

Level parse_level() {
  const std::optional<std::string> v = env::value(env::Var::Log);
  if (!v) return Level::Warn;
  const std::string_view s(*v);
  if (s == "off" || s == "0") return Level::Off;
  if (s == "error") return Level::Error;
  if (s == "warn" || s == "warning") return Level::Warn;
  if (s == "info" || s == "1") return Level::Info;
  if (s == "debug" || s == "2") return Level::Debug;
  // NOTE: printed directly: the level that QJIT_LOG_WARN would consult is the one being parsed.
  std::fprintf(stderr, "[qjit warn log] QJIT_LOG='%s' is not %s; using warn\n", v->c_str(),
               std::string(env::expected_form(env::Type::Level)).c_str());
  return Level::Warn;
}

std::atomic<int>& level_storage() {
  static std::atomic<int> level{static_cast<int>(parse_level())};
  return level;
}

constexpr const char* level_name(Level l) {
  switch (l) {
    case Level::Error: return "error";
    case Level::Warn: return "warn";
    case Level::Info: return "info";
    case Level::Debug: return "debug";
    default: return "";
  }
}

}  // namespace

Level current_level() noexcept { return static_cast<Level>(level_storage().load(std::memory_order_relaxed)); }
void set_level_for_testing(Level level) noexcept { level_storage().store(static_cast<int>(level)); }

void write(Level level, std::string_view component, std::string_view message) {
  std::string line = "[qjit ";
  line += level_name(level);
  line += ' ';
  line += component;
  line += "] ";
  line += message;
  line += '\n';
  std::fputs(line.c_str(), stderr);
}

}  // namespace qjit::log
