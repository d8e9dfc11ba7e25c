//! What `cargo test` checks on any machine, GPU or not: descriptor validation surfaced as Error::InvalidArgument
//! with the library's message naming the field, DriverUnavailable surfaced for a valid descriptor where there is no
//! CUDA driver, the error text, versions and the ABI. Validation runs before the driver is touched, so every
//! invalid-descriptor case here behaves the same with or without a GPU.
use qjit::{
    ActScaleMode, Bf16, DynamicRangeQuantizeDescriptor, DynamicRangeQuantizePlan, ElementKind, Error,
    LayerNormQuantizePlan, NormKind, NormQuantizeDescriptor, PlanPreference, QuantGranularity,
    QuantizedLinearDescriptor, QuantizedLinearPlan, RmsNormQuantizePlan, ScaledMatmulDescriptor, ScaledMatmulPlan,
    SmoothQuantLinearDescriptor, SmoothQuantLinearPlan, Stream, WeightScaleMode, F16,
};

fn invalid(r: qjit::Result<impl std::fmt::Debug>, field: &str) -> String {
    match r {
        Err(Error::InvalidArgument(m)) => {
            assert!(m.contains(field), "the message should name {field}: {m:?}");
            m
        }
        other => panic!("expected InvalidArgument naming {field}, got {other:?}"),
    }
}

extern "C" {
    fn dlopen(filename: *const std::ffi::c_char, flag: std::ffi::c_int) -> *mut std::ffi::c_void;
}

/// Whether this machine has a CUDA driver library at all (then a valid select may succeed).
fn cuda_driver_present() -> bool {
    // SAFETY: a NUL-terminated name; RTLD_LAZY. The handle is leaked on purpose (the library stays loaded anyway).
    !unsafe { dlopen(c"libcuda.so.1".as_ptr(), 1) }.is_null()
}

#[test]
fn abi_and_version() {
    assert_eq!(qjit::abi_version(), 1, "this crate declares ABI 1");
    assert_eq!(qjit::ABI_VERSION, 1);
    qjit::version::check_abi().expect("the library serves ABI 1");
    let (a, b, c) = qjit::version_numbers();
    assert_eq!(qjit::version(), format!("{a}.{b}.{c}"));
    assert!(a >= 0 && b >= 0 && c >= 0);
}

#[test]
fn valid_descriptor_without_a_driver_is_driver_unavailable() {
    let desc = QuantizedLinearDescriptor::new::<Bf16>(16, 4096, 4096);
    let r = QuantizedLinearPlan::<Bf16>::select(&Stream::null(), &desc, PlanPreference::Heuristic);
    match r {
        Err(e @ Error::DriverUnavailable(_)) => {
            assert_eq!(e.code(), 5);
            assert!(!e.message().is_empty(), "DriverUnavailable should say why");
            println!("as expected without a GPU: {e}");
        }
        Ok(plan) => {
            assert!(cuda_driver_present(), "select succeeded on a machine without libcuda.so.1");
            println!("a CUDA device is present; select gave {}", plan.describe());
        }
        Err(e) => assert!(cuda_driver_present(), "expected DriverUnavailable without libcuda.so.1, got {e}"),
    }
    let sq = SmoothQuantLinearDescriptor::new::<f32>(1, 256, 512, 0.02).with_bias(true);
    let r = SmoothQuantLinearPlan::<f32>::select(&Stream::null(), &sq, PlanPreference::Tuned);
    if !cuda_driver_present() {
        assert!(matches!(r, Err(Error::DriverUnavailable(_))), "{r:?}");
    }
    let q = DynamicRangeQuantizeDescriptor::new::<F16>(8, 4096, QuantGranularity::PerTensor);
    let r = DynamicRangeQuantizePlan::<F16>::select(&Stream::null(), &q, PlanPreference::Heuristic);
    if !cuda_driver_present() {
        assert!(matches!(r, Err(Error::DriverUnavailable(_))), "{r:?}");
    }
}

