/* qjit's C ABI: the only interface libqjit.so exports. Every language qjit serves sits on it: the C++ headers
 * (header-only wrappers in include/qjit/), the Python package (ctypes) and the Rust crate (hand-written extern "C").
 *
 * Rules of the boundary:
 *  - C99, no C++ type and no exception crosses it; every function is thread-safe.
 *  - Every fallible call returns a qjit_status; QJIT_OK is 0. On failure the message (the same text the C++ API
 *    gives, e.g. "activation.shape must be [M=16, K=256], got [16, 257]") is kept per thread until that thread's
 *    next failing qjit call: qjit_last_error_message() / qjit_last_error_copy().
 *  - Structs a caller passes in start with `struct_size` (set it to sizeof the struct you were compiled with):
 *    later versions append fields, and a library older or newer than the caller reads only what both know:
 *    a field past the caller's struct_size reads as 0 / absent. A struct_size smaller than the struct's first
 *    form (the fields up to the first one marked "appended") is refused as InvalidArgument.
 *  - Plans are opaque, immutable after select and safe to run from several threads at once; release them with
 *    qjit_plan_release (a plan's kernels stay loaded in the library's cache for other plans).
 *  - Device pointers and streams are the caller's: qjit never allocates, frees or synchronises them.
 *  - Strings returned through (buf, capacity): up to capacity-1 bytes are copied and NUL-terminated (buf may be
 *    NULL when capacity is 0); the size_t returned (or stored in *needed) is the full length INCLUDING the NUL, so
 *    a caller can size a second call.
 */
#ifndef QJIT_QJIT_C_H_
#define QJIT_QJIT_C_H_

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define QJIT_API __attribute__((visibility("default")))
#else
#define QJIT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI this header describes. qjit_abi_version() returns the library's; a library accepts callers of its own
 * ABI version and older ones. */
#define QJIT_ABI_VERSION 1

/* CUDA's stream type, spelled without a typedef so this header coexists with cuda.h (CUstream is
 * `struct CUstream_st*`). NULL is the legacy default stream. */
struct CUstream_st;

typedef enum qjit_status {
  QJIT_OK = 0,
  QJIT_INVALID_ARGUMENT = 1,     /* a caller-supplied value is wrong (shape, pointer, alignment, dtype, NaN) */
  QJIT_UNSUPPORTED = 2,          /* a valid request this build or device cannot serve */
  QJIT_COMPILE_FAILED = 3,       /* NVRTC rejected the rendered source; the message carries the log */
  QJIT_DRIVER_ERROR = 4,         /* a CUDA driver call failed; the message names the call and the CUresult */
  QJIT_DRIVER_UNAVAILABLE = 5,   /* libcuda could not be loaded or has no usable device */
  QJIT_COMPILER_UNAVAILABLE = 6, /* libnvrtc could not be loaded (a warm cache still works without it) */
  QJIT_CACHE_IO = 7,             /* the kernel cache could not be read or written */
  QJIT_OUT_OF_RESOURCES = 8,     /* the kernel needs more registers / shared memory than the device has */
  QJIT_NOT_FOUND = 9,            /* a looked-up entry does not exist */
  QJIT_INTERNAL = 10             /* a bug in qjit (an unexpected exception); the message says where */
} qjit_status;

typedef enum qjit_element {
  QJIT_F16 = 0,
  QJIT_BF16 = 1,
  QJIT_F32 = 2,
  QJIT_F64 = 3,
  QJIT_S8 = 4,
  QJIT_U8 = 5,
  QJIT_S32 = 6
} qjit_element;

typedef enum qjit_preference {
  QJIT_PREF_HEURISTIC = 0, /* the built-in choice per M bucket; no device timing */
  QJIT_PREF_TUNED = 1,     /* the tuning database's record for this device and shape, else the heuristic */
  QJIT_PREF_AUTOTUNE = 2   /* time the candidates on this device now (and record the winner) */
} qjit_preference;

typedef enum qjit_granularity { QJIT_PER_TOKEN = 0, QJIT_PER_TENSOR = 1 } qjit_granularity;

