/* An engine written in C, built against an installed qjit (find_package(qjit), qjit::qjit): select a
 * QuantizedLinear plan for an f32 layer and, where a GPU is present, run it and check it against an f64 reference
 * computed from the int8 activation and scales the plan wrote. Without a GPU it must report DriverUnavailable and
 * exit 0; anything else is a failure. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qjit/qjit_c.h>

#include "cuda_min.h"

#define M 33
#define N 136
#define K 264
/* act_q scratch rows at the plan's preferred stride (qjit::preferred_row_stride(K): 128-byte multiples), so the
 * quantize pass writes them in place; the K = 264 weight rows are not 16-byte multiples and are staged. */
#define LDQ ((K + 127) / 128 * 128)

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float uniform(void) { /* xorshift64*, in [-1, 1) */
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return (float)((double)((rng * 2685821657736338717ull) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static qjit_tensor matrix(const void* p, qjit_element e, int64_t rows, int64_t cols) {
  qjit_tensor t;
  memset(&t, 0, sizeof t);
  t.data = p;
  t.element = e;
  t.rank = 2;
  t.shape[0] = rows;
  t.shape[1] = cols;
  t.stride[0] = cols;
  t.stride[1] = 1;
  return t;
}
static qjit_tensor vector(const void* p, qjit_element e, int64_t n) {
  qjit_tensor t;
  memset(&t, 0, sizeof t);
  t.data = p;
  t.element = e;
  t.rank = 1;
  t.shape[0] = n;
  t.stride[0] = 1;
  return t;
}

int main(void) {
  printf("qjit %s, ABI %u (header %d)\n", qjit_version_string(), qjit_abi_version(), QJIT_ABI_VERSION);
  if (qjit_abi_version() != QJIT_ABI_VERSION) return 1;

  qjit_quantized_linear_desc desc = {sizeof desc, M, N, K, QJIT_F32, QJIT_S8, QJIT_F32, 1, 0, 0};
  /* A wrong descriptor is refused with a message naming the field, before any driver call. */
  qjit_quantized_linear_desc bad = desc;
  bad.k = 0;
  qjit_plan* plan = NULL;
  qjit_status s = qjit_quantized_linear_plan_select(NULL, &bad, QJIT_PREF_HEURISTIC, &plan);
  printf("k = 0: %s: %s\n", qjit_status_name(s), qjit_last_error_message());
  if (s != QJIT_INVALID_ARGUMENT || strstr(qjit_last_error_message(), "descriptor.k") == NULL) return 1;

  s = qjit_quantized_linear_plan_select(NULL, &desc, QJIT_PREF_HEURISTIC, &plan);
  if (s == QJIT_DRIVER_UNAVAILABLE) {
    printf("no GPU: %s: %s\n", qjit_status_name(s), qjit_last_error_message());
    printf("C consumer OK (DriverUnavailable)\n");
    return 0;
  }
  if (s != QJIT_OK) {
    printf("select failed: %s: %s\n", qjit_status_name(s), qjit_last_error_message());
    return 1;
  }
  char why[256];
  cuda_min cu;
  if (cuda_min_open(&cu, why, sizeof why) != 0) {
    printf("qjit found a GPU but this program could not: %s\n", why);
    return 1;
  }
  float* x = malloc(sizeof(float) * M * K);
  int8_t* w = malloc(N * K);
  float* ws = malloc(sizeof(float) * N);
  float* bias = malloc(sizeof(float) * N);
  float* y = malloc(sizeof(float) * M * N);
  int8_t* xq = malloc(M * LDQ);
  float* xs = malloc(sizeof(float) * M);
  for (int i = 0; i < M * K; ++i) x[i] = uniform() * 3.0f;
  for (int i = 0; i < N * K; ++i) w[i] = (int8_t)(uniform() * 127.0f);
  for (int i = 0; i < N; ++i) ws[i] = 0.001f + 0.01f * (uniform() + 1.0f);
  for (int i = 0; i < N; ++i) bias[i] = uniform();
  unsigned long long dx, dw, dws, dbias, dy, dxq, dxs, dwork = 0;
  size_t work = 0;
  if (qjit_plan_workspace_size(plan, &work) != QJIT_OK) return 1;
  if (cu.alloc(&dx, sizeof(float) * M * K) || cu.alloc(&dw, N * K) || cu.alloc(&dws, sizeof(float) * N) ||
      cu.alloc(&dbias, sizeof(float) * N) || cu.alloc(&dy, sizeof(float) * M * N) || cu.alloc(&dxq, M * LDQ) ||
      cu.alloc(&dxs, sizeof(float) * M) || (work && cu.alloc(&dwork, work)))
    return printf("cuMemAlloc failed\n"), 1;
  if (cu.htod(dx, x, sizeof(float) * M * K) || cu.htod(dw, w, N * K) || cu.htod(dws, ws, sizeof(float) * N) ||
      cu.htod(dbias, bias, sizeof(float) * N) || cu.memset8(dy, 0xff, sizeof(float) * M * N)) /* poison: NaN */
    return printf("copy failed\n"), 1;
  qjit_linear_args args;
  memset(&args, 0, sizeof args);
  args.struct_size = sizeof args;
  args.activation = matrix((void*)dx, QJIT_F32, M, K);
  args.weight = matrix((void*)dw, QJIT_S8, N, K);
  args.weight_scale = vector((void*)dws, QJIT_F32, N);
  args.bias = vector((void*)dbias, QJIT_F32, N);
  args.output = matrix((void*)dy, QJIT_F32, M, N);
  args.act_q_scratch = matrix((void*)dxq, QJIT_S8, M, K);
  args.act_q_scratch.stride[0] = LDQ;
  args.act_scale_scratch = vector((void*)dxs, QJIT_F32, M);
  s = qjit_linear_plan_run(plan, NULL, (void*)dwork, work, &args);
  if (s != QJIT_OK) return printf("run: %s: %s\n", qjit_status_name(s), qjit_last_error_message()), 1;
  if (cu.sync() || cu.dtoh(y, dy, sizeof(float) * M * N) || cu.dtoh(xq, dxq, M * LDQ) ||
      cu.dtoh(xs, dxs, sizeof(float) * M))
    return printf("sync/copy back failed\n"), 1;
  qjit_precision_guarantee g;
  memset(&g, 0, sizeof g);
  g.struct_size = sizeof g;
  if (qjit_plan_precision_guarantee(plan, &g) != QJIT_OK) return 1;
  double worst = 0;
  int bad_q = 0;
  for (int m = 0; m < M; ++m) {
    float amax = 0;
    for (int k = 0; k < K; ++k) amax = fmaxf(amax, fabsf(x[m * K + k]));
    if (fabs(xs[m] - amax / 127.0f) > 1e-6 * amax)
      return printf("act_scale[%d] = %g, want %g\n", m, xs[m], amax / 127.0f), 1;
    for (int k = 0; k < K; ++k)
      if (abs((int)xq[m * LDQ + k] - (int)lrintf(x[m * K + k] / xs[m])) > 1) ++bad_q;
    for (int n = 0; n < N; ++n) {
      long long acc = 0;
      double mag = 0;
      for (int k = 0; k < K; ++k) {
        acc += (long long)xq[m * LDQ + k] * w[n * K + k];
        mag += fabs((double)xq[m * LDQ + k] * w[n * K + k]);
      }
      const double ref = (double)xs[m] * ws[n] * (double)acc + bias[n];
      const double err = fabs(y[m * N + n] - ref) / ((double)xs[m] * ws[n] * mag + fabs(bias[n]) + 1e-30);
      if (!(err <= worst)) worst = isnan(err) ? INFINITY : err;
    }
  }
  printf("%s\nworst relative error %.3g (bound %.3g), %d act_q elements off by more than 1\n",
         qjit_plan_describe(plan, why, sizeof why) ? why : "", worst, g.epilogue_relative_error, bad_q);
  qjit_plan_release(plan);
  if (bad_q != 0 || !(worst <= g.epilogue_relative_error)) return 1;
  printf("C consumer OK (GPU)\n");
  return 0;
}
