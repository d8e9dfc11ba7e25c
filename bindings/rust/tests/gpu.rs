//! On a CUDA device: QuantizedLinearPlan<bf16> and SmoothQuantLinearPlan<f32> on fresh random data, M in {1, 16,
//! 129}, N = 256, K in {512, 520}, outputs and scratch poisoned with 0xFF bytes first, checked against an f64
//! reference built on the host from the same int8 weights and the quantized activation and per-token scales the plan
//! wrote (act_q_scratch / act_scale_scratch, read back), within precision_guarantee's bound. Without a device it
//! prints "skipped: no CUDA device (reason)" and passes. libcuda is dlopened here, not linked, so the test binary
//! runs (and skips) on machines without a driver.
use qjit::{
    Bf16, DevicePtr, PlanPreference, QuantizedLinearArgs, QuantizedLinearDescriptor, QuantizedLinearPlan,
    SmoothQuantLinearArgs, SmoothQuantLinearDescriptor, SmoothQuantLinearPlan, Stream, TensorMut, TensorRef, Workspace,
};
use std::ffi::{c_char, c_int, c_uint, c_void, CStr};

// ---- the few Driver API entry points the test needs, dlopened --------------------------------------------------

extern "C" {
    fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn dlerror() -> *const c_char;
}
const RTLD_NOW: c_int = 2;

type CuResult = c_int;
type CuDevicePtr = u64;

struct Cuda {
    init: unsafe extern "C" fn(c_uint) -> CuResult,
    device_get_count: unsafe extern "C" fn(*mut c_int) -> CuResult,
    device_get: unsafe extern "C" fn(*mut c_int, c_int) -> CuResult,
    primary_ctx_retain: unsafe extern "C" fn(*mut *mut c_void, c_int) -> CuResult,
    ctx_set_current: unsafe extern "C" fn(*mut c_void) -> CuResult,
    mem_alloc: unsafe extern "C" fn(*mut CuDevicePtr, usize) -> CuResult,
    mem_free: unsafe extern "C" fn(CuDevicePtr) -> CuResult,
    memcpy_htod: unsafe extern "C" fn(CuDevicePtr, *const c_void, usize) -> CuResult,
    memcpy_dtoh: unsafe extern "C" fn(*mut c_void, CuDevicePtr, usize) -> CuResult,
    memset_d8: unsafe extern "C" fn(CuDevicePtr, u8, usize) -> CuResult,
    ctx_synchronize: unsafe extern "C" fn() -> CuResult,
    get_error_name: unsafe extern "C" fn(CuResult, *mut *const c_char) -> CuResult,
}

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string.
    let p = unsafe { dlerror() };
    if p.is_null() { "unknown dl error".into() } else { unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned() }
}

