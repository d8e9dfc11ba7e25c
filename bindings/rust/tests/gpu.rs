//! On a CUDA device: QuantizedLinearPlan<bf16>, SmoothQuantLinearPlan<f32> and ScaledMatmulPlan<bf16 | f32> (every
//! act-scale x weight-scale mode) on fresh random data, M in {1, 16, 129}, N = 256, K in {512, 520}, outputs and
//! scratch poisoned with 0xFF bytes first, checked against an f64 reference built on the host from the same int8
//! weights and the quantized activation and scales (for QuantizedLinear the ones the plan wrote, read back), within
//! precision_guarantee's bound; a per-tensor scale mode also bit for bit against the per-token / per-channel plan
//! run with that scale broadcast. RmsNormQuantizePlan<bf16> and LayerNormQuantizePlan<bf16>, with and without a
//! residual (separate or in place), dynamic and static scale: q, the scales and residual_out bit for bit against a
//! CPU f32 model of the documented arithmetic (as tests/gpu/norm_quantize_test.cpp does), q and the scales bit for
//! bit against DynamicRangeQuantizePlan<f32> on the model's v, and v and q against an f64 reference within the
//! stated bound. DynamicRangeQuantizePlan asymmetric (u8 and i8 codes) bit for bit against the documented rule.
//! WeightOnlyLinearPlan<bf16 | f16> in every scale mode (channel, tensor, group 64 / 128) x zero point x bias at M in
//! {1, 16, 129} against the f64 sum over the exactly dequantized weight within the bound, two runs bit for bit.
//! Without a device every test prints "skipped: no CUDA device (reason)" and passes. libcuda is
//! dlopened here, not linked, so the test binary runs (and skips) on machines without a driver.
use qjit::{
    ActScaleMode, Bf16, DevicePtr, DynamicRangeQuantizeArgs, DynamicRangeQuantizeDescriptor, DynamicRangeQuantizePlan,
    FloatElement, LayerNormQuantizePlan, NormKind, NormQuantizeArgs, NormQuantizeDescriptor, PlanPreference,
    QuantGranularity, QuantizedLinearArgs, QuantizedLinearDescriptor, QuantizedLinearPlan, RmsNormQuantizePlan,
    ScaledMatmulArgs, ScaledMatmulDescriptor, ScaledMatmulPlan, SmoothQuantLinearArgs, SmoothQuantLinearDescriptor,
    SmoothQuantLinearPlan, Stream, TensorMut, TensorRef, WeightOnlyLinearArgs, WeightOnlyLinearDescriptor,
    WeightOnlyLinearPlan, WeightOnlyScale, WeightScaleMode, Workspace,
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
        self.poison_with(0xFF);
    }
    fn poison_with(&self, byte: u8) {
        let bytes = self.len * std::mem::size_of::<T>();
        // SAFETY: the buffer is that large.
        self.cuda.check(unsafe { (self.cuda.memset_d8)(self.ptr, byte, bytes) }, "cuMemsetD8_v2").unwrap();
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
        // act_q_scratch rows of whole 128-byte lines (qjit::preferred_row_stride): the pass writes them on every path
        // (on sm_90a a misaligned scratch, contiguous rows of K = 520, is left untouched: the pass writes the plan's
        // staged copy in the workspace instead).
        let ldq = (ku + 127) / 128 * 128;
        let d_q = DevBuf::<i8>::new(&cuda, mu * ldq);
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
                act_q_scratch: TensorMut::strided(d_q.dptr(), m, k, ldq as i64),
                act_scale_scratch: TensorMut::contiguous(d_sa.dptr(), [m]),
                pre_quant_scale: None,
                weight_colsum: None,
            }
        };
        plan.can_implement(&args).unwrap_or_else(|e| panic!("{what}: can_implement: {e}"));
        let ws = unsafe { Workspace::from_raw(d_ws.dptr(), plan.workspace_size()) };
        plan.run(&stream, ws, &args).unwrap_or_else(|e| panic!("{what}: run: {e}"));
        cuda.sync();

        let q: Vec<i8> = d_q.to_host().chunks(ldq).flat_map(|row| row[..ku].to_vec()).collect();
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
                weight_colsum: None,
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

// ---- ScaledMatmul ------------------------------------------------------------------------------------------------

/// The host side of an output element: conversions for test data and references, and the bits for exact compares.
trait HostFloat: FloatElement + std::fmt::Debug {
    fn from_f32(f: f32) -> Self;
    fn to_f32(self) -> f32;
    fn bits(self) -> u32;
}
impl HostFloat for Bf16 {
    fn from_f32(f: f32) -> Self {
        Bf16::from_f32(f)
    }
    fn to_f32(self) -> f32 {
        Bf16::to_f32(self)
    }
    fn bits(self) -> u32 {
        self.0 as u32
    }
}
impl HostFloat for f32 {
    fn from_f32(f: f32) -> Self {
        f
    }
    fn to_f32(self) -> f32 {
        self
    }
    fn bits(self) -> u32 {
        self.to_bits()
    }
}

const SCALE_MODES: [(ActScaleMode, WeightScaleMode); 4] = [
    (ActScaleMode::PerToken, WeightScaleMode::PerChannel),
    (ActScaleMode::PerToken, WeightScaleMode::PerTensor),
    (ActScaleMode::PerTensor, WeightScaleMode::PerChannel),
    (ActScaleMode::PerTensor, WeightScaleMode::PerTensor),
];

