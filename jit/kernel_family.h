// A kernel family is one object (DeepGEMM's LaunchRuntime is the model): everything qjit knows about one template
// -- which specs it serves and why, validation, rendering, launch geometry, the parameter block, the split-K
// workspace layout, the candidate space the autotuner walks and the untuned heuristic -- behind one interface, and
// one registry that holds them all. The binding, the plans, the autotuner and the tools ask the registry; none of
// them switches over codegen::KernelFamily. Adding a kernel is adding a family here, not a branch in every switch.
//
// Callers speak codegen::TileConfig; each family speaks its own config type (codegen::Sm80Tile, Sm90Tile,
// QuantizeTile): a family derives from TypedFamily<Tile>, which implements the TileConfig interface once (refusing
// another family's config, naming config.family) and hands the family its own type. The families
// (gemm_sm90_family.cpp, gemm_sm80_family.cpp, quantize_family.cpp) are thin: the template-specific work lives next
// to the template in codegen/, the tuning rules for a family next to the family.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codegen/kernel_params.h"
#include "codegen/kernel_spec.h"
#include "qjit/status.h"
#include "qjit/stream.h"
#include "runtime/module.h"

namespace qjit::jit {

struct CandidateOptions {
  // Split-K configs need the family's workspace (partials + zeroed counters). Plans that promise
  // workspace_size() == 0 must leave this off.
  bool allow_split_k = false;
  int sm_count = 132;  // for the heuristic entry that leads the list
};

// Where a launch's split-K scratch lies in the caller's workspace buffer.
struct WorkspaceLayout {
  std::size_t bytes = 0;            // what a launch at this M needs; 0: the config needs no workspace
  // int32 tile counters, zeroed on the stream before every launch: exactly the launch's tiles at this M (4 bytes
  // each), never the rest of the caller's buffer, which may be a large workspace shared with other plans.
  std::size_t counters_offset = 0;
  std::size_t counters_bytes = 0;
};

// The GEMM launches' zero-point operands: required (both pointers non-null) for a spec with act_zero_point, absent
// (nullptr) for any other; InvalidArgument naming `azp` otherwise.
Status check_azp_args(const codegen::KernelSpec& spec, const codegen::GemmAzpArgs* azp);

class KernelFamilyRuntime {
 public:
  virtual ~KernelFamilyRuntime() = default;

  virtual codegen::KernelFamily id() const = 0;
  // Bytes of alignment the kernel needs of its operands' pointers and row strides (K-major int8 A and B), so that
  // can_implement refuses what launch would: 1 where the kernel checks alignment at run time and falls back to
  // narrower loads (gemm_sm80, quantize), 16 where the hardware requires it (gemm_sm90's TMA tensor maps).
  virtual unsigned operand_align() const { return 1; }
  std::string_view name() const { return codegen::kernel_family_name(id()); }

  // Ok when choose_config may serve `spec` with this family; otherwise why not, in words for `qjit inspect`.
  virtual Status accepts(const codegen::KernelSpec& spec) const = 0;
  // Why the registry served `spec` with this family (it accepted it and no family before it did).
  virtual std::string why_chosen(const codegen::KernelSpec& spec) const = 0;

  // Whether the template compiles (spec, config), naming the field and the expected value when not.
  virtual Status validate(const codegen::KernelSpec& spec, const codegen::TileConfig& config) const = 0;
  virtual Result<codegen::Source> render(const codegen::KernelSpec& spec, const codegen::TileConfig& config) const = 0;
  // Grid, block, cluster and dynamic shared memory for run-time M (>= 1); `programmatic` says whether the kernel
  // supports programmatic dependent launch (the binding turns it off under QJIT_DISABLE_PDL=1).
  virtual runtime::LaunchDims launch_dims(const codegen::KernelSpec& spec, const codegen::TileConfig& config,
                                          std::int64_t m, int sm_count) const = 0;
  virtual WorkspaceLayout workspace(const codegen::KernelSpec& spec, const codegen::TileConfig& config,
                                    std::int64_t m) const = 0;
  // Builds the family's parameter block from the GEMM fields `p` (on this stack frame) and launches `kernel`.
  // Families that are not GEMMs return InvalidArgument.
  virtual Status launch_gemm(const runtime::LoadedKernel& kernel, const runtime::LaunchDims& dims,
                             const codegen::KernelSpec& spec, const codegen::TileConfig& config,
                             const codegen::GemmS8Params& p, CUstream stream,
                             const codegen::GemmAzpArgs* azp = nullptr) const = 0;

  // The untuned choice for `spec` (its M bucket); sm_count <= 0 means unknown.
  virtual codegen::TileConfig heuristic(const codegen::KernelSpec& spec, int sm_count) const = 0;
  // The autotuner's space for `spec`, restricted to its M bucket; every entry passes validate().
  virtual std::vector<codegen::TileConfig> candidates(const codegen::KernelSpec& spec,
                                                      const CandidateOptions& options) const = 0;

