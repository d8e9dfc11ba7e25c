// LaunchDims: the geometry of one kernel launch (grid, CTA, cluster, dynamic shared memory, programmatic dependent
// launch), the one type every kernel family returns and LoadedKernel::launch takes. A plain struct with no
// dependencies, so codegen/ (which depends on nothing of runtime/ else) can return it.
#pragma once

namespace qjit::runtime {

struct LaunchDims {
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned dynamic_smem_bytes = 0;
  unsigned cluster[3] = {1, 1, 1};  // > 1 only for Hopper cluster launches (the cluster-dimension attribute)
  // Programmatic dependent launch (sm_90+): the kernel may be scheduled before the previous one on the stream has
  // finished; it must execute griddepcontrol.wait before reading anything an earlier kernel wrote.
  bool programmatic = false;
};

}  // namespace qjit::runtime
