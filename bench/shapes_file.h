// The shape file the Google Benchmark suites read: data/llm_linear_shapes.csv in the working directory (the GPU
// machine runs from a copy of the tree), else in the source tree they were built from. Only these suites, which are
// never installed, know the source tree (QJIT_SOURCE_DIR is defined for them alone); `qjit bench` takes --shapes or
// the copy installed under share/qjit/.
#pragma once

#include <cstdio>
#include <string>

namespace qjit::bench {

inline std::string default_shapes_file() {
  const std::string local = "data/llm_linear_shapes.csv";
  if (std::FILE* f = std::fopen(local.c_str(), "r")) {
    std::fclose(f);
    return local;
  }
  return std::string(QJIT_SOURCE_DIR) + "/" + local;
}

}  // namespace qjit::bench
