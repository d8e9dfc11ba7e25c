//! Pins sys.rs's struct layouts twice: against offsets worked out by hand from the x86-64 SysV rules (each field at
//! the next multiple of its alignment, the size rounded up to the largest alignment), and against what a C
//! compiler makes of the real qjit_c.h (tests/c_layout.c). The second catches a header edit that sys.rs missed.
use super::layout_table;
use std::collections::BTreeMap;

/// By hand. `u32 struct_size` then an 8-aligned field leaves 4 bytes of padding at offset 4, which is where
/// most of these structs' second field lands at 8. A qjit_tensor is 8 + 4 + 4 + 32 + 32 = 80 bytes, align 8.
const HAND: &[(&str, usize)] = &[
    ("qjit_tensor", 80),
    ("qjit_tensor.data", 0),
    ("qjit_tensor.element", 8),
    ("qjit_tensor.rank", 12),
    ("qjit_tensor.shape", 16),
    ("qjit_tensor.stride", 48),
    // has_smooth (appended) at 48; the 8-byte alignment pads 52 to 56.
    ("qjit_quantized_linear_desc", 56),
    ("qjit_quantized_linear_desc.struct_size", 0),
    ("qjit_quantized_linear_desc.m", 8),
    ("qjit_quantized_linear_desc.n", 16),
    ("qjit_quantized_linear_desc.k", 24),
    ("qjit_quantized_linear_desc.activation_element", 32),
    ("qjit_quantized_linear_desc.weight_element", 36),
    ("qjit_quantized_linear_desc.output_element", 40),
    ("qjit_quantized_linear_desc.has_bias", 44),
    ("qjit_quantized_linear_desc.has_smooth", 48),
    ("qjit_quantized_linear_desc.asymmetric", 52),
    // 52 bytes of fields, rounded up to the i64 alignment.
    ("qjit_smooth_quant_linear_desc", 56),
    ("qjit_smooth_quant_linear_desc.struct_size", 0),
    ("qjit_smooth_quant_linear_desc.m", 8),
    ("qjit_smooth_quant_linear_desc.n", 16),
    ("qjit_smooth_quant_linear_desc.k", 24),
    ("qjit_smooth_quant_linear_desc.act_scale", 32),
    ("qjit_smooth_quant_linear_desc.activation_element", 36),
    ("qjit_smooth_quant_linear_desc.weight_element", 40),
    ("qjit_smooth_quant_linear_desc.output_element", 44),
    ("qjit_smooth_quant_linear_desc.has_bias", 48),
    ("qjit_dynamic_range_quantize_desc", 48),
    ("qjit_dynamic_range_quantize_desc.struct_size", 0),
    ("qjit_dynamic_range_quantize_desc.m", 8),
    ("qjit_dynamic_range_quantize_desc.k", 16),
    ("qjit_dynamic_range_quantize_desc.input_element", 24),
    ("qjit_dynamic_range_quantize_desc.granularity", 28),
    ("qjit_dynamic_range_quantize_desc.has_smooth", 32),
    ("qjit_dynamic_range_quantize_desc.asymmetric", 36),
    ("qjit_dynamic_range_quantize_desc.output_element", 40),
    // Six 4-byte fields pack into 24..48, a multiple of 8.
    ("qjit_norm_quantize_desc", 48),
    ("qjit_norm_quantize_desc.struct_size", 0),
    ("qjit_norm_quantize_desc.m", 8),
    ("qjit_norm_quantize_desc.k", 16),
    ("qjit_norm_quantize_desc.norm", 24),
    ("qjit_norm_quantize_desc.input_element", 28),
    ("qjit_norm_quantize_desc.granularity", 32),
    ("qjit_norm_quantize_desc.has_residual", 36),
    ("qjit_norm_quantize_desc.eps", 40),
    ("qjit_norm_quantize_desc.static_scale", 44),
    // Six 4-byte fields pack into 32..56, a multiple of 8.
    ("qjit_scaled_matmul_desc", 64),
    ("qjit_scaled_matmul_desc.struct_size", 0),
    ("qjit_scaled_matmul_desc.m", 8),
    ("qjit_scaled_matmul_desc.n", 16),
    ("qjit_scaled_matmul_desc.k", 24),
    ("qjit_scaled_matmul_desc.activation_element", 32),
    ("qjit_scaled_matmul_desc.weight_element", 36),
    ("qjit_scaled_matmul_desc.output_element", 40),
    ("qjit_scaled_matmul_desc.has_bias", 44),
    ("qjit_scaled_matmul_desc.act_scale", 48),
    ("qjit_scaled_matmul_desc.weight_scale", 52),
    ("qjit_scaled_matmul_desc.has_act_zero_point", 56),
    // 8 + 8 tensors of 80.
    ("qjit_linear_args", 728),
    ("qjit_linear_args.struct_size", 0),
    ("qjit_linear_args.activation", 8),
    ("qjit_linear_args.weight", 88),
    ("qjit_linear_args.weight_scale", 168),
    ("qjit_linear_args.bias", 248),
    ("qjit_linear_args.output", 328),
    ("qjit_linear_args.act_q_scratch", 408),
    ("qjit_linear_args.act_scale_scratch", 488),
    ("qjit_linear_args.pre_quant_scale", 568),
    ("qjit_linear_args.weight_colsum", 648),
    ("qjit_quantize_args", 408),
    ("qjit_quantize_args.struct_size", 0),
    ("qjit_quantize_args.input", 8),
    ("qjit_quantize_args.output", 88),
    ("qjit_quantize_args.scale", 168),
    ("qjit_quantize_args.pre_quant_scale", 248),
    ("qjit_quantize_args.zero_point", 328),
    // 8 + 7 tensors of 80.
    ("qjit_norm_quantize_args", 568),
    ("qjit_norm_quantize_args.struct_size", 0),
    ("qjit_norm_quantize_args.input", 8),
    ("qjit_norm_quantize_args.residual", 88),
    ("qjit_norm_quantize_args.residual_out", 168),
    ("qjit_norm_quantize_args.gamma", 248),
    ("qjit_norm_quantize_args.beta", 328),
    ("qjit_norm_quantize_args.output", 408),
    ("qjit_norm_quantize_args.scale", 488),
    // 8 + 6 tensors of 80.
    ("qjit_scaled_matmul_args", 648),
    ("qjit_scaled_matmul_args.struct_size", 0),
    ("qjit_scaled_matmul_args.act_q", 8),
    ("qjit_scaled_matmul_args.weight_q", 88),
    ("qjit_scaled_matmul_args.act_scale", 168),
    ("qjit_scaled_matmul_args.weight_scale", 248),
    ("qjit_scaled_matmul_args.bias", 328),
    ("qjit_scaled_matmul_args.output", 408),
    ("qjit_scaled_matmul_args.act_zero_point", 488),
    ("qjit_scaled_matmul_args.weight_colsum", 568),
    // Seven 4-byte fields pack into 32..60, padded to 64.
    ("qjit_weight_only_linear_desc", 64),
    ("qjit_weight_only_linear_desc.struct_size", 0),
    ("qjit_weight_only_linear_desc.m", 8),
    ("qjit_weight_only_linear_desc.n", 16),
    ("qjit_weight_only_linear_desc.k", 24),
    ("qjit_weight_only_linear_desc.activation_element", 32),
    ("qjit_weight_only_linear_desc.weight_element", 36),
    ("qjit_weight_only_linear_desc.output_element", 40),
    ("qjit_weight_only_linear_desc.has_bias", 44),
    ("qjit_weight_only_linear_desc.weight_scale", 48),
    ("qjit_weight_only_linear_desc.group_size", 52),
    ("qjit_weight_only_linear_desc.has_zero_point", 56),
    // 8 + 6 tensors of 80.
    ("qjit_weight_only_linear_args", 488),
    ("qjit_weight_only_linear_args.struct_size", 0),
    ("qjit_weight_only_linear_args.activation", 8),
    ("qjit_weight_only_linear_args.weight", 88),
    ("qjit_weight_only_linear_args.weight_scale", 168),
    ("qjit_weight_only_linear_args.zero_point", 248),
    ("qjit_weight_only_linear_args.bias", 328),
    ("qjit_weight_only_linear_args.output", 408),
    // Three 4-byte fields pack into 0..12; the double goes to 16.
    ("qjit_precision_guarantee", 32),
    ("qjit_precision_guarantee.struct_size", 0),
    ("qjit_precision_guarantee.deterministic", 4),
    ("qjit_precision_guarantee.exact_accumulation", 8),
    ("qjit_precision_guarantee.epilogue_relative_error", 16),
    ("qjit_precision_guarantee.description", 24),
    ("qjit_cache_location", 40),
    ("qjit_cache_location.struct_size", 0),
    ("qjit_cache_location.writable_dir", 8),
    ("qjit_cache_location.readonly_dirs", 16),
    ("qjit_cache_location.read_only", 24),
    ("qjit_cache_location.max_bytes", 32),
    ("qjit_cache_store_info", 48),
    ("qjit_cache_store_info.struct_size", 0),
    ("qjit_cache_store_info.dir", 8),
    ("qjit_cache_store_info.read_only", 16),
    ("qjit_cache_store_info.present", 20),
    ("qjit_cache_store_info.entries", 24),
    ("qjit_cache_store_info.bytes", 32),
    ("qjit_cache_store_info.temp_files", 40),
    ("qjit_cache_stats", 48),
    ("qjit_cache_stats.struct_size", 0),
    ("qjit_cache_stats.entries", 8),
    ("qjit_cache_stats.bytes", 16),
    ("qjit_cache_stats.max_bytes", 24),
    ("qjit_cache_stats.stores", 32),
    ("qjit_cache_stats.temp_files", 40),
    // read_only_store (i32 at 32) is followed by 4 bytes of padding; registers/shared_bytes pack into 80..88;
    // ok (i32 at 96) is padded to the pointer at 104.
    ("qjit_cache_entry_info", 112),
    ("qjit_cache_entry_info.struct_size", 0),
    ("qjit_cache_entry_info.path", 8),
    ("qjit_cache_entry_info.key_hex", 16),
    ("qjit_cache_entry_info.store_dir", 24),
    ("qjit_cache_entry_info.read_only_store", 32),
    ("qjit_cache_entry_info.bytes", 40),
    ("qjit_cache_entry_info.last_used", 48),
    ("qjit_cache_entry_info.entry_name", 56),
    ("qjit_cache_entry_info.arch", 64),
    ("qjit_cache_entry_info.nvrtc_version", 72),
    ("qjit_cache_entry_info.registers", 80),
    ("qjit_cache_entry_info.shared_bytes", 84),
    ("qjit_cache_entry_info.compile_seconds", 88),
    ("qjit_cache_entry_info.ok", 96),
    ("qjit_cache_entry_info.problem", 104),
    ("qjit_cache_prune_report", 48),
    ("qjit_cache_prune_report.struct_size", 0),
    ("qjit_cache_prune_report.removed_entries", 8),
    ("qjit_cache_prune_report.removed_bytes", 16),
    ("qjit_cache_prune_report.removed_temp_files", 24),
    ("qjit_cache_prune_report.kept_entries", 32),
    ("qjit_cache_prune_report.kept_bytes", 40),
    ("qjit_layer_shape", 16),
    ("qjit_layer_shape.n", 0),
    ("qjit_layer_shape.k", 8),
    // plans/dtype/bias_modes pack into 48..60, then 4 bytes of padding before tuning_db_path.
    ("qjit_warmup_request", 96),
    ("qjit_warmup_request.struct_size", 0),
    ("qjit_warmup_request.arch", 8),
    ("qjit_warmup_request.shapes", 16),
    ("qjit_warmup_request.shape_count", 24),
    ("qjit_warmup_request.ms", 32),
    ("qjit_warmup_request.m_count", 40),
    ("qjit_warmup_request.plans", 48),
    ("qjit_warmup_request.dtype", 52),
    ("qjit_warmup_request.bias_modes", 56),
    ("qjit_warmup_request.tuning_db_path", 64),
    ("qjit_warmup_request.device_name", 72),
    ("qjit_warmup_request.sm_count", 80),
    ("qjit_warmup_request.jobs", 84),
    ("qjit_warmup_request.smooth_modes", 88),
    ("qjit_warmup_report", 64),
    ("qjit_warmup_report.struct_size", 0),
    ("qjit_warmup_report.kernel_requests", 8),
    ("qjit_warmup_report.kernels", 16),
    ("qjit_warmup_report.cached", 24),
    ("qjit_warmup_report.compiled", 32),
    ("qjit_warmup_report.failed", 40),
    ("qjit_warmup_report.tuned", 48),
    ("qjit_warmup_report.wall_seconds", 56),
];