impl Cuda {
    /// The driver with a current context on device 0, or why there is none.
    fn open() -> Result<Cuda, String> {
        // SAFETY: a NUL-terminated name.
        let h = unsafe { dlopen(c"libcuda.so.1".as_ptr(), RTLD_NOW) };
        if h.is_null() {
            return Err(format!("libcuda.so.1 could not be loaded: {}", dl_error()));
        }
        macro_rules! sym {
            ($name:literal) => {{
                // SAFETY: the symbol has the signature of the field it is stored in (cuda.h).
                let p = unsafe { dlsym(h, concat!($name, "\0").as_ptr().cast()) };
                if p.is_null() {
                    return Err(format!("libcuda.so.1 has no {}: {}", $name, dl_error()));
                }
                unsafe { std::mem::transmute::<*mut c_void, _>(p) }
            }};
        }
        let cuda = Cuda {
            init: sym!("cuInit"),
            device_get_count: sym!("cuDeviceGetCount"),
            device_get: sym!("cuDeviceGet"),
            primary_ctx_retain: sym!("cuDevicePrimaryCtxRetain"),
            ctx_set_current: sym!("cuCtxSetCurrent"),
            mem_alloc: sym!("cuMemAlloc_v2"),
            mem_free: sym!("cuMemFree_v2"),
            memcpy_htod: sym!("cuMemcpyHtoD_v2"),
            memcpy_dtoh: sym!("cuMemcpyDtoH_v2"),
            memset_d8: sym!("cuMemsetD8_v2"),
            ctx_synchronize: sym!("cuCtxSynchronize"),
            get_error_name: sym!("cuGetErrorName"),
        };
        // SAFETY (all calls below): valid out pointers, and a device/context the driver gave us.
        let r = unsafe { (cuda.init)(0) };
        if r != 0 {
            return Err(format!("cuInit failed: {}", cuda.name(r)));
        }
        let mut count = 0;
        cuda.check(unsafe { (cuda.device_get_count)(&mut count) }, "cuDeviceGetCount").map_err(|e| e.to_string())?;
        if count == 0 {
            return Err("cuDeviceGetCount reports 0 devices".into());
        }
        let mut dev = 0;
        cuda.check(unsafe { (cuda.device_get)(&mut dev, 0) }, "cuDeviceGet")?;
        let mut ctx = std::ptr::null_mut();
        cuda.check(unsafe { (cuda.primary_ctx_retain)(&mut ctx, dev) }, "cuDevicePrimaryCtxRetain")?;
        cuda.check(unsafe { (cuda.ctx_set_current)(ctx) }, "cuCtxSetCurrent")?;
        Ok(cuda)
    }
    fn name(&self, r: CuResult) -> String {
        let mut p: *const c_char = std::ptr::null();
        // SAFETY: a valid out pointer; the name has static storage.
        if unsafe { (self.get_error_name)(r, &mut p) } != 0 || p.is_null() {
            return format!("CUresult {r}");
        }
        format!("{} ({r})", unsafe { CStr::from_ptr(p) }.to_string_lossy())
    }
    fn check(&self, r: CuResult, what: &str) -> Result<(), String> {
        if r == 0 { Ok(()) } else { Err(format!("{what} failed: {}", self.name(r))) }
    }
    fn sync(&self) {
        // SAFETY: a current context.
        self.check(unsafe { (self.ctx_synchronize)() }, "cuCtxSynchronize").unwrap();
    }
}

/// Device memory holding `len` elements of T, freed on drop.
struct DevBuf<'c, T> {
    cuda: &'c Cuda,
    ptr: CuDevicePtr,
    len: usize,
    _t: std::marker::PhantomData<T>,
}

impl<'c, T: Copy> DevBuf<'c, T> {
    fn new(cuda: &'c Cuda, len: usize) -> Self {
        let mut ptr = 0;
        let bytes = (len * std::mem::size_of::<T>()).max(1);
        // SAFETY: a valid out pointer.
        cuda.check(unsafe { (cuda.mem_alloc)(&mut ptr, bytes) }, "cuMemAlloc_v2").unwrap();
        DevBuf { cuda, ptr, len, _t: std::marker::PhantomData }
    }
    fn from_host(cuda: &'c Cuda, data: &[T]) -> Self {
        let b = Self::new(cuda, data.len());
        // SAFETY: `data` is readable for its length; the buffer holds as many elements.
        let r = unsafe { (cuda.memcpy_htod)(b.ptr, data.as_ptr().cast(), std::mem::size_of_val(data)) };
        cuda.check(r, "cuMemcpyHtoD_v2").unwrap();
        b
    }
    /// Fills with 0xFF bytes: NaN for f32/bf16, -1 for int8, so anything the plan fails to write shows.
    fn poison(&self) {
        let bytes = self.len * std::mem::size_of::<T>();
        // SAFETY: the buffer is that large.
        self.cuda.check(unsafe { (self.cuda.memset_d8)(self.ptr, 0xFF, bytes) }, "cuMemsetD8_v2").unwrap();
    }
    fn to_host(&self) -> Vec<T> {
        let mut v: Vec<T> = Vec::with_capacity(self.len);
        // SAFETY: `v` has room for `len` elements, which the copy fills completely before set_len.
        unsafe {
            let r = (self.cuda.memcpy_dtoh)(v.as_mut_ptr().cast(), self.ptr, self.len * std::mem::size_of::<T>());
            self.cuda.check(r, "cuMemcpyDtoH_v2").unwrap();
            v.set_len(self.len);
        }
        v
    }
    fn dptr(&self) -> DevicePtr {
        DevicePtr(self.ptr)
    }
}

