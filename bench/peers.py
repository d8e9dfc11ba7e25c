#!/usr/bin/env python3
"""The PyTorch and Triton peers of qjit's int8 linear layer, timed the way `qjit bench` times cuBLASLt.

For every (N, K) of the shape file crossed with every M, on the same random operands and weights rotated past the
L2 (the rotation rule of autotune/timing.h, copied in rotation_copies below):
  torch_int_mm  torch._int_mm (s8 x s8 -> s32) + the scaling epilogue in PyTorch (per-token x per-channel scale,
                optional bias, bf16 out): the GEMM peer. torch._int_mm needs M > 16: smaller M is padded to 17 rows
                (what a caller of it pays), which the log says.
  triton_s8     a Triton scaled int8 GEMM with the same epilogue fused (its autotuning runs before any timed batch)
  torch_bf16    torch.nn.functional.linear in bf16: the QuantizedLinear peer.
When the qjit Python package imports (qjit.torch: torch.ops.qjit.*), qjit's SmoothQuantLinear GEMM and its
QuantizedLinear are timed interleaved with them and the ratios (peer time / qjit time) filled in; otherwise only the
peers' times are written and plot_bench.py compares them with a `qjit bench --csv` file of the same device.
Interleaving as in perf/interleave.h: A B A B ... over --rounds rounds, order rotated, each round the median of its
batches (torch.cuda events), the result the median of the rounds; --regime sustained (each side back to back for
--sustain-ms per round, one synchronisation at the end) and/or burst (synchronised batches with idle gaps);
--graph captures each side as a CUDA graph of N launches and replays it. SM clock and board power per side come from
NVML (libnvidia-ml.so.1 through ctypes) where it is present. The CSV has the columns of `qjit bench --csv`
(CSV_HEADER; tests/unit/tools_bench_test.cpp checks it against tools/bench_report.cpp).

    python3 bench/peers.py --shapes data/llm_linear_shapes.csv --m 1,16,128,2048,8192 --regime both --csv peers.csv

Exit codes: 0 every row measured, 1 no GPU / torch or Triton missing / a row failed, 2 bad arguments or shape file.
"""
import argparse
import csv
import ctypes
import io
import math
import sys
import threading
import time

CSV_HEADER = "label,n,k,m,dtype,regime,mode,rounds,qjit_us,qjit_mhz,qjit_w,qjit_tops,qjit_tops_per_ghz,qjit_tops_per_w,gbps,pct_peak,cublaslt_s8_us,cublaslt_s8_mhz,cublaslt_s8_w,ratio,torch_int_mm_us,torch_int_mm_mhz,torch_int_mm_w,torch_int_mm_ratio,triton_s8_us,triton_s8_mhz,triton_s8_w,triton_s8_ratio,ql_us,ql_mhz,ql_w,cublaslt_bf16_us,cublaslt_bf16_mhz,cublaslt_bf16_w,ql_ratio,torch_bf16_us,torch_bf16_mhz,torch_bf16_w,torch_bf16_ratio,qjit_aligned_us,qjit_aligned_mhz,qjit_aligned_w,aligned_ratio,ql_aligned_us,ql_aligned_mhz,ql_aligned_w,ql_aligned_ratio,check,qjit_config,ql_config,cublaslt_s8_algo,cublaslt_bf16_algo,device,error,act_stride,aligned_n,aligned_k,layout"
COLUMNS = CSV_HEADER.split(",")
# Peer -> (its reference side, its ratio column), as tools/bench_report.cpp's table.
PEERS = {"torch_int_mm": ("qjit", "torch_int_mm_ratio"), "triton_s8": ("qjit", "triton_s8_ratio"),
         "torch_bf16": ("ql", "torch_bf16_ratio")}
MIN_COPIES, MAX_COPIES = 2, 256
SUSTAINED_BATCH_US = 200.0
MAX_SUSTAINED_BATCHES = 4000


