#!/usr/bin/env python3
"""Host cost of one qjit call from Python, beside torch's own eager calls (issue 16: what an engine pays per call
outside a CUDA graph). Each row times N calls back to back on the host clock, then one synchronize: at decode sizes
the GPU finishes each kernel before the host issues the next, so host µs per call is what bounds the call rate.

Rows (M = 16 decode, N = K = 4096, bf16):
  F.linear bf16                          torch's eager cuBLAS call (the reference cost of one torch op)
  qjit.quantized_linear (given scratch)  the Python API with out=, act_q=, act_scale= passed
  qjit.quantized_linear                  the Python API allocating out and scratch
  torch.ops.qjit.quantized_linear        the registered custom op (what torch.compile / vLLM-style engines call)
  C ABI run (ctypes, prebuilt args)      qjit_linear_plan_run alone: the floor under the Python layer
and the same for the fused RMSNorm + quantize at M = 1, K = 4096. With --profile FILE, cProfile's top entries for
the two Python calls go to FILE.

Usage: python3 bench/host_overhead.py [--calls 2000] [--profile FILE] [--csv FILE]
"""
import argparse
import cProfile
import ctypes
import io
import pstats
import sys
import time


def timed(fn, calls, torch):
    for _ in range(50):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    t1 = time.perf_counter()
    torch.cuda.synchronize()
    t2 = time.perf_counter()
    return (t1 - t0) / calls * 1e6, (t2 - t0) / calls * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--profile", default="")
    ap.add_argument("--csv", default="")
    a = ap.parse_args()
    import torch
    import torch.nn.functional as F
    import qjit
    import qjit.torch  # noqa: F401  (torch.ops.qjit.*)
    from qjit import _capi, _ops, _plans, _tensors

    torch.manual_seed(0)
    dev = torch.device("cuda")
    m, n, k = 16, 4096, 4096
    x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
    w_bf16 = torch.randn(n, k, device=dev, dtype=torch.bfloat16)
    w_q = torch.randint(-127, 128, (n, k), device=dev, dtype=torch.int8)
    w_s = torch.rand(n, device=dev, dtype=torch.float32) * 0.01
    y = torch.empty(m, n, device=dev, dtype=torch.bfloat16)
    act_q = torch.empty(m, qjit.preferred_row_stride(k, 1), device=dev, dtype=torch.int8)[:, :k]
    act_s = torch.empty(m, device=dev, dtype=torch.float32)
    xn = torch.randn(1, k, device=dev, dtype=torch.bfloat16)
    gamma = torch.rand(k, device=dev, dtype=torch.bfloat16)
    qn = torch.empty(1, k, device=dev, dtype=torch.int8)
    sn = torch.empty(1, device=dev, dtype=torch.float32)

    ql_given = lambda: qjit.quantized_linear(x, w_q, w_s, out=y, act_q=act_q, act_scale=act_s)  # noqa: E731
    ql_alloc = lambda: qjit.quantized_linear(x, w_q, w_s)  # noqa: E731
    ql_op = lambda: torch.ops.qjit.quantized_linear(x, w_q, w_s)  # noqa: E731
    rn_given = lambda: qjit.rms_norm_quantize(xn, gamma, 1e-6, out=qn, scale=sn)  # noqa: E731
    rn_alloc = lambda: qjit.rms_norm_quantize(xn, gamma, 1e-6)  # noqa: E731
    ql_given(), rn_given()  # selects the plans

    # The C ABI floor: the plan the Python call selected, run with arguments built once.
    stream = torch.cuda.current_stream().cuda_stream
    ql_plan = next(p for key, p in _plans.plan_cache._plans.items() if key[0] == "quantized_linear")
    rn_plan = next(p for key, p in _plans.plan_cache._plans.items() if key[0] == "rms_norm_quantize")
    info = lambda name, t: _tensors.parse(name, t)  # noqa: E731
    ql_args = _tensors.pack(_capi.LinearArgs, activation=info("x", x), weight=info("w", w_q),
                            weight_scale=info("s", w_s), output=info("y", y), act_q_scratch=info("q", act_q),
                            act_scale_scratch=info("a", act_s))
    rn_args = _tensors.pack(_capi.NormQuantizeArgs, input=info("x", xn), gamma=info("g", gamma), output=info("q", qn),
                            scale=info("s", sn))
    lib = _capi.lib
    ql_ref, rn_ref = ctypes.byref(ql_args), ctypes.byref(rn_args)
    ws = None
    ql_c = lambda: lib.qjit_linear_plan_run(ql_plan.handle, stream, ws, 0, ql_ref)  # noqa: E731
    rn_c = lambda: lib.qjit_norm_quantize_plan_run(rn_plan.handle, stream, None, 0, rn_ref)  # noqa: E731
    assert ql_c() == 0 and rn_c() == 0, qjit._errors.last_error_message()

    rows = [
        ("linear M=16 4096x4096", "F.linear bf16", lambda: F.linear(x, w_bf16)),
        ("linear M=16 4096x4096", "qjit.quantized_linear (given scratch)", ql_given),
        ("linear M=16 4096x4096", "qjit.quantized_linear", ql_alloc),
        ("linear M=16 4096x4096", "torch.ops.qjit.quantized_linear", ql_op),
        ("linear M=16 4096x4096", "C ABI run (ctypes, prebuilt args)", ql_c),
        ("rmsnorm+quant M=1 K=4096", "torch RMSNorm (F.rms_norm)", lambda: F.rms_norm(xn, (k,), gamma, 1e-6)),
        ("rmsnorm+quant M=1 K=4096", "qjit.rms_norm_quantize (given out)", rn_given),
        ("rmsnorm+quant M=1 K=4096", "qjit.rms_norm_quantize", rn_alloc),
        ("rmsnorm+quant M=1 K=4096", "C ABI run (ctypes, prebuilt args)", rn_c),
    ]
    print(f"host cost per call, {a.calls} calls back to back ({torch.cuda.get_device_name()}, torch {torch.__version__})")
    print("\n| op | call | host us / call | wall us / call (with the GPU) |\n|---|---|---:|---:|")
    csv = ["op,call,host_us,wall_us"]
    for op, name, fn in rows:
        host, wall = timed(fn, a.calls, torch)
        print(f"| {op} | {name} | {host:.2f} | {wall:.2f} |", flush=True)
        csv.append(f"{op},{name},{host:.3f},{wall:.3f}")
    if a.csv:
        with open(a.csv, "w") as f:
            f.write("\n".join(csv) + "\n")
    if a.profile:
        out = io.StringIO()
        for name, fn in (("qjit.quantized_linear (given scratch)", ql_given), ("qjit.rms_norm_quantize", rn_alloc),
                         ("torch.ops.qjit.quantized_linear", ql_op)):
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(a.calls):
                fn()
            prof.disable()
            torch.cuda.synchronize()
            out.write(f"\n==== {name}: {a.calls} calls\n")
            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
        with open(a.profile, "w") as f:
            f.write(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