impl<T> Drop for DevBuf<'_, T> {
    fn drop(&mut self) {
        // SAFETY: allocated by cuMemAlloc_v2 and freed once.
        let r = unsafe { (self.cuda.mem_free)(self.ptr) };
        if r != 0 {
            eprintln!("cuMemFree_v2 failed: {}", self.cuda.name(r));
        }
    }
}

// ---- data ----------------------------------------------------------------------------------------------------------

/// xorshift64*: std has no RNG; seeded from the clock so every run sees fresh data (the seed is printed).
struct Rng(u64);
impl Rng {
    fn new() -> Rng {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
        let seed = std::env::var("QJIT_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(t | 1);
        println!("seed {seed} (QJIT_TEST_SEED={seed} repeats this run)");
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [lo, hi).
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next() >> 11) as f64 / (1u64 << 53) as f64)
    }
    fn int8(&mut self) -> i8 {
        (self.next() >> 56) as u8 as i8
    }
}

fn cuda_or_skip() -> Option<Cuda> {
    match Cuda::open() {
        Ok(c) => Some(c),
        Err(why) => {
            println!("skipped: no CUDA device ({why})");
            None
        }
    }
}

const N: i64 = 256;
const CASES: [(i64, i64); 6] = [(1, 512), (16, 512), (129, 512), (1, 520), (16, 520), (129, 520)];

/// |y - ref| <= bound * (|sa * sw| * sum_k |q * w| + |bias|) for every output, y finite.
fn check_output(what: &str, y: &[f64], act_q: &[i8], sa: &[f64], w: &[i8], sw: &[f32], bias: Option<&[f64]>, m: usize,
                k: usize, bound: f64) {
    let n = N as usize;
    let mut worst = 0.0f64;
    for i in 0..m {
        for j in 0..n {
            let (mut acc, mut mag) = (0i64, 0i64);
            for kk in 0..k {
                let p = act_q[i * k + kk] as i64 * w[j * k + kk] as i64;
                acc += p;
                mag += p.abs();
            }
            let s = sa[i] * sw[j] as f64;
            let b = bias.map_or(0.0, |b| b[j]);
            let reference = s * acc as f64 + b;
            let scale = s.abs() * mag as f64 + b.abs();
            let got = y[i * n + j];
            assert!(got.is_finite(), "{what}: y[{i}, {j}] = {got} (poison left, or overflow); reference {reference}");
            let err = (got - reference).abs();
            let rel = if scale > 0.0 { err / scale } else { err };
            worst = worst.max(rel);
            assert!(
                err <= bound * scale * (1.0 + 1e-12) + f64::MIN_POSITIVE,
                "{what}: y[{i}, {j}] = {got}, f64 reference {reference}: error {err:e} > {bound:e} x {scale:e}"
            );
        }
    }
    println!("{what}: worst relative error {worst:.3e} (bound {bound:.3e})");
}

