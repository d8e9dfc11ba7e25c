#!/usr/bin/env python3
"""Draw `qjit bench --csv` and `bench/peers.py --csv` output: qjit against every peer across M (log x).

Left panel: int8 GEMM throughput (TOPS) at each M of qjit and of each GEMM peer present (cuBLASLt int8,
torch._int_mm, Triton) -- the geometric mean over the shapes, or one line per shape with --per-shape. Right panel:
the speed ratio peer time / qjit time (> 1: qjit is faster) of every peer present, geomean per M (per shape thin for
cuBLASLt int8), with the 1.0 line: GEMM peers against qjit's SmoothQuantLinear GEMM, bf16 peers against
QuantizedLinear. Several CSVs may be given (both files share their columns); rows are drawn for one load regime and
launch mode (--regime, --mode). A peer row without its ratio (peers.py run without qjit's Python package) is
compared with the qjit time of the same (N, K, M, regime, mode) from another file, and its legend says "separate
runs" since those were not interleaved. Writes a PNG.

    qjit bench --m 1,16,128,512,2048,8192 --regime both --csv bench.csv
    python3 bench/peers.py --m 1,16,128,512,2048,8192 --regime both --csv peers.csv
    python3 bench/plot_bench.py bench.csv peers.csv --regime burst -o docs/bench.png

Exit codes: 0 written, 1 matplotlib missing or the PNG could not be written, 2 bad input.
"""
import argparse
import csv
import math
import sys
from collections import defaultdict

REQUIRED = ("label", "n", "k", "m", "qjit_us")
# (column prefix, legend, reference side, ratio column)
GEMM_SIDES = (("cublaslt_s8", "cuBLASLt int8", "ratio"), ("torch_int_mm", "torch._int_mm + epilogue",
              "torch_int_mm_ratio"), ("triton_s8", "Triton scaled int8", "triton_s8_ratio"))
BF16_SIDES = (("cublaslt_bf16", "cuBLASLt bf16 (vs QuantizedLinear)", "ql_ratio"),
              ("torch_bf16", "torch F.linear bf16 (vs QuantizedLinear)", "torch_bf16_ratio"))


