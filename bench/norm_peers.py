#!/usr/bin/env python3
"""PyTorch peers of the fused norm + quantize plans on the device (issue 17, item 2): for bf16 x [M, K] at each
distinct K of the shapes file and M in --m, interleaved (A B C A B C over --rounds, medians of CUDA-event timings,
inputs rotated past the L2):
  torch_rmsnorm       torch.nn.functional.rms_norm (the norm alone, bf16 out; torch >= 2.4, else the usual
                      x * rsqrt(mean(x^2) + eps) * w in f32)
  unfused             torch RMSNorm then qjit.quantize_per_token (the pair an engine runs without the fusion)
  qjit_fused          qjit.rms_norm_quantize (one kernel: int8 + per-token scales)
and the same three with a residual (torch: x + r, then the norm; qjit: the residual variant, in place). Prints a
markdown table and writes --csv. Run from the repository root with the package on PYTHONPATH and QJIT_LIBRARY set,
as scripts/gpu-check.sh's normq step does."""

import argparse
import csv
import statistics
import sys

import torch

import qjit


def load_ks(path):
    ks = set()
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or line.lower().startswith("model"):
                continue
            ks.add(int(line.split(",")[3]))
    return sorted(ks)


def torch_rmsnorm(x, w, eps):
    if hasattr(torch.nn.functional, "rms_norm"):
        return torch.nn.functional.rms_norm(x, (x.shape[-1],), w, eps)
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * w.float()).to(x.dtype)


def time_us(fn, warmup, iters):
    for _ in range(warmup):
        fn(0)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for i in range(iters):
        fn(i)
    end.record()
    end.synchronize()
    return start.elapsed_time(end) * 1e3 / iters


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="data/llm_linear_shapes.csv")
    ap.add_argument("--m", default="1,16,128,2048,8192")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--csv", default="")
    a = ap.parse_args()
    dev = "cuda"
    l2 = torch.cuda.get_device_properties(0).L2_cache_size if hasattr(torch.cuda.get_device_properties(0),
                                                                         "L2_cache_size") else 60 << 20
    rows = []
    for k in load_ks(a.shapes):
        for m in [int(v) for v in a.m.split(",")]:
            copies = max(1, min(32, int(2 * l2 / (m * k * 2)) + 1))
            xs = [torch.randn(m, k, device=dev, dtype=torch.bfloat16) for _ in range(copies)]
            rs = [torch.randn(m, k, device=dev, dtype=torch.bfloat16) for _ in range(copies)]
            w = (torch.rand(k, device=dev) + 0.5).to(torch.bfloat16)
            q = torch.empty(m, k, device=dev, dtype=torch.int8)
            s = torch.empty(m, device=dev, dtype=torch.float32)
            eps = 1e-6
            cases = {
                "torch_rmsnorm": lambda i: torch_rmsnorm(xs[i % copies], w, eps),
                "unfused": lambda i: qjit.quantize_per_token(torch_rmsnorm(xs[i % copies], w, eps), out=q, scale=s),
                "qjit_fused": lambda i: qjit.rms_norm_quantize(xs[i % copies], w, eps, out=q, scale=s),
                "torch_rmsnorm_residual": lambda i: torch_rmsnorm(rs[i % copies].add_(xs[i % copies]), w, eps),
                "unfused_residual": lambda i: qjit.quantize_per_token(
                    torch_rmsnorm(rs[i % copies].add_(xs[i % copies]), w, eps), out=q, scale=s),
                "qjit_fused_residual": lambda i: qjit.rms_norm_quantize(xs[i % copies], w, eps,
                                                                        residual=rs[i % copies], out=q, scale=s),
            }
            times = {name: [] for name in cases}
            for r in range(a.rounds):
                names = list(cases)
                names = names[r % len(names):] + names[:r % len(names)]  # rotate the order each round
                for name in names:
                    times[name].append(time_us(cases[name], 3, a.iters))
            row = {"k": k, "m": m}
            row.update({name: statistics.median(t) for name, t in times.items()})
            rows.append(row)
            print(f"K={k} M={m}: " + ", ".join(f"{n} {row[n]:.2f} us" for n in cases), file=sys.stderr)
    print("| K | M | torch RMSNorm us | torch RMSNorm + qjit quantize us | qjit fused us | unfused / fused | "
          "torch norm / fused | residual: unfused / fused |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['k']} | {r['m']} | {r['torch_rmsnorm']:.2f} | {r['unfused']:.2f} | {r['qjit_fused']:.2f} | "
              f"{r['unfused'] / r['qjit_fused']:.2f} | {r['torch_rmsnorm'] / r['qjit_fused']:.2f} | "
              f"{r['unfused_residual'] / r['qjit_fused_residual']:.2f} |")
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            wr = csv.DictWriter(f, fieldnames=list(rows[0]))
            wr.writeheader()
            wr.writerows(rows)


if __name__ == "__main__":
    main()