#[test]
fn quantized_linear_bf16_matches_f64_reference() {
    let Some(cuda) = cuda_or_skip() else { return };
    let mut rng = Rng::new();
    let stream = Stream::null();
    for (case, &(m, k)) in CASES.iter().enumerate() {
        let has_bias = case % 2 == 1;
        let what = format!("QuantizedLinear<bf16> M={m} N={N} K={k}{}", if has_bias { " bias" } else { "" });
        let (mu, ku, n) = (m as usize, k as usize, N as usize);
        // Rows of different magnitude so the per-token scales differ.
        let x: Vec<Bf16> = (0..mu)
            .flat_map(|_| {
                let row = 10f64.powf(rng.uniform(-2.0, 2.0));
                (0..ku).map(|_| Bf16::from_f32((rng.uniform(-1.0, 1.0) * row) as f32)).collect::<Vec<_>>()
            })
            .collect();
        let w: Vec<i8> = (0..n * ku).map(|_| rng.int8().max(-127)).collect();
        let sw: Vec<f32> = (0..n).map(|_| rng.uniform(0.5, 2.0) as f32 / 127.0).collect();
        let bias: Vec<Bf16> = (0..n).map(|_| Bf16::from_f32(rng.uniform(-4.0, 4.0) as f32)).collect();

        let desc = QuantizedLinearDescriptor::new::<Bf16>(m, N, k).with_bias(has_bias);
        let plan = QuantizedLinearPlan::<Bf16>::select(&stream, &desc, PlanPreference::Heuristic)
            .unwrap_or_else(|e| panic!("{what}: select: {e}"));
        let g = plan.precision_guarantee();
        println!("{what}: {} | {:?}", plan.describe(), g);

        let d_x = DevBuf::from_host(&cuda, &x);
        let d_w = DevBuf::from_host(&cuda, &w);
        let d_sw = DevBuf::from_host(&cuda, &sw);
        let d_bias = DevBuf::from_host(&cuda, &bias);
        let d_y = DevBuf::<Bf16>::new(&cuda, mu * n);
        let d_q = DevBuf::<i8>::new(&cuda, mu * ku);
        let d_sa = DevBuf::<f32>::new(&cuda, mu);
        let d_ws = DevBuf::<u8>::new(&cuda, plan.workspace_size());
        d_y.poison();
        d_q.poison();
        d_sa.poison();

        // SAFETY: each view covers exactly its buffer, which outlives the run and the synchronize below.
        let args = unsafe {
            QuantizedLinearArgs::<Bf16> {
                activation: TensorRef::contiguous(d_x.dptr(), [m, k]),
                weight_q: TensorRef::contiguous(d_w.dptr(), [N, k]),
                weight_scale: TensorRef::contiguous(d_sw.dptr(), [N]),
                bias: has_bias.then(|| TensorRef::contiguous(d_bias.dptr(), [N])),
                output: TensorMut::contiguous(d_y.dptr(), [m, N]),
                act_q_scratch: TensorMut::contiguous(d_q.dptr(), [m, k]),
                act_scale_scratch: TensorMut::contiguous(d_sa.dptr(), [m]),
                pre_quant_scale: None,
            }
        };
        plan.can_implement(&args).unwrap_or_else(|e| panic!("{what}: can_implement: {e}"));
        let ws = unsafe { Workspace::from_raw(d_ws.dptr(), plan.workspace_size()) };
        plan.run(&stream, ws, &args).unwrap_or_else(|e| panic!("{what}: run: {e}"));
        cuda.sync();

        let q = d_q.to_host();
        let sa = d_sa.to_host();
        // The quantization the plan did: scale = absmax / 127, q = round-half-even(x / scale) (one step of slack
        // for a kernel that multiplies by the reciprocal).
        for i in 0..mu {
            let row = &x[i * ku..(i + 1) * ku];
            let absmax = row.iter().map(|v| v.to_f32().abs()).fold(0.0f32, f32::max);
            let want = absmax as f64 / 127.0;
            assert!(sa[i].is_finite() && ((sa[i] as f64 - want) / want).abs() < 1e-6,
                    "{what}: act_scale[{i}] = {}, absmax / 127 = {want}", sa[i]);
            for kk in 0..ku {
                let r = (row[kk].to_f32() / sa[i]).round_ties_even().clamp(-128.0, 127.0) as i32;
                assert!((q[i * ku + kk] as i32 - r).abs() <= 1, "{what}: act_q[{i}, {kk}] = {}, expected {r}",
                        q[i * ku + kk]);
            }
        }
        let y: Vec<f64> = d_y.to_host().iter().map(|v| v.to_f32() as f64).collect();
        let sa64: Vec<f64> = sa.iter().map(|&s| s as f64).collect();
        let b64: Vec<f64> = bias.iter().map(|v| v.to_f32() as f64).collect();
        check_output(&what, &y, &q, &sa64, &w, &sw, has_bias.then_some(&b64[..]), mu, ku, g.epilogue_relative_error);

        // A plan clone is the same plan; a wrong output shape is refused by name.
        let again = plan.clone();
        let bad = unsafe {
            QuantizedLinearArgs::<Bf16> {
                output: TensorMut::contiguous(d_y.dptr(), [m, N - 1]),
                activation: args.activation,
                weight_q: args.weight_q,
                weight_scale: args.weight_scale,
                bias: args.bias,
                act_q_scratch: TensorMut::contiguous(d_q.dptr(), [m, k]),
                act_scale_scratch: TensorMut::contiguous(d_sa.dptr(), [m]),
                pre_quant_scale: None,
            }
        };
        let e = again.can_implement(&bad).unwrap_err();
        assert!(matches!(e, qjit::Error::InvalidArgument(_)) && e.message().contains("output"), "{e}");
    }
}

