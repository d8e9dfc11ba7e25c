/* The few CUDA driver calls the install consumers need to own device memory, opened with dlopen like qjit does, so
 * the consumers build on a machine without the CUDA toolkit and, without a GPU, report that cleanly. */
#ifndef QJIT_CONSUMER_CUDA_MIN_H_
#define QJIT_CONSUMER_CUDA_MIN_H_

#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>

typedef int (*cu_init_fn)(unsigned);
typedef int (*cu_device_get_fn)(int*, int);
typedef int (*cu_ctx_retain_fn)(void**, int);
typedef int (*cu_ctx_set_fn)(void*);
typedef int (*cu_alloc_fn)(unsigned long long*, size_t);
typedef int (*cu_free_fn)(unsigned long long);
typedef int (*cu_htod_fn)(unsigned long long, const void*, size_t);
typedef int (*cu_dtoh_fn)(void*, unsigned long long, size_t);
typedef int (*cu_memset_fn)(unsigned long long, unsigned char, size_t);
typedef int (*cu_sync_fn)(void);

typedef struct cuda_min {
  cu_alloc_fn alloc;
  cu_free_fn free_;
  cu_htod_fn htod;
  cu_dtoh_fn dtoh;
  cu_memset_fn memset8;
  cu_sync_fn sync;
} cuda_min;

/* 0 and a current primary context on device 0, or -1 with why (no libcuda, no device). */
static int cuda_min_open(cuda_min* c, char* why, size_t why_len) {
  void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(why, why_len, "libcuda.so.1 could not be loaded");
    return -1;
  }
  cu_init_fn init = (cu_init_fn)dlsym(h, "cuInit");
  cu_device_get_fn dev_get = (cu_device_get_fn)dlsym(h, "cuDeviceGet");
  cu_ctx_retain_fn retain = (cu_ctx_retain_fn)dlsym(h, "cuDevicePrimaryCtxRetain");
  cu_ctx_set_fn set = (cu_ctx_set_fn)dlsym(h, "cuCtxSetCurrent");
  c->alloc = (cu_alloc_fn)dlsym(h, "cuMemAlloc_v2");
  c->free_ = (cu_free_fn)dlsym(h, "cuMemFree_v2");
  c->htod = (cu_htod_fn)dlsym(h, "cuMemcpyHtoD_v2");
  c->dtoh = (cu_dtoh_fn)dlsym(h, "cuMemcpyDtoH_v2");
  c->memset8 = (cu_memset_fn)dlsym(h, "cuMemsetD8_v2");
  c->sync = (cu_sync_fn)dlsym(h, "cuCtxSynchronize");
  if (!init || !dev_get || !retain || !set || !c->alloc || !c->free_ || !c->htod || !c->dtoh || !c->memset8 ||
      !c->sync) {
    snprintf(why, why_len, "libcuda.so.1 lacks a driver entry point");
    return -1;
  }
  int dev = 0, rc;
  void* ctx = NULL;
  if ((rc = init(0)) != 0 || (rc = dev_get(&dev, 0)) != 0 || (rc = retain(&ctx, dev)) != 0 || (rc = set(ctx)) != 0) {
    snprintf(why, why_len, "no usable CUDA device (CUresult %d)", rc);
    return -1;
  }
  return 0;
}

#endif