/// Selects, checks and runs one scaled-matmul plan into a freshly poisoned output; returns the output.
#[allow(clippy::too_many_arguments)]
fn run_scaled_matmul<T: HostFloat>(cuda: &Cuda, what: &str, desc: &ScaledMatmulDescriptor, d_a: &DevBuf<i8>,
                                   d_w: &DevBuf<i8>, d_sa: &DevBuf<f32>, d_sw: &DevBuf<f32>, d_bias: &DevBuf<T>)
                                   -> (Vec<T>, qjit::PrecisionGuarantee) {
    let stream = Stream::null();
    let (m, k) = (desc.m, desc.k);
    let plan = ScaledMatmulPlan::<T>::select(&stream, desc, PlanPreference::Heuristic)
        .unwrap_or_else(|e| panic!("{what}: select: {e}"));
    let g = plan.precision_guarantee();
    let d_y = DevBuf::<T>::new(cuda, (m * N) as usize);
    let d_ws = DevBuf::<u8>::new(cuda, plan.workspace_size());
    d_y.poison();
    // SAFETY: each view covers exactly its buffer (the scales' buffers hold len elements), which outlives the run
    // and the synchronize below.
    let args = unsafe {
        ScaledMatmulArgs::<T> {
            act_q: TensorRef::contiguous(d_a.dptr(), [m, k]),
            weight_q: TensorRef::contiguous(d_w.dptr(), [N, k]),
            act_scale: TensorRef::contiguous(d_sa.dptr(), [d_sa.len as i64]),
            weight_scale: TensorRef::contiguous(d_sw.dptr(), [d_sw.len as i64]),
            bias: desc.has_bias.then(|| TensorRef::contiguous(d_bias.dptr(), [N])),
            output: TensorMut::contiguous(d_y.dptr(), [m, N]),
            act_zero_point: None,
            weight_colsum: None,
        }
    };
    plan.can_implement(&args).unwrap_or_else(|e| panic!("{what}: can_implement: {e}"));
    // An act_scale of the wrong length for the mode is refused by name ([M + 1] per token, [2] per tensor).
    let wrong = if desc.act_scale == ActScaleMode::PerToken { m + 1 } else { 2 };
    let bad = ScaledMatmulArgs::<T> {
        act_scale: unsafe { TensorRef::contiguous(d_sa.dptr(), [wrong]) },
        output: unsafe { TensorMut::contiguous(d_y.dptr(), [m, N]) },
        ..args
    };
    let e = plan.clone().can_implement(&bad).unwrap_err();
    assert!(matches!(e, qjit::Error::InvalidArgument(_)) && e.message().contains("act_scale"), "{what}: {e}");
    let ws = unsafe { Workspace::from_raw(d_ws.dptr(), plan.workspace_size()) };
    plan.run(&stream, ws, &args).unwrap_or_else(|e| panic!("{what}: run: {e}"));
    cuda.sync();
    (d_y.to_host(), g)
}

fn scaled_matmul_every_mode<T: HostFloat>() {
    let Some(cuda) = cuda_or_skip() else { return };
    let mut rng = Rng::new();
    let name = T::KIND.name();
    for (case, &(m, k)) in CASES.iter().enumerate() {
        let (mu, ku, n) = (m as usize, k as usize, N as usize);
        let a: Vec<i8> = (0..mu * ku).map(|_| rng.int8()).collect();
        let w: Vec<i8> = (0..n * ku).map(|_| rng.int8().max(-127)).collect();
        let sa: Vec<f32> = (0..mu).map(|_| rng.uniform(0.001, 0.05) as f32).collect();
        let sw: Vec<f32> = (0..n).map(|_| rng.uniform(0.5, 2.0) as f32 / 127.0).collect();
        let (sa1, sw1) = (rng.uniform(0.001, 0.05) as f32, rng.uniform(0.5, 2.0) as f32 / 127.0);
        let bias: Vec<T> = (0..n).map(|_| T::from_f32(rng.uniform(-4.0, 4.0) as f32)).collect();
        let d_a = DevBuf::from_host(&cuda, &a);
        let d_w = DevBuf::from_host(&cuda, &w);
        let d_sa = DevBuf::from_host(&cuda, &sa);
        let d_sw = DevBuf::from_host(&cuda, &sw);
        let d_sa1 = DevBuf::from_host(&cuda, &[sa1]);
        let d_sw1 = DevBuf::from_host(&cuda, &[sw1]);
        // The per-tensor scales broadcast, for the bit-for-bit comparison with the per-token / per-channel plan.
        let d_sa1_wide = DevBuf::from_host(&cuda, &vec![sa1; mu]);
        let d_sw1_wide = DevBuf::from_host(&cuda, &vec![sw1; n]);
        let d_bias = DevBuf::from_host(&cuda, &bias);
        let b64: Vec<f64> = bias.iter().map(|v| v.to_f32() as f64).collect();
        for (mode_index, &(act, weight)) in SCALE_MODES.iter().enumerate() {
            // Bias alternates so every mode sees both.
            let has_bias = (case + mode_index) % 2 == 1;
            let desc = ScaledMatmulDescriptor::new::<T>(m, N, k)
                .with_bias(has_bias)
                .with_act_scale(act)
                .with_weight_scale(weight);
            let what = format!("ScaledMatmul<{name}> {desc}");
            let act_per_tensor = act == ActScaleMode::PerTensor;
            let weight_per_tensor = weight == WeightScaleMode::PerTensor;
            let (d_sa_mode, d_sw_mode) =
                (if act_per_tensor { &d_sa1 } else { &d_sa }, if weight_per_tensor { &d_sw1 } else { &d_sw });
            let (y, g) = run_scaled_matmul::<T>(&cuda, &what, &desc, &d_a, &d_w, d_sa_mode, d_sw_mode, &d_bias);
            let sa_eff: Vec<f64> = (0..mu).map(|i| (if act_per_tensor { sa1 } else { sa[i] }) as f64).collect();
            let sw_eff: Vec<f32> = (0..n).map(|j| if weight_per_tensor { sw1 } else { sw[j] }).collect();
            let y64: Vec<f64> = y.iter().map(|v| v.to_f32() as f64).collect();
            check_output(&what, &y64, &a, &sa_eff, &w, &sw_eff, has_bias.then_some(&b64[..]), mu, ku,
                         g.epilogue_relative_error);
            if act_per_tensor || weight_per_tensor {
                // The header's promise: a per-tensor scale gives the same bits as the per-token / per-channel plan
                // with that scale broadcast.
                let base = desc.with_act_scale(ActScaleMode::PerToken).with_weight_scale(WeightScaleMode::PerChannel);
                let (d_sa_b, d_sw_b) = (if act_per_tensor { &d_sa1_wide } else { &d_sa },
                                        if weight_per_tensor { &d_sw1_wide } else { &d_sw });
                let (y_base, _) = run_scaled_matmul::<T>(&cuda, &format!("{what} (broadcast)"), &base, &d_a, &d_w,
                                                         d_sa_b, d_sw_b, &d_bias);
                for (idx, (p, b)) in y.iter().zip(&y_base).enumerate() {
                    assert_eq!(p.bits(), b.bits(), "{what}: y[{}, {}] = {p:?}, the broadcast per-token / per-channel \
                               plan gives {b:?}", idx / n, idx % n);
                }
            }
        }
    }
}