def rotation_copies(nbytes, l2_bytes, device_memory_bytes):
    """autotune::rotation_copies: copies spanning twice the L2, in [2, 256], at most an eighth of device memory."""
    size = max(nbytes, 1)
    l2 = l2_bytes if l2_bytes > 0 else 128 << 20
    budget = (device_memory_bytes if device_memory_bytes > 0 else 32 << 30) / 8
    want = min(max(math.ceil(2.0 * l2 / size), MIN_COPIES), MAX_COPIES)
    return int(max(1, min(want, math.floor(budget / size))))


def round_order(rnd, sides):
    """perf::round_order: 0..sides-1 rotated left by rnd % sides."""
    if sides <= 0:
        return []
    first = rnd % sides
    return [(first + i) % sides for i in range(sides)]


def parse_m_list(text):
    ms = []
    for item in text.split(","):
        if not item.strip().isdigit() or int(item) < 1:
            raise ValueError(f"--m: '{item}' is not a positive integer")
        ms.append(int(item))
    return ms


def load_shapes(path):
    """model,layer,N,K lines ('#' comments, one header line) -> [(label, n, k)] with labels merged per (N, K)."""
    by_nk = {}
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        raise ValueError(f"--shapes: cannot read {path}: {e.strerror}")
    header_seen = False
    for i, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = next(csv.reader([line]))
        if not header_seen and cells and cells[0].strip().lower() == "model":
            header_seen = True
            continue
        if len(cells) != 4 or not cells[2].strip().isdigit() or not cells[3].strip().isdigit():
            raise ValueError(f"{path}:{i}: expected model,layer,N,K with integer N and K")
        key = (int(cells[2]), int(cells[3]))
        by_nk.setdefault(key, []).append(f"{cells[0].strip()} {cells[1].strip()}")
    return [(", ".join(labels), n, k) for (n, k), labels in sorted(by_nk.items())]


class Nvml:
    """NVML through ctypes (the functions perf/nvml.cpp uses); None-safe readings."""

    def __init__(self, pci_bus_id, index):
        lib = ctypes.CDLL("libnvidia-ml.so.1")
        if lib.nvmlInit_v2() != 0:
            raise OSError("nvmlInit_v2 failed")
        self.lib, self.dev = lib, ctypes.c_void_p()
        if not pci_bus_id or lib.nvmlDeviceGetHandleByPciBusId_v2(pci_bus_id.encode(), ctypes.byref(self.dev)) != 0:
            if lib.nvmlDeviceGetHandleByIndex_v2(ctypes.c_uint(index), ctypes.byref(self.dev)) != 0:
                raise OSError(f"nvmlDeviceGetHandleByIndex_v2({index}) failed")

    def read(self):
        mhz, mw = ctypes.c_uint(), ctypes.c_uint()
        if self.lib.nvmlDeviceGetClockInfo(self.dev, 1, ctypes.byref(mhz)) != 0:  # NVML_CLOCK_SM
            return None
        if self.lib.nvmlDeviceGetPowerUsage(self.dev, ctypes.byref(mw)) != 0:
            return None
        return float(mhz.value), mw.value / 1000.0


class Sampler:
    """perf::ClockPowerSampler: readings on a thread between start() and stop(), plus one at each end."""

    def __init__(self, nvml, period_s=0.005):
        self.nvml, self.period = nvml, period_s
        self.samples, self.running, self.thread = [], False, None

    def _take(self):
        r = self.nvml.read()
        if r:
            self.samples.append(r)

    def start(self):
        if not self.nvml:
            return
        self.samples, self.running = [], True
        self._take()

        def loop():
            while self.running:
                time.sleep(self.period)
                if self.running:
                    self._take()
        self.thread = threading.Thread(target=loop, daemon=True)
        self.thread.start()

    def stop(self):
        if not self.nvml:
            return (0.0, 0.0, 0)
        self.running = False
        self.thread.join()
        self._take()
        n = len(self.samples)
        if not n:
            return (0.0, 0.0, 0)
        return (sum(s[0] for s in self.samples) / n, sum(s[1] for s in self.samples) / n, n)