#[test]
fn zero_and_negative_dimensions_name_the_field() {
    let s = Stream::null();
    let p = PlanPreference::Heuristic;
    let m = invalid(QuantizedLinearPlan::<Bf16>::select(&s, &QuantizedLinearDescriptor::new::<Bf16>(16, 256, 0), p), "descriptor.k");
    assert!(m.contains("got 0"), "{m}");
    invalid(QuantizedLinearPlan::<f32>::select(&s, &QuantizedLinearDescriptor::new::<f32>(0, 256, 512), p), "descriptor.m");
    invalid(QuantizedLinearPlan::<f32>::select(&s, &QuantizedLinearDescriptor::new::<f32>(4, -1, 512), p), "descriptor.n");
    invalid(QuantizedLinearPlan::<f32>::select(&s, &QuantizedLinearDescriptor::new::<f32>(4, 256, 1 << 31), p), "descriptor.k");
    invalid(SmoothQuantLinearPlan::<f64>::select(&s, &SmoothQuantLinearDescriptor::new::<f64>(4, 256, 0, 0.5), p), "descriptor.k");
    invalid(
        DynamicRangeQuantizePlan::<f32>::select(&s, &DynamicRangeQuantizeDescriptor::new::<f32>(4, 0, QuantGranularity::PerToken), p),
        "descriptor.k",
    );
}

#[test]
fn act_scale_must_be_finite_and_positive() {
    let s = Stream::null();
    for bad in [f32::NAN, f32::INFINITY, 0.0, -0.5] {
        let d = SmoothQuantLinearDescriptor::new::<Bf16>(16, 256, 512, bad);
        let m = invalid(SmoothQuantLinearPlan::<Bf16>::select(&s, &d, PlanPreference::Heuristic), "descriptor.act_scale");
        assert!(m.contains("finite"), "{m}");
    }
}

#[test]
fn wrong_element_kinds_are_refused_with_the_field() {
    let s = Stream::null();
    let p = PlanPreference::Heuristic;
    // The library's check: a SmoothQuant activation must be s8.
    let mut d = SmoothQuantLinearDescriptor::new::<f32>(16, 256, 512, 0.1);
    d.activation_element = ElementKind::F32;
    let m = invalid(SmoothQuantLinearPlan::<f32>::select(&s, &d, p), "descriptor.activation_element");
    assert!(m.contains("s8"), "{m}");
    // The library's check: QuantizedLinear's activation must equal its output element.
    let mut d = QuantizedLinearDescriptor::new::<f32>(16, 256, 512);
    d.weight_element = ElementKind::U8;
    let m = invalid(QuantizedLinearPlan::<f32, u8>::select(&s, &d, p), "descriptor.weight_element");
    assert!(m.contains("u8"), "{m}");
    // The typed plan's check (the C ABI knows no TIn): a descriptor for f32 handed to a bf16 plan.
    let d = QuantizedLinearDescriptor::new::<f32>(16, 256, 512);
    let m = invalid(QuantizedLinearPlan::<Bf16>::select(&s, &d, p), "descriptor.activation_element");
    assert_eq!(m, "descriptor.activation_element must be bf16 for this plan type, got f32");
    let d = SmoothQuantLinearDescriptor::new::<f64>(16, 256, 512, 0.1);
    invalid(SmoothQuantLinearPlan::<F16>::select(&s, &d, p), "descriptor.output_element");
    let d = DynamicRangeQuantizeDescriptor::new::<Bf16>(4, 64, QuantGranularity::PerToken);
    let m = invalid(DynamicRangeQuantizePlan::<f32>::select(&s, &d, p), "descriptor.input_element");
    assert_eq!(m, "descriptor.input_element must be f32 for this plan, got bf16");
    // Asymmetric: the plan's code type must be the descriptor's (u8 codes handed to an i8 plan), and the library
    // refuses a non-integer code type naming the field.
    let d = DynamicRangeQuantizeDescriptor::asymmetric::<f32, u8>(4, 64);
    let m = invalid(DynamicRangeQuantizePlan::<f32>::select(&s, &d, p), "descriptor.output_element");
    assert_eq!(m, "descriptor.output_element must be s8 for this plan (its codes' type), got u8");
    // WeightOnlyLinear: the typed plan's check, then the library's (f32 activations, a group size it has no kernel for).
    let d = qjit::WeightOnlyLinearDescriptor::new::<qjit::F16>(16, 256, 512);
    let m = invalid(qjit::WeightOnlyLinearPlan::<Bf16>::select(&s, &d, p), "descriptor.activation_element");
    assert_eq!(m, "descriptor.activation_element must be bf16 for this plan type, got f16");
    let d = qjit::WeightOnlyLinearDescriptor::new::<f32>(16, 256, 512);
    invalid(qjit::WeightOnlyLinearPlan::<f32>::select(&s, &d, p), "descriptor.activation_element");
    let d = qjit::WeightOnlyLinearDescriptor::new::<Bf16>(16, 256, 512)
        .with_weight_scale(qjit::WeightOnlyScale::PerGroup(32));
    invalid(qjit::WeightOnlyLinearPlan::<Bf16>::select(&s, &d, p), "descriptor.group_size");
    let mut d = DynamicRangeQuantizeDescriptor::asymmetric::<f32, i8>(4, 64);
    d.granularity = QuantGranularity::PerTensor;
    invalid(DynamicRangeQuantizePlan::<f32, i8>::select(&s, &d, p), "descriptor.granularity");
}