typedef enum qjit_plan_kind {
  QJIT_PLAN_QUANTIZED_LINEAR = 1,
  QJIT_PLAN_SMOOTH_QUANT_LINEAR = 2,
  QJIT_PLAN_DYNAMIC_RANGE_QUANTIZE = 3,
  QJIT_PLAN_RMS_NORM_QUANTIZE = 4,  /* qjit_norm_quantize_plan_select with norm = QJIT_RMS_NORM */
  QJIT_PLAN_LAYER_NORM_QUANTIZE = 5, /* ... with norm = QJIT_LAYER_NORM */
  QJIT_PLAN_SCALED_MATMUL = 6,
  QJIT_PLAN_WEIGHT_ONLY_LINEAR = 7
} qjit_plan_kind;

typedef enum qjit_norm_kind { QJIT_RMS_NORM = 0, QJIT_LAYER_NORM = 1 } qjit_norm_kind;

/* ScaledMatmul's scale modes: the activation's scale per token ([M] f32) or per tensor ([1] f32, in device memory);
 * the weight's per output channel ([N] f32) or per tensor ([1] f32, in device memory). */
typedef enum qjit_act_scale_mode { QJIT_ACT_SCALE_PER_TOKEN = 0, QJIT_ACT_SCALE_PER_TENSOR = 1 } qjit_act_scale_mode;
typedef enum qjit_weight_scale_mode {
  QJIT_WEIGHT_SCALE_PER_CHANNEL = 0,
  QJIT_WEIGHT_SCALE_PER_TENSOR = 1,
  QJIT_WEIGHT_SCALE_PER_GROUP = 2 /* the weight-only linear plan only: [N, ceil(K / group_size)] */
} qjit_weight_scale_mode;

/* ---- versions and errors ---------------------------------------------------------------------------------- */

QJIT_API uint32_t qjit_abi_version(void);
QJIT_API const char* qjit_version_string(void); /* "0.1.0"; static storage */
QJIT_API void qjit_version(int32_t* major, int32_t* minor, int32_t* patch);
QJIT_API const char* qjit_status_name(qjit_status code); /* "InvalidArgument"; static storage; "?" if unknown */

/* The calling thread's last failure: its code (QJIT_OK when none yet) and message (valid until this thread's next
 * qjit call that fails; "" when none). */
QJIT_API qjit_status qjit_last_error_code(void);
QJIT_API const char* qjit_last_error_message(void);
QJIT_API size_t qjit_last_error_copy(char* buf, size_t capacity);
QJIT_API void qjit_clear_last_error(void);

/* ---- tensors -------------------------------------------------------------------------------------------------
 * A non-owning view of device memory: element kind, rank 1 or 2, shape and strides in elements (the innermost
 * stride must be 1). An absent optional tensor has data == NULL and rank 0 (an all-zero struct). */
typedef struct qjit_tensor {
  const void* data;
  int32_t element; /* qjit_element */
  int32_t rank;    /* 1 or 2 (0: absent) */
  int64_t shape[4];
  int64_t stride[4];
} qjit_tensor;

/* ---- descriptors ---------------------------------------------------------------------------------------------- */

typedef struct qjit_quantized_linear_desc {
  uint32_t struct_size;       /* sizeof(qjit_quantized_linear_desc) */
  int64_t m;                  /* tokens: chooses the tuning bucket; run accepts any M >= 1 */
  int64_t n;                  /* output features (rows of weight_q) */
  int64_t k;                  /* input features */
  int32_t activation_element; /* f16, bf16, f32 or f64; equal to output_element */
  int32_t weight_element;     /* QJIT_S8 */
  int32_t output_element;
  int32_t has_bias;
  /* Appended in 0.1.0 (a struct_size without it reads as 0): the quantize pass multiplies x by the linear args'
   * pre_quant_scale [K] = 1/s first (SmoothQuant), so weight must be W * diag(s) (`qjit quantize` writes both). */
  int32_t has_smooth;
  /* Appended (absent = 0): asymmetric per-token activations. The quantize pass writes s8 codes, scales and zero
   * points (in the workspace), and the GEMM computes act_scale[m] * weight_scale[n] * (acc - zp[m] * colsum[n]) (+
   * bias); the linear args' weight_colsum [N] s32 is required (qjit_weight_colsum, or `qjit quantize
   * --weight-colsum`). */
  int32_t asymmetric;
} qjit_quantized_linear_desc;

