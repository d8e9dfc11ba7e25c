//! What `cargo test` checks on any machine, GPU or not: descriptor validation surfaced as Error::InvalidArgument
//! with the library's message naming the field, DriverUnavailable surfaced for a valid descriptor where there is no
//! CUDA driver, the error text, versions and the ABI. Validation runs before the driver is touched, so every
//! invalid-descriptor case here behaves the same with or without a GPU.
use qjit::{
    Bf16, DynamicRangeQuantizeDescriptor, DynamicRangeQuantizePlan, ElementKind, Error, PlanPreference,
    QuantGranularity, QuantizedLinearDescriptor, QuantizedLinearPlan, SmoothQuantLinearDescriptor,
    SmoothQuantLinearPlan, Stream, F16,
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
}

#[test]
fn plans_are_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<QuantizedLinearPlan<Bf16>>();
    check::<SmoothQuantLinearPlan<f32>>();
    check::<DynamicRangeQuantizePlan<F16>>();
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
