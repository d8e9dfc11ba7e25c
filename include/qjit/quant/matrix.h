// MatrixF64: the plain row-major f64 matrix the offline reference code computes with. Deliberately minimal: the
// references need exact, obvious arithmetic, not a linear-algebra library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qjit/status.h"

namespace qjit::quant {

struct MatrixF64 {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<double> data;  // rows * cols, row-major

  double at(std::int64_t r, std::int64_t c) const { return data[static_cast<std::size_t>(r * cols + c)]; }
  double& at(std::int64_t r, std::int64_t c) { return data[static_cast<std::size_t>(r * cols + c)]; }

  static MatrixF64 zeros(std::int64_t rows, std::int64_t cols) {
    return MatrixF64{rows, cols, std::vector<double>(static_cast<std::size_t>(rows * cols), 0.0)};
  }
  // Checks rows, cols > 0 and data.size() == rows * cols; `what` names the argument in the message.
  static Result<MatrixF64> create(std::int64_t rows, std::int64_t cols, std::vector<double> data,
                                  const std::string& what = "matrix");
};

// Y = X·Wᵀ in f64: x [m, k], w [n, k] -> [m, n]. Errors when x.cols != w.cols.
Result<MatrixF64> matmul_transposed(const MatrixF64& x, const MatrixF64& w);

}  // namespace qjit::quant