def median(values):
    """The upper middle value, as autotune::median."""
    v = sorted(values)
    return v[len(v) // 2] if v else 0.0


def time_interleaved(torch, sides, args, regime, graph, nvml):
    """sides: [launch(i)] -> [(us per launch, mhz, watts)], as perf::time_interleaved."""
    stream = torch.cuda.current_stream()
    per_call = args.graph_launches if graph else 1
    calls = []
    for launch in sides:
        if graph:
            for i in range(2):  # eager warm-up: select plans and autotune before capture
                launch(i)
            torch.cuda.synchronize()
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                for i in range(per_call):
                    launch(i)
            calls.append(lambda i, g=g: g.replay())
        else:
            calls.append(launch)
    next_call = [0] * len(sides)

    def batches(s, reps, batch, sync_each, idle_us):
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                  for _ in range(1 if sync_each else reps)]
        out = []
        for r in range(reps):
            start, stop = events[0 if sync_each else r]
            start.record(stream)
            for _ in range(batch):
                calls[s](next_call[s])
                next_call[s] += 1
            stop.record(stream)
            if sync_each:
                stop.synchronize()
                out.append(1e3 * start.elapsed_time(stop) / (batch * per_call))
                if idle_us:
                    time.sleep(idle_us * 1e-6)
        if not sync_each:
            events[-1][1].synchronize()
            out = [1e3 * a.elapsed_time(b) / (batch * per_call) for a, b in events]
        return out

    estimate = []
    for s in range(len(sides)):
        for _ in range(args.warmup):
            calls[s](next_call[s])
            next_call[s] += 1
        estimate.append(max(batches(s, 1, 1 if graph else args.batch, True, 0)[0], 1e-3))
    rounds = [[] for _ in sides]
    clocks = [[0.0, 0.0, 0] for _ in sides]
    sampler = Sampler(nvml)
    for rnd in range(args.rounds):
        for s in round_order(rnd, len(sides)):
            if regime == "sustained":
                call_us = estimate[s] * per_call
                batch = max(1 if graph else args.batch, math.ceil(SUSTAINED_BATCH_US / call_us))
                reps = min(max(math.ceil(args.sustain_ms * 1e3 / (call_us * batch)), 5), MAX_SUSTAINED_BATCHES)
                sampler.start()
                got = batches(s, reps, batch, False, 0)
            else:
                sampler.start()
                got = batches(s, args.iters, 1 if graph else args.batch, True, args.burst_gap_us)
            mhz, watts, n = sampler.stop()
            c = clocks[s]
            if n:
                total = c[2] + n
                c[0], c[1], c[2] = (c[0] * c[2] + mhz * n) / total, (c[1] * c[2] + watts * n) / total, total
            rounds[s].append(median(got))
            estimate[s] = max(rounds[s][-1], 1e-3)
    return [(median(rounds[s]), clocks[s][0], clocks[s][1]) for s in range(len(sides))]