typedef struct qjit_smooth_quant_linear_desc {
  uint32_t struct_size; /* sizeof(qjit_smooth_quant_linear_desc) */
  int64_t m, n, k;
  float act_scale;            /* static per-tensor activation scale (real = q * act_scale), finite and > 0 */
  int32_t activation_element; /* QJIT_S8 */
  int32_t weight_element;     /* QJIT_S8 */
  int32_t output_element;     /* f16, bf16, f32 or f64 */
  int32_t has_bias;
} qjit_smooth_quant_linear_desc;

typedef struct qjit_dynamic_range_quantize_desc {
  uint32_t struct_size; /* sizeof(qjit_dynamic_range_quantize_desc) */
  int64_t m, k;
  int32_t input_element; /* f16, bf16, f32 or f64 */
  int32_t granularity;   /* qjit_granularity */
  int32_t has_smooth;    /* appended (absent = 0): multiply x by the args' pre_quant_scale [K] before quantizing */
  /* Appended (absent = 0): asymmetric per-token quantization (QJIT_PER_TOKEN only): scale[m] = (hi - lo) / 255 with
   * lo = min(0, min x), hi = max(0, max x), zero_point[m] = rni(-lo / scale), q = clamp(rni(x / scale) + zp, 0, 255)
   * stored as output_element QJIT_U8, or QJIT_S8 with q - 128 and zero_point - 128 (what the azp GEMM reads). */
  int32_t asymmetric;
  int32_t output_element; /* with asymmetric: QJIT_U8 or QJIT_S8; otherwise ignored (the codes are s8) */
} qjit_dynamic_range_quantize_desc;

/* RMSNorm or LayerNorm fused with int8 quantization: h = x (+ residual, rounded to the input type and written to
 * residual_out), v = norm(h) * gamma (+ beta) in f32, q = round-half-even(v / scale) saturated, with scale[m] =
 * absmax(v[m, :]) / 127 per token (granularity QJIT_PER_TOKEN; bit for bit what the dynamic-range quantize plan does
 * to the same f32 v) or the descriptor's static_scale (QJIT_PER_TENSOR). */
typedef struct qjit_norm_quantize_desc {
  uint32_t struct_size; /* sizeof(qjit_norm_quantize_desc) */
  int64_t m, k;
  int32_t norm;          /* qjit_norm_kind */
  int32_t input_element; /* f16, bf16 or f32: x, residual, residual_out, gamma and beta */
  int32_t granularity;   /* QJIT_PER_TOKEN: dynamic per-token scales; QJIT_PER_TENSOR: static_scale */
  int32_t has_residual;  /* add the args' residual first and write the sum to residual_out */
  float eps;             /* finite, >= 0: added to the mean square (RMSNorm) or the variance (LayerNorm) */
  float static_scale;    /* QJIT_PER_TENSOR: finite and > 0 (real = q * static_scale); QJIT_PER_TOKEN: 0 */
} qjit_norm_quantize_desc;
/* The scaled int8 GEMM an engine with its own quantization calls (vLLM's cutlass_scaled_mm):
 * output[m, n] = act_scale[m | 0] * weight_scale[n | 0] * sum_k act_q[m, k] * weight_q[n, k] (+ bias[n]). */
typedef struct qjit_scaled_matmul_desc {
  uint32_t struct_size;       /* sizeof(qjit_scaled_matmul_desc) */
  int64_t m, n, k;            /* m chooses the tuning bucket; run accepts any M >= 1 */
  int32_t activation_element; /* QJIT_S8 */
  int32_t weight_element;     /* QJIT_S8 */
  int32_t output_element;     /* f16, bf16 or f32 (bias has the same element) */
  int32_t has_bias;
  int32_t act_scale;    /* qjit_act_scale_mode */
  int32_t weight_scale; /* qjit_weight_scale_mode */
  /* Appended (absent = 0): act_q has a per-token zero point (asymmetric activations, s8 codes): output = act_scale[m]
   * * weight_scale[n | 0] * (acc - act_zero_point[m] * weight_colsum[n]) (+ bias[n]); needs QJIT_ACT_SCALE_PER_TOKEN.
   */
  int32_t has_act_zero_point;
} qjit_scaled_matmul_desc;

/* Weight-only int8 linear (W8A16, the seed's QuantizedLinear): output[m, n] = RN(sum_k activation[m, k] * w[n, k]
 * (+ bias[n])), w = RN_act(RN_f32((weight[n, k] - zero_point) * weight_scale)), summed in f32. */