fn diff(want: &BTreeMap<String, usize>, got: &BTreeMap<String, usize>, want_name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (k, v) in want {
        match got.get(k) {
            None => problems.push(format!("{k}: {want_name} has {v}, sys.rs has no such entry")),
            Some(g) if g != v => problems.push(format!("{k}: {want_name} says {v}, sys.rs says {g}")),
            _ => {}
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        problems.push(format!("{k}: in sys.rs but not in {want_name}"));
    }
    problems
}

fn rust_side() -> BTreeMap<String, usize> {
    layout_table().into_iter().collect()
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn struct_layout_matches_hand_derived_sysv_offsets() {
    let hand: BTreeMap<String, usize> = HAND.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let problems = diff(&hand, &rust_side(), "the hand-derived table");
    assert!(problems.is_empty(), "layout mismatches:\n  {}", problems.join("\n  "));
}

/// The C compiler's view of the header: `QJIT_C_LAYOUT` names the output of tests/c_layout.c (scripts/test-rust.sh
/// builds and runs it against include/qjit/qjit_c.h). Without the variable the test compiles the program itself
/// with `cc` when there is one, and says so when there is not.
#[test]
fn struct_layout_matches_the_c_header() {
    let text = match std::env::var_os("QJIT_C_LAYOUT") {
        Some(path) => std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("QJIT_C_LAYOUT={}: {e}", std::path::Path::new(&path).display())),
        None => match compile_and_run_c_layout() {
            Ok(t) => t,
            Err(why) => {
                println!("skipped: C layout comparison ({why}); scripts/test-rust.sh runs it");
                return;
            }
        },
    };
    let mut c = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let (Some(k), Some(v), None) = (it.next(), it.next(), it.next()) else {
            panic!("unreadable line in the C layout output: {line:?}");
        };
        c.insert(k.to_string(), v.parse::<usize>().unwrap_or_else(|_| panic!("bad number in {line:?}")));
    }
    assert!(c.len() > 100, "the C layout output lists only {} entries", c.len());
    let problems = diff(&c, &rust_side(), "qjit_c.h (per the C compiler)");
    assert!(problems.is_empty(), "sys.rs drifted from qjit_c.h:\n  {}", problems.join("\n  "));
}

fn compile_and_run_c_layout() -> Result<String, String> {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let include = std::env::var_os("QJIT_INCLUDE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../include"));
    let out_dir = std::env::temp_dir().join(format!("qjit-c-layout-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let exe = out_dir.join("c_layout");
    let status = std::process::Command::new("cc")
        .arg("-std=c99")
        .arg("-I")
        .arg(&include)
        .arg(manifest.join("tests/c_layout.c"))
        .arg("-o")
        .arg(&exe)
        .status()
        .map_err(|e| format!("no C compiler: cc: {e}"))?;
    if !status.success() {
        return Err(format!("cc failed on tests/c_layout.c ({status})"));
    }
    let out = std::process::Command::new(&exe).output().map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&out_dir);
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}