def triton_kernel():
    """The Triton scaled int8 GEMM: y[m, n] = a_scale[m] * w_scale[n] * sum_k x[m, k] w[n, k] (+ bias[n]), bf16 out."""
    import triton
    import triton.language as tl

    configs = [triton.Config({"BM": bm, "BN": bn, "BK": bk, "GROUP_M": 8}, num_stages=st, num_warps=w)
               for bm, bn, bk, st, w in ((128, 256, 128, 3, 8), (256, 128, 128, 3, 8), (128, 128, 128, 4, 4),
                                         (64, 128, 128, 4, 4), (64, 64, 128, 4, 4), (32, 128, 128, 4, 4),
                                         (16, 128, 256, 4, 4), (16, 64, 256, 3, 4))]

    @triton.autotune(configs=configs, key=["M", "N", "K"])
    @triton.jit
    def scaled_mm(x, w, y, a_scale, w_scale, bias, M, N, K, HAS_BIAS: tl.constexpr, BM: tl.constexpr,
                  BN: tl.constexpr, BK: tl.constexpr, GROUP_M: tl.constexpr):
        pid = tl.program_id(0)
        grid_m, grid_n = tl.cdiv(M, BM), tl.cdiv(N, BN)
        group = pid // (GROUP_M * grid_n)
        first_m = group * GROUP_M
        rows = min(grid_m - first_m, GROUP_M)
        pid_m = first_m + (pid % rows)
        pid_n = (pid % (GROUP_M * grid_n)) // rows
        offs_m = pid_m * BM + tl.arange(0, BM)
        offs_n = pid_n * BN + tl.arange(0, BN)
        offs_k = tl.arange(0, BK)
        xm, wn = offs_m % M, offs_n % N
        x_ptr = x + xm[:, None] * K + offs_k[None, :]
        w_ptr = w + wn[None, :] * K + offs_k[:, None]
        acc = tl.zeros((BM, BN), dtype=tl.int32)
        for kk in range(0, tl.cdiv(K, BK)):
            left = K - kk * BK
            a = tl.load(x_ptr, mask=offs_k[None, :] < left, other=0)
            b = tl.load(w_ptr, mask=offs_k[:, None] < left, other=0)
            acc = tl.dot(a, b, acc, out_dtype=tl.int32)
            x_ptr += BK
            w_ptr += BK
        out = acc.to(tl.float32) * tl.load(a_scale + xm)[:, None] * tl.load(w_scale + wn)[None, :]
        if HAS_BIAS:
            out += tl.load(bias + wn)[None, :].to(tl.float32)
        mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
        tl.store(y + offs_m[:, None] * N + offs_n[None, :], out.to(tl.bfloat16), mask=mask)

    def run(x, wq, a_scale, w_scale, bias, out):
        m, k = x.shape
        n = wq.shape[0]
        grid = lambda meta: (triton.cdiv(m, meta["BM"]) * triton.cdiv(n, meta["BN"]),)  # noqa: E731
        scaled_mm[grid](x, wq, out, a_scale, w_scale, bias if bias is not None else w_scale, m, n, k,
                        HAS_BIAS=bias is not None)
        return out
    return run


