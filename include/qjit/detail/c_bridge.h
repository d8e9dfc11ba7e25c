// What every header-only C++ wrapper needs to sit on the C ABI: turning a qjit_status and the thread's last error
// into a Status, typed tensor views into qjit_tensor, and a reference-counted plan handle. Engines never include
// this directly; the op headers do.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include "qjit/element.h"
#include "qjit/qjit_c.h"
#include "qjit/status.h"
#include "qjit/stream.h"
#include "qjit/tensor.h"

namespace qjit::detail {

static_assert(static_cast<int>(StatusCode::Internal) == QJIT_INTERNAL &&
              static_cast<int>(StatusCode::NotFound) == QJIT_NOT_FOUND);
static_assert(static_cast<int>(ElementKind::F16) == QJIT_F16 && static_cast<int>(ElementKind::BF16) == QJIT_BF16 &&
              static_cast<int>(ElementKind::F32) == QJIT_F32 && static_cast<int>(ElementKind::F64) == QJIT_F64 &&
              static_cast<int>(ElementKind::S8) == QJIT_S8 && static_cast<int>(ElementKind::U8) == QJIT_U8 &&
              static_cast<int>(ElementKind::S32) == QJIT_S32);
static_assert(static_cast<int>(PlanPreference::Heuristic) == QJIT_PREF_HEURISTIC &&
              static_cast<int>(PlanPreference::Tuned) == QJIT_PREF_TUNED &&
              static_cast<int>(PlanPreference::Autotune) == QJIT_PREF_AUTOTUNE);

// The Status of a C call: ok for QJIT_OK, else the code with this thread's last error message.
inline Status status_of(qjit_status code) {
  if (code == QJIT_OK) return Status();
  return Status(static_cast<StatusCode>(code), std::string(qjit_last_error_message()));
}

// A string the C ABI writes through (buf, capacity) -> needed.
template <class F>
std::string c_string(F&& write) {
  char small[256];
  const std::size_t need = write(small, sizeof small);
  if (need <= sizeof small) return std::string(small, need > 0 ? need - 1 : 0);
  std::string s(need, '\0');
  write(s.data(), s.size());
  s.resize(need - 1);
  return s;
}

template <Element T, int Rank>
qjit_tensor to_c(const TensorRef<T, Rank>& t) {
  qjit_tensor c{};
  if (t.data == nullptr && t.numel() == 0) return c;  // absent
  c.data = t.data;
  c.element = static_cast<std::int32_t>(kind_of<T>);
  c.rank = Rank;
  for (int i = 0; i < Rank; ++i) {
    c.shape[i] = t.shape[i];
    c.stride[i] = t.stride[i];
  }
  return c;
}
template <Element T, int Rank>
qjit_tensor to_c(const TensorMut<T, Rank>& t) {
  return to_c(static_cast<TensorRef<T, Rank>>(t));
}

inline PrecisionGuarantee guarantee_of(const qjit_plan* plan) {
  qjit_precision_guarantee g{};
  g.struct_size = sizeof g;
  PrecisionGuarantee out;
  if (qjit_plan_precision_guarantee(plan, &g) != QJIT_OK) return out;
  out.deterministic = g.deterministic != 0;
  out.exact_accumulation = g.exact_accumulation != 0;
  out.epilogue_relative_error = g.epilogue_relative_error;
  out.description = g.description ? g.description : "";
  return out;
}

inline std::size_t workspace_of(const qjit_plan* plan) {
  std::size_t bytes = 0;
  return qjit_plan_workspace_size(plan, &bytes) == QJIT_OK ? bytes : 0;
}
inline std::size_t workspace_of(const qjit_plan* plan, std::int64_t m) {
  std::size_t bytes = 0;
  return qjit_plan_workspace_size_for_m(plan, m, &bytes) == QJIT_OK ? bytes : 0;
}

inline std::string describe_of(const qjit_plan* plan) {
  return c_string([&](char* b, std::size_t n) { return qjit_plan_describe(plan, b, n); });
}

// One reference to a C plan: copies retain, destruction releases.
class PlanHandle {
 public:
  PlanHandle() = default;
  explicit PlanHandle(qjit_plan* p) noexcept : p_(p) {}
  PlanHandle(const PlanHandle& o) noexcept : p_(o.p_ ? qjit_plan_retain(o.p_) : nullptr) {}
  PlanHandle(PlanHandle&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  PlanHandle& operator=(PlanHandle o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~PlanHandle() { qjit_plan_release(p_); }
  const qjit_plan* get() const noexcept { return p_; }

 private:
  qjit_plan* p_ = nullptr;
};

inline Status check_element(ElementKind got, ElementKind want, const char* field) {
  if (got == want) return Status();
  return Status(StatusCode::InvalidArgument, std::string(field) + " must be " + std::string(element_name(want)) +
                                                 " for this plan type, got " + std::string(element_name(got)));
}

}  // namespace qjit::detail