#[test]
fn scaled_matmul_bf16_every_scale_mode_matches_f64_reference() {
    scaled_matmul_every_mode::<Bf16>();
}

#[test]
fn scaled_matmul_f32_every_scale_mode_matches_f64_reference() {
    scaled_matmul_every_mode::<f32>();
}

// ---- RMSNorm / LayerNorm + quantize --------------------------------------------------------------------------------

// The CPU model of the kernels' documented f32 arithmetic (precision_guarantee's description), as
// tests/gpu/norm_quantize_test.cpp defines it. Rust never contracts a * b + c into an FMA nor keeps f32 values
// wider, and sqrt and division are IEEE, so plain f32 operations give the same bits as the C++ model's volatile
// steps: the comparison is exact, no off-by-one allowance.

/// The kernel's sum: the perfect binary tree over the index, neighbours first, -0 padding to a power of two.
fn tree_sum(v: &[f32]) -> f32 {
    let p = v.len().next_power_of_two();
    let mut t = v.to_vec();
    t.resize(p, -0.0);
    let mut s = 1;
    while s < p {
        let mut j = 0;
        while j + s < p {
            t[j] += t[j + s];
            j += 2 * s;
        }
        s *= 2;
    }
    t[0]
}

/// v (f32) of one row from h (f32, already rounded to the input type).
fn model_row(norm: NormKind, h: &[f32], g: &[f32], b: &[f32], eps: f32) -> Vec<f32> {
    let k = h.len() as f32;
    let neg_mu = if norm == NormKind::LayerNorm { -(tree_sum(h) / k) } else { 0.0 };
    let leaves: Vec<f32> = match norm {
        NormKind::LayerNorm => h.iter().map(|&x| (x + neg_mu) * (x + neg_mu)).collect(),
        NormKind::RmsNorm => h.iter().map(|&x| x * x).collect(),
    };
    let rstd = 1.0f32 / (tree_sum(&leaves) / k + eps).sqrt();
    (0..h.len())
        .map(|j| match norm {
            NormKind::LayerNorm => (h[j] + neg_mu) * rstd * g[j] + b[j],
            NormKind::RmsNorm => h[j] * rstd * g[j],
        })
        .collect()
}

/// round-half-even(v / s) saturated to int8, NaN to 0 (the dynamic pass's and the static mode's quantization).
fn quantize(v: f32, s: f32) -> i8 {
    let q = if s != 0.0 { (v / s).round_ties_even() } else { 0.0 };
    if q.is_nan() { 0 } else { q.clamp(-128.0, 127.0) as i8 }
}

/// How residual_out is given: no residual, a separate buffer, or in place over the residual.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Residual {
    None,
    Separate,
    InPlace,
}

const NORM_CASES: [(i64, i64); 3] = [(1, 512), (16, 520), (129, 4096)];

/// One norm + quantize case's inputs and the CPU model's results.
struct NormData {
    norm: NormKind,
    m: usize,
    k: usize,
    residual: Residual,
    dynamic: bool,
    eps: f32,
    x: Vec<Bf16>,
    r: Vec<Bf16>,
    gamma: Vec<Bf16>,
    beta: Vec<Bf16>,
    /// RN_bf16(x + residual) (x without a residual): residual_out, and h widened to f32.
    h_ref: Vec<Bf16>,
    /// The model's f32 v [M, K].
    v: Vec<f32>,
    static_scale: f32,
    /// Per row: the dynamic scale, or the static one.
    s_model: Vec<f32>,
    q_model: Vec<i8>,
}

