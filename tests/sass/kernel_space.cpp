// qjit_kernel_space: the kernels scripts/sass-identity.sh compares, rendered and compiled the way the library does
// it, without a GPU. `render` walks a fixed, representative set of specs on sm_80, sm_89 and sm_90a: for each, the
// heuristic's config (ops::choose_config), on sm_90a the portable config a misaligned view binds, and, for the
// specs marked so, the whole candidate space the autotuner walks (autotune::tuning_candidates), deduplicated; it
// writes each rendered source as OUT/<id>.cu with a manifest (OUT/manifest.tsv: id, arch, entry, what, spec,
// config). With --templates DIR every embedded template's text in a rendered source is replaced by DIR/<its name>'s
// text: the source another revision's templates render to, as long as the rendering code itself is that
// revision's too (the script checks that it is), since codegen appends each template verbatim. OUT/templates.tsv
// counts the kernels each template appears in, so the script can say that every changed template was compiled.
// `compile` turns one source into a cubin with the program name, arch flag and options jit::KernelService uses.
// Usage: qjit_kernel_space render OUT [--templates DIR]
//        qjit_kernel_space compile ARCH SRC.cu ENTRY OUT.cubin
// Exit codes: 0 success, 1 a render or compile failed, 2 bad usage.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "autotune/autotuner.h"
#include "codegen/embedded_templates.h"
#include "codegen/norm_quantize.h"
#include "codegen/w8a16_sm80.h"
#include "ops/config_choice.h"
#include "runtime/nvrtc.h"