#[test]
fn error_text_matches_the_cpp_status_to_string() {
    let e = Error::InvalidArgument("activation.shape must be [M=16, K=256], got [16, 257]".into());
    assert_eq!(e.to_string(), "InvalidArgument: activation.shape must be [M=16, K=256], got [16, 257]");
    assert_eq!(e.code(), 1);
    assert_eq!(e.message(), "activation.shape must be [M=16, K=256], got [16, 257]");
    // Every variant's name is the library's name for its code, and from_code inverts code().
    for code in 1..=10 {
        let e = Error::from_code(code, "m".into());
        assert_eq!(e.code(), code);
        assert_eq!(e.name(), qjit::version::status_name(code), "code {code}");
        assert_eq!(e.to_string(), format!("{}: m", e.name()));
    }
    let unknown = Error::from_code(42, "later".into());
    assert!(matches!(unknown, Error::Internal(ref m) if m.contains("42") && m.contains("later")));
    fn is_std_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
    is_std_error(&e);
    let boxed: Box<dyn std::error::Error> = Box::new(e);
    assert!(boxed.to_string().starts_with("InvalidArgument: "));
}

#[test]
fn an_error_message_survives_later_calls() {
    let s = Stream::null();
    let e = QuantizedLinearPlan::<f32>::select(&s, &QuantizedLinearDescriptor::new::<f32>(1, 1, 0), PlanPreference::Heuristic)
        .unwrap_err();
    let _ = QuantizedLinearPlan::<f32>::select(&s, &QuantizedLinearDescriptor::new::<f32>(0, 1, 1), PlanPreference::Heuristic);
    assert!(e.message().contains("descriptor.k"), "{e}");
}

#[test]
fn descriptors_print_as_the_library_prints_them() {
    let d = QuantizedLinearDescriptor::new::<Bf16>(16, 4096, 4096);
    let text = d.to_string();
    assert!(text.starts_with("quantized_linear m=16 n=4096 k=4096"), "{text}");
    let long = QuantizedLinearDescriptor::new::<Bf16>(i64::MAX, i64::MAX, i64::MAX).with_bias(true).to_string();
    assert!(long.contains("9223372036854775807"), "{long}");
    assert!(SmoothQuantLinearDescriptor::new::<f32>(1, 2, 3, 0.5).to_string().starts_with("smooth_quant_linear"));
    assert!(DynamicRangeQuantizeDescriptor::new::<f32>(1, 2, QuantGranularity::PerToken).to_string().contains("2"));
    let asym = DynamicRangeQuantizeDescriptor::asymmetric::<Bf16, u8>(8, 4096).to_string();
    assert!(asym.contains("asymmetric out=u8"), "{asym}");
    let w8 = qjit::WeightOnlyLinearDescriptor::new::<Bf16>(16, 4096, 4096)
        .with_weight_scale(qjit::WeightOnlyScale::PerGroup(128))
        .with_zero_point(true)
        .to_string();
    assert!(w8.starts_with("weight_only_linear m=16 n=4096 k=4096"), "{w8}");
}