def fmt(v, digits):
    return f"{v:.{digits}f}" if v and v > 0 and math.isfinite(v) else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", default="data/llm_linear_shapes.csv", help="model,layer,N,K file")
    ap.add_argument("--m", default="1,16,128,2048,8192", help="comma-separated token counts")
    ap.add_argument("--filter", default="", help="only shapes whose '<label> N=<n> K=<k>' matches this regex")
    ap.add_argument("--regime", default="both", choices=("sustained", "burst", "both"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=30, help="burst: timed batches per side per round")
    ap.add_argument("--batch", type=int, default=5, help="burst: launches per batch")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--sustain-ms", type=int, default=1000)
    ap.add_argument("--burst-gap-us", type=int, default=500)
    ap.add_argument("--graph", action="store_true", help="capture each side as a CUDA graph and time its replays")
    ap.add_argument("--graph-launches", type=int, default=16)
    ap.add_argument("--bias", action="store_true", help="add a bias in every epilogue")
    ap.add_argument("--no-qjit", action="store_true", help="do not time qjit even when its package imports")
    ap.add_argument("--csv", help="write the rows here (default: stdout)")
    args = ap.parse_args()
    import re
    try:
        ms = parse_m_list(args.m)
        shapes = load_shapes(args.shapes)
        rx = re.compile(args.filter) if args.filter else None
        for name, lo, hi in (("--rounds", args.rounds, 1000), ("--iters", args.iters, 100000),
                             ("--batch", args.batch, 10000), ("--sustain-ms", args.sustain_ms, 60000),
                             ("--graph-launches", args.graph_launches, 4096)):
            if not 1 <= lo <= hi:
                raise ValueError(f"{name} must be in [1, {hi}], got {lo}")
        if args.warmup < 0 or args.burst_gap_us < 0:
            raise ValueError("--warmup and --burst-gap-us must be >= 0")
    except (ValueError, re.error) as e:
        print(f"peers.py: {e}", file=sys.stderr)
        return 2
    shapes = [s for s in shapes if not rx or rx.search(f"{s[0]} N={s[1]} K={s[2]}")]
    if not shapes:
        print(f"peers.py: --filter '{args.filter}' matches no shape of {args.shapes}", file=sys.stderr)
        return 2
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        print(f"peers.py: PyTorch is not installed here ({e})", file=sys.stderr)
        return 1
    if not torch.cuda.is_available():
        print("peers.py: no GPU (torch.cuda.is_available() is False)", file=sys.stderr)
        return 1
    try:
        triton_mm = triton_kernel()
    except ImportError as e:
        print(f"peers.py: Triton is missing ({e}); triton_s8 is left out", file=sys.stderr)
        triton_mm = None
    qjit_ops = None
    if not args.no_qjit:
        try:
            import qjit.torch  # noqa: F401  (registers torch.ops.qjit.*)
            qjit_ops = torch.ops.qjit
        except Exception as e:  # noqa: BLE001: any failure to load qjit just leaves its columns empty
            print(f"peers.py: qjit's Python package is not usable ({e}); qjit and ratio columns stay empty",
                  file=sys.stderr)
    dev = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(dev)
    l2 = getattr(props, "L2_cache_size", 0)
    nvml = None
    try:
        pci = getattr(props, "pci_bus_id", None)
        pci_id = f"{getattr(props, 'pci_domain_id', 0):08X}:{pci:02X}:{getattr(props, 'pci_device_id', 0):02X}.0" \
            if pci is not None else ""
        nvml = Nvml(pci_id, dev)
    except OSError as e:
        print(f"peers.py: no clock or power readings (NVML): {e}", file=sys.stderr)
    regimes = ["sustained", "burst"] if args.regime == "both" else [args.regime]
    mode = "graph" if args.graph else "stream"
    gen = torch.Generator(device="cuda").manual_seed(0x5eed)
    out_rows, failed = [], 0
    for label, n, k in shapes:
        copies = rotation_copies(n * k, l2, props.total_memory // 3)
        w_q = [torch.randint(-127, 128, (n, k), dtype=torch.int8, device="cuda", generator=gen)]
        w_q += [w_q[0].clone() for _ in range(copies - 1)]
        w_scale = (torch.rand(n, device="cuda", generator=gen) * 1e-3 + 5e-4).float()
        w_bf16 = [(w_q[0].float() * w_scale[:, None]).to(torch.bfloat16)]
        w_bf16 += [w_bf16[0].clone() for _ in range(copies - 1)]
        bias = (torch.rand(n, device="cuda", generator=gen) - 0.5).to(torch.bfloat16) if args.bias else None
        for m in ms:
            print(f"{label} N={n} K={k} M={m}", file=sys.stderr)
            x = (torch.rand(m, k, device="cuda", generator=gen) * 4 - 2).to(torch.bfloat16)
            x_q = torch.randint(-127, 128, (m, k), dtype=torch.int8, device="cuda", generator=gen)
            a_scale = (torch.rand(m, device="cuda", generator=gen) * 1e-2 + 1e-2).float()
            pad = max(0, 17 - m)
            x_q_mm = torch.cat([x_q, x_q.new_zeros(pad, k)]) if pad else x_q
            a_scale_mm = torch.cat([a_scale, a_scale.new_ones(pad)]) if pad else a_scale
            if pad:
                print(f"  torch._int_mm needs M > 16: padded {m} -> {m + pad} rows", file=sys.stderr)
            y = torch.empty(m, n, dtype=torch.bfloat16, device="cuda")

            def int_mm(i):
                acc = torch._int_mm(x_q_mm, w_q[i % copies].t())
                out = acc.float() * a_scale_mm[:, None] * w_scale[None, :]
                if bias is not None:
                    out = out + bias.float()
                return out[:m].to(torch.bfloat16)
            gemm = {"torch_int_mm": int_mm}
            if triton_mm:
                gemm["triton_s8"] = lambda i: triton_mm(x_q, w_q[i % copies], a_scale, w_scale, bias, y)
            ql = {"torch_bf16": lambda i: F.linear(x, w_bf16[i % copies], bias)}
            if qjit_ops is not None:
                sq_scale = 0.02
                gemm = {"qjit": lambda i: qjit_ops.smooth_quant_linear(x_q, sq_scale, w_q[i % copies], w_scale, bias,
                                                                       torch.bfloat16), **gemm}
                ql = {"ql": lambda i: qjit_ops.quantized_linear(x, w_q[i % copies], w_scale, bias), **ql}
            check = "n/a"
            if triton_mm:
                try:  # the Triton epilogue against PyTorch's, both from the same int32 products
                    ref, got = int_mm(0).float(), triton_mm(x_q, w_q[0], a_scale, w_scale, bias, y).float()
                    err = ((got - ref).abs() / ref.abs().clamp_min(1e-3)).max().item()
                    check = "ok" if err <= 2 ** -7 else f"MISMATCH triton_s8 vs torch_int_mm max rel. error {err:.3e}"
                except Exception as e:  # noqa: BLE001
                    check = f"check failed: {e}"
            for regime in regimes:
                row = {c: "" for c in COLUMNS}
                row.update(label=label, n=n, k=k, m=m, dtype="bf16", regime=regime, mode=mode, rounds=args.rounds,
                           check=check, device=props.name, error="")
                times = {}
                for group in (gemm, ql):
                    try:
                        res = time_interleaved(torch, list(group.values()), args, regime, args.graph, nvml)
                        for name, (us, mhz, watts) in zip(group, res):
                            times[name] = us
                            row[f"{name}_us"], row[f"{name}_mhz"], row[f"{name}_w"] = fmt(us, 3), fmt(mhz, 0), \
                                fmt(watts, 1)
                    except Exception as e:  # noqa: BLE001: one failing group marks the row, the run goes on
                        row["error"] += ("; " if row["error"] else "") + f"{'/'.join(group)}: {e}"
                for peer, (ref, column) in PEERS.items():
                    if times.get(peer) and times.get(ref):
                        row[column] = fmt(times[peer] / times[ref], 4)
                if times.get("qjit"):
                    tops = 2.0 * m * n * k / (times["qjit"] * 1e-6) / 1e12
                    row["qjit_tops"] = fmt(tops, 3)
                    if row["qjit_mhz"]:
                        row["qjit_tops_per_ghz"] = fmt(tops / (float(row["qjit_mhz"]) * 1e-3), 2)
                    if row["qjit_w"]:
                        row["qjit_tops_per_w"] = fmt(tops / float(row["qjit_w"]), 3)
                failed += bool(row["error"]) or row["check"].startswith("MISMATCH")
                out_rows.append(row)
                print("  " + regime + ": " + ", ".join(f"{name} {us:.1f} us" for name, us in times.items()),
                      file=sys.stderr)
            del x, x_q, x_q_mm, y
        del w_q, w_bf16
        torch.cuda.empty_cache()
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(out_rows)
    if args.csv:
        with open(args.csv, "w") as f:
            f.write(buf.getvalue())
    else:
        sys.stdout.write(buf.getvalue())
    if failed:
        print(f"peers.py: {failed} of {len(out_rows)} rows failed or mismatched", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