impl NormData {
    fn new(rng: &mut Rng, norm: NormKind, m: i64, k: i64, residual: Residual, dynamic: bool) -> NormData {
        let (mu, ku) = (m as usize, k as usize);
        let has_res = residual != Residual::None;
        // Inputs, rounded to bf16 first so host and device see the same values: rows of different magnitude with
        // an outlier channel every 97th (as the C++ test's random_activations), a row of zeros when M > 2.
        let x: Vec<Bf16> = (0..mu)
            .flat_map(|i| {
                let row = 10f64.powf(rng.uniform(-2.0, 2.0));
                let zero = m > 2 && i == 1;
                (0..ku)
                    .map(|j| {
                        let v = rng.uniform(-1.0, 1.0) * row * if j % 97 == 5 { 20.0 } else { 1.0 };
                        Bf16::from_f32(if zero { 0.0 } else { v as f32 })
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let r: Vec<Bf16> = (0..mu * ku).map(|_| Bf16::from_f32(rng.uniform(-4.0, 4.0) as f32)).collect();
        let gamma: Vec<Bf16> = (0..ku).map(|_| Bf16::from_f32(rng.uniform(0.5, 1.5) as f32)).collect();
        let beta: Vec<Bf16> = (0..ku).map(|_| Bf16::from_f32(rng.uniform(-0.5, 0.5) as f32)).collect();
        let g32: Vec<f32> = gamma.iter().map(|v| v.to_f32()).collect();
        let b32: Vec<f32> = beta.iter().map(|v| v.to_f32()).collect();
        let eps = if norm == NormKind::RmsNorm { 1e-6f32 } else { 1e-5f32 };
        let h_ref: Vec<Bf16> = (0..mu * ku)
            .map(|i| if has_res { Bf16::from_f32(x[i].to_f32() + r[i].to_f32()) } else { x[i] })
            .collect();
        let h32: Vec<f32> = h_ref.iter().map(|v| v.to_f32()).collect();
        let v: Vec<f32> = (0..mu).flat_map(|i| model_row(norm, &h32[i * ku..(i + 1) * ku], &g32, &b32, eps)).collect();
        let absmax = |v: &[f32]| v.iter().fold(0.0f32, |a, x| a.max(x.abs()));
        // Static: 0.8 of the tensor's absmax / 127, so some values saturate.
        let static_scale = 0.8 * absmax(&v) / 127.0;
        let s_model: Vec<f32> =
            (0..mu).map(|i| if dynamic { absmax(&v[i * ku..(i + 1) * ku]) / 127.0 } else { static_scale }).collect();
        let q_model: Vec<i8> = (0..mu * ku).map(|i| quantize(v[i], s_model[i / ku])).collect();
        NormData { norm, m: mu, k: ku, residual, dynamic, eps, x, r, gamma, beta, h_ref, v, static_scale, s_model,
                   q_model }
    }

    fn descriptor(&self) -> NormQuantizeDescriptor {
        let (m, k) = (self.m as i64, self.k as i64);
        let d = match self.norm {
            NormKind::RmsNorm => NormQuantizeDescriptor::rms_norm::<Bf16>(m, k),
            NormKind::LayerNorm => NormQuantizeDescriptor::layer_norm::<Bf16>(m, k),
        }
        .with_eps(self.eps)
        .with_residual(self.residual != Residual::None);
        if self.dynamic { d } else { d.with_static_scale(self.static_scale) }
    }

    /// The f64 reference, as the C++ test checks it: the model's v within the stated bound of the exact value
    /// (`bound` is precision_guarantee's epilogue_relative_error, (ceil(log2 K) + 8) * 2^-24; LayerNorm's bound is
    /// the description's formula), and |q - clamp(v64 / s64)| <= 0.5 + the bound's share of q. Returns the worst
    /// |q - v64 / s64|.
    fn check_f64(&self, what: &str, q: &[i8], bound: f64) -> f64 {
        let (mu, ku) = (self.m, self.k);
        let depth = ku.next_power_of_two().trailing_zeros() as f64;
        let u = 2f64.powi(-24);
        assert_eq!(bound, (depth + 8.0) * u, "{what}: the stated bound is not (ceil(log2 K) + 8) * 2^-24");
        let mut worst_q = 0.0f64;
        for i in 0..mu {
            let hr: Vec<f64> = self.h_ref[i * ku..(i + 1) * ku].iter().map(|h| h.to_f32() as f64).collect();
            let kf = ku as f64;
            let mu64 = if self.norm == NormKind::LayerNorm { hr.iter().sum::<f64>() / kf } else { 0.0 };
            let mean_abs = hr.iter().map(|h| h.abs()).sum::<f64>() / kf;
            let ss: f64 = hr.iter().map(|h| (h - mu64) * (h - mu64)).sum();
            let rstd = 1.0 / (ss / kf + self.eps as f64).sqrt();
            let (mut amax64, mut err_max) = (0.0f64, 0.0f64);
            let mut v64 = vec![0.0; ku];
            let mut err = vec![0.0; ku];
            for j in 0..ku {
                let g = self.gamma[j].to_f32() as f64;
                let b = if self.norm == NormKind::LayerNorm { self.beta[j].to_f32() as f64 } else { 0.0 };
                v64[j] = (hr[j] - mu64) * rstd * g + b;
                err[j] = match self.norm {
                    NormKind::RmsNorm => bound * v64[j].abs(),
                    NormKind::LayerNorm => (depth + 10.0) * u * ((v64[j] - b).abs() + g * rstd * mean_abs) + u * b.abs(),
                } + 1e-37;
                let got = self.v[i * ku + j] as f64;
                assert!((got - v64[j]).abs() <= err[j], "{what}: v[{i}, {j}] = {got}, f64 {}: beyond {:e}", v64[j],
                        err[j]);
                amax64 = amax64.max(v64[j].abs());
                err_max = err_max.max(err[j]);
            }
            let s64 = if self.dynamic { amax64 / 127.0 } else { self.static_scale as f64 };
            if s64 == 0.0 {
                assert!(q[i * ku..(i + 1) * ku].iter().all(|&x| x == 0), "{what}: row {i} of zeros gives q != 0");
                continue;
            }
            for j in 0..ku {
                let want = (v64[j] / s64).clamp(-128.0, 127.0);
                let share = if self.dynamic { v64[j].abs() * err_max / amax64 } else { 0.0 };
                let tol = 0.5 + (err[j] + share) / s64 + 1e-6;
                let d = (q[i * ku + j] as f64 - want).abs();
                worst_q = worst_q.max(d);
                assert!(d <= tol, "{what}: q[{i}, {j}] = {}, f64 {want}: beyond {tol}", q[i * ku + j]);
            }
        }
        worst_q
    }
}

fn check_norm_quantize_bf16(cuda: &Cuda, rng: &mut Rng, norm: NormKind, m: i64, k: i64, residual: Residual,
                            dynamic: bool) {
    let stream = Stream::null();
    let data = NormData::new(rng, norm, m, k, residual, dynamic);
    let (mu, ku) = (data.m, data.k);
    let has_res = residual != Residual::None;
    let desc = data.descriptor();
    let what = format!("{desc} (residual {residual:?})");

    // The GPU run, outputs poisoned.
    let d_x = DevBuf::from_host(cuda, &data.x);
    let d_r = DevBuf::from_host(cuda, &data.r);
    let d_ro = DevBuf::<Bf16>::new(cuda, mu * ku);
    let d_g = DevBuf::from_host(cuda, &data.gamma);
    let d_b = DevBuf::from_host(cuda, &data.beta);
    let d_q = DevBuf::<i8>::new(cuda, mu * ku);
    let d_s = DevBuf::<f32>::new(cuda, mu);
    d_ro.poison();
    d_q.poison_with(0x55);
    d_s.poison();
    let res_out = if residual == Residual::InPlace { &d_r } else { &d_ro };
    // SAFETY: each view covers exactly its buffer, which outlives the run and the synchronize below; in place,
    // residual and residual_out are the very same memory and stride, which the library allows.
    let args = unsafe {
        NormQuantizeArgs::<Bf16> {
            input: TensorRef::contiguous(d_x.dptr(), [m, k]),
            residual: has_res.then(|| TensorRef::contiguous(d_r.dptr(), [m, k])),
            residual_out: has_res.then(|| TensorMut::contiguous(res_out.dptr(), [m, k])),
            gamma: TensorRef::contiguous(d_g.dptr(), [k]),
            beta: (norm == NormKind::LayerNorm).then(|| TensorRef::contiguous(d_b.dptr(), [k])),
            output: TensorMut::contiguous(d_q.dptr(), [m, k]),
            scale: dynamic.then(|| TensorMut::contiguous(d_s.dptr(), [m])),
        }
    };
    let g = match norm {
        NormKind::RmsNorm => {
            let plan = RmsNormQuantizePlan::<Bf16>::select(&stream, &desc, PlanPreference::Heuristic)
                .unwrap_or_else(|e| panic!("{what}: select: {e}"));
            assert_eq!(plan.workspace_size(), 0, "{what}");
            plan.can_implement(&args).unwrap_or_else(|e| panic!("{what}: can_implement: {e}"));
            // A beta on an RMSNorm plan is refused by name.
            let with_beta = NormQuantizeArgs::<Bf16> {
                beta: Some(unsafe { TensorRef::contiguous(d_b.dptr(), [k]) }),
                residual_out: has_res.then(|| unsafe { TensorMut::contiguous(res_out.dptr(), [m, k]) }),
                output: unsafe { TensorMut::contiguous(d_q.dptr(), [m, k]) },
                scale: dynamic.then(|| unsafe { TensorMut::contiguous(d_s.dptr(), [m]) }),
                ..args
            };
            let e = plan.can_implement(&with_beta).unwrap_err();
            assert!(matches!(e, qjit::Error::InvalidArgument(_)) && e.message().contains("beta"), "{what}: {e}");
            println!("{what}: {}", plan.describe());
            plan.run(&stream, Workspace::none(), &args).unwrap_or_else(|e| panic!("{what}: run: {e}"));
            plan.precision_guarantee()
        }
        NormKind::LayerNorm => {
            let plan = LayerNormQuantizePlan::<Bf16>::select(&stream, &desc, PlanPreference::Heuristic)
                .unwrap_or_else(|e| panic!("{what}: select: {e}"));
            assert_eq!(plan.workspace_size(), 0, "{what}");
            plan.can_implement(&args).unwrap_or_else(|e| panic!("{what}: can_implement: {e}"));
            println!("{what}: {}", plan.describe());
            plan.run(&stream, Workspace::none(), &args).unwrap_or_else(|e| panic!("{what}: run: {e}"));
            plan.precision_guarantee()
        }
    };
    cuda.sync();
    assert!(g.deterministic, "{what}: {g:?}");
    let q = d_q.to_host();
    let s = d_s.to_host();

    // 1. The model, bit for bit: q, the scales (dynamic; with a static scale no scale tensor is passed), and
    //    residual_out = RN_bf16(x + residual).
    for i in 0..mu {
        if dynamic {
            let want = data.s_model[i];
            assert_eq!(s[i].to_bits(), want.to_bits(), "{what}: scale[{i}] = {}, model {want}", s[i]);
        }
        for j in 0..ku {
            let at = i * ku + j;
            assert_eq!(q[at], data.q_model[at], "{what}: q[{i}, {j}] (model v = {})", data.v[at]);
        }
    }
    if has_res {
        let ro = res_out.to_host();
        for (i, (got, want)) in ro.iter().zip(&data.h_ref).enumerate() {
            assert_eq!(got.0, want.0, "{what}: residual_out[{}, {}] = {:?}, x + residual = {:?}", i / ku, i % ku,
                       got.to_f32(), want.to_f32());
        }
    }

    // 2. DynamicRangeQuantizePlan<f32> on the model's v gives the same bits (per token).
    if dynamic {
        let drq = DynamicRangeQuantizePlan::<f32>::select(
            &stream,
            &DynamicRangeQuantizeDescriptor::new::<f32>(m, k, QuantGranularity::PerToken),
            PlanPreference::Heuristic,
        )
        .unwrap_or_else(|e| panic!("{what}: DynamicRangeQuantize select: {e}"));
        let d_v = DevBuf::from_host(cuda, &data.v);
        let d_q2 = DevBuf::<i8>::new(cuda, mu * ku);
        let d_s2 = DevBuf::<f32>::new(cuda, mu);
        let d_ws = DevBuf::<u8>::new(cuda, drq.workspace_size());
        d_q2.poison_with(0x55);
        d_s2.poison();
        // SAFETY: as above.
        let a = unsafe {
            DynamicRangeQuantizeArgs::<f32> {
                input: TensorRef::contiguous(d_v.dptr(), [m, k]),
                output: TensorMut::contiguous(d_q2.dptr(), [m, k]),
                scale: TensorMut::contiguous(d_s2.dptr(), [m]),
                pre_quant_scale: None,
                zero_point: None,
            }
        };
        let ws = unsafe { Workspace::from_raw(d_ws.dptr(), drq.workspace_size()) };
        drq.run(&stream, ws, &a).unwrap_or_else(|e| panic!("{what}: DynamicRangeQuantize run: {e}"));
        cuda.sync();
        let (q2, s2) = (d_q2.to_host(), d_s2.to_host());
        for i in 0..mu {
            assert_eq!(s[i].to_bits(), s2[i].to_bits(), "{what}: scale[{i}] vs DynamicRangeQuantize");
            for j in 0..ku {
                assert_eq!(q[i * ku + j], q2[i * ku + j], "{what}: q[{i}, {j}] vs DynamicRangeQuantize");
            }
        }
    }

    // 3. The f64 reference within the stated bound.
    let worst = data.check_f64(&what, &q, g.epilogue_relative_error);
    println!("{what}: bit-exact against the f32 model{}; worst |q - v64 / s64| {worst:.4}",
             if dynamic { " and DynamicRangeQuantize" } else { "" });
}

fn norm_quantize_bf16_every_mode(norm: NormKind) {
    let Some(cuda) = cuda_or_skip() else { return };
    let mut rng = Rng::new();
    for (case, &(m, k)) in NORM_CASES.iter().enumerate() {
        // A residual written to a separate buffer, or in place over the residual on the middle shape.
        let with = if case == 1 { Residual::InPlace } else { Residual::Separate };
        for residual in [Residual::None, with] {
            for dynamic in [true, false] {
                check_norm_quantize_bf16(&cuda, &mut rng, norm, m, k, residual, dynamic);
            }
        }
    }
}

#[test]
fn rms_norm_quantize_bf16_matches_the_model_and_f64_reference() {
    norm_quantize_bf16_every_mode(NormKind::RmsNorm);
}

#[test]
fn layer_norm_quantize_bf16_matches_the_model_and_f64_reference() {
    norm_quantize_bf16_every_mode(NormKind::LayerNorm);
}

/// Runs everywhere, GPU or not: the test's own f32 model (which the kernels must match bit for bit) sums in the
/// kernels' tree order, and stays within the stated bound of the f64 reference, q included, for every case the GPU
/// tests run; so on the GPU a failure points at the kernel, not at the model.
#[test]
fn norm_quantize_model_sums_in_tree_order_and_meets_the_f64_bound() {
    // Sequentially ((1e8 + 1) - 1e8) + 1 = 1; the tree (1e8 + 1) + (-1e8 + 1) rounds each pair to +-1e8: 0.
    assert_eq!(tree_sum(&[1e8, 1.0, -1e8, 1.0]), 0.0);
    assert_eq!(tree_sum(&[1.0, 2.0, 3.0]), 6.0);
    assert_eq!(tree_sum(&[-0.0]).to_bits(), (-0.0f32).to_bits());
    assert_eq!((quantize(2.5, 1.0), quantize(-3.5, 1.0), quantize(1e9, 1.0), quantize(f32::NAN, 1.0)), (2, -4, 127, 0));
    let mut rng = Rng::new();
    for norm in [NormKind::RmsNorm, NormKind::LayerNorm] {
        for &(m, k) in &NORM_CASES {
            for residual in [Residual::None, Residual::Separate] {
                for dynamic in [true, false] {
                    let data = NormData::new(&mut rng, norm, m, k, residual, dynamic);
                    let what = format!("model of {} (residual {residual:?})", data.descriptor());
                    let depth = (k as usize).next_power_of_two().trailing_zeros() as f64;
                    let worst = data.check_f64(&what, &data.q_model, (depth + 8.0) * 2f64.powi(-24));
                    assert!(worst <= 0.5 + 1e-3, "{what}: worst |q - v64 / s64| {worst}");
                    if !dynamic {
                        assert!(data.q_model.iter().any(|&q| q == 127 || q == -128), "{what}: no saturation");
                    }
                }
            }
        }
    }
}

// ---- DynamicRangeQuantizePlan asymmetric (u8 and i8 codes) ----------------------------------------------------

/// The documented asymmetric rule on f32 rows, each step one f32 operation as the library states it: lo = min(0,
/// min x), hi = max(0, max x), scale = (hi − lo) / 255, zero_point = clamp(rni(−lo / scale), 0, 255), q = clamp(
/// clamp(rni(x / scale), −256, 256) + zero_point, 0, 255); a row of zeros has scale 0, zero point 0 and codes 0.
fn asymmetric_model(row: &[f32]) -> (f32, i32, Vec<i32>) {
    let (mut lo, mut hi) = (0.0f32, 0.0f32);
    for &v in row {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    let scale = (hi - lo) / 255.0;
    if scale == 0.0 {
        return (scale, 0, vec![0; row.len()]);
    }
    let zp = (-lo / scale).clamp(0.0, 255.0).round_ties_even() as i32;
    let q = row.iter().map(|&v| ((v / scale).clamp(-256.0, 256.0).round_ties_even() as i32 + zp).clamp(0, 255)).collect();
    (scale, zp, q)
}

fn check_asymmetric<TQ: qjit::IntElement + Copy + Into<i32>>(cuda: &Cuda, rng: &mut Rng, shift: i32) {
    let (m, k) = (5i64, 515i64); // odd K: the scalar tail
    let (mu, ku) = (m as usize, k as usize);
    let mut x = vec![0.0f32; mu * ku];
    for i in 0..mu {
        for j in 0..ku {
            let a = rng.uniform(-3.0, 3.0) as f32;
            x[i * ku + j] = match i {
                0 => a.max(-0.17),     // one-sided, as after a GELU
                1 => 0.0,              // all zero
                2 => -a.abs() - 0.01,  // all negative
                _ => a + 0.7,          // skewed, signed
            };
        }
    }
    let plan = DynamicRangeQuantizePlan::<f32, TQ>::select(
        &Stream::null(),
        &DynamicRangeQuantizeDescriptor::asymmetric::<f32, TQ>(m, k),
        PlanPreference::Heuristic,
    )
    .unwrap_or_else(|e| panic!("asymmetric select: {e}"));
    let d_x = DevBuf::from_host(cuda, &x);
    let d_q = DevBuf::<TQ>::new(cuda, mu * ku);
    let d_s = DevBuf::<f32>::new(cuda, mu);
    let d_z = DevBuf::<i32>::new(cuda, mu);
    let d_ws = DevBuf::<u8>::new(cuda, plan.workspace_size());
    d_q.poison_with(0x55);
    d_s.poison();
    d_z.poison();
    // SAFETY: every view lies inside its live buffer.
    let a = unsafe {
        DynamicRangeQuantizeArgs::<f32, TQ> {
            input: TensorRef::contiguous(d_x.dptr(), [m, k]),
            output: TensorMut::contiguous(d_q.dptr(), [m, k]),
            scale: TensorMut::contiguous(d_s.dptr(), [m]),
            pre_quant_scale: None,
            zero_point: Some(TensorMut::contiguous(d_z.dptr(), [m])),
        }
    };
    plan.can_implement(&a).unwrap_or_else(|e| panic!("asymmetric can_implement: {e}"));
    let ws = unsafe { Workspace::from_raw(d_ws.dptr(), plan.workspace_size()) };
    plan.run(&Stream::null(), ws, &a).unwrap_or_else(|e| panic!("asymmetric run: {e}"));
    cuda.sync();
    let (q, s, z) = (d_q.to_host(), d_s.to_host(), d_z.to_host());
    for i in 0..mu {
        let (scale, zp, codes) = asymmetric_model(&x[i * ku..(i + 1) * ku]);
        assert_eq!(s[i].to_bits(), scale.to_bits(), "scale[{i}] ({} codes)", std::any::type_name::<TQ>());
        assert_eq!(z[i], zp - shift, "zero_point[{i}]");
        for j in 0..ku {
            assert_eq!(q[i * ku + j].into(), codes[j] - shift, "q[{i}, {j}] (x = {})", x[i * ku + j]);
        }
    }
    println!("asymmetric {} codes: {m} x {k} bit for bit against the documented rule", std::any::type_name::<TQ>());
    // Missing zero points are refused naming the field.
    let no_zp = unsafe {
        DynamicRangeQuantizeArgs::<f32, TQ> {
            input: TensorRef::contiguous(d_x.dptr(), [m, k]),
            output: TensorMut::contiguous(d_q.dptr(), [m, k]),
            scale: TensorMut::contiguous(d_s.dptr(), [m]),
            pre_quant_scale: None,
            zero_point: None,
        }
    };
    let e = plan.can_implement(&no_zp).expect_err("an asymmetric run without zero points must be refused");
    assert!(e.to_string().contains("zero_point"), "{e}");
}

#[test]
fn dynamic_range_quantize_asymmetric_u8_and_i8_match_the_rule_bit_for_bit() {
    let Some(cuda) = cuda_or_skip() else { return };
    let mut rng = Rng::new();
    check_asymmetric::<u8>(&cuda, &mut rng, 0);
    check_asymmetric::<i8>(&cuda, &mut rng, 128);
}

// ---- WeightOnlyLinear (W8A16) --------------------------------------------------------------------------------

impl HostFloat for qjit::F16 {
    fn from_f32(f: f32) -> Self {
        qjit::F16::from_f32(f)
    }
    fn to_f32(self) -> f32 {
        qjit::F16::to_f32(self)
    }
    fn bits(self) -> u32 {
        self.0 as u32
    }
}

/// WeightOnlyLinearPlan<T> on fresh random data in every scale mode × zero point × bias, M in {1, 16, 129}, N = 256,
/// K = 520 (not a multiple of the group: the last group is partial), output poisoned with NaN first, against the f64
/// sum of x · w_ref with w_ref = (q − zp) · scale exact (what precision_guarantee's bound is stated against):
/// |y − y_ref| <= eps · (Σ_k |x| |w_ref| + |bias|); a second run gives the same bits.
fn weight_only_linear_every_mode<T: HostFloat + Copy>() {
    let Some(cuda) = cuda_or_skip() else { return };
    let mut rng = Rng::new();
    let stream = Stream::null();
    let (n, k) = (256i64, 520i64);
    let (nu, ku) = (n as usize, k as usize);
    let wq: Vec<i8> = (0..nu * ku).map(|_| rng.int8()).collect();
    let d_w = DevBuf::from_host(&cuda, &wq);
    let modes = [WeightOnlyScale::PerChannel, WeightOnlyScale::PerTensor, WeightOnlyScale::PerGroup(64),
                 WeightOnlyScale::PerGroup(128)];
    for m in [1i64, 16, 129] {
        let mu = m as usize;
        let x: Vec<T> = (0..mu * ku).map(|_| T::from_f32(rng.uniform(-1.0, 1.0) as f32)).collect();
        let d_x = DevBuf::from_host(&cuda, &x);
        for mode in modes {
            let (rows, cols) = match mode {
                WeightOnlyScale::PerChannel => (nu, 1),
                WeightOnlyScale::PerTensor => (1, 1),
                WeightOnlyScale::PerGroup(g) => (nu, ku.div_ceil(g as usize)),
            };
            let scale: Vec<f32> = (0..rows * cols).map(|_| (rng.uniform(0.5, 1.5) / 127.0) as f32).collect();
            let d_s = DevBuf::from_host(&cuda, &scale);
            for zp_on in [false, true] {
                let zp: Vec<i32> = (0..rows * cols).map(|_| if zp_on { (rng.next() % 17) as i32 - 8 } else { 0 }).collect();
                let d_z = DevBuf::from_host(&cuda, &zp);
                for bias_on in [false, true] {
                    let bias: Vec<T> = (0..nu).map(|_| T::from_f32(rng.uniform(-2.0, 2.0) as f32)).collect();
                    let d_b = DevBuf::from_host(&cuda, &bias);
                    let desc = WeightOnlyLinearDescriptor::new::<T>(m, n, k)
                        .with_weight_scale(mode)
                        .with_zero_point(zp_on)
                        .with_bias(bias_on);
                    let what = format!("{desc}");
                    let plan = WeightOnlyLinearPlan::<T>::select(&stream, &desc, PlanPreference::Heuristic)
                        .unwrap_or_else(|e| panic!("{what}: select: {e}"));
                    let g = plan.precision_guarantee();
                    let d_y = DevBuf::<T>::new(&cuda, mu * nu);
                    let ws_bytes = plan.workspace_size_for_m(m).unwrap();
                    let d_ws = DevBuf::<u8>::new(&cuda, ws_bytes);
                    // SAFETY: every view lies inside its live buffer.
                    let a = unsafe {
                        WeightOnlyLinearArgs::<T> {
                            activation: TensorRef::contiguous(d_x.dptr(), [m, k]),
                            weight: TensorRef::contiguous(d_w.dptr(), [n, k]),
                            weight_scale: TensorRef::contiguous(d_s.dptr(), [rows as i64, cols as i64]),
                            zero_point: zp_on.then(|| TensorRef::contiguous(d_z.dptr(), [rows as i64, cols as i64])),
                            bias: bias_on.then(|| TensorRef::contiguous(d_b.dptr(), [n])),
                            output: TensorMut::contiguous(d_y.dptr(), [m, n]),
                        }
                    };
                    plan.can_implement(&a).unwrap_or_else(|e| panic!("{what}: can_implement: {e}"));
                    let mut first: Vec<u32> = Vec::new();
                    for run in 0..2 {
                        d_y.poison();
                        let ws = unsafe { Workspace::from_raw(d_ws.dptr(), ws_bytes) };
                        plan.run(&stream, ws, &a).unwrap_or_else(|e| panic!("{what}: run: {e}"));
                        cuda.sync();
                        let y = d_y.to_host();
                        let bits: Vec<u32> = y.iter().map(|v| v.bits()).collect();
                        if run == 1 {
                            assert_eq!(bits, first, "{what}: a second run must give the same bits");
                            break;
                        }
                        first = bits;
                        for i in 0..mu {
                            for j in 0..nu {
                                let (mut acc, mut mag) = (0.0f64, 0.0f64);
                                for kk in 0..ku {
                                    let s_idx = match mode {
                                        WeightOnlyScale::PerChannel => j,
                                        WeightOnlyScale::PerTensor => 0,
                                        WeightOnlyScale::PerGroup(gs) => j * cols + kk / gs as usize,
                                    };
                                    let w = (wq[j * ku + kk] as f64 - zp[s_idx] as f64) * scale[s_idx] as f64;
                                    let xv = x[i * ku + kk].to_f32() as f64;
                                    acc += xv * w;
                                    mag += (xv * w).abs();
                                }
                                let b = if bias_on { bias[j].to_f32() as f64 } else { 0.0 };
                                let got = y[i * nu + j].to_f32() as f64;
                                let bound = g.epilogue_relative_error * (mag + b.abs()) + f32::MIN_POSITIVE as f64;
                                assert!((got - (acc + b)).abs() <= bound,
                                        "{what}: y[{i}, {j}] = {got}, reference {}, bound {bound}", acc + b);
                            }
                        }
                    }
                }
            }
        }
    }
    println!("WeightOnlyLinear<{}>: every scale mode x zero point x bias within the bound, runs bit for bit",
             std::any::type_name::<T>());
}

#[test]
fn weight_only_linear_bf16_every_mode_matches_f64_reference() {
    weight_only_linear_every_mode::<Bf16>();
}

#[test]
fn weight_only_linear_f16_every_mode_matches_f64_reference() {
    weight_only_linear_every_mode::<qjit::F16>();
}
