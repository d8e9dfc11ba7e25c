// The registry's table, the one getenv of the tree, the value parsers and the generated Markdown table.
#include "runtime/env.h"

#include <cstdlib>

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FormatVariadic.h"
#include "runtime/log.h"

namespace qjit::env {
namespace {

constexpr Variable kVariables[] = {
#define QJIT_ENV_ENTRY_(id, name, type, default_value, room, meaning) \
  {Var::id, name, Type::type, default_value, room, meaning},
    QJIT_ENV_VARIABLES(QJIT_ENV_ENTRY_)
#undef QJIT_ENV_ENTRY_
};

constexpr bool ids_are_indices() {
  for (std::size_t i = 0; i < std::size(kVariables); ++i)
    if (static_cast<std::size_t>(kVariables[i].id) != i) return false;
  return true;
}
static_assert(ids_are_indices());

constexpr bool names_are_prefixed_and_unique() {
  for (std::size_t i = 0; i < std::size(kVariables); ++i) {
    if (!kVariables[i].name.starts_with("QJIT_")) return false;
    for (std::size_t j = 0; j < i; ++j)
      if (kVariables[i].name == kVariables[j].name) return false;
  }
  return true;
}
static_assert(names_are_prefixed_and_unique(), "every variable is QJIT_-prefixed and registered once");

}  // namespace

std::span<const Variable> variables() { return kVariables; }
const Variable& variable(Var v) { return kVariables[static_cast<std::size_t>(v)]; }

const Variable* find(std::string_view name) {
  for (const Variable& v : kVariables)
    if (v.name == name) return &v;
  return nullptr;
}

std::string_view expected_form(Type type) {
  switch (type) {
    case Type::Path: return "a path";
    case Type::PathList: return "':'-separated directories";
    case Type::Flag: return "1/true/yes/on or 0/false/no/off";
    case Type::Bytes: return "a byte count such as 1048576, 512k, 64M or 2G";
    case Type::Integer: return "a decimal integer";
    case Type::Level: return "one of off|error|warn|info|debug";
    case Type::Text: return "text";
  }
  return "";
}

std::string_view type_name(Type type) {
  switch (type) {
    case Type::Path: return "path";
    case Type::PathList: return "path list";
    case Type::Flag: return "flag";
    case Type::Bytes: return "bytes";
    case Type::Integer: return "integer";
    case Type::Level: return "level";
    case Type::Text: return "text";
  }
  return "";
}

std::optional<std::string> process_value(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}

std::string text(Var v) { return value(v).value_or(std::string()); }

Status invalid_value(std::string_view field, std::string_view value, std::string_view expected) {
  return Status(StatusCode::InvalidArgument,
                llvm::formatv("{0}='{1}' is invalid: expected {2}", field, value, expected).str());
}

Result<bool> parse_flag(Var v, std::string_view value) {
  const llvm::StringRef s = llvm::StringRef(value.data(), value.size()).trim();
  if (s == "1" || s.equals_insensitive("true") || s.equals_insensitive("yes") || s.equals_insensitive("on"))
    return true;
  if (s.empty() || s == "0" || s.equals_insensitive("false") || s.equals_insensitive("no") ||
      s.equals_insensitive("off"))
    return false;
  return invalid_value(name(v), value, expected_form(Type::Flag));
}

Result<std::int64_t> parse_integer(Var v, std::string_view value, std::int64_t min, std::int64_t max) {
  std::int64_t n = 0;
  if (llvm::StringRef(value.data(), value.size()).trim().getAsInteger(10, n) || n < min || n > max)
    return invalid_value(name(v), value, llvm::formatv("an integer from {0} to {1}", min, max).str());
  return n;
}

Result<std::uint64_t> parse_byte_size(std::string_view text, std::string_view field) {
  const std::string_view forms = expected_form(Type::Bytes);
  llvm::StringRef s(text.data(), text.size());
  s = s.trim();
  std::uint64_t scale = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'k':
      case 'K': scale = 1ull << 10; break;
      case 'm':
      case 'M': scale = 1ull << 20; break;
      case 'g':
      case 'G': scale = 1ull << 30; break;
      case 't':
      case 'T': scale = 1ull << 40; break;
      default: break;
    }
    if (scale != 1) s = s.drop_back();
  }
  std::uint64_t n = 0;
  if (s.empty() || s.getAsInteger(10, n)) return invalid_value(field, text, forms);
  if (n > UINT64_MAX / scale) return invalid_value(field, text, "a byte count below 2^64");
  return n * scale;
}

std::vector<std::string> split_path_list(std::string_view value) {
  llvm::SmallVector<llvm::StringRef, 4> parts;
  llvm::StringRef(value.data(), value.size()).split(parts, ':', -1, /*KeepEmpty=*/false);
  std::vector<std::string> out;
  for (auto p : parts) out.push_back(p.str());
  return out;
}

bool flag_or_warn(Var v) {
  const auto raw = value(v);
  if (!raw) return false;
  auto parsed = parse_flag(v, *raw);
  if (parsed.has_value()) return *parsed;
  QJIT_LOG_WARN("env", "{0}; reading it as 0", parsed.error().message());
  return false;
}

Result<std::optional<std::int64_t>> integer(Var v, std::int64_t min, std::int64_t max) {
  const auto raw = value(v);
  if (!raw || llvm::StringRef(*raw).trim().empty()) return std::optional<std::int64_t>();
  QJIT_ASSIGN_OR_RETURN(std::int64_t n, parse_integer(v, *raw, min, max));
  return std::optional<std::int64_t>(n);
}

std::vector<InEffect> in_effect() {
  std::vector<InEffect> out;
  for (const Variable& v : kVariables) out.push_back({&v, value(v.id)});
  return out;
}

std::string markdown_table() {
  std::string out = "| variable | meaning | default | read by |\n| --- | --- | --- | --- |\n";
  for (const Variable& v : kVariables)
    out += llvm::formatv("| `{0}` | {1} | {2} | `{3}/` |\n", v.name, v.meaning, v.default_value, v.room).str();
  return out;
}

std::string plain(std::string_view markdown) {
  std::string s;
  for (char c : markdown)
    if (c != '`') s += c;
  return s;
}

}  // namespace qjit::env