#[test]
fn smooth_quant_linear_f32_matches_f64_reference() {
    let Some(cuda) = cuda_or_skip() else { return };
    let mut rng = Rng::new();
    let stream = Stream::null();
    for (case, &(m, k)) in CASES.iter().enumerate() {
        let has_bias = case % 2 == 0;
        let act_scale = rng.uniform(0.001, 0.05) as f32;
        let what = format!("SmoothQuantLinear<f32> M={m} N={N} K={k} act_scale={act_scale}{}",
                           if has_bias { " bias" } else { "" });
        let (mu, ku, n) = (m as usize, k as usize, N as usize);
        let a: Vec<i8> = (0..mu * ku).map(|_| rng.int8()).collect();
        let w: Vec<i8> = (0..n * ku).map(|_| rng.int8().max(-127)).collect();
        let sw: Vec<f32> = (0..n).map(|_| rng.uniform(0.5, 2.0) as f32 / 127.0).collect();
        let bias: Vec<f32> = (0..n).map(|_| rng.uniform(-4.0, 4.0) as f32).collect();

        let desc = SmoothQuantLinearDescriptor::new::<f32>(m, N, k, act_scale).with_bias(has_bias);
        let plan = SmoothQuantLinearPlan::<f32>::select(&stream, &desc, PlanPreference::Heuristic)
            .unwrap_or_else(|e| panic!("{what}: select: {e}"));
        let g = plan.precision_guarantee();
        assert!(g.deterministic && g.exact_accumulation, "{g:?}");
        println!("{what}: {}", plan.describe());

        let d_a = DevBuf::from_host(&cuda, &a);
        let d_w = DevBuf::from_host(&cuda, &w);
        let d_sw = DevBuf::from_host(&cuda, &sw);
        let d_bias = DevBuf::from_host(&cuda, &bias);
        let d_y = DevBuf::<f32>::new(&cuda, mu * n);
        let d_ws = DevBuf::<u8>::new(&cuda, plan.workspace_size());
        d_y.poison();
        // SAFETY: as in the QuantizedLinear test.
        let args = unsafe {
            SmoothQuantLinearArgs::<f32> {
                act_q: TensorRef::contiguous(d_a.dptr(), [m, k]),
                weight_q: TensorRef::contiguous(d_w.dptr(), [N, k]),
                weight_scale: TensorRef::contiguous(d_sw.dptr(), [N]),
                bias: has_bias.then(|| TensorRef::contiguous(d_bias.dptr(), [N])),
                output: TensorMut::contiguous(d_y.dptr(), [m, N]),
            }
        };
        plan.can_implement(&args).unwrap_or_else(|e| panic!("{what}: can_implement: {e}"));
        let ws = unsafe { Workspace::from_raw(d_ws.dptr(), plan.workspace_size()) };
        plan.run(&stream, ws, &args).unwrap_or_else(|e| panic!("{what}: run: {e}"));
        cuda.sync();

        let y: Vec<f64> = d_y.to_host().iter().map(|&v| v as f64).collect();
        let sa = vec![act_scale as f64; mu];
        let b64: Vec<f64> = bias.iter().map(|&v| v as f64).collect();
        check_output(&what, &y, &a, &sa, &w, &sw, has_bias.then_some(&b64[..]), mu, ku, g.epilogue_relative_error);
    }
}
