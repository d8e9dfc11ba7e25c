// The kernel templates compiled into the library (see cmake/EmbedTemplates.cmake). Codegen fetches a template's
// text by its file name; nothing is read from disk at run time.
#pragma once

#include <span>
#include <string_view>

namespace qjit::codegen {

struct EmbeddedTemplate {
  std::string_view name;  // "gemm_s8_sm80.cuh"
  std::string_view text;
};

std::span<const EmbeddedTemplate> embedded_templates();

// The text of one template, or an empty view when no template has that name.
inline std::string_view find_template(std::string_view name) {
  for (const auto& t : embedded_templates())
    if (t.name == name) return t.text;
  return {};
}

}  // namespace qjit::codegen