typedef struct qjit_weight_only_linear_desc {
  uint32_t struct_size;       /* sizeof(qjit_weight_only_linear_desc) */
  int64_t m, n, k;            /* m chooses the tuning bucket; run accepts any M >= 1 */
  int32_t activation_element; /* f16 or bf16 (bias and output have the same element) */
  int32_t weight_element;     /* QJIT_S8 */
  int32_t output_element;     /* equal to activation_element */
  int32_t has_bias;
  int32_t weight_scale;   /* qjit_weight_scale_mode: per channel [N, 1], per tensor [1, 1], per group [N, ceil(K/g)] */
  int32_t group_size;     /* QJIT_WEIGHT_SCALE_PER_GROUP: 64 or 128; otherwise 0 */
  int32_t has_zero_point; /* int32 zero points of the scales' shape, each in [-2^22, 2^22] */
} qjit_weight_only_linear_desc;

/* The descriptor as the C++ API prints it ("quantized_linear m=16 n=4096 k=4096 act=bf16 ..."). */
QJIT_API size_t qjit_quantized_linear_desc_to_string(const qjit_quantized_linear_desc* desc, char* buf,
                                                     size_t capacity);
QJIT_API size_t qjit_smooth_quant_linear_desc_to_string(const qjit_smooth_quant_linear_desc* desc, char* buf,
                                                        size_t capacity);
QJIT_API size_t qjit_dynamic_range_quantize_desc_to_string(const qjit_dynamic_range_quantize_desc* desc, char* buf,
                                                           size_t capacity);
QJIT_API size_t qjit_norm_quantize_desc_to_string(const qjit_norm_quantize_desc* desc, char* buf, size_t capacity);
QJIT_API size_t qjit_scaled_matmul_desc_to_string(const qjit_scaled_matmul_desc* desc, char* buf, size_t capacity);
QJIT_API size_t qjit_weight_only_linear_desc_to_string(const qjit_weight_only_linear_desc* desc, char* buf,
                                                       size_t capacity);

/* ---- run arguments --------------------------------------------------------------------------------------------- */

/* Both linear plans. QuantizedLinear: activation is the FP input [M, K]; act_q_scratch [M, K] s8 and
 * act_scale_scratch [M] f32 are caller-owned scratch (the per-token scales are there after the run).
 * SmoothQuantLinear: activation is the int8 input [M, K]; the scratch tensors are absent. */
typedef struct qjit_linear_args {
  uint32_t struct_size; /* sizeof(qjit_linear_args) */
  qjit_tensor activation;
  qjit_tensor weight;       /* [N, K] s8 */
  qjit_tensor weight_scale; /* [N] f32 */
  qjit_tensor bias;         /* [N] of the output element when has_bias, else absent */
  qjit_tensor output;       /* [M, N] */
  qjit_tensor act_q_scratch;
  qjit_tensor act_scale_scratch;
  qjit_tensor pre_quant_scale; /* appended (absent when struct_size stops before it): [K] f32 when has_smooth */
  qjit_tensor weight_colsum;   /* appended: [N] s32 (sum over K of each weight row) when asymmetric, else absent */
} qjit_linear_args;

typedef struct qjit_quantize_args {
  uint32_t struct_size;        /* sizeof(qjit_quantize_args) */
  qjit_tensor input;           /* [M, K] FP */
  qjit_tensor output;          /* [M, K] s8 */
  qjit_tensor scale;           /* [M] f32 per token, [1] per tensor */
  qjit_tensor pre_quant_scale; /* appended (absent when struct_size stops before it): [K] f32 when has_smooth */
  qjit_tensor zero_point;      /* appended: [M] s32 written by an asymmetric plan, else absent */
} qjit_quantize_args;

