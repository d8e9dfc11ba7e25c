// MatrixF64 construction checks and the f64 X·Wᵀ product the references are built on.
#include "qjit/quant/matrix.h"

#include "quant/check.h"

namespace qjit::quant {

Result<MatrixF64> MatrixF64::create(std::int64_t rows, std::int64_t cols, std::vector<double> data,
                                    const std::string& what) {
  const std::string r = what + ".rows", c = what + ".cols", d = what + ".data";
  QJIT_TRY(detail::check_dims(r.c_str(), rows, c.c_str(), cols));
  QJIT_TRY(detail::check_size(d.c_str(), data.size(), rows * cols, "rows * cols"));
  return MatrixF64{rows, cols, std::move(data)};
}

Result<MatrixF64> matmul_transposed(const MatrixF64& x, const MatrixF64& w) {
  if (x.cols != w.cols)
    return detail::invalid(llvm::formatv("x.cols must equal w.cols = {0}, got {1}", w.cols, x.cols).str());
  if (x.data.size() != static_cast<std::size_t>(x.rows * x.cols) ||
      w.data.size() != static_cast<std::size_t>(w.rows * w.cols))
    return detail::invalid("x.data and w.data must hold rows * cols values");
  MatrixF64 y = MatrixF64::zeros(x.rows, w.rows);
  for (std::int64_t m = 0; m < x.rows; ++m) {
    const double* xr = x.data.data() + m * x.cols;
    for (std::int64_t n = 0; n < w.rows; ++n) {
      const double* wr = w.data.data() + n * w.cols;
      double acc = 0.0;
      for (std::int64_t k = 0; k < x.cols; ++k) acc += xr[k] * wr[k];
      y.at(m, n) = acc;
    }
  }
  return y;
}

}  // namespace qjit::quant
