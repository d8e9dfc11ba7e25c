/* Prints every qjit_c.h struct's size and field offsets as the C compiler lays them out, one "name value" a line,
 * in the names sys.rs's layout_table() uses. The Rust layout test compares the two (scripts/test-rust.sh). */
#include <stddef.h>
#include <stdio.h>

#include "qjit/qjit_c.h"

#define SIZE(s) printf("%s %zu\n", #s, sizeof(s))
#define OFF(s, f) printf("%s.%s %zu\n", #s, #f, offsetof(s, f))

int main(void) {
  SIZE(qjit_tensor);
  OFF(qjit_tensor, data);
  OFF(qjit_tensor, element);
  OFF(qjit_tensor, rank);
  OFF(qjit_tensor, shape);
  OFF(qjit_tensor, stride);

  SIZE(qjit_quantized_linear_desc);
  OFF(qjit_quantized_linear_desc, struct_size);
  OFF(qjit_quantized_linear_desc, m);
  OFF(qjit_quantized_linear_desc, n);
  OFF(qjit_quantized_linear_desc, k);
  OFF(qjit_quantized_linear_desc, activation_element);
  OFF(qjit_quantized_linear_desc, weight_element);
  OFF(qjit_quantized_linear_desc, output_element);
  OFF(qjit_quantized_linear_desc, has_bias);
  OFF(qjit_quantized_linear_desc, has_smooth);
  OFF(qjit_quantized_linear_desc, asymmetric);

  SIZE(qjit_smooth_quant_linear_desc);
  OFF(qjit_smooth_quant_linear_desc, struct_size);
  OFF(qjit_smooth_quant_linear_desc, m);
  OFF(qjit_smooth_quant_linear_desc, n);
  OFF(qjit_smooth_quant_linear_desc, k);
  OFF(qjit_smooth_quant_linear_desc, act_scale);
  OFF(qjit_smooth_quant_linear_desc, activation_element);
  OFF(qjit_smooth_quant_linear_desc, weight_element);
  OFF(qjit_smooth_quant_linear_desc, output_element);
  OFF(qjit_smooth_quant_linear_desc, has_bias);

  SIZE(qjit_dynamic_range_quantize_desc);
  OFF(qjit_dynamic_range_quantize_desc, struct_size);
  OFF(qjit_dynamic_range_quantize_desc, m);
  OFF(qjit_dynamic_range_quantize_desc, k);
  OFF(qjit_dynamic_range_quantize_desc, input_element);
  OFF(qjit_dynamic_range_quantize_desc, granularity);
  OFF(qjit_dynamic_range_quantize_desc, has_smooth);
  OFF(qjit_dynamic_range_quantize_desc, asymmetric);
  OFF(qjit_dynamic_range_quantize_desc, output_element);

  SIZE(qjit_norm_quantize_desc);
  OFF(qjit_norm_quantize_desc, struct_size);
  OFF(qjit_norm_quantize_desc, m);
  OFF(qjit_norm_quantize_desc, k);
  OFF(qjit_norm_quantize_desc, norm);
  OFF(qjit_norm_quantize_desc, input_element);
  OFF(qjit_norm_quantize_desc, granularity);
  OFF(qjit_norm_quantize_desc, has_residual);
  OFF(qjit_norm_quantize_desc, eps);
  OFF(qjit_norm_quantize_desc, static_scale);

  SIZE(qjit_scaled_matmul_desc);
  OFF(qjit_scaled_matmul_desc, struct_size);
  OFF(qjit_scaled_matmul_desc, m);
  OFF(qjit_scaled_matmul_desc, n);
  OFF(qjit_scaled_matmul_desc, k);
  OFF(qjit_scaled_matmul_desc, activation_element);
  OFF(qjit_scaled_matmul_desc, weight_element);
  OFF(qjit_scaled_matmul_desc, output_element);
  OFF(qjit_scaled_matmul_desc, has_bias);
  OFF(qjit_scaled_matmul_desc, act_scale);
  OFF(qjit_scaled_matmul_desc, weight_scale);
  OFF(qjit_scaled_matmul_desc, has_act_zero_point);

  SIZE(qjit_linear_args);
  OFF(qjit_linear_args, struct_size);
  OFF(qjit_linear_args, activation);
  OFF(qjit_linear_args, weight);
  OFF(qjit_linear_args, weight_scale);
  OFF(qjit_linear_args, bias);
  OFF(qjit_linear_args, output);
  OFF(qjit_linear_args, act_q_scratch);
  OFF(qjit_linear_args, act_scale_scratch);
  OFF(qjit_linear_args, pre_quant_scale);
  OFF(qjit_linear_args, weight_colsum);

  SIZE(qjit_quantize_args);
  OFF(qjit_quantize_args, struct_size);
  OFF(qjit_quantize_args, input);
  OFF(qjit_quantize_args, output);
  OFF(qjit_quantize_args, scale);
  OFF(qjit_quantize_args, pre_quant_scale);
  OFF(qjit_quantize_args, zero_point);

  SIZE(qjit_norm_quantize_args);
  OFF(qjit_norm_quantize_args, struct_size);
  OFF(qjit_norm_quantize_args, input);
  OFF(qjit_norm_quantize_args, residual);
  OFF(qjit_norm_quantize_args, residual_out);
  OFF(qjit_norm_quantize_args, gamma);
  OFF(qjit_norm_quantize_args, beta);
  OFF(qjit_norm_quantize_args, output);
  OFF(qjit_norm_quantize_args, scale);

  SIZE(qjit_weight_only_linear_desc);
  OFF(qjit_weight_only_linear_desc, struct_size);
  OFF(qjit_weight_only_linear_desc, m);
  OFF(qjit_weight_only_linear_desc, n);
  OFF(qjit_weight_only_linear_desc, k);
  OFF(qjit_weight_only_linear_desc, activation_element);
  OFF(qjit_weight_only_linear_desc, weight_element);
  OFF(qjit_weight_only_linear_desc, output_element);
  OFF(qjit_weight_only_linear_desc, has_bias);
  OFF(qjit_weight_only_linear_desc, weight_scale);
  OFF(qjit_weight_only_linear_desc, group_size);
  OFF(qjit_weight_only_linear_desc, has_zero_point);
  SIZE(qjit_weight_only_linear_args);
  OFF(qjit_weight_only_linear_args, struct_size);
  OFF(qjit_weight_only_linear_args, activation);
  OFF(qjit_weight_only_linear_args, weight);
  OFF(qjit_weight_only_linear_args, weight_scale);
  OFF(qjit_weight_only_linear_args, zero_point);
  OFF(qjit_weight_only_linear_args, bias);
  OFF(qjit_weight_only_linear_args, output);
  SIZE(qjit_scaled_matmul_args);
  OFF(qjit_scaled_matmul_args, struct_size);
  OFF(qjit_scaled_matmul_args, act_q);
  OFF(qjit_scaled_matmul_args, weight_q);
  OFF(qjit_scaled_matmul_args, act_scale);
  OFF(qjit_scaled_matmul_args, weight_scale);
  OFF(qjit_scaled_matmul_args, bias);
  OFF(qjit_scaled_matmul_args, output);
  OFF(qjit_scaled_matmul_args, act_zero_point);
  OFF(qjit_scaled_matmul_args, weight_colsum);

  SIZE(qjit_precision_guarantee);
  OFF(qjit_precision_guarantee, struct_size);
  OFF(qjit_precision_guarantee, deterministic);
  OFF(qjit_precision_guarantee, exact_accumulation);
  OFF(qjit_precision_guarantee, epilogue_relative_error);
  OFF(qjit_precision_guarantee, description);

  SIZE(qjit_cache_location);
  OFF(qjit_cache_location, struct_size);
  OFF(qjit_cache_location, writable_dir);
  OFF(qjit_cache_location, readonly_dirs);
  OFF(qjit_cache_location, read_only);
  OFF(qjit_cache_location, max_bytes);

  SIZE(qjit_cache_store_info);
  OFF(qjit_cache_store_info, struct_size);
  OFF(qjit_cache_store_info, dir);
  OFF(qjit_cache_store_info, read_only);
  OFF(qjit_cache_store_info, present);
  OFF(qjit_cache_store_info, entries);
  OFF(qjit_cache_store_info, bytes);
  OFF(qjit_cache_store_info, temp_files);

  SIZE(qjit_cache_stats);
  OFF(qjit_cache_stats, struct_size);
  OFF(qjit_cache_stats, entries);
  OFF(qjit_cache_stats, bytes);
  OFF(qjit_cache_stats, max_bytes);
  OFF(qjit_cache_stats, stores);
  OFF(qjit_cache_stats, temp_files);

  SIZE(qjit_cache_entry_info);
  OFF(qjit_cache_entry_info, struct_size);
  OFF(qjit_cache_entry_info, path);
  OFF(qjit_cache_entry_info, key_hex);
  OFF(qjit_cache_entry_info, store_dir);
  OFF(qjit_cache_entry_info, read_only_store);
  OFF(qjit_cache_entry_info, bytes);
  OFF(qjit_cache_entry_info, last_used);
  OFF(qjit_cache_entry_info, entry_name);
  OFF(qjit_cache_entry_info, arch);
  OFF(qjit_cache_entry_info, nvrtc_version);
  OFF(qjit_cache_entry_info, registers);
  OFF(qjit_cache_entry_info, shared_bytes);
  OFF(qjit_cache_entry_info, compile_seconds);
  OFF(qjit_cache_entry_info, ok);
  OFF(qjit_cache_entry_info, problem);

  SIZE(qjit_cache_prune_report);
  OFF(qjit_cache_prune_report, struct_size);
  OFF(qjit_cache_prune_report, removed_entries);
  OFF(qjit_cache_prune_report, removed_bytes);
  OFF(qjit_cache_prune_report, removed_temp_files);
  OFF(qjit_cache_prune_report, kept_entries);
  OFF(qjit_cache_prune_report, kept_bytes);

  SIZE(qjit_layer_shape);
  OFF(qjit_layer_shape, n);
  OFF(qjit_layer_shape, k);

  SIZE(qjit_warmup_request);
  OFF(qjit_warmup_request, struct_size);
  OFF(qjit_warmup_request, arch);
  OFF(qjit_warmup_request, shapes);
  OFF(qjit_warmup_request, shape_count);
  OFF(qjit_warmup_request, ms);
  OFF(qjit_warmup_request, m_count);
  OFF(qjit_warmup_request, plans);
  OFF(qjit_warmup_request, dtype);
  OFF(qjit_warmup_request, bias_modes);
  OFF(qjit_warmup_request, tuning_db_path);
  OFF(qjit_warmup_request, device_name);
  OFF(qjit_warmup_request, sm_count);
  OFF(qjit_warmup_request, jobs);
  OFF(qjit_warmup_request, smooth_modes);

  SIZE(qjit_warmup_report);
  OFF(qjit_warmup_report, struct_size);
  OFF(qjit_warmup_report, kernel_requests);
  OFF(qjit_warmup_report, kernels);
  OFF(qjit_warmup_report, cached);
  OFF(qjit_warmup_report, compiled);
  OFF(qjit_warmup_report, failed);
  OFF(qjit_warmup_report, tuned);
  OFF(qjit_warmup_report, wall_seconds);
  return 0;
}