#[test]
fn plans_are_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<QuantizedLinearPlan<Bf16>>();
    check::<SmoothQuantLinearPlan<f32>>();
    check::<DynamicRangeQuantizePlan<F16>>();
    check::<DynamicRangeQuantizePlan<f32, u8>>();
    check::<qjit::WeightOnlyLinearPlan<Bf16>>();
    check::<ScaledMatmulPlan<Bf16>>();
    check::<RmsNormQuantizePlan<f32>>();
    check::<LayerNormQuantizePlan<F16>>();
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Stream>();
    send_sync::<Error>();
}

#[test]
fn validation_is_per_thread_and_thread_safe() {
    let handles: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let d = if i % 2 == 0 {
                        QuantizedLinearDescriptor::new::<f32>(1, 256, 0)
                    } else {
                        QuantizedLinearDescriptor::new::<f32>(1, 0, 256)
                    };
                    let e = QuantizedLinearPlan::<f32>::select(&Stream::null(), &d, PlanPreference::Heuristic).unwrap_err();
                    let want = if i % 2 == 0 { "descriptor.k" } else { "descriptor.n" };
                    assert!(e.message().contains(want), "thread {i}: {e}");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// A valid descriptor's select without a driver: DriverUnavailable, after validation (with a driver it may succeed).
fn driver_unavailable_or_ok<P: std::fmt::Debug>(what: &str, r: qjit::Result<P>) {
    match r {
        Err(e @ Error::DriverUnavailable(_)) => println!("{what}: as expected without a GPU: {e}"),
        Ok(plan) => assert!(cuda_driver_present(), "{what}: select succeeded without libcuda.so.1: {plan:?}"),
        Err(e) => assert!(cuda_driver_present(), "{what}: expected DriverUnavailable without libcuda.so.1, got {e}"),
    }
}

#[test]
fn scaled_matmul_and_norm_quantize_without_a_driver_are_driver_unavailable() {
    let s = Stream::null();
    for act in [ActScaleMode::PerToken, ActScaleMode::PerTensor] {
        for weight in [WeightScaleMode::PerChannel, WeightScaleMode::PerTensor] {
            let d = ScaledMatmulDescriptor::new::<Bf16>(16, 4096, 4096).with_act_scale(act).with_weight_scale(weight);
            driver_unavailable_or_ok(&d.to_string(), ScaledMatmulPlan::<Bf16>::select(&s, &d, PlanPreference::Heuristic));
        }
    }
    let d = ScaledMatmulDescriptor::new::<F16>(1, 256, 520).with_bias(true);
    driver_unavailable_or_ok(&d.to_string(), ScaledMatmulPlan::<F16>::select(&s, &d, PlanPreference::Tuned));
    let d = NormQuantizeDescriptor::rms_norm::<Bf16>(16, 4096).with_residual(true);
    driver_unavailable_or_ok(&d.to_string(), RmsNormQuantizePlan::<Bf16>::select(&s, &d, PlanPreference::Heuristic));
    let d = NormQuantizeDescriptor::layer_norm::<f32>(3, 520).with_static_scale(0.05);
    driver_unavailable_or_ok(&d.to_string(), LayerNormQuantizePlan::<f32>::select(&s, &d, PlanPreference::Heuristic));
}

#[test]
fn scaled_matmul_descriptor_errors_name_the_field() {
    let s = Stream::null();
    let p = PlanPreference::Heuristic;
    let sel = |d: &ScaledMatmulDescriptor| ScaledMatmulPlan::<f32>::select(&s, d, p);
    let m = invalid(sel(&ScaledMatmulDescriptor::new::<f32>(0, 256, 512)), "descriptor.m");
    assert!(m.contains("got 0"), "{m}");
    invalid(sel(&ScaledMatmulDescriptor::new::<f32>(4, -1, 512)), "descriptor.n");
    invalid(sel(&ScaledMatmulDescriptor::new::<f32>(4, 256, 0)), "descriptor.k");
    invalid(sel(&ScaledMatmulDescriptor::new::<f32>(4, 256, 1 << 31)), "descriptor.k");
    // The library's element checks.
    let mut d = ScaledMatmulDescriptor::new::<f32>(16, 256, 512);
    d.activation_element = ElementKind::Bf16;
    let m = invalid(sel(&d), "descriptor.activation_element");
    assert_eq!(m, "descriptor.activation_element must be s8 for this plan type, got bf16");
    let mut d = ScaledMatmulDescriptor::new::<f32>(16, 256, 512);
    d.weight_element = ElementKind::U8;
    let m = invalid(sel(&d), "descriptor.weight_element");
    assert_eq!(m, "descriptor.weight_element must be s8 for this plan type, got u8");
    // f64 is a FloatElement but no scaled-matmul output: the library says which outputs there are.
    let d = ScaledMatmulDescriptor::new::<f64>(16, 256, 512);
    let m = invalid(ScaledMatmulPlan::<f64>::select(&s, &d, p), "descriptor.output_element");
    assert_eq!(m, "descriptor.output_element must be f16, bf16 or f32, got f64");
}

#[test]
fn scaled_matmul_typed_select_refuses_another_output_element_first() {
    let s = Stream::null();
    // k = 0 is also wrong, but the typed check runs before the library is asked, so it is the one reported.
    let d = ScaledMatmulDescriptor::new::<f32>(16, 256, 0);
    let m = invalid(ScaledMatmulPlan::<Bf16>::select(&s, &d, PlanPreference::Heuristic), "descriptor.output_element");
    assert_eq!(m, "descriptor.output_element must be bf16 for this plan type, got f32");
}

#[test]
fn norm_quantize_descriptor_errors_name_the_field() {
    let s = Stream::null();
    let p = PlanPreference::Heuristic;
    let rms = |d: &NormQuantizeDescriptor| RmsNormQuantizePlan::<f32>::select(&s, d, p);
    let layer = |d: &NormQuantizeDescriptor| LayerNormQuantizePlan::<Bf16>::select(&s, d, p);
    let m = invalid(rms(&NormQuantizeDescriptor::rms_norm::<f32>(16, 0)), "descriptor.k");
    assert!(m.contains("got 0"), "{m}");
    invalid(rms(&NormQuantizeDescriptor::rms_norm::<f32>(0, 64)), "descriptor.m");
    invalid(layer(&NormQuantizeDescriptor::layer_norm::<Bf16>(-3, 64)), "descriptor.m");
    for bad in [f32::NAN, f32::INFINITY, -1e-6] {
        let m = invalid(rms(&NormQuantizeDescriptor::rms_norm::<f32>(16, 64).with_eps(bad)), "descriptor.eps");
        assert!(m.contains("finite and >= 0"), "{m}");
        invalid(layer(&NormQuantizeDescriptor::layer_norm::<Bf16>(16, 64).with_eps(bad)), "descriptor.eps");
    }
    // eps = 0 is allowed (valid, so without a driver: DriverUnavailable).
    driver_unavailable_or_ok("eps=0", rms(&NormQuantizeDescriptor::rms_norm::<f32>(16, 64).with_eps(0.0)));
    for bad in [0.0, -0.5, f32::NAN, f32::INFINITY] {
        let d = NormQuantizeDescriptor::layer_norm::<Bf16>(16, 64).with_static_scale(bad);
        let m = invalid(layer(&d), "descriptor.static_scale");
        assert!(m.contains("finite and > 0"), "{m}");
    }
    // Per-token scales with a static scale set as well: contradictory.
    let mut d = NormQuantizeDescriptor::rms_norm::<f32>(16, 64);
    d.static_scale = 0.5;
    let m = invalid(rms(&d), "descriptor.static_scale");
    assert_eq!(m, "descriptor.static_scale must be 0 with per-token (dynamic) scales, got 0.5");
    // What the kernels cannot serve is Unsupported, still naming the field.
    match rms(&NormQuantizeDescriptor::rms_norm::<f32>(16, (1 << 20) + 1)) {
        Err(Error::Unsupported(m)) => assert!(m.contains("descriptor.k") && m.contains("2^20"), "{m}"),
        other => panic!("expected Unsupported naming descriptor.k, got {other:?}"),
    }
    match RmsNormQuantizePlan::<f64>::select(&s, &NormQuantizeDescriptor::rms_norm::<f64>(16, 64), p) {
        Err(Error::Unsupported(m)) => assert_eq!(m, "descriptor.input_element must be f16, bf16 or f32, got f64"),
        other => panic!("expected Unsupported naming descriptor.input_element, got {other:?}"),
    }
}

#[test]
fn norm_quantize_typed_select_refuses_the_other_norm_and_element_first() {
    let s = Stream::null();
    let p = PlanPreference::Heuristic;
    // Each descriptor is also invalid for the library (k = 0): the typed checks come first.
    let layer_desc = NormQuantizeDescriptor::layer_norm::<f32>(16, 0);
    let m = invalid(RmsNormQuantizePlan::<f32>::select(&s, &layer_desc, p), "descriptor.norm");
    assert_eq!(m, "descriptor.norm must be RmsNorm for this plan, got LayerNorm");
    let rms_desc = NormQuantizeDescriptor::rms_norm::<f32>(16, 0);
    let m = invalid(LayerNormQuantizePlan::<f32>::select(&s, &rms_desc, p), "descriptor.norm");
    assert_eq!(m, "descriptor.norm must be LayerNorm for this plan, got RmsNorm");
    let m = invalid(RmsNormQuantizePlan::<Bf16>::select(&s, &rms_desc, p), "descriptor.input_element");
    assert_eq!(m, "descriptor.input_element must be bf16 for this plan, got f32");
    // The norm kind is checked before the element, as in the C++ API.
    let m = invalid(LayerNormQuantizePlan::<F16>::select(&s, &rms_desc, p), "descriptor.norm");
    assert!(m.contains("LayerNorm"), "{m}");
    assert_eq!(rms_desc.norm, NormKind::RmsNorm);
}

#[test]
fn new_descriptors_print_as_the_library_prints_them() {
    assert_eq!(
        ScaledMatmulDescriptor::new::<Bf16>(16, 4096, 4096).to_string(),
        "scaled_matmul m=16 n=4096 k=4096 act=s8 weight=s8 out=bf16 act_scale=per_token weight_scale=per_channel"
    );
    let d = ScaledMatmulDescriptor::new::<f32>(1, 256, 520)
        .with_bias(true)
        .with_act_scale(ActScaleMode::PerTensor)
        .with_weight_scale(WeightScaleMode::PerTensor);
    assert_eq!(
        d.to_string(),
        "scaled_matmul m=1 n=256 k=520 act=s8 weight=s8 out=f32 act_scale=per_tensor weight_scale=per_tensor bias"
    );
    assert_eq!(NormQuantizeDescriptor::rms_norm::<Bf16>(16, 4096).to_string(),
               "rms_norm_quantize m=16 k=4096 in=bf16 eps=1e-06 per-token");
    let d = NormQuantizeDescriptor::layer_norm::<F16>(7, 4096).with_residual(true).with_static_scale(0.25);
    assert_eq!(d.to_string(), "layer_norm_quantize m=7 k=4096 in=f16 eps=1e-05 static-scale=0.25 residual");
    assert_eq!((d.granularity, d.static_scale, d.norm), (QuantGranularity::PerTensor, 0.25, NormKind::LayerNorm));
}

#[test]
fn weight_colsum_sums_rows_and_names_bad_arguments() {
    let w: Vec<i8> = (0..7 * 40).map(|i| ((i * 37 % 256) as i32 - 128) as i8).collect();
    let sums = qjit::weight_colsum(&w, 7, 33, 40).unwrap();
    for (r, s) in sums.iter().enumerate() {
        assert_eq!(*s, w[r * 40..r * 40 + 33].iter().map(|&v| v as i32).sum::<i32>());
    }
    invalid(qjit::weight_colsum(&w, 7, 33, 32), "row_stride must be >= k = 33, got 32");
    invalid(qjit::weight_colsum(&w[..10], 7, 33, 40), "weight must hold n * row_stride");
}

#[test]
fn row_layout_helpers_agree_with_the_c_headers_and_the_pre_pack_names_bad_arguments() {
    // qjit/linear.h's static_asserts and its staged-path arithmetic.
    assert_eq!(
        [4095, 4100, 4096, 1].map(|c| qjit::preferred_row_stride(c, 1)),
        [4096, 4224, 4096, 128]
    );
    assert_eq!(qjit::preferred_row_stride(100, 2), 128);
    assert_eq!(qjit::staged_rows_bytes(1, 520), 768);
    assert_eq!(qjit::staged_rows_bytes(256, 520), 256 * 640);
    assert_eq!(qjit::staged_rows_bytes(0, 520), 0);
    assert_eq!(qjit::staged_workspace_size(1000, 16, 4096, 4100), 1000);
    assert_eq!(qjit::staged_workspace_size(1000, 16, 4096, 4096), 1024 + 16 * 4096 + 4096 * 4096);
    // The C function validates before it touches a driver, so the refusals need no GPU.
    let s = qjit::Stream::null();
    let (src, dst) = (qjit::DevicePtr(0x10000), qjit::DevicePtr(0x20000));
    invalid(unsafe { qjit::pad_int8_rows(s, src, 0, 4100, 4100, dst, 4224) }, "rows must be in [1, 2^31), got 0");
    invalid(unsafe { qjit::pad_int8_rows(s, qjit::DevicePtr::NULL, 8, 4100, 4100, dst, 4224) }, "src must be a non-NULL");
    invalid(unsafe { qjit::pad_int8_rows(s, src, 8, 4100, 4099, dst, 4224) }, "src_row_stride must be >= cols = 4100");
    invalid(unsafe { qjit::pad_int8_rows(s, src, 8, 4100, 4100, qjit::DevicePtr(0x20008), 4224) }, "dst must be 16-byte aligned");
    invalid(
        unsafe { qjit::pad_int8_rows(s, src, 8, 4100, 4100, dst, 4104) },
        "dst_row_stride must be >= cols = 4100 and a multiple of 16 (best qjit::preferred_row_stride(cols) = 4224)",
    );
}

#[test]
fn asymmetric_descriptors_print_their_mode() {
    let q = QuantizedLinearDescriptor::new::<Bf16>(8, 32, 64).with_asymmetric(true);
    assert!(q.to_string().ends_with(" asymmetric"), "{q}");
    let s = ScaledMatmulDescriptor::new::<F16>(8, 32, 64).with_act_zero_point(true);
    assert!(s.to_string().ends_with(" act_zero_point"), "{s}");
    let bad = ScaledMatmulDescriptor::new::<F16>(8, 32, 64)
        .with_act_scale(ActScaleMode::PerTensor)
        .with_act_zero_point(true);
    invalid(ScaledMatmulPlan::<F16>::select(&Stream::null(), &bad, PlanPreference::Heuristic), "descriptor.act_scale must be per_token");
}