def number(text):
    """A positive float, or None for an empty or non-positive cell (the CSV leaves unmeasured cells empty)."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v if v > 0 and math.isfinite(v) else None


def geomean(values):
    values = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def read_rows(path):
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(line for line in f if not line.startswith("#"))
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path}: not a `qjit bench --csv` file: missing column(s) {', '.join(missing)}")
            rows = []
            for i, r in enumerate(reader, start=2):
                try:
                    r["n"], r["k"], r["m"] = int(r["n"]), int(r["k"]), int(r["m"])
                except ValueError:
                    raise ValueError(f"{path}:{i}: n, k and m must be integers")
                r.setdefault("regime", "")
                r.setdefault("mode", "")
                r["regime"], r["mode"] = r["regime"] or "", r["mode"] or ""
                rows.append(r)
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv", nargs="+", help="files `qjit bench --csv` or `bench/peers.py --csv` wrote")
    ap.add_argument("-o", "--output", help="PNG to write (default: the first CSV's name with .png)")
    ap.add_argument("--regime", help="sustained | burst (default: burst when present, else the first one)")
    ap.add_argument("--mode", default="stream", help="stream | graph (default stream)")
    ap.add_argument("--per-shape", action="store_true", help="one throughput line per shape instead of the geomean")
    ap.add_argument("--title", help="figure title (default: the device, regime and mode from the CSV)")
    args = ap.parse_args()

    try:
        rows = [r for path in args.csv for r in read_rows(path)]
    except ValueError as e:
        print(f"plot_bench.py: {e}", file=sys.stderr)
        return 2
    regimes = sorted({r["regime"] for r in rows})
    regime = args.regime if args.regime is not None else ("burst" if "burst" in regimes else regimes[0])
    rows = [r for r in rows if r["regime"] == regime and (r["mode"] or "stream") == args.mode]
    if not rows:
        print(f"plot_bench.py: no rows with regime '{regime}' and mode '{args.mode}' (regimes present: "
              f"{', '.join(x or '(none)' for x in regimes)})", file=sys.stderr)
        return 2
    if not any(number(r.get("qjit_us")) or any(number(r.get(f"{c}_us")) for c, _, _ in GEMM_SIDES) for r in rows):
        print("plot_bench.py: no row has a GEMM time to plot", file=sys.stderr)
        return 2
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_bench.py: matplotlib is not installed (pip install matplotlib, or apt-get install "
              "python3-matplotlib)", file=sys.stderr)
        return 1

    # qjit's times by case, for peer rows from a run that could not time qjit.
    qjit_by_case = {}
    for r in rows:
        key = (r["n"], r["k"], r["m"])
        q = qjit_by_case.setdefault(key, {})
        for side in ("qjit", "ql"):
            if number(r.get(f"{side}_us")):
                q.setdefault(side, number(r[f"{side}_us"]))
    separate = set()

    def ratio_of(r, prefix, column, reference):
        v = number(r.get(column))
        if v:
            return v
        peer, ref = number(r.get(f"{prefix}_us")), qjit_by_case.get((r["n"], r["k"], r["m"]), {}).get(reference)
        if peer and ref:
            separate.add(prefix)
            return peer / ref
        return None

    shapes = defaultdict(list)  # (n, k, label) -> rows
    for r in rows:
        shapes[(r["n"], r["k"], r["label"])].append(r)
    ms = sorted({r["m"] for r in rows})

    def per_m_geomean(fn):
        xs, ys = [], []
        for m in ms:
            g = geomean([fn(r) for r in rows if r["m"] == m])
            if g:
                xs.append(m)
                ys.append(g)
        return xs, ys

    # From the times, not the CSV's rounded TOPS column (decode-sized M rounds to a few thousandths of a TOPS).
    def tops(prefix):
        def f(r):
            us = number(r.get(f"{prefix}_us"))
            return 2.0 * r["m"] * r["n"] * r["k"] / (us * 1e-6) / 1e12 if us else None
        return f

    fig, (ax_t, ax_r) = plt.subplots(1, 2, figsize=(13, 5))
    if args.per_shape:
        for (n, k, label), group in shapes.items():
            q = sorted((r["m"], tops("qjit")(r)) for r in group if tops("qjit")(r))
            if not q:
                continue
            (line,) = ax_t.plot([m for m, _ in q], [v for _, v in q], marker="o", label=f"qjit {n}x{k}")
            lt = sorted((r["m"], tops("cublaslt_s8")(r)) for r in group if tops("cublaslt_s8")(r))
            if lt:
                ax_t.plot([m for m, _ in lt], [v for _, v in lt], linestyle="--", color=line.get_color(), alpha=0.7)
        ax_t.set_title("int8 GEMM throughput (solid qjit, dashed cuBLASLt)")
    else:
        xs, ys = per_m_geomean(tops("qjit"))
        if xs:
            ax_t.plot(xs, ys, marker="o", linewidth=2.5, label="qjit (geomean)")
        for (prefix, legend, _), marker in zip(GEMM_SIDES, ("s", "v", "D")):
            xs, ys = per_m_geomean(tops(prefix))
            if xs:
                ax_t.plot(xs, ys, marker=marker, linewidth=1.8, linestyle="--", label=f"{legend} (geomean)")
        ax_t.set_title(f"int8 GEMM throughput, geomean over {len(shapes)} shapes")
    ax_t.set_xscale("log", base=2)
    ax_t.set_yscale("log")
    ax_t.set_xlabel("M (tokens)")
    ax_t.set_ylabel("TOPS")
    ax_t.grid(True, which="both", alpha=0.3)
    ax_t.legend(fontsize="small")

    for (n, k, label), group in shapes.items():
        pts = sorted((r["m"], number(r.get("ratio"))) for r in group if number(r.get("ratio")))
        if pts:
            ax_r.plot([m for m, _ in pts], [v for _, v in pts], color="tab:blue", alpha=0.2, linewidth=1)
    drawn = False
    styles = ("-", "--", "-.", ":", (0, (3, 1, 1, 1)))
    for (prefix, legend, column), reference, style in zip(GEMM_SIDES + BF16_SIDES, ("qjit",) * 3 + ("ql",) * 2,
                                                          styles):
        xs, ys = per_m_geomean(lambda r: ratio_of(r, prefix, column, reference))
        if xs:
            drawn = True
            note = " (separate runs)" if prefix in separate else ""
            ax_r.plot(xs, ys, marker="o", linewidth=2, linestyle=style, label=f"{legend}{note}")
    ax_r.axhline(1.0, color="black", linewidth=1)
    ax_r.set_xscale("log", base=2)
    ax_r.set_xlabel("M (tokens)")
    ax_r.set_ylabel("peer time / qjit time  (> 1: qjit faster)")
    ax_r.set_title("speed ratio, geomean (thin: cuBLASLt int8 per shape)")
    ax_r.grid(True, which="both", alpha=0.3)
    if drawn:
        ax_r.legend(fontsize="small")
    else:
        ax_r.text(0.5, 0.5, "no peer ratios in these CSVs", ha="center", transform=ax_r.transAxes)

    device = rows[0].get("device") or "unknown device"
    dtype = rows[0].get("dtype") or "?"
    fig.suptitle(args.title or f"qjit vs peers on {device} ({dtype} output, {regime or 'unnamed'} load, "
                 f"{args.mode} launches, interleaved)")
    fig.tight_layout()
    first = args.csv[0]
    out = args.output or (first[:-4] if first.endswith(".csv") else first) + ".png"
    try:
        fig.savefig(out, dpi=130)
    except OSError as e:
        print(f"plot_bench.py: cannot write {out}: {e.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