typedef struct qjit_norm_quantize_args {
  uint32_t struct_size;     /* sizeof(qjit_norm_quantize_args) */
  qjit_tensor input;        /* [M, K] */
  qjit_tensor residual;     /* [M, K] when has_residual, else absent */
  qjit_tensor residual_out; /* [M, K] when has_residual, else absent; may be exactly input or residual (in place) */
  qjit_tensor gamma;        /* [K] */
  qjit_tensor beta;         /* [K] for LayerNorm, absent for RMSNorm */
  qjit_tensor output;       /* [M, K] s8 */
  qjit_tensor scale;        /* [M] f32 per token; absent with a static scale */
} qjit_norm_quantize_args;
typedef struct qjit_scaled_matmul_args {
  uint32_t struct_size;     /* sizeof(qjit_scaled_matmul_args) */
  qjit_tensor act_q;        /* [M, K] s8 */
  qjit_tensor weight_q;     /* [N, K] s8 */
  qjit_tensor act_scale;    /* f32 in device memory: [M] per token, [1] per tensor */
  qjit_tensor weight_scale; /* f32 in device memory: [N] per channel, [1] per tensor */
  qjit_tensor bias;         /* [N] of the output element when has_bias, else absent */
  qjit_tensor output;       /* [M, N] */
  qjit_tensor act_zero_point; /* appended: [M] s32 (s8 domain) when has_act_zero_point, else absent */
  qjit_tensor weight_colsum;  /* appended: [N] s32, sum over K of weight_q's rows, when has_act_zero_point */
} qjit_scaled_matmul_args;

typedef struct qjit_weight_only_linear_args {
  uint32_t struct_size;     /* sizeof(qjit_weight_only_linear_args) */
  qjit_tensor activation;   /* [M, K] f16 / bf16 */
  qjit_tensor weight;       /* [N, K] s8 */
  qjit_tensor weight_scale; /* f32: [1, 1] per tensor, [N, 1] per channel, [N, ceil(K / group_size)] per group (a
                               rank-1 [1] or [N] is taken as [1, 1] / [N, 1]) */
  qjit_tensor zero_point;   /* s32 of weight_scale's shape when has_zero_point, else absent */
  qjit_tensor bias;         /* [N] of the activation element when has_bias, else absent */
  qjit_tensor output;       /* [M, N] */
} qjit_weight_only_linear_args;

typedef struct qjit_precision_guarantee {
  uint32_t struct_size; /* sizeof(qjit_precision_guarantee), set by the caller */
  int32_t deterministic;
  int32_t exact_accumulation;
  double epilogue_relative_error;
  const char* description; /* static storage */
} qjit_precision_guarantee;

/* ---- plans ------------------------------------------------------------------------------------------------------ */

typedef struct qjit_plan qjit_plan;

/* select: validate the descriptor, choose configs, compile or load the kernels (on the current CUDA context, else
 * the primary context of QJIT_DEVICE / device 0). `stream` is accepted for symmetry with run and may be NULL.
 * On success *out_plan holds a new plan; on failure it is set to NULL. */
QJIT_API qjit_status qjit_quantized_linear_plan_select(struct CUstream_st* stream,
                                                       const qjit_quantized_linear_desc* desc, int32_t preference,
                                                       qjit_plan** out_plan);
QJIT_API qjit_status qjit_smooth_quant_linear_plan_select(struct CUstream_st* stream,
                                                          const qjit_smooth_quant_linear_desc* desc, int32_t preference,
                                                          qjit_plan** out_plan);
QJIT_API qjit_status qjit_dynamic_range_quantize_plan_select(struct CUstream_st* stream,
                                                             const qjit_dynamic_range_quantize_desc* desc,
                                                             int32_t preference, qjit_plan** out_plan);
QJIT_API qjit_status qjit_scaled_matmul_plan_select(struct CUstream_st* stream, const qjit_scaled_matmul_desc* desc,
                                                    int32_t preference, qjit_plan** out_plan);
QJIT_API qjit_status qjit_weight_only_linear_plan_select(struct CUstream_st* stream,
                                                         const qjit_weight_only_linear_desc* desc, int32_t preference,
                                                         qjit_plan** out_plan);
/* A QJIT_PLAN_RMS_NORM_QUANTIZE or QJIT_PLAN_LAYER_NORM_QUANTIZE plan (by desc->norm). */
QJIT_API qjit_status qjit_norm_quantize_plan_select(struct CUstream_st* stream, const qjit_norm_quantize_desc* desc,
                                                    int32_t preference, qjit_plan** out_plan);

/* Releases a plan (NULL is a no-op). */
QJIT_API void qjit_plan_release(qjit_plan* plan);
/* A second reference to the same plan (released separately): how the C++ wrappers copy plans. */
QJIT_API qjit_plan* qjit_plan_retain(qjit_plan* plan);

