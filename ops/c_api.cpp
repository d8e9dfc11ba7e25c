// The C ABI (include/qjit/qjit_c.h): the only symbols libqjit.so exports. Each entry point checks its C structs
// (null pointers, struct_size, enum ranges, tensor ranks), turns them into the plans' internal views and calls the
// untyped plan cores, the cache store and the warm-up; nothing throws across it (every body runs under guarded()),
// and a failure's message is kept per thread for qjit_last_error_*.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "autotune/shapes.h"
#include "autotune/tuning_db.h"
#include "base/invalid.h"
#include "cache/disk_store.h"
#include "cache/store_options.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FormatVariadic.h"
#include "ops/plan_core.h"
#include "ops/staging.h"
#include "ops/warmup.h"
#include "qjit/cache.h"
#include "qjit/qjit_c.h"

struct qjit_plan {
  std::atomic<int> refs{1};
  qjit_plan_kind kind{};
  std::shared_ptr<const qjit::detail::LinearCore> linear;
  std::shared_ptr<const qjit::detail::QuantizeCore> quantize;
  std::shared_ptr<const qjit::detail::NormQuantizeCore> norm;
  std::shared_ptr<const qjit::detail::WeightOnlyLinearCore> weight_only;
};

namespace qjit {
namespace {

static_assert(static_cast<int>(StatusCode::InvalidArgument) == QJIT_INVALID_ARGUMENT &&
              static_cast<int>(StatusCode::CacheIo) == QJIT_CACHE_IO &&
              static_cast<int>(StatusCode::Internal) == QJIT_INTERNAL);
static_assert(static_cast<int>(ElementKind::S8) == QJIT_S8 && static_cast<int>(ElementKind::S32) == QJIT_S32);

struct LastError {
  qjit_status code = QJIT_OK;
  std::string message;
};
thread_local LastError t_last_error;

qjit_status record(const Status& s) {
  t_last_error.code = static_cast<qjit_status>(s.code());
  t_last_error.message = s.message();
  return t_last_error.code;
}

// Runs an entry point's body; no exception leaves it.
template <class F>
qjit_status guarded(const char* where, F&& body) noexcept {
  try {
    Status s = body();
    return s.ok() ? QJIT_OK : record(s);
  } catch (const std::bad_alloc&) {
    return record(Status(StatusCode::OutOfResources, std::string(where) + ": out of host memory"));
  } catch (const std::exception& e) {
    return record(Status(StatusCode::Internal, std::string(where) + ": unexpected exception: " + e.what()));
  } catch (...) {
    return record(Status(StatusCode::Internal, std::string(where) + ": unexpected exception"));
  }
}

std::size_t copy_out(const std::string& s, char* buf, std::size_t capacity) noexcept {
  if (buf != nullptr && capacity > 0) {
    const std::size_t n = std::min(capacity - 1, s.size());
    std::memcpy(buf, s.data(), n);
    buf[n] = '\0';
  }
  return s.size() + 1;
}

// The struct's first form: every field up to the first one marked "appended" in qjit_c.h. A caller compiled
// against that form passes a smaller struct_size; the appended fields then read as 0 / absent (FIELD below).
template <class T>
constexpr std::size_t first_form_size() {
  if constexpr (std::is_same_v<T, qjit_quantized_linear_desc>)
    return offsetof(qjit_quantized_linear_desc, has_smooth);
  else if constexpr (std::is_same_v<T, qjit_dynamic_range_quantize_desc>)
    return offsetof(qjit_dynamic_range_quantize_desc, has_smooth);
  else if constexpr (std::is_same_v<T, qjit_linear_args>)
    return offsetof(qjit_linear_args, pre_quant_scale);
  else if constexpr (std::is_same_v<T, qjit_quantize_args>)
    return offsetof(qjit_quantize_args, pre_quant_scale);
  else if constexpr (std::is_same_v<T, qjit_scaled_matmul_desc>)
    return offsetof(qjit_scaled_matmul_desc, has_act_zero_point);
  else if constexpr (std::is_same_v<T, qjit_scaled_matmul_args>)
    return offsetof(qjit_scaled_matmul_args, act_zero_point);
  else if constexpr (std::is_same_v<T, qjit_warmup_request>)
    return offsetof(qjit_warmup_request, smooth_modes);
  else
    return sizeof(T);
}

template <class T>
Status check_struct(const T* p, const char* name, const char* type) {
  if (p == nullptr) return invalid(llvm::formatv("{0} must not be NULL", name).str());
  if (p->struct_size < first_form_size<T>())
    return invalid(llvm::formatv("{0}->struct_size must be >= {1} (sizeof({2}) in ABI {3}), got {4}", name,
                                 first_form_size<T>(), type, QJIT_ABI_VERSION, p->struct_size)
                       .str());
  return Status();
}

// An appended field's value, or its zero value when the caller's struct stops before it.
#define QJIT_FIELD(p, T, f) \
  ((p)->struct_size >= offsetof(T, f) + sizeof(((T*)nullptr)->f) ? (p)->f : decltype((p)->f){})

Result<ElementKind> element_of(std::int32_t v, const char* field) {
  if (v < QJIT_F16 || v > QJIT_S32)
    return invalid(
        llvm::formatv("{0} must be a qjit_element (0 = QJIT_F16 ... 6 = QJIT_S32), got {1}", field, v).str());
  return static_cast<ElementKind>(v);
}

Result<PlanPreference> preference_of(std::int32_t v) {
  if (v < QJIT_PREF_HEURISTIC || v > QJIT_PREF_AUTOTUNE)
    return invalid(llvm::formatv("preference must be QJIT_PREF_HEURISTIC (0), QJIT_PREF_TUNED (1) or "
                                 "QJIT_PREF_AUTOTUNE (2), got {0}",
                                 v)
                       .str());
  return static_cast<PlanPreference>(v);
}

bool absent(const qjit_tensor& t) { return t.data == nullptr && t.rank == 0; }

Result<detail::MatrixView> matrix_of(const qjit_tensor& t, const char* field) {
  if (absent(t)) return detail::MatrixView{};
  if (t.rank != 2) return invalid(llvm::formatv("{0} must be a rank-2 tensor, got rank {1}", field, t.rank).str());
  QJIT_ASSIGN_OR_RETURN(ElementKind kind, element_of(t.element, (std::string(field) + ".element").c_str()));
  return detail::MatrixView{t.data, t.shape[0], t.shape[1], t.stride[0], t.stride[1], kind};
}

Result<detail::VectorView> vector_of(const qjit_tensor& t, const char* field) {
  if (absent(t)) return detail::VectorView{};
  if (t.rank != 1) return invalid(llvm::formatv("{0} must be a rank-1 tensor, got rank {1}", field, t.rank).str());
  QJIT_ASSIGN_OR_RETURN(ElementKind kind, element_of(t.element, (std::string(field) + ".element").c_str()));
  return detail::VectorView{t.data, t.shape[0], t.stride[0], kind};
}

// The fields every GEMM-shaped C descriptor shares (m, n, k, the three element kinds, has_bias), into its C++ one.
template <class CDesc, class Desc>
Status gemm_fields_of(const CDesc& d, Desc& out) {
  out.m = d.m;
  out.n = d.n;
  out.k = d.k;
  QJIT_ASSIGN_OR_RETURN(out.activation_element, element_of(d.activation_element, "descriptor.activation_element"));
  QJIT_ASSIGN_OR_RETURN(out.weight_element, element_of(d.weight_element, "descriptor.weight_element"));
  QJIT_ASSIGN_OR_RETURN(out.output_element, element_of(d.output_element, "descriptor.output_element"));
  out.has_bias = d.has_bias != 0;
  return Status();
}

Result<QuantizedLinearDescriptor> descriptor_of(const qjit_quantized_linear_desc* d) {
  QJIT_TRY(check_struct(d, "desc", "qjit_quantized_linear_desc"));
  QuantizedLinearDescriptor out;
  QJIT_TRY(gemm_fields_of(*d, out));
  out.has_smooth = QJIT_FIELD(d, qjit_quantized_linear_desc, has_smooth) != 0;
  out.asymmetric = QJIT_FIELD(d, qjit_quantized_linear_desc, asymmetric) != 0;
  return out;
}

Result<SmoothQuantLinearDescriptor> descriptor_of(const qjit_smooth_quant_linear_desc* d) {
  QJIT_TRY(check_struct(d, "desc", "qjit_smooth_quant_linear_desc"));
  SmoothQuantLinearDescriptor out;
  QJIT_TRY(gemm_fields_of(*d, out));
  out.act_scale = d->act_scale;
  return out;
}

// The C descriptors' granularity field (QJIT_PER_TOKEN / QJIT_PER_TENSOR).
Result<QuantGranularity> granularity_of(std::int32_t g) {
  if (g != QJIT_PER_TOKEN && g != QJIT_PER_TENSOR)
    return invalid(
        llvm::formatv("descriptor.granularity must be QJIT_PER_TOKEN (0) or QJIT_PER_TENSOR (1), got {0}", g).str());
  return g == QJIT_PER_TOKEN ? QuantGranularity::PerToken : QuantGranularity::PerTensor;
}

Result<DynamicRangeQuantizeDescriptor> descriptor_of(const qjit_dynamic_range_quantize_desc* d) {
  QJIT_TRY(check_struct(d, "desc", "qjit_dynamic_range_quantize_desc"));
  DynamicRangeQuantizeDescriptor out;
  out.m = d->m;
  out.k = d->k;
  QJIT_ASSIGN_OR_RETURN(out.input_element, element_of(d->input_element, "descriptor.input_element"));
  QJIT_ASSIGN_OR_RETURN(out.granularity, granularity_of(d->granularity));
  out.has_smooth = QJIT_FIELD(d, qjit_dynamic_range_quantize_desc, has_smooth) != 0;
  out.asymmetric = QJIT_FIELD(d, qjit_dynamic_range_quantize_desc, asymmetric) != 0;
  if (out.asymmetric) {
    QJIT_ASSIGN_OR_RETURN(out.output_element,
                          element_of(QJIT_FIELD(d, qjit_dynamic_range_quantize_desc, output_element),
                                     "descriptor.output_element"));
  }
  return out;
}

Result<NormQuantizeDescriptor> descriptor_of(const qjit_norm_quantize_desc* d) {
  QJIT_TRY(check_struct(d, "desc", "qjit_norm_quantize_desc"));
  NormQuantizeDescriptor out;
  if (d->norm != QJIT_RMS_NORM && d->norm != QJIT_LAYER_NORM)
    return invalid(
        llvm::formatv("descriptor.norm must be QJIT_RMS_NORM (0) or QJIT_LAYER_NORM (1), got {0}", d->norm).str());
  out.norm = d->norm == QJIT_RMS_NORM ? NormKind::RmsNorm : NormKind::LayerNorm;
  out.m = d->m;
  out.k = d->k;
  QJIT_ASSIGN_OR_RETURN(out.input_element, element_of(d->input_element, "descriptor.input_element"));
  QJIT_ASSIGN_OR_RETURN(out.granularity, granularity_of(d->granularity));
  out.has_residual = d->has_residual != 0;
  out.eps = d->eps;
  out.static_scale = d->static_scale;
  return out;
}

Result<ScaledMatmulDescriptor> descriptor_of(const qjit_scaled_matmul_desc* d) {
  QJIT_TRY(check_struct(d, "desc", "qjit_scaled_matmul_desc"));
  ScaledMatmulDescriptor out;
  QJIT_TRY(gemm_fields_of(*d, out));
  if (d->act_scale != QJIT_ACT_SCALE_PER_TOKEN && d->act_scale != QJIT_ACT_SCALE_PER_TENSOR)
    return invalid(llvm::formatv("descriptor.act_scale must be QJIT_ACT_SCALE_PER_TOKEN (0) or "
                                 "QJIT_ACT_SCALE_PER_TENSOR (1), got {0}",
                                 d->act_scale)
                       .str());
  if (d->weight_scale != QJIT_WEIGHT_SCALE_PER_CHANNEL && d->weight_scale != QJIT_WEIGHT_SCALE_PER_TENSOR)
    return invalid(llvm::formatv("descriptor.weight_scale must be QJIT_WEIGHT_SCALE_PER_CHANNEL (0) or "
                                 "QJIT_WEIGHT_SCALE_PER_TENSOR (1), got {0}",
                                 d->weight_scale)
                       .str());
  out.act_scale = static_cast<ActScaleMode>(d->act_scale);
  out.weight_scale = static_cast<WeightScaleMode>(d->weight_scale);
  out.has_act_zero_point = QJIT_FIELD(d, qjit_scaled_matmul_desc, has_act_zero_point) != 0;
  return out;
}

Result<WeightOnlyLinearDescriptor> descriptor_of(const qjit_weight_only_linear_desc* d) {
  QJIT_TRY(check_struct(d, "desc", "qjit_weight_only_linear_desc"));
  WeightOnlyLinearDescriptor out;
  QJIT_TRY(gemm_fields_of(*d, out));
  if (d->weight_scale != QJIT_WEIGHT_SCALE_PER_CHANNEL && d->weight_scale != QJIT_WEIGHT_SCALE_PER_TENSOR &&
      d->weight_scale != QJIT_WEIGHT_SCALE_PER_GROUP)
    return invalid(llvm::formatv("descriptor.weight_scale must be QJIT_WEIGHT_SCALE_PER_CHANNEL (0), "
                                 "QJIT_WEIGHT_SCALE_PER_TENSOR (1) or QJIT_WEIGHT_SCALE_PER_GROUP (2), got {0}",
                                 d->weight_scale)
                       .str());
  out.weight_scale = static_cast<WeightScaleMode>(d->weight_scale);
  out.group_size = d->group_size;
  out.has_zero_point = d->has_zero_point != 0;
  return out;
}

// The families of plan calls: each plan kind's calls take only plans of their own family.
enum class CallFamily { Linear, Quantize, NormQuantize, ScaledMatmul, WeightOnlyLinear };

CallFamily family_of(qjit_plan_kind kind) {
  switch (kind) {
    case QJIT_PLAN_QUANTIZED_LINEAR:
    case QJIT_PLAN_SMOOTH_QUANT_LINEAR: return CallFamily::Linear;
    case QJIT_PLAN_RMS_NORM_QUANTIZE:
    case QJIT_PLAN_LAYER_NORM_QUANTIZE: return CallFamily::NormQuantize;
    case QJIT_PLAN_SCALED_MATMUL: return CallFamily::ScaledMatmul;
    case QJIT_PLAN_WEIGHT_ONLY_LINEAR: return CallFamily::WeightOnlyLinear;
    default: return CallFamily::Quantize;
  }
}

// A plan's kind as the refusals name it.
const char* kind_name(qjit_plan_kind kind) {
  switch (kind) {
    case QJIT_PLAN_QUANTIZED_LINEAR:
    case QJIT_PLAN_SMOOTH_QUANT_LINEAR: return "linear";
    case QJIT_PLAN_RMS_NORM_QUANTIZE: return "rms_norm_quantize";
    case QJIT_PLAN_LAYER_NORM_QUANTIZE: return "layer_norm_quantize";
    case QJIT_PLAN_SCALED_MATMUL: return "scaled_matmul";
    case QJIT_PLAN_WEIGHT_ONLY_LINEAR: return "weight_only_linear";
    default: return "dynamic_range_quantize";
  }
}

const char* wanted_name(CallFamily f) {
  switch (f) {
    case CallFamily::Linear: return "a linear";
    case CallFamily::Quantize: return "a dynamic_range_quantize";
    case CallFamily::NormQuantize: return "an rms_norm_quantize or layer_norm_quantize";
    case CallFamily::ScaledMatmul: return "a scaled_matmul";
    case CallFamily::WeightOnlyLinear: return "a weight_only_linear";
  }
  return "?";
}

Status check_plan(const qjit_plan* p, CallFamily want, const char* call) {
  if (p == nullptr) return invalid("plan must not be NULL");
  if (family_of(p->kind) != want)
    return invalid(
        llvm::formatv("{0} takes {1} plan, got a {2} plan", call, wanted_name(want), kind_name(p->kind)).str());
  return Status();
}

Result<detail::LinearCall> linear_call_of(const qjit_plan* p, const qjit_linear_args* a) {
  QJIT_TRY(check_struct(a, "args", "qjit_linear_args"));
  const bool sq = p->kind == QJIT_PLAN_SMOOTH_QUANT_LINEAR;
  detail::LinearCall c;
  QJIT_ASSIGN_OR_RETURN(c.activation, matrix_of(a->activation, sq ? "act_q" : "activation"));
  QJIT_ASSIGN_OR_RETURN(c.weight, matrix_of(a->weight, "weight_q"));
  QJIT_ASSIGN_OR_RETURN(c.weight_scale, vector_of(a->weight_scale, "weight_scale"));
  QJIT_ASSIGN_OR_RETURN(c.bias, vector_of(a->bias, "bias"));
  QJIT_ASSIGN_OR_RETURN(c.output, matrix_of(a->output, "output"));
  QJIT_ASSIGN_OR_RETURN(c.act_q_scratch, matrix_of(a->act_q_scratch, "act_q_scratch"));
  QJIT_ASSIGN_OR_RETURN(c.act_scale_scratch, vector_of(a->act_scale_scratch, "act_scale_scratch"));
  QJIT_ASSIGN_OR_RETURN(c.pre_quant_scale,
                        vector_of(QJIT_FIELD(a, qjit_linear_args, pre_quant_scale), "pre_quant_scale"));
  QJIT_ASSIGN_OR_RETURN(c.weight_colsum, vector_of(QJIT_FIELD(a, qjit_linear_args, weight_colsum), "weight_colsum"));
  if (sq && (!absent(a->act_q_scratch) || !absent(a->act_scale_scratch)))
    return invalid(
        "act_q_scratch and act_scale_scratch must be absent for a smooth_quant_linear plan (its static "
        "scale is folded into the GEMM)");
  return c;
}

Result<detail::QuantizeCall> quantize_call_of(const qjit_quantize_args* a) {
  QJIT_TRY(check_struct(a, "args", "qjit_quantize_args"));
  detail::QuantizeCall c;
  QJIT_ASSIGN_OR_RETURN(c.input, matrix_of(a->input, "input"));
  QJIT_ASSIGN_OR_RETURN(c.output, matrix_of(a->output, "output"));
  QJIT_ASSIGN_OR_RETURN(c.scale, vector_of(a->scale, "scale"));
  QJIT_ASSIGN_OR_RETURN(c.pre_quant_scale,
                        vector_of(QJIT_FIELD(a, qjit_quantize_args, pre_quant_scale), "pre_quant_scale"));
  QJIT_ASSIGN_OR_RETURN(c.zero_point, vector_of(QJIT_FIELD(a, qjit_quantize_args, zero_point), "zero_point"));
  return c;
}

Result<detail::NormQuantizeCall> norm_call_of(const qjit_norm_quantize_args* a) {
  QJIT_TRY(check_struct(a, "args", "qjit_norm_quantize_args"));
  detail::NormQuantizeCall c;
  QJIT_ASSIGN_OR_RETURN(c.input, matrix_of(a->input, "input"));
  QJIT_ASSIGN_OR_RETURN(c.residual, matrix_of(a->residual, "residual"));
  QJIT_ASSIGN_OR_RETURN(c.residual_out, matrix_of(a->residual_out, "residual_out"));
  QJIT_ASSIGN_OR_RETURN(c.gamma, vector_of(a->gamma, "gamma"));
  QJIT_ASSIGN_OR_RETURN(c.beta, vector_of(a->beta, "beta"));
  QJIT_ASSIGN_OR_RETURN(c.output, matrix_of(a->output, "output"));
  QJIT_ASSIGN_OR_RETURN(c.scale, vector_of(a->scale, "scale"));
  return c;
}

Result<detail::ScaledMatmulCall> scaled_matmul_call_of(const qjit_scaled_matmul_args* a) {
  QJIT_TRY(check_struct(a, "args", "qjit_scaled_matmul_args"));
  detail::ScaledMatmulCall c;
  QJIT_ASSIGN_OR_RETURN(c.act_q, matrix_of(a->act_q, "act_q"));
  QJIT_ASSIGN_OR_RETURN(c.weight_q, matrix_of(a->weight_q, "weight_q"));
  QJIT_ASSIGN_OR_RETURN(c.act_scale, vector_of(a->act_scale, "act_scale"));
  QJIT_ASSIGN_OR_RETURN(c.weight_scale, vector_of(a->weight_scale, "weight_scale"));
  QJIT_ASSIGN_OR_RETURN(c.bias, vector_of(a->bias, "bias"));
  QJIT_ASSIGN_OR_RETURN(c.output, matrix_of(a->output, "output"));
  QJIT_ASSIGN_OR_RETURN(c.act_zero_point,
                        vector_of(QJIT_FIELD(a, qjit_scaled_matmul_args, act_zero_point), "act_zero_point"));
  QJIT_ASSIGN_OR_RETURN(c.weight_colsum,
                        vector_of(QJIT_FIELD(a, qjit_scaled_matmul_args, weight_colsum), "weight_colsum"));
  return c;
}

// A scale tensor of the weight-only linear plan: rank 2 as given, or a rank-1 [S] taken as the column [S, 1].
Result<detail::MatrixView> scale_matrix_of(const qjit_tensor& t, const char* field) {
  if (t.rank != 1) return matrix_of(t, field);
  QJIT_ASSIGN_OR_RETURN(ElementKind kind, element_of(t.element, (std::string(field) + ".element").c_str()));
  if (t.shape[0] > 1 && t.stride[0] != 1)
    return invalid(llvm::formatv("{0}.stride[0] must be 1 for a rank-1 {0}, got {1}", field, t.stride[0]).str());
  return detail::MatrixView{t.data, t.shape[0], 1, 1, 1, kind};
}

Result<detail::WeightOnlyLinearCall> weight_only_call_of(const qjit_weight_only_linear_args* a) {
  QJIT_TRY(check_struct(a, "args", "qjit_weight_only_linear_args"));
  detail::WeightOnlyLinearCall c;
  QJIT_ASSIGN_OR_RETURN(c.activation, matrix_of(a->activation, "activation"));
  QJIT_ASSIGN_OR_RETURN(c.weight, matrix_of(a->weight, "weight"));
  QJIT_ASSIGN_OR_RETURN(c.weight_scale, scale_matrix_of(a->weight_scale, "weight_scale"));
  QJIT_ASSIGN_OR_RETURN(c.zero_point, scale_matrix_of(a->zero_point, "zero_point"));
  QJIT_ASSIGN_OR_RETURN(c.bias, vector_of(a->bias, "bias"));
  QJIT_ASSIGN_OR_RETURN(c.output, matrix_of(a->output, "output"));
  return c;
}

template <class Core>
qjit_plan* new_plan(qjit_plan_kind kind, std::shared_ptr<const Core> core) {
  auto* p = new qjit_plan;
  p->kind = kind;
  if constexpr (std::is_same_v<Core, detail::LinearCore>)
    p->linear = std::move(core);
  else if constexpr (std::is_same_v<Core, detail::NormQuantizeCore>)
    p->norm = std::move(core);
  else if constexpr (std::is_same_v<Core, detail::WeightOnlyLinearCore>)
    p->weight_only = std::move(core);
  else
    p->quantize = std::move(core);
  return p;
}

Stream stream_of(CUstream_st* s) { return Stream(s); }

// A C descriptor as the C++ API prints it (or why it is invalid); never throws.
template <class CDesc>
std::size_t descriptor_string(const CDesc* desc, char* buf, std::size_t capacity) noexcept {
  try {
    auto d = descriptor_of(desc);
    return copy_out(d ? detail::descriptor_text(*d) : "invalid descriptor: " + d.error().message(), buf, capacity);
  } catch (...) {
    return copy_out("", buf, capacity);
  }
}

// ---- cache helpers ----

Result<cache::StoreOptions> options_of(const qjit_cache_location* l) {
  if (l == nullptr) return cache::options_from_environment();
  QJIT_TRY(check_struct(l, "location", "qjit_cache_location"));
  cache::StoreOptions o;
  o.writable_dir = l->writable_dir ? l->writable_dir : "";
  if (l->readonly_dirs != nullptr) {  // ':'-separated, empty parts skipped, as QJIT_CACHE_PATH is parsed
    llvm::SmallVector<llvm::StringRef, 4> parts;
    llvm::StringRef(l->readonly_dirs).split(parts, ':', -1, /*KeepEmpty=*/false);
    for (llvm::StringRef d : parts) o.readonly_dirs.push_back(d.str());
  }
  o.read_only = l->read_only != 0;
  o.max_bytes = l->max_bytes;
  return o;
}

Result<std::shared_ptr<cache::DiskStore>> open_store(const qjit_cache_location* l) {
  QJIT_ASSIGN_OR_RETURN(cache::StoreOptions o, options_of(l));
  return cache::DiskStore::open(std::move(o));
}

void fill_prune(const CachePruneReport& r, qjit_cache_prune_report* out) {
  if (out == nullptr || out->struct_size < sizeof(qjit_cache_prune_report)) return;
  out->removed_entries = r.removed_entries;
  out->removed_bytes = r.removed_bytes;
  out->removed_temp_files = r.removed_temp_files;
  out->kept_entries = r.kept_entries;
  out->kept_bytes = r.kept_bytes;
}

}  // namespace
}  // namespace qjit

