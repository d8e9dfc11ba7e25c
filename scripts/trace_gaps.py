#!/usr/bin/env python3
"""Summarises an `nsys stats --report cuda_gpu_trace --format csv` table of a qjit bench run (scripts/gpu-check.sh
trace): for each qjit GEMM kernel, the median duration, the median time from the previous kernel's end to its start
(negative: it started early, programmatic dependent launch), and, where a quantize pass ran right before it, the
pass's median duration and the median gap from the kernel before it (the previous GEMM) to the pass."""
import csv
import statistics
import sys
from collections import defaultdict


def main(path):
    rows = []
    with open(path) as f:
        for r in csv.DictReader(f):
            name = r.get("Name", "")
            if "Start (ns)" not in r or not name:
                continue
            rows.append((int(r["Start (ns)"]), int(r["Duration (ns)"]), name))
    rows.sort()
    stats = defaultdict(lambda: defaultdict(list))
    for i in range(1, len(rows)):
        start, dur, name = rows[i]
        if not name.startswith("qjit_gemm"):
            continue
        p_start, p_dur, p_name = rows[i - 1]
        short = name.replace("qjit_gemm_s8_", "")
        s = stats[short]
        s["dur"].append(dur / 1e3)
        s["gap"].append((start - (p_start + p_dur)) / 1e3)
        if p_name.startswith("qjit_quantize"):
            s["q_dur"].append(p_dur / 1e3)
            if i >= 2:
                s["q_gap"].append((p_start - (rows[i - 2][0] + rows[i - 2][1])) / 1e3)
    print(f"{'GEMM kernel':70} {'n':>5} {'dur us':>7} {'gap us':>7} {'quant us':>8} {'q gap us':>8}")
    for name, s in stats.items():
        med = lambda k: f"{statistics.median(s[k]):.2f}" if s[k] else "-"
        print(f"{name[:70]:70} {len(s['dur']):5d} {med('dur'):>7} {med('gap'):>7} {med('q_dur'):>8} {med('q_gap'):>8}")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print("#", p)
        main(p)