QJIT_API qjit_plan_kind qjit_plan_get_kind(const qjit_plan* plan); /* 0 for NULL */
/* Device workspace run needs: enough for every M of the descriptor's M bucket (M <= the next power of two >= the
 * descriptor's m; for m > 2048, M <= max(m, 4096)). For another M, ask qjit_plan_workspace_size_for_m (m in
 * [1, 2^31), the M run accepts). */
QJIT_API qjit_status qjit_plan_workspace_size(const qjit_plan* plan, size_t* out_bytes);
QJIT_API qjit_status qjit_plan_workspace_size_for_m(const qjit_plan* plan, int64_t m, size_t* out_bytes);
QJIT_API qjit_status qjit_plan_precision_guarantee(const qjit_plan* plan, qjit_precision_guarantee* out);
/* The chosen kernels, configs and entry points. */
QJIT_API size_t qjit_plan_describe(const qjit_plan* plan, char* buf, size_t capacity);

/* The two linear plans. */
QJIT_API qjit_status qjit_linear_plan_can_implement(const qjit_plan* plan, const qjit_linear_args* args);
/* Enqueues the kernels on `stream` (asynchronous; nothing is synchronised). workspace: device memory of at least
 * qjit_plan_workspace_size bytes (NULL when that is 0). Safe to capture into a CUDA graph. */
QJIT_API qjit_status qjit_linear_plan_run(const qjit_plan* plan, struct CUstream_st* stream, void* workspace,
                                          size_t workspace_bytes, const qjit_linear_args* args);

/* The quantize plan. */
QJIT_API qjit_status qjit_quantize_plan_can_implement(const qjit_plan* plan, const qjit_quantize_args* args);
QJIT_API qjit_status qjit_quantize_plan_run(const qjit_plan* plan, struct CUstream_st* stream, void* workspace,
                                            size_t workspace_bytes, const qjit_quantize_args* args);

/* The fused norm + quantize plans (one kernel; workspace 0). */
QJIT_API qjit_status qjit_norm_quantize_plan_can_implement(const qjit_plan* plan, const qjit_norm_quantize_args* args);
QJIT_API qjit_status qjit_norm_quantize_plan_run(const qjit_plan* plan, struct CUstream_st* stream, void* workspace,
                                                 size_t workspace_bytes, const qjit_norm_quantize_args* args);
/* The scaled-matmul plan (one GEMM launch; safe to capture into a CUDA graph). */
QJIT_API qjit_status qjit_scaled_matmul_plan_can_implement(const qjit_plan* plan, const qjit_scaled_matmul_args* args);
QJIT_API qjit_status qjit_scaled_matmul_plan_run(const qjit_plan* plan, struct CUstream_st* stream, void* workspace,
                                                 size_t workspace_bytes, const qjit_scaled_matmul_args* args);

/* Asymmetric activations: colsum[n] = sum over k of weight[n * row_stride + k], the int8 weight's row sums that the
 * zero-point epilogue subtracts (acc - zp[m] * colsum[n]). Host memory, computed once per weight at load time (then
 * copied to the device); `qjit quantize --weight-colsum` writes the same numbers as <module>.weight_colsum.
 * n, k >= 1, k <= 2^24, row_stride >= k; weight and colsum non-NULL (colsum holds n int32). */
QJIT_API qjit_status qjit_weight_colsum(const int8_t* weight, int64_t n, int64_t k, int64_t row_stride,
                                        int32_t* colsum);
/* Pre-pack for the staged Hopper path (issue 15): copies an int8 matrix [rows, cols] in device memory (row stride
 * src_row_stride >= cols; any base) into dst with row stride dst_row_stride (>= cols, a multiple of 16; dst 16-byte
 * aligned), asynchronously on `stream` (one cuMemcpy2DAsync; the pad bytes are left as they were: no kernel reads
 * them). A weight so padded (best at qjit::preferred_row_stride(K)) is read in place by every linear plan, so no
 * call copies it into the workspace. rows, cols in [1, 2^31); dst holds rows * dst_row_stride bytes; src and dst
 * must not overlap. */
QJIT_API qjit_status qjit_pad_int8_rows(struct CUstream_st* stream, const int8_t* src, int64_t rows, int64_t cols,
                                        int64_t src_row_stride, int8_t* dst, int64_t dst_row_stride);