using namespace qjit;  // NOLINT: the C entry points below are global by definition

namespace {

// The body every qjit_*_plan_can_implement / _run shares: the plan checked against the entry's family (naming the
// entry point), the C args turned into the plan's call, then `body(call)`.
template <class MakeCall, class Body>
qjit_status plan_entry(const char* name, const qjit_plan* plan, CallFamily family, MakeCall make_call, Body body) {
  return guarded(name, [&]() -> Status {
    QJIT_TRY(check_plan(plan, family, name));
    QJIT_ASSIGN_OR_RETURN(auto call, make_call());
    return body(call);
  });
}

}  // namespace

extern "C" {

uint32_t qjit_abi_version(void) { return QJIT_ABI_VERSION; }
const char* qjit_version_string(void) { return QJIT_VERSION_STRING; }
void qjit_version(int32_t* major, int32_t* minor, int32_t* patch) {
  if (major) *major = QJIT_VERSION_MAJOR;
  if (minor) *minor = QJIT_VERSION_MINOR;
  if (patch) *patch = QJIT_VERSION_PATCH;
}

const char* qjit_status_name(qjit_status code) {
  if (code < QJIT_OK || code > QJIT_INTERNAL) return "?";
  return status_code_name(static_cast<StatusCode>(code)).data();  // NOTE: the names are NUL-terminated literals
}

qjit_status qjit_last_error_code(void) { return t_last_error.code; }
const char* qjit_last_error_message(void) { return t_last_error.message.c_str(); }
size_t qjit_last_error_copy(char* buf, size_t capacity) { return copy_out(t_last_error.message, buf, capacity); }
void qjit_clear_last_error(void) {
  t_last_error.code = QJIT_OK;
  t_last_error.message.clear();
}

size_t qjit_quantized_linear_desc_to_string(const qjit_quantized_linear_desc* desc, char* buf, size_t capacity) {
  return descriptor_string(desc, buf, capacity);
}
size_t qjit_smooth_quant_linear_desc_to_string(const qjit_smooth_quant_linear_desc* desc, char* buf, size_t capacity) {
  return descriptor_string(desc, buf, capacity);
}
size_t qjit_dynamic_range_quantize_desc_to_string(const qjit_dynamic_range_quantize_desc* desc, char* buf,
                                                  size_t capacity) {
  return descriptor_string(desc, buf, capacity);
}
size_t qjit_norm_quantize_desc_to_string(const qjit_norm_quantize_desc* desc, char* buf, size_t capacity) {
  return descriptor_string(desc, buf, capacity);
}

size_t qjit_weight_only_linear_desc_to_string(const qjit_weight_only_linear_desc* desc, char* buf, size_t capacity) {
  return descriptor_string(desc, buf, capacity);
}
size_t qjit_scaled_matmul_desc_to_string(const qjit_scaled_matmul_desc* desc, char* buf, size_t capacity) {
  return descriptor_string(desc, buf, capacity);
}

// ---- plans ----

qjit_status qjit_quantized_linear_plan_select(CUstream_st* stream, const qjit_quantized_linear_desc* desc,
                                              int32_t preference, qjit_plan** out_plan) {
  if (out_plan) *out_plan = nullptr;
  return guarded("qjit_quantized_linear_plan_select", [&]() -> Status {
    if (out_plan == nullptr) return invalid("out_plan must not be NULL");
    QJIT_ASSIGN_OR_RETURN(auto d, descriptor_of(desc));
    QJIT_ASSIGN_OR_RETURN(auto pref, preference_of(preference));
    QJIT_ASSIGN_OR_RETURN(auto core, detail::select_quantized_linear(stream_of(stream), d, pref));
    *out_plan = new_plan(QJIT_PLAN_QUANTIZED_LINEAR, std::move(core));
    return Status();
  });
}

qjit_status qjit_smooth_quant_linear_plan_select(CUstream_st* stream, const qjit_smooth_quant_linear_desc* desc,
                                                 int32_t preference, qjit_plan** out_plan) {
  if (out_plan) *out_plan = nullptr;
  return guarded("qjit_smooth_quant_linear_plan_select", [&]() -> Status {
    if (out_plan == nullptr) return invalid("out_plan must not be NULL");
    QJIT_ASSIGN_OR_RETURN(auto d, descriptor_of(desc));
    QJIT_ASSIGN_OR_RETURN(auto pref, preference_of(preference));
    QJIT_ASSIGN_OR_RETURN(auto core, detail::select_smooth_quant_linear(stream_of(stream), d, pref));
    *out_plan = new_plan(QJIT_PLAN_SMOOTH_QUANT_LINEAR, std::move(core));
    return Status();
  });
}

qjit_status qjit_dynamic_range_quantize_plan_select(CUstream_st* stream, const qjit_dynamic_range_quantize_desc* desc,
                                                    int32_t preference, qjit_plan** out_plan) {
  if (out_plan) *out_plan = nullptr;
  return guarded("qjit_dynamic_range_quantize_plan_select", [&]() -> Status {
    if (out_plan == nullptr) return invalid("out_plan must not be NULL");
    QJIT_ASSIGN_OR_RETURN(auto d, descriptor_of(desc));
    QJIT_ASSIGN_OR_RETURN(auto pref, preference_of(preference));
    QJIT_ASSIGN_OR_RETURN(auto core, detail::select_quantize(stream_of(stream), d, pref));
    *out_plan = new_plan(QJIT_PLAN_DYNAMIC_RANGE_QUANTIZE, std::move(core));
    return Status();
  });
}

qjit_status qjit_norm_quantize_plan_select(CUstream_st* stream, const qjit_norm_quantize_desc* desc,
                                           int32_t preference, qjit_plan** out_plan) {
  if (out_plan) *out_plan = nullptr;
  return guarded("qjit_norm_quantize_plan_select", [&]() -> Status {
    if (out_plan == nullptr) return invalid("out_plan must not be NULL");
    QJIT_ASSIGN_OR_RETURN(auto d, descriptor_of(desc));
    QJIT_ASSIGN_OR_RETURN(auto pref, preference_of(preference));
    QJIT_ASSIGN_OR_RETURN(auto core, detail::select_norm_quantize(stream_of(stream), d, pref));
    *out_plan = new_plan(d.norm == NormKind::RmsNorm ? QJIT_PLAN_RMS_NORM_QUANTIZE : QJIT_PLAN_LAYER_NORM_QUANTIZE,
                         std::move(core));
    return Status();
  });
}

qjit_status qjit_scaled_matmul_plan_select(CUstream_st* stream, const qjit_scaled_matmul_desc* desc, int32_t preference,
                                           qjit_plan** out_plan) {
  if (out_plan) *out_plan = nullptr;
  return guarded("qjit_scaled_matmul_plan_select", [&]() -> Status {
    if (out_plan == nullptr) return invalid("out_plan must not be NULL");
    QJIT_ASSIGN_OR_RETURN(auto d, descriptor_of(desc));
    QJIT_ASSIGN_OR_RETURN(auto pref, preference_of(preference));
    QJIT_ASSIGN_OR_RETURN(auto core, detail::select_scaled_matmul(stream_of(stream), d, pref));
    *out_plan = new_plan(QJIT_PLAN_SCALED_MATMUL, std::move(core));
    return Status();
  });
}

qjit_status qjit_weight_only_linear_plan_select(CUstream_st* stream, const qjit_weight_only_linear_desc* desc,
                                               int32_t preference, qjit_plan** out_plan) {
  if (out_plan) *out_plan = nullptr;
  return guarded("qjit_weight_only_linear_plan_select", [&]() -> Status {
    if (out_plan == nullptr) return invalid("out_plan must not be NULL");
    QJIT_ASSIGN_OR_RETURN(auto d, descriptor_of(desc));
    QJIT_ASSIGN_OR_RETURN(auto pref, preference_of(preference));
    QJIT_ASSIGN_OR_RETURN(auto core, detail::select_weight_only_linear(stream_of(stream), d, pref));
    *out_plan = new_plan(QJIT_PLAN_WEIGHT_ONLY_LINEAR, std::move(core));
    return Status();
  });
}

void qjit_plan_release(qjit_plan* plan) {
  if (plan != nullptr && plan->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete plan;
}

qjit_plan* qjit_plan_retain(qjit_plan* plan) {
  if (plan != nullptr) plan->refs.fetch_add(1, std::memory_order_relaxed);
  return plan;
}

qjit_plan_kind qjit_plan_get_kind(const qjit_plan* plan) {
  return plan != nullptr ? plan->kind : static_cast<qjit_plan_kind>(0);
}

qjit_status qjit_plan_workspace_size(const qjit_plan* plan, size_t* out_bytes) {
  return guarded("qjit_plan_workspace_size", [&]() -> Status {
    if (plan == nullptr) return invalid("plan must not be NULL");
    if (out_bytes == nullptr) return invalid("out_bytes must not be NULL");
    *out_bytes = plan->linear        ? detail::workspace_size(*plan->linear)
                 : plan->norm        ? detail::workspace_size(*plan->norm)
                 : plan->weight_only ? detail::workspace_size(*plan->weight_only)
                                     : detail::workspace_size(*plan->quantize);
    return Status();
  });
}

qjit_status qjit_plan_workspace_size_for_m(const qjit_plan* plan, int64_t m, size_t* out_bytes) {
  return guarded("qjit_plan_workspace_size_for_m", [&]() -> Status {
    // NOTE: M first (a scalar, checkable with no plan), and bounded as run bounds it: past 2^31 the families' tile
    // products overflow and a wrapped (small) size would come back for an M no run accepts anyway.
    if (m < 1 || m >= (int64_t{1} << 31)) return invalid(llvm::formatv("m must be in [1, 2^31), got {0}", m).str());
    if (plan == nullptr) return invalid("plan must not be NULL");
    if (out_bytes == nullptr) return invalid("out_bytes must not be NULL");
    *out_bytes = plan->linear        ? detail::workspace_size(*plan->linear, m)
                 : plan->norm        ? detail::workspace_size(*plan->norm)
                 : plan->weight_only ? detail::workspace_size(*plan->weight_only, m)
                                     : detail::workspace_size(*plan->quantize);
    return Status();
  });
}

qjit_status qjit_plan_precision_guarantee(const qjit_plan* plan, qjit_precision_guarantee* out) {
  return guarded("qjit_plan_precision_guarantee", [&]() -> Status {
    if (plan == nullptr) return invalid("plan must not be NULL");
    QJIT_TRY(check_struct(out, "out", "qjit_precision_guarantee"));
    const PrecisionGuarantee g = plan->linear        ? detail::precision_guarantee(*plan->linear)
                                 : plan->norm        ? detail::precision_guarantee(*plan->norm)
                                 : plan->weight_only ? detail::precision_guarantee(*plan->weight_only)
                                                     : detail::precision_guarantee(*plan->quantize);
    out->deterministic = g.deterministic ? 1 : 0;
    out->exact_accumulation = g.exact_accumulation ? 1 : 0;
    out->epilogue_relative_error = g.epilogue_relative_error;
    out->description = g.description.data();  // NOTE: the plans' descriptions are NUL-terminated literals
    return Status();
  });
}

size_t qjit_plan_describe(const qjit_plan* plan, char* buf, size_t capacity) {
  try {
    if (plan == nullptr) return copy_out("", buf, capacity);
    return copy_out(plan->linear        ? detail::describe(*plan->linear)
                    : plan->norm        ? detail::describe(*plan->norm)
                    : plan->weight_only ? detail::describe(*plan->weight_only)
                                        : detail::describe(*plan->quantize),
                    buf, capacity);
  } catch (...) {
    return copy_out("", buf, capacity);
  }
}

qjit_status qjit_linear_plan_can_implement(const qjit_plan* plan, const qjit_linear_args* args) {
  return plan_entry(
      "qjit_linear_plan_can_implement", plan, CallFamily::Linear, [&] { return linear_call_of(plan, args); },
      [&](const auto& call) { return detail::can_implement(*plan->linear, call); });
}

qjit_status qjit_linear_plan_run(const qjit_plan* plan, CUstream_st* stream, void* workspace, size_t workspace_bytes,
                                 const qjit_linear_args* args) {
  return plan_entry(
      "qjit_linear_plan_run", plan, CallFamily::Linear, [&] { return linear_call_of(plan, args); },
      [&](const auto& call) {
        return detail::run(*plan->linear, stream_of(stream), Workspace{workspace, workspace_bytes}, call);
      });
}

qjit_status qjit_quantize_plan_can_implement(const qjit_plan* plan, const qjit_quantize_args* args) {
  return plan_entry(
      "qjit_quantize_plan_can_implement", plan, CallFamily::Quantize, [&] { return quantize_call_of(args); },
      [&](const auto& call) { return detail::can_implement(*plan->quantize, call); });
}

qjit_status qjit_quantize_plan_run(const qjit_plan* plan, CUstream_st* stream, void* workspace, size_t workspace_bytes,
                                   const qjit_quantize_args* args) {
  return plan_entry(
      "qjit_quantize_plan_run", plan, CallFamily::Quantize, [&] { return quantize_call_of(args); },
      [&](const auto& call) {
        return detail::run(*plan->quantize, stream_of(stream), Workspace{workspace, workspace_bytes}, call);
      });
}

qjit_status qjit_norm_quantize_plan_can_implement(const qjit_plan* plan, const qjit_norm_quantize_args* args) {
  return plan_entry(
      "qjit_norm_quantize_plan_can_implement", plan, CallFamily::NormQuantize, [&] { return norm_call_of(args); },
      [&](const auto& call) { return detail::can_implement(*plan->norm, call); });
}

qjit_status qjit_norm_quantize_plan_run(const qjit_plan* plan, CUstream_st* stream, void* workspace,
                                        size_t workspace_bytes, const qjit_norm_quantize_args* args) {
  return plan_entry(
      "qjit_norm_quantize_plan_run", plan, CallFamily::NormQuantize, [&] { return norm_call_of(args); },
      [&](const auto& call) {
        return detail::run(*plan->norm, stream_of(stream), Workspace{workspace, workspace_bytes}, call);
      });
}

qjit_status qjit_weight_only_linear_plan_can_implement(const qjit_plan* plan,
                                                       const qjit_weight_only_linear_args* args) {
  return plan_entry(
      "qjit_weight_only_linear_plan_can_implement", plan, CallFamily::WeightOnlyLinear,
      [&] { return weight_only_call_of(args); },
      [&](const auto& call) { return detail::can_implement(*plan->weight_only, call); });
}

qjit_status qjit_weight_only_linear_plan_run(const qjit_plan* plan, CUstream_st* stream, void* workspace,
                                             size_t workspace_bytes, const qjit_weight_only_linear_args* args) {
  return plan_entry(
      "qjit_weight_only_linear_plan_run", plan, CallFamily::WeightOnlyLinear, [&] { return weight_only_call_of(args); },
      [&](const auto& call) {
        return detail::run(*plan->weight_only, stream_of(stream), Workspace{workspace, workspace_bytes}, call);
      });
}

qjit_status qjit_scaled_matmul_plan_can_implement(const qjit_plan* plan, const qjit_scaled_matmul_args* args) {
  return plan_entry(
      "qjit_scaled_matmul_plan_can_implement", plan, CallFamily::ScaledMatmul,
      [&] { return scaled_matmul_call_of(args); },
      [&](const auto& call) { return detail::can_implement(*plan->linear, call); });
}

qjit_status qjit_scaled_matmul_plan_run(const qjit_plan* plan, CUstream_st* stream, void* workspace,
                                        size_t workspace_bytes, const qjit_scaled_matmul_args* args) {
  return plan_entry(
      "qjit_scaled_matmul_plan_run", plan, CallFamily::ScaledMatmul, [&] { return scaled_matmul_call_of(args); },
      [&](const auto& call) {
        return detail::run(*plan->linear, stream_of(stream), Workspace{workspace, workspace_bytes}, call);
      });
}

qjit_status qjit_weight_colsum(const int8_t* weight, int64_t n, int64_t k, int64_t row_stride, int32_t* colsum) {
  return guarded("qjit_weight_colsum", [&]() -> Status {
    if (n < 1 || n >= (int64_t{1} << 31)) return invalid(llvm::formatv("n must be in [1, 2^31), got {0}", n).str());
    if (k < 1 || k > (int64_t{1} << 24))
      return invalid(llvm::formatv("k must be in [1, 2^24] (an exact int32 sum), got {0}", k).str());
    if (row_stride < k)
      return invalid(llvm::formatv("row_stride must be >= k = {0}, got {1}", k, row_stride).str());
    if (weight == nullptr) return invalid("weight must be a non-NULL host pointer to n rows of row_stride int8");
    if (colsum == nullptr) return invalid("colsum must be a non-NULL host pointer to n int32");
    for (int64_t i = 0; i < n; ++i) {
      const int8_t* row = weight + i * row_stride;
      int32_t s = 0;
      for (int64_t t = 0; t < k; ++t) s += row[t];
      colsum[i] = s;
    }
    return Status();
  });
}

qjit_status qjit_pad_int8_rows(CUstream_st* stream, const int8_t* src, int64_t rows, int64_t cols,
                               int64_t src_row_stride, int8_t* dst, int64_t dst_row_stride) {
  return guarded("qjit_pad_int8_rows", [&]() -> Status {
    constexpr int64_t kMax = int64_t{1} << 31;
    if (rows < 1 || rows >= kMax) return invalid(llvm::formatv("rows must be in [1, 2^31), got {0}", rows).str());
    if (cols < 1 || cols >= kMax) return invalid(llvm::formatv("cols must be in [1, 2^31), got {0}", cols).str());
    if (src == nullptr) return invalid("src must be a non-NULL device pointer to rows of src_row_stride int8");
    if (rows > 1 && src_row_stride < cols)
      return invalid(llvm::formatv("src_row_stride must be >= cols = {0}, got {1}", cols, src_row_stride).str());
    if (dst == nullptr) return invalid("dst must be a non-NULL device pointer to rows * dst_row_stride int8");
    if (reinterpret_cast<std::uintptr_t>(dst) % 16 != 0)
      return invalid(llvm::formatv("dst must be 16-byte aligned (the Hopper kernel's TMA reads it), got {0}",
                                   static_cast<const void*>(dst))
                         .str());
    if (dst_row_stride < cols || dst_row_stride % 16 != 0)
      return invalid(llvm::formatv("dst_row_stride must be >= cols = {0} and a multiple of 16 (best "
                                   "qjit::preferred_row_stride(cols) = {1}), got {2}",
                                   cols, preferred_row_stride(cols), dst_row_stride)
                         .str());
    return ops::stage_rows(src, src_row_stride, dst, dst_row_stride, rows, cols, stream, "src");
  });
}

// ---- cache ----

qjit_status qjit_cache_location_from_environment(char* writable_dir, size_t writable_capacity, size_t* writable_needed,
                                                 char* readonly_dirs, size_t readonly_capacity, size_t* readonly_needed,
                                                 int32_t* read_only, uint64_t* max_bytes) {
  return guarded("qjit_cache_location_from_environment", [&]() -> Status {
    QJIT_ASSIGN_OR_RETURN(cache::StoreOptions o, cache::options_from_environment());
    std::string joined;
    for (const auto& d : o.readonly_dirs) {
      if (!joined.empty()) joined += ':';
      joined += d;
    }
    const std::size_t wn = copy_out(o.writable_dir, writable_dir, writable_capacity);
    const std::size_t rn = copy_out(joined, readonly_dirs, readonly_capacity);
    if (writable_needed) *writable_needed = wn;
    if (readonly_needed) *readonly_needed = rn;
    if (read_only) *read_only = o.read_only ? 1 : 0;
    if (max_bytes) *max_bytes = o.max_bytes;
    return Status();
  });
}

qjit_status qjit_cache_stats_get(const qjit_cache_location* location, qjit_cache_stats* out,
                                 qjit_cache_store_callback on_store, void* user) {
  return guarded("qjit_cache_stats_get", [&]() -> Status {
    QJIT_TRY(check_struct(out, "out", "qjit_cache_stats"));
    QJIT_ASSIGN_OR_RETURN(auto store, open_store(location));
    QJIT_ASSIGN_OR_RETURN(CacheStats s, store->stats());
    out->entries = s.entries;
    out->bytes = s.bytes;
    out->max_bytes = s.max_bytes;
    out->stores = s.stores.size();
    out->temp_files = 0;
    for (const auto& st : s.stores) {
      out->temp_files += st.temp_files;
      if (on_store == nullptr) continue;
      const qjit_cache_store_info info{sizeof(qjit_cache_store_info),
                                       st.dir.c_str(),
                                       st.read_only ? 1 : 0,
                                       st.present ? 1 : 0,
                                       st.entries,
                                       st.bytes,
                                       st.temp_files};
      if (on_store(&info, user) != 0) on_store = nullptr;  // the caller stopped the walk; totals still filled
    }
    return Status();
  });
}

qjit_status qjit_cache_list(const qjit_cache_location* location, uint32_t flags, qjit_cache_entry_callback on_entry,
                            void* user) {
  return guarded("qjit_cache_list", [&]() -> Status {
    if ((flags & ~(QJIT_CACHE_VERIFY | QJIT_CACHE_REMOVE_BAD)) != 0 ||
        ((flags & QJIT_CACHE_REMOVE_BAD) != 0 && (flags & QJIT_CACHE_VERIFY) == 0))
      return invalid(llvm::formatv("flags must be 0, QJIT_CACHE_VERIFY, or QJIT_CACHE_VERIFY | QJIT_CACHE_REMOVE_BAD, "
                                   "got {0}",
                                   flags)
                         .str());
    QJIT_ASSIGN_OR_RETURN(auto store, open_store(location));
    std::vector<CacheEntryReport> entries;
    if ((flags & QJIT_CACHE_VERIFY) != 0) {
      QJIT_ASSIGN_OR_RETURN(entries, store->verify((flags & QJIT_CACHE_REMOVE_BAD) != 0));
    } else {
      QJIT_ASSIGN_OR_RETURN(entries, store->list());
    }
    if (on_entry == nullptr) return Status();
    for (const auto& e : entries) {
      const qjit_cache_entry_info info{sizeof(qjit_cache_entry_info),
                                       e.path.c_str(),
                                       e.key_hex.c_str(),
                                       e.store_dir.c_str(),
                                       e.read_only_store ? 1 : 0,
                                       e.bytes,
                                       e.last_used,
                                       e.entry_name.c_str(),
                                       e.arch.c_str(),
                                       e.nvrtc_version.c_str(),
                                       e.registers,
                                       e.shared_bytes,
                                       e.compile_seconds,
                                       e.ok ? 1 : 0,
                                       e.problem.c_str()};
      if (on_entry(&info, user) != 0) break;
    }
    return Status();
  });
}

qjit_status qjit_cache_prune(const qjit_cache_location* location, uint64_t max_bytes, qjit_cache_prune_report* out) {
  return guarded("qjit_cache_prune", [&]() -> Status {
    QJIT_ASSIGN_OR_RETURN(auto store, open_store(location));
    QJIT_ASSIGN_OR_RETURN(CachePruneReport r, store->prune(max_bytes));
    fill_prune(r, out);
    return Status();
  });
}

qjit_status qjit_cache_clear(const qjit_cache_location* location, qjit_cache_prune_report* out) {
  return guarded("qjit_cache_clear", [&]() -> Status {
    QJIT_ASSIGN_OR_RETURN(auto store, open_store(location));
    QJIT_ASSIGN_OR_RETURN(CachePruneReport r, store->clear());
    fill_prune(r, out);
    return Status();
  });
}

// ---- warm-up ----

qjit_status qjit_warmup(const qjit_warmup_request* request, qjit_warmup_report* out) {
  return guarded("qjit_warmup", [&]() -> Status {
    QJIT_TRY(check_struct(request, "request", "qjit_warmup_request"));
    const qjit_warmup_request& r = *request;
    ops::WarmupRequest w;
    QJIT_ASSIGN_OR_RETURN(w.arch, ops::parse_target_arch(r.arch ? r.arch : ""));
    if (r.shape_count == 0 || r.shapes == nullptr) return invalid("request->shapes must hold at least one shape");
    if (r.m_count == 0 || r.ms == nullptr) return invalid("request->ms must hold at least one M");
    std::vector<autotune::LayerShape> shapes;
    for (std::size_t i = 0; i < r.shape_count; ++i) {
      if (r.shapes[i].n < 1 || r.shapes[i].k < 1)
        return invalid(llvm::formatv("request->shapes[{0}] must have N, K >= 1, got N = {1}, K = {2}", i, r.shapes[i].n,
                                     r.shapes[i].k)
                           .str());
      shapes.push_back({"c-api", llvm::formatv("shape{0}", i).str(), r.shapes[i].n, r.shapes[i].k});
    }
    std::vector<std::int64_t> ms(r.ms, r.ms + r.m_count);
    for (std::size_t i = 0; i < ms.size(); ++i)
      if (ms[i] < 1) return invalid(llvm::formatv("request->ms[{0}] must be >= 1, got {1}", i, ms[i]).str());
    w.items = autotune::work_items(shapes, ms);
    if ((r.plans & ~(QJIT_WARMUP_QUANTIZED_LINEAR | QJIT_WARMUP_SMOOTH_QUANT_LINEAR | QJIT_WARMUP_RMS_NORM_QUANTIZE |
                     QJIT_WARMUP_LAYER_NORM_QUANTIZE | QJIT_WARMUP_SCALED_MATMUL | QJIT_WARMUP_WEIGHT_ONLY_LINEAR |
                     QJIT_WARMUP_ASYMMETRIC)) != 0)
      return invalid(
          llvm::formatv("request->plans must be a combination of QJIT_WARMUP_* plan bits, got {0}", r.plans).str());
    w.plans.clear();
    if (r.plans == 0 || (r.plans & QJIT_WARMUP_QUANTIZED_LINEAR)) w.plans.push_back(ops::WarmupPlan::QuantizedLinear);
    if (r.plans == 0 || (r.plans & QJIT_WARMUP_SMOOTH_QUANT_LINEAR)) w.plans.push_back(ops::WarmupPlan::SmoothQuant);
    if (r.plans & QJIT_WARMUP_RMS_NORM_QUANTIZE) w.plans.push_back(ops::WarmupPlan::RmsNormQuantize);
    if (r.plans & QJIT_WARMUP_LAYER_NORM_QUANTIZE) w.plans.push_back(ops::WarmupPlan::LayerNormQuantize);
    if (r.plans & QJIT_WARMUP_SCALED_MATMUL) w.plans.push_back(ops::WarmupPlan::ScaledMatmul);
    if (r.plans & QJIT_WARMUP_WEIGHT_ONLY_LINEAR) w.plans.push_back(ops::WarmupPlan::WeightOnlyLinear);
    if (r.plans & QJIT_WARMUP_ASYMMETRIC) w.plans.push_back(ops::WarmupPlan::Asymmetric);
    QJIT_ASSIGN_OR_RETURN(w.dtype, element_of(r.dtype, "request->dtype"));
    if (!is_floating(w.dtype))
      return invalid(
          llvm::formatv("request->dtype must be f16, bf16, f32 or f64, got {0}", element_name(w.dtype)).str());
    if ((r.bias_modes & ~(QJIT_WARMUP_NO_BIAS | QJIT_WARMUP_BIAS)) != 0)
      return invalid(llvm::formatv("request->bias_modes must be a combination of QJIT_WARMUP_NO_BIAS and "
                                   "QJIT_WARMUP_BIAS, got {0}",
                                   r.bias_modes)
                         .str());
    w.bias_modes.clear();
    if (r.bias_modes == 0 || (r.bias_modes & QJIT_WARMUP_NO_BIAS)) w.bias_modes.push_back(false);
    if (r.bias_modes & QJIT_WARMUP_BIAS) w.bias_modes.push_back(true);
    const std::uint32_t smooth = QJIT_FIELD(request, qjit_warmup_request, smooth_modes);
    if ((smooth & ~(QJIT_WARMUP_NO_SMOOTH | QJIT_WARMUP_SMOOTH)) != 0)
      return invalid(llvm::formatv("request->smooth_modes must be a combination of QJIT_WARMUP_NO_SMOOTH and "
                                   "QJIT_WARMUP_SMOOTH, got {0}",
                                   smooth)
                         .str());
    w.smooth_modes.clear();
    if (smooth == 0 || (smooth & QJIT_WARMUP_NO_SMOOTH)) w.smooth_modes.push_back(false);
    if (smooth & QJIT_WARMUP_SMOOTH) w.smooth_modes.push_back(true);
    std::optional<autotune::TuningDb> db;
    if (r.tuning_db_path != nullptr && *r.tuning_db_path != '\0') {
      QJIT_ASSIGN_OR_RETURN(db, autotune::TuningDb::load(r.tuning_db_path));
      std::optional<std::string> device;
      if (r.device_name != nullptr && *r.device_name != '\0') device = r.device_name;
      std::optional<int> sm;
      if (r.sm_count > 0) sm = r.sm_count;
      QJIT_ASSIGN_OR_RETURN(auto picked, ops::pick_tuning_device(*db, device, sm));
      w.tuning_db = &*db;
      w.device_name = picked.first;
      if (picked.second > 0) w.sm_count = picked.second;
    }
    if (r.sm_count > 0) w.sm_count = r.sm_count;
    w.jobs = r.jobs;
    QJIT_ASSIGN_OR_RETURN(ops::WarmupReport rep, ops::run_warmup(w));
    if (out != nullptr && out->struct_size >= sizeof(qjit_warmup_report)) {
      out->kernel_requests = rep.kernel_requests;
      out->kernels = rep.kernels.size();
      out->cached = rep.cached;
      out->compiled = rep.compiled;
      out->failed = rep.failed;
      out->tuned = rep.tuned;
      out->wall_seconds = rep.wall_seconds;
    }
    if (rep.failed == 0) return Status();
    for (const auto& k : rep.kernels)
      if (k.outcome == ops::WarmupOutcome::Failed)
        return Status(k.error.ok() ? StatusCode::CacheIo : k.error.code(),
                      llvm::formatv("{0} of {1} kernels are not in the cache; the first ({2}): {3}", rep.failed,
                                    rep.kernels.size(), k.used_by, k.error.message())
                          .str());
    return Status(StatusCode::CacheIo, llvm::formatv("{0} kernels are not in the cache", rep.failed).str());
  });
}

}  // extern "C"
