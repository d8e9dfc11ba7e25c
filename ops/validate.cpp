// Implementation of the shared argument checks.
#include "ops/validate.h"

#include <string>

#include "base/invalid.h"
#include "llvm/Support/FormatVariadic.h"

namespace qjit::ops {
namespace {

std::string dim_text(std::int64_t value, const char* name) {
  if (value < 0) return name;
  return llvm::formatv("{0}={1}", name, value).str();
}

}  // namespace

Status check_dims(std::int64_t m, std::int64_t n, std::int64_t k) {
  const struct {
    const char* name;
    std::int64_t v;
  } dims[] = {{"m", m}, {"n", n}, {"k", k}};
  for (const auto& d : dims)
    if (d.v < 1 || d.v >= kMaxDim)
      return invalid(llvm::formatv("descriptor.{0} must be in [1, 2^31), got {1}", d.name, d.v).str());
  return Status();
}

Status check_matrix(const detail::MatrixView& v, const char* name, std::int64_t rows, const char* row_name,
                    std::int64_t cols, const char* col_name, ElementKind kind, unsigned align_bytes) {
  if (v.data == nullptr) return invalid(llvm::formatv("{0}.data is null", name).str());
  if (v.kind != kind)
    return invalid(
        llvm::formatv("{0} must hold {1} elements, got {2}", name, element_name(kind), element_name(v.kind)));
  const bool rows_ok = rows < 0 ? (v.rows >= 1 && v.rows < kMaxDim) : v.rows == rows;
  if (!rows_ok || v.cols != cols)
    return invalid(llvm::formatv("{0}.shape must be [{1}, {2}], got [{3}, {4}]", name, dim_text(rows, row_name),
                                 dim_text(cols, col_name), v.rows, v.cols)
                       .str());
  if (v.col_stride != 1)
    return invalid(llvm::formatv("{0}.stride[1] must be 1 (rows contiguous), got {1}", name, v.col_stride).str());
  // NOTE: a one-row view's stride is never followed, except by a TMA tensor map (align_bytes >= 16), which takes
  // it as the map's global stride whatever the row count; so then it must be valid at M = 1 too.
  const bool stride_used = v.rows > 1 || align_bytes >= 16;
  if (stride_used && v.row_stride < v.cols)
    return invalid(llvm::formatv("{0}.stride[0] must be >= {1} = {2}, got {3}", name, col_name, v.cols, v.row_stride));
  const auto esize = static_cast<std::int64_t>(element_size(kind));
  const unsigned align = align_bytes < esize ? static_cast<unsigned>(esize) : align_bytes;
  const auto addr = reinterpret_cast<std::uintptr_t>(v.data);
  if (addr % align != 0)
    return invalid(llvm::formatv("{0}.data must be {1}-byte aligned, got {2:x}", name, align, addr).str());
  if (stride_used && (v.row_stride * esize) % align != 0)
    return invalid(llvm::formatv("{0}.stride[0] must be a multiple of {1} elements ({2}-byte rows) for this kernel, "
                                 "got {3}",
                                 name, align / esize, align, v.row_stride)
                       .str());
  return Status();
}

Status check_vector(const detail::VectorView& v, const char* name, std::int64_t size, const char* size_name,
                    ElementKind kind) {
  if (v.data == nullptr) return invalid(llvm::formatv("{0}.data is null", name).str());
  if (v.kind != kind)
    return invalid(
        llvm::formatv("{0} must hold {1} elements, got {2}", name, element_name(kind), element_name(v.kind)));
  if (v.size != size)
    return invalid(llvm::formatv("{0}.shape must be [{1}={2}], got [{3}]", name, size_name, size, v.size).str());
  if (v.size > 1 && v.stride != 1)
    return invalid(llvm::formatv("{0}.stride[0] must be 1, got {1}", name, v.stride).str());
  const auto addr = reinterpret_cast<std::uintptr_t>(v.data);
  if (addr % element_size(kind) != 0)
    return invalid(llvm::formatv("{0}.data must be {1}-byte aligned, got {2:x}", name, element_size(kind), addr).str());
  return Status();
}

Status check_absent(const detail::VectorView& v, const char* name, const char* why) {
  if (v.data != nullptr || v.size != 0) return invalid(llvm::formatv("{0} must be empty: {1}", name, why).str());
  return Status();
}

}  // namespace qjit::ops