/* The weight-only linear plan (one GEMM launch, plus a memset of the split-K counters when its config splits K;
 * safe to capture into a CUDA graph). */
QJIT_API qjit_status qjit_weight_only_linear_plan_can_implement(const qjit_plan* plan,
                                                                const qjit_weight_only_linear_args* args);
QJIT_API qjit_status qjit_weight_only_linear_plan_run(const qjit_plan* plan, struct CUstream_st* stream,
                                                      void* workspace, size_t workspace_bytes,
                                                      const qjit_weight_only_linear_args* args);

/* ---- the kernel cache -------------------------------------------------------------------------------------------
 * A location names the writable store and the read-only ones. NULL for a location argument means "from the
 * environment" (QJIT_CACHE_DIR, QJIT_CACHE_PATH, QJIT_CACHE_READONLY, QJIT_CACHE_MAX_BYTES), exactly as the plans
 * resolve it. docs/CACHE.md describes the format and rules. */
typedef struct qjit_cache_location {
  uint32_t struct_size;      /* sizeof(qjit_cache_location) */
  const char* writable_dir;  /* NULL or "": no writable store */
  const char* readonly_dirs; /* ':'-separated; NULL or "": none */
  int32_t read_only;         /* never write, not even the writable store */
  uint64_t max_bytes;        /* bound on the writable store, 0 = unbounded */
} qjit_cache_location;

/* The location the environment gives: strings are copied into the caller's buffers (see the string rule above);
 * *writable_needed / *readonly_needed receive the lengths including the NUL. */
QJIT_API qjit_status qjit_cache_location_from_environment(char* writable_dir, size_t writable_capacity,
                                                          size_t* writable_needed, char* readonly_dirs,
                                                          size_t readonly_capacity, size_t* readonly_needed,
                                                          int32_t* read_only, uint64_t* max_bytes);

typedef struct qjit_cache_store_info {
  uint32_t struct_size;
  const char* dir;
  int32_t read_only;
  int32_t present;
  uint64_t entries;
  uint64_t bytes;
  uint64_t temp_files;
} qjit_cache_store_info;

typedef struct qjit_cache_stats {
  uint32_t struct_size; /* sizeof(qjit_cache_stats), set by the caller */
  uint64_t entries;     /* over all stores */
  uint64_t bytes;
  uint64_t max_bytes;
  uint64_t stores;
  uint64_t temp_files;
} qjit_cache_stats;

/* Strings in the info structs below live until the callback returns. A callback returning non-zero stops the walk
 * (the call then returns QJIT_OK). */
typedef int (*qjit_cache_store_callback)(const qjit_cache_store_info* store, void* user);
QJIT_API qjit_status qjit_cache_stats_get(const qjit_cache_location* location, qjit_cache_stats* out,
                                          qjit_cache_store_callback on_store, void* user);

typedef struct qjit_cache_entry_info {
  uint32_t struct_size;
  const char* path;
  const char* key_hex;
  const char* store_dir;
  int32_t read_only_store;
  uint64_t bytes;
  int64_t last_used; /* seconds since the epoch */
  const char* entry_name;
  const char* arch;
  const char* nvrtc_version;
  int32_t registers;
  int32_t shared_bytes;
  double compile_seconds;
  int32_t ok;          /* full verification passed (list: header and metadata only) */
  const char* problem; /* "" when ok */
} qjit_cache_entry_info;

typedef int (*qjit_cache_entry_callback)(const qjit_cache_entry_info* entry, void* user);

#define QJIT_CACHE_VERIFY 1u     /* verify every entry fully (checksum, key, cubin) */
#define QJIT_CACHE_REMOVE_BAD 2u /* with QJIT_CACHE_VERIFY: delete bad entries of the writable store */

/* Walks every entry of every store and reports each to the callback (which may be NULL). Returns QJIT_OK once the
 * walk is complete, also when entries are bad: those are reported with ok = 0 and a problem, so a caller that
 * verifies counts them (`qjit cache verify` exits non-zero on any). A store that cannot be read is an error. */
QJIT_API qjit_status qjit_cache_list(const qjit_cache_location* location, uint32_t flags,
                                     qjit_cache_entry_callback on_entry, void* user);