namespace {

using qjit::ElementKind;
using qjit::codegen::KernelOp;
using qjit::codegen::KernelSpec;

struct Case {
  KernelSpec spec;
  int space_arch;  // the arch whose whole candidate space is rendered too (0: none; the heuristic's config on all)
};

KernelSpec gemm(std::int64_t n, std::int64_t k, int bucket, ElementKind out, bool bias) {
  return KernelSpec{.op = KernelOp::GemmS8,
                    .in_element = ElementKind::S8,
                    .out_element = out,
                    .n = n,
                    .k = k,
                    .m_bucket = bucket,
                    .has_bias = bias};
}
KernelSpec scaled(KernelSpec s, bool per_token, bool device_act, bool per_channel_w) {
  s.per_token_scale = per_token;
  s.device_act_scale = device_act;
  s.per_channel_weight_scale = per_channel_w;
  return s;
}
KernelSpec azp(KernelSpec s) {
  s.act_zero_point = true;
  return s;
}
KernelSpec quantize(KernelOp op, ElementKind in, std::int64_t k, int bucket, bool smooth) {
  return KernelSpec{
      .op = op, .in_element = in, .out_element = ElementKind::S8, .k = k, .m_bucket = bucket, .smooth = smooth};
}
KernelSpec asym(ElementKind in, ElementKind code, std::int64_t k, int bucket) {
  KernelSpec s = quantize(KernelOp::QuantizeRowwise, in, k, bucket, false);
  s.out_element = code;
  s.act_zero_point = true;
  return s;
}

// The spec set, without its arch: every template file is in some kernel here (the GEMM scale modes and azp
// epilogues, odd N and K, every quantize op, the asymmetric pass, both norms, W8A16), each with its heuristic's
// config on sm_80, sm_89 and sm_90a. The candidate spaces (one arch each, to keep the compiles to a few minutes on
// two cores): most of tests/unit/jit_family_pin_test.cpp's specs, and the Hopper scale-mode and azp epilogues.
std::vector<Case> cases() {
  using E = ElementKind;
  using qjit::codegen::norm_quantize_spec;
  using qjit::codegen::w8a16_spec;
  return {
      {gemm(4096, 4096, 16, E::F16, false), 90},
      {gemm(11008, 4096, 256, E::BF16, true), 89},
      {gemm(4096, 4104, 4096, E::F32, false), 80},  // K % 16 != 0: the sm80 family's byte-load path
      {gemm(4096, 4096, 1, E::BF16, false), 0},
      {gemm(14336, 4096, 256, E::BF16, true), 90},
      {gemm(4096, 14336, 4096, E::F64, false), 0},
      {gemm(4100, 4096, 2048, E::BF16, true), 0},  // odd N: the realigned epilogue
      {gemm(8192, 8192, 8192, E::F16, true), 0},
      {scaled(gemm(4096, 4096, 16, E::BF16, false), false, true, false), 90},
      {scaled(gemm(4096, 4096, 2048, E::F32, true), true, false, false), 0},
      {scaled(gemm(4096, 4096, 128, E::F16, false), false, false, true), 0},
      {azp(gemm(4096, 4096, 16, E::BF16, false)), 90},
      {azp(gemm(11008, 4096, 2048, E::F16, true)), 0},
      {quantize(KernelOp::QuantizeRowwise, E::F16, 4096, 16, false), 80},
      {quantize(KernelOp::QuantizeRowwise, E::BF16, 5120, 2048, true), 90},
      {quantize(KernelOp::QuantizeAbsmax, E::F32, 11008, 1, false), 90},
      {quantize(KernelOp::QuantizeApplyScale, E::BF16, 28672, 4096, false), 89},
      {asym(E::BF16, E::U8, 4096, 16), 0},
      {asym(E::F16, E::S8, 5120, 2048), 0},
      {norm_quantize_spec(KernelOp::RmsNormQuantize, E::BF16, 4096, 2048, 90, true, true), 90},
      {norm_quantize_spec(KernelOp::LayerNormQuantize, E::F16, 5120, 1, 80, false, false), 80},
      {w8a16_spec(E::BF16, 4096, 4096, 16, 90, false, true, 0, false), 0},
      {w8a16_spec(E::F16, 11008, 4096, 2048, 80, true, true, 128, true), 0},
  };
}

constexpr int kArchs[] = {80, 89, 90};

qjit::runtime::DeviceInfo device_of(int arch) {
  qjit::runtime::DeviceInfo d;
  d.arch = arch;
  d.sm_count = 132;  // as the family pins: the heuristics' split-K choices depend on it
  d.name = "sass-identity";
  return d;
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  return true;
}

bool write_file(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  return static_cast<bool>(out);
}

// The embedded templates with the text DIR holds for each; `found` is false for one DIR lacks.
struct Replacement {
  std::string name;
  std::string_view embedded;
  std::string text;
  bool found = false;
  int kernels = 0;  // sources it appears in
};

// `text` with every occurrence of an embedded template replaced by its replacement. An overlap between two
// templates' occurrences, or a template DIR lacks that the source contains, is an error (returned in `error`).
std::string substitute(const std::string& text, std::vector<Replacement>& repl, std::string& error) {
  std::vector<std::tuple<std::size_t, std::size_t, std::size_t>> hits;  // position, length, replacement
  for (std::size_t r = 0; r < repl.size(); ++r) {
    if (repl[r].embedded.empty()) continue;
    bool any = false;
    for (std::size_t pos = text.find(repl[r].embedded); pos != std::string::npos;
         pos = text.find(repl[r].embedded, pos + repl[r].embedded.size())) {
      hits.emplace_back(pos, repl[r].embedded.size(), r);
      any = true;
    }
    if (any) ++repl[r].kernels;
    if (any && !repl[r].found)
      error = "the source contains " + repl[r].name + ", which the --templates directory lacks";
  }
  std::sort(hits.begin(), hits.end());
  std::string out;
  std::size_t at = 0;
  for (const auto& [pos, len, r] : hits) {
    if (pos < at) {
      error = "template " + repl[r].name + " overlaps another in a rendered source";
      return text;
    }
    out.append(text, at, pos - at).append(repl[r].found ? repl[r].text : std::string(repl[r].embedded));
    at = pos + len;
  }
  out.append(text, at, std::string::npos);
  return out;
}

int render_all(const std::string& out_dir, const std::string& templates_dir) {
  std::vector<Replacement> repl;
  for (const auto& t : qjit::codegen::embedded_templates()) {
    Replacement r{std::string(t.name), t.text, "", false, 0};
    if (templates_dir.empty()) {
      r.text = std::string(t.text), r.found = true;
    } else {
      r.found = read_file(templates_dir + "/" + r.name, r.text);
    }
    repl.push_back(std::move(r));
  }
  std::ofstream manifest(out_dir + "/manifest.tsv");
  std::set<std::tuple<int, std::string, std::string>> seen;  // arch, entry, source as the build renders it
  int id = 0, failures = 0;
  for (int arch : kArchs) {
    const qjit::runtime::DeviceInfo device = device_of(arch);
    for (const Case& c : cases()) {
      KernelSpec spec = c.spec;
      spec.arch = arch;
      std::vector<std::pair<qjit::codegen::TileConfig, std::string>> configs;
      auto heuristic = qjit::ops::choose_config(spec, qjit::PlanPreference::Heuristic, device);
      if (!heuristic) {
        std::fprintf(stderr, "%s: no heuristic config: %s\n", spec.to_string().c_str(),
                     heuristic.error().message().c_str());
        ++failures;
        continue;
      }
      configs.emplace_back(*heuristic, "heuristic");
      // The portable kernel a plan binds where the Hopper family cannot take the views (misaligned K on sm_90a).
      if (spec.op == KernelOp::GemmS8 && arch == 90)
        if (auto portable = qjit::jit::portable_config(spec, device.sm_count); portable)
          configs.emplace_back(*portable, "portable");
      if (c.space_arch == arch)
        for (const auto& cfg : qjit::autotune::tuning_candidates(spec, device)) configs.emplace_back(cfg, "candidate");
      for (const auto& [cfg, what] : configs) {
        auto src = qjit::ops::render(spec, cfg);
        if (!src) {
          std::fprintf(stderr, "%s %s: render failed: %s\n", spec.to_string().c_str(), cfg.to_string().c_str(),
                       src.error().message().c_str());
          ++failures;
          continue;
        }
        if (!seen.emplace(arch, src->entry, src->text).second) continue;
        std::string error;
        const std::string text = substitute(src->text, repl, error);
        if (!error.empty()) {
          std::fprintf(stderr, "%s: %s\n", src->entry.c_str(), error.c_str());
          return 1;
        }
        const std::string file = std::to_string(id) + ".cu";
        if (!write_file(out_dir + "/" + file, text)) {
          std::fprintf(stderr, "cannot write %s/%s\n", out_dir.c_str(), file.c_str());
          return 1;
        }
        manifest << id << '\t' << arch << '\t' << src->entry << '\t' << what << '\t' << spec.to_string() << '\t'
                 << cfg.to_string() << '\n';
        ++id;
      }
    }
  }
  std::ofstream used(out_dir + "/templates.tsv");
  for (const Replacement& r : repl) used << r.name << '\t' << r.kernels << '\n';
  std::fprintf(stderr, "qjit_kernel_space: %d kernels rendered into %s%s\n", id, out_dir.c_str(),
               templates_dir.empty() ? "" : (" with the templates of " + templates_dir).c_str());
  return failures ? 1 : 0;
}

int compile_one(int arch, const std::string& src_path, const std::string& entry, const std::string& out_path) {
  std::string text;
  if (!read_file(src_path, text)) {
    std::fprintf(stderr, "cannot read %s\n", src_path.c_str());
    return 1;
  }
  auto compiler = qjit::runtime::nvrtc();
  if (!compiler) {
    std::fprintf(stderr, "%s\n", compiler.error().to_string().c_str());
    return 1;
  }
  // NOTE: the same program name, architecture flag and options as jit::KernelService::compile_and_store.
  auto out = (*compiler)->compile(text, entry + ".cu", qjit::codegen::arch_option(arch),
                                  qjit::runtime::default_compile_options());
  if (!out) {
    std::fprintf(stderr, "%s (%s): %s\n", entry.c_str(), src_path.c_str(), out.error().to_string().c_str());
    return 1;
  }
  const std::string_view cubin(reinterpret_cast<const char*>(out->cubin.data()), out->cubin.size());
  if (!write_file(out_path, cubin)) {
    std::fprintf(stderr, "cannot write %s\n", out_path.c_str());
    return 1;
  }
  return 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: qjit_kernel_space render OUT [--templates DIR]\n"
               "       qjit_kernel_space compile ARCH SRC.cu ENTRY OUT.cubin\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "render") return render_all(args[1], "");
  if (args.size() == 4 && args[0] == "render" && args[2] == "--templates") return render_all(args[1], args[3]);
  if (args.size() == 5 && args[0] == "compile") {
    const int arch = std::atoi(args[1].c_str());
    if (arch != 80 && arch != 86 && arch != 89 && arch != 90) return usage();
    return compile_one(arch, args[2], args[3], args[4]);
  }
  return usage();
}