 protected:
  // InvalidArgument "config.family must be <this family>, got <its family>".
  Status wrong_family(const codegen::TileConfig& config) const;
  // The plain parameter block: `p` itself, or GemmS8AzpParams {p, *azp} for a spec with act_zero_point
  // (InvalidArgument when spec is not a GEMM, or azp is missing / given where the kernel has no zero points).
  Status launch_plain_gemm(const runtime::LoadedKernel& kernel, const runtime::LaunchDims& dims,
                           const codegen::KernelSpec& spec, const codegen::GemmS8Params& p, CUstream stream,
                           const codegen::GemmAzpArgs* azp = nullptr) const;
};

// A family whose configs are `Tile` (one of codegen::TileConfig::Alternatives): the TileConfig interface, written
// once over the family's typed steps below. validate, render and launch_gemm refuse a config of another family
// (wrong_family); launch_dims and workspace are reached only through the registry, which picks the family by
// config.family(), and unwrap without a check.
template <class Tile>
class TypedFamily : public KernelFamilyRuntime {
 public:
  codegen::KernelFamily id() const final { return Tile::kFamily; }

  Status validate(const codegen::KernelSpec& spec, const codegen::TileConfig& config) const final {
    const Tile* tile = config.get_if<Tile>();
    return tile ? validate_tile(spec, *tile) : wrong_family(config);
  }
  Result<codegen::Source> render(const codegen::KernelSpec& spec, const codegen::TileConfig& config) const final {
    const Tile* tile = config.get_if<Tile>();
    if (!tile) return wrong_family(config);
    return render_tile(spec, *tile);
  }
  runtime::LaunchDims launch_dims(const codegen::KernelSpec& spec, const codegen::TileConfig& config, std::int64_t m,
                                  int sm_count) const final {
    return launch_dims_tile(spec, config.as<Tile>(), m, sm_count);
  }
  WorkspaceLayout workspace(const codegen::KernelSpec& spec, const codegen::TileConfig& config,
                            std::int64_t m) const final {
    return workspace_tile(spec, config.as<Tile>(), m);
  }
  Status launch_gemm(const runtime::LoadedKernel& kernel, const runtime::LaunchDims& dims,
                     const codegen::KernelSpec& spec, const codegen::TileConfig& config, const codegen::GemmS8Params& p,
                     CUstream stream, const codegen::GemmAzpArgs* azp = nullptr) const final {
    const Tile* tile = config.get_if<Tile>();
    return tile ? launch_gemm_tile(kernel, dims, spec, *tile, p, stream, azp) : wrong_family(config);
  }
  codegen::TileConfig heuristic(const codegen::KernelSpec& spec, int sm_count) const final {
    return heuristic_tile(spec, sm_count);
  }
  std::vector<codegen::TileConfig> candidates(const codegen::KernelSpec& spec,
                                              const CandidateOptions& options) const final {
    const std::vector<Tile> tiles = candidate_tiles(spec, options);
    return std::vector<codegen::TileConfig>(tiles.begin(), tiles.end());
  }

 protected:
  // The same steps on the family's own type (see KernelFamilyRuntime for each one's contract).
  virtual Status validate_tile(const codegen::KernelSpec& spec, const Tile& tile) const = 0;
  virtual Result<codegen::Source> render_tile(const codegen::KernelSpec& spec, const Tile& tile) const = 0;
  virtual runtime::LaunchDims launch_dims_tile(const codegen::KernelSpec& spec, const Tile& tile, std::int64_t m,
                                               int sm_count) const = 0;
  // Default: no workspace.
  virtual WorkspaceLayout workspace_tile(const codegen::KernelSpec&, const Tile&, std::int64_t) const { return {}; }
  // Default: the plain GemmS8Params block.
  virtual Status launch_gemm_tile(const runtime::LoadedKernel& kernel, const runtime::LaunchDims& dims,
                                  const codegen::KernelSpec& spec, const Tile&, const codegen::GemmS8Params& p,
                                  CUstream stream, const codegen::GemmAzpArgs* azp) const {
    return launch_plain_gemm(kernel, dims, spec, p, stream, azp);
  }
  virtual Tile heuristic_tile(const codegen::KernelSpec& spec, int sm_count) const = 0;
  virtual std::vector<Tile> candidate_tiles(const codegen::KernelSpec& spec, const CandidateOptions& options) const = 0;
};

// The families, in preference order: the first that accepts a spec serves it.
class FamilyRegistry {
 public:
  // The process's registry: an immutable table of stateless objects, built on first use.
  static const FamilyRegistry& process();

  const KernelFamilyRuntime& family(codegen::KernelFamily id) const;
  // The family choose_config serves `spec` with.
  const KernelFamilyRuntime& for_spec(const codegen::KernelSpec& spec) const;
  // The first family that accepts `spec` and needs only natural element alignment of its operands
  // (operand_align() == 1): the plans' kernel for views the chosen family's loads cannot take.
  const KernelFamilyRuntime& portable_for(const codegen::KernelSpec& spec) const;
  const std::vector<const KernelFamilyRuntime*>& families() const { return order_; }

 private:
  FamilyRegistry();
  std::vector<const KernelFamilyRuntime*> order_;
};

// The family objects, one per .cpp file (the registry's only constructors).
const KernelFamilyRuntime& gemm_sm90_family();
const KernelFamilyRuntime& gemm_sm80_family();
const KernelFamilyRuntime& quantize_family();
const KernelFamilyRuntime& w8a16_sm80_family();

// QJIT_DISABLE_SM90=1: the Hopper family accepts nothing. QJIT_DISABLE_PDL=1: no programmatic dependent launch.
// Read once per process.
bool sm90_disabled();
bool programmatic_launch_disabled();

}  // namespace qjit::jit
