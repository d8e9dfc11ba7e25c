#!/usr/bin/env python3
"""Draw `qjit bench --csv` output: qjit against cuBLASLt int8 across M (log x).

Left panel: throughput (TOPS) of qjit's int8 GEMM and of cuBLASLt int8 at each M -- the geometric mean over the
shapes, or one line per shape with --per-shape. Right panel: the speed ratio cuBLASLt time / qjit time (> 1: qjit
is faster) per shape (thin) with its geometric mean (thick), the QuantizedLinear-vs-bf16 ratio when measured, and
the 1.0 line. Writes a PNG.

    qjit bench --shapes data/llm_linear_shapes.csv --m 1,16,128,512,2048,8192 --csv bench.csv
    python3 bench/plot_bench.py bench.csv -o docs/bench.png

Exit codes: 0 written, 1 matplotlib missing or the PNG could not be written, 2 bad input.
"""
import argparse
import csv
import math
import sys
from collections import defaultdict

REQUIRED = ("label", "n", "k", "m", "qjit_us", "cublaslt_s8_us")


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
                rows.append(r)
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}")
    if not any(number(r["qjit_us"]) for r in rows):
        raise ValueError(f"{path}: no row has a qjit time to plot")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv", help="the file `qjit bench --csv` wrote")
    ap.add_argument("-o", "--output", help="PNG to write (default: the CSV's name with .png)")
    ap.add_argument("--per-shape", action="store_true", help="one throughput line per shape instead of the geomean")
    ap.add_argument("--title", help="figure title (default: the device and output type from the CSV)")
    args = ap.parse_args()

    try:
        rows = read_rows(args.csv)
    except ValueError as e:
        print(f"plot_bench.py: {e}", file=sys.stderr)
        return 2
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_bench.py: matplotlib is not installed (pip install matplotlib, or apt-get install "
              "python3-matplotlib)", file=sys.stderr)
        return 1

    shapes = defaultdict(list)  # (n, k, label) -> rows by M
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
    def tops(r, column):
        us = number(r[column])
        return 2.0 * r["m"] * r["n"] * r["k"] / (us * 1e-6) / 1e12 if us else None

    def qjit_tops(r):
        return tops(r, "qjit_us")

    def lt_tops(r):
        return tops(r, "cublaslt_s8_us")

    def ratio(r):
        return number(r.get("ratio"))

    def ql_ratio(r):
        return number(r.get("ql_ratio"))

    fig, (ax_t, ax_r) = plt.subplots(1, 2, figsize=(13, 5))
    if args.per_shape:
        for (n, k, label), group in shapes.items():
            q = sorted((r["m"], qjit_tops(r)) for r in group if qjit_tops(r))
            (line,) = ax_t.plot([m for m, _ in q], [v for _, v in q], marker="o", label=f"qjit {n}x{k}")
            lt = sorted((r["m"], lt_tops(r)) for r in group if lt_tops(r))
            if lt:
                ax_t.plot([m for m, _ in lt], [v for _, v in lt], linestyle="--", color=line.get_color(), alpha=0.7)
        ax_t.set_title("int8 GEMM throughput (solid qjit, dashed cuBLASLt)")
    else:
        ax_t.plot(*per_m_geomean(qjit_tops), marker="o", linewidth=2, label="qjit (geomean)")
        ax_t.plot(*per_m_geomean(lt_tops), marker="s", linewidth=2, linestyle="--", label="cuBLASLt int8 (geomean)")
        ax_t.set_title(f"int8 GEMM throughput, geomean over {len(shapes)} shapes")
    ax_t.set_xscale("log", base=2)
    ax_t.set_yscale("log")
    ax_t.set_xlabel("M (tokens)")
    ax_t.set_ylabel("TOPS")
    ax_t.grid(True, which="both", alpha=0.3)
    ax_t.legend(fontsize="small")

    for (n, k, label), group in shapes.items():
        pts = sorted((r["m"], ratio(r)) for r in group if ratio(r))
        if pts:
            ax_r.plot([m for m, _ in pts], [v for _, v in pts], color="tab:blue", alpha=0.25, linewidth=1)
    gx, gy = per_m_geomean(ratio)
    if gx:
        ax_r.plot(gx, gy, color="tab:blue", marker="o", linewidth=2.5, label="qjit vs cuBLASLt int8 (geomean)")
    qx, qy = per_m_geomean(ql_ratio)
    if qx:
        ax_r.plot(qx, qy, color="tab:green", marker="^", linewidth=2, linestyle=":",
                  label="QuantizedLinear vs cuBLASLt bf16 (geomean)")
    ax_r.axhline(1.0, color="black", linewidth=1)
    ax_r.set_xscale("log", base=2)
    ax_r.set_xlabel("M (tokens)")
    ax_r.set_ylabel("cuBLASLt time / qjit time  (> 1: qjit faster)")
    ax_r.set_title("speed ratio (thin: one shape each)")
    ax_r.grid(True, which="both", alpha=0.3)
    if gx or qx:
        ax_r.legend(fontsize="small")
    else:
        ax_r.text(0.5, 0.5, "no cuBLASLt times in this CSV", ha="center", transform=ax_r.transAxes)

    device = rows[0].get("device") or "unknown device"
    dtype = rows[0].get("dtype") or "?"
    fig.suptitle(args.title or f"qjit bench on {device} ({dtype} output)")
    fig.tight_layout()
    out = args.output or (args.csv[:-4] if args.csv.endswith(".csv") else args.csv) + ".png"
    try:
        fig.savefig(out, dpi=130)
    except OSError as e:
        print(f"plot_bench.py: cannot write {out}: {e.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