typedef struct qjit_cache_prune_report {
  uint32_t struct_size; /* sizeof(qjit_cache_prune_report), set by the caller */
  uint64_t removed_entries;
  uint64_t removed_bytes;
  uint64_t removed_temp_files;
  uint64_t kept_entries;
  uint64_t kept_bytes;
} qjit_cache_prune_report;

/* Evicts least-recently-used entries of the writable store until it holds at most max_bytes (0: only stale
 * temporary files). QJIT_UNSUPPORTED when the location is read-only. `out` may be NULL. */
QJIT_API qjit_status qjit_cache_prune(const qjit_cache_location* location, uint64_t max_bytes,
                                      qjit_cache_prune_report* out);
/* Removes every entry and temporary file of the writable store. */
QJIT_API qjit_status qjit_cache_clear(const qjit_cache_location* location, qjit_cache_prune_report* out);

/* ---- warm-up: compile a model's kernels into the cache, no GPU needed ------------------------------------------ */

typedef struct qjit_layer_shape {
  int64_t n, k;
} qjit_layer_shape;

#define QJIT_WARMUP_QUANTIZED_LINEAR 1u
#define QJIT_WARMUP_SMOOTH_QUANT_LINEAR 2u
#define QJIT_WARMUP_RMS_NORM_QUANTIZE 4u   /* per K: dynamic and static scale, with and without a residual */
#define QJIT_WARMUP_LAYER_NORM_QUANTIZE 8u
#define QJIT_WARMUP_SCALED_MATMUL 16u       /* every scale mode (act per token / tensor x weight per channel / tensor) */
#define QJIT_WARMUP_WEIGHT_ONLY_LINEAR 32u  /* dtype f16 / bf16: per channel / tensor / group 64 / 128, +- zero points */
#define QJIT_WARMUP_ASYMMETRIC 64u          /* asymmetric QuantizedLinear, ScaledMatmul with zero points */
#define QJIT_WARMUP_NO_BIAS 1u
#define QJIT_WARMUP_BIAS 2u
#define QJIT_WARMUP_NO_SMOOTH 1u
#define QJIT_WARMUP_SMOOTH 2u

typedef struct qjit_warmup_request {
  uint32_t struct_size;           /* sizeof(qjit_warmup_request) */
  const char* arch;               /* "sm_80", "sm_86", "sm_89", "sm_90a" (also "80" ... "90") */
  const qjit_layer_shape* shapes; /* every (N, K) ... */
  size_t shape_count;
  const int64_t* ms; /* ... crossed with every M */
  size_t m_count;
  uint32_t plans;             /* QJIT_WARMUP_* plan bits; 0 = the two linear plans */
  int32_t dtype;              /* activation/output element: f16, bf16, f32, f64 */
  uint32_t bias_modes;        /* QJIT_WARMUP_NO_BIAS | QJIT_WARMUP_BIAS; 0 = no bias only */
  const char* tuning_db_path; /* NULL: heuristic configs only */
  const char* device_name;    /* which of the database's devices (NULL: the only one it holds) */
  int32_t sm_count;           /* the target's SM count; 0 = 132 (H100/H200 SXM) */
  uint32_t jobs;              /* parallel compiles; 0 = hardware concurrency */
  uint32_t smooth_modes;      /* appended: QJIT_WARMUP_NO_SMOOTH | QJIT_WARMUP_SMOOTH (the QuantizedLinear quantize
                                 pass with a pre_quant_scale); 0 or absent = no smoothing only */
} qjit_warmup_request;

typedef struct qjit_warmup_report {
  uint32_t struct_size; /* sizeof(qjit_warmup_report), set by the caller */
  uint64_t kernel_requests;
  uint64_t kernels; /* distinct rendered sources */
  uint64_t cached;
  uint64_t compiled;
  uint64_t failed;
  uint64_t tuned;
  double wall_seconds;
} qjit_warmup_report;

/* Compiles every kernel the request's plans need into the writable cache (QJIT_CACHE_DIR). Returns QJIT_OK only
 * when every kernel is in the cache; otherwise the first failure's code with the failed count and its reason,
 * after compiling everything else (`out`, when not NULL, is filled in either case). */
QJIT_API qjit_status qjit_warmup(const qjit_warmup_request* request, qjit_warmup_report* out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* QJIT_QJIT_C_H_ */
