#!/usr/bin/env bash
# Every GPU step in one call (for the lent GPU machine, run from the repository root with the release build carried
# in build/release): GPU tests, the demo, then the benchmarks; logs under $OUT, a short table last.
# Usage: scripts/gpu-check.sh [STEPS] [gtest filter] [benchmark filter]
#   STEPS: comma-separated from tests, bindings (the install consumers, the Python wheel with torch/CuPy, the Rust
#   crate), tune, tuneall, tunepre, qrow, tune80, pdl, select, qbench (qjit bench interleaved + bench/peers.py, in
#   QBENCH_PARTS), profile (ncu), qprof (ncu on the plain and smoothed quantize pass, issue 18), qsweep (every
#   quantize config, plain and smoothed, QSWEEP_ARGS), bench,
#   tunescale (multi-GPU tuning vs one GPU, issue 19), normq (fused norm + quantize vs copy, the unfused pair and
#   PyTorch's RMSNorm, issue 17), w8a16 (WeightOnlyLinearPlan vs bf16 cuBLASLt, issue 17), host (bench/host_overhead.py:
#   host cost per call from Python, issue 16), abbench (qjit bench of an old and the new binary alternately,
#   issue 16), houseab (ncu kernel durations of an old and the new qjit binary,
#   issue 14), or all (default; profile, tunescale, houseab and abbench are never part of all)
# Builds come from QJIT_BUILD (default build/release); scripts/gpu-stage.sh fills .device/ with a small set
# (QJIT_BUILD=.device/build/release) that also holds what the bindings step needs.
set -uo pipefail
what=${1:-all}
filter=${2:-*}
bench_filter=${3:-.}
OUT=${OUT:-/tmp/qjit-out}
mkdir -p "$OUT"
export QJIT_CACHE_DIR=${QJIT_CACHE_DIR:-/tmp/qjit-cache}
B=${QJIT_BUILD:-build/release}
STAGE=${QJIT_STAGE:-.device}
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
status=0
want() { { [ "$what" = all ] && [[ ! ",profile,qprof,tunescale,houseab,abbench," == *",$1,"* ]]; } || [[ ",$what," == *",$1,"* ]]; }
# gtests in GPU_TEST_SHARDS processes at once (gtest's own sharding; default 4): the tests are correctness checks,
# their time is mostly NVRTC compiles, which then run in parallel (one 4-test call took 54 s sharded against 450+ s
# serial, session 8); the kernel cache is shared (its writes are atomic). gtests NAME FILTER TIMEOUT [env...]
gtests() {
  local name=$1 flt=$2 limit=$3 shards=${GPU_TEST_SHARDS:-4} i rc=0
  shift 3
  for ((i = 0; i < shards; ++i)); do
    env "$@" GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$i timeout "$limit" $B/tests/qjit_gpu_tests \
      --gtest_filter="$flt" > "$OUT/$name.$i.log" 2>&1 &
  done
  for ((i = 0; i < shards; ++i)); do wait -n || rc=1; done
  cat "$OUT/$name".*.log > "$OUT/$name.log" && rm -f "$OUT/$name".*.log
  grep -E "^\[( +OK|  FAILED|  SKIPPED) |Failure|error|Value of|Expected|Which is|output\[|act_|seed" "$OUT/$name.log" \
    | grep -vE "^\[ *(FAILED|SKIPPED) *\] [0-9]+ tests?, listed" | sort -u | head -80
  grep -hE "^\[  PASSED  \]|^\[  FAILED  \] [0-9]+ tests?," "$OUT/$name.log" | awk '{print}' | sort | uniq -c
  return $rc
}
if want tests; then
  echo "== GPU tests (filter $filter, ${GPU_TEST_SHARDS:-4} shards)"
  gtests gpu_tests "$filter" "${GPU_TESTS_TIMEOUT:-330}" || status=1
  echo "== GPU tests on the portable sm80 path (QJIT_DISABLE_SM90=1)"
  gtests gpu_tests_sm80 "${SM80_FILTER:-LinearGpuTest.*}" 200 QJIT_DISABLE_SM90=1 || status=1
  echo "== demo"
  timeout 60 $B/tools/qjit demo 2>&1 | tee "$OUT/demo.log" | tail -12
fi
if want bindings; then
  echo "== install consumers: a C and a C++ engine built here against the staged install prefix (find_package)"
  rm -rf /tmp/consumer && cmake -S tests/install/consumer -B /tmp/consumer $(command -v ninja >/dev/null && echo -G Ninja) -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$PWD/$STAGE/prefix" > "$OUT/consumer.log" 2>&1 && cmake --build /tmp/consumer >> "$OUT/consumer.log" 2>&1 \
    || { status=1; tail -20 "$OUT/consumer.log"; }
  for c in consumer_c consumer_cpp; do
    timeout 120 /tmp/consumer/$c 2>&1 | tee "$OUT/$c.log" | tail -3; [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  done
  echo "== Python: the staged wheel in a venv over the system torch/CuPy, pytest (GPU tests included)"
  PYTHONUNBUFFERED=1 QJIT_WHEEL=$(ls $STAGE/whl/qjit-*.whl) QJIT_PY_SYSTEM_SITE=1 timeout 300 bash scripts/test-python.sh \
    2>&1 | tee "$OUT/python.log" | grep -E "passed|failed|FAILED|Error|SKIPPED" | tail -15
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  echo "== Rust: the crate's CPU and GPU test binaries (built by scripts/test-rust.sh --gpu-bundle)"
  for t in cpu gpu; do
    LD_LIBRARY_PATH="$PWD/$STAGE/rust/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" timeout 200 $STAGE/rust/$t --nocapture \
      --test-threads=1 2>&1 | tee "$OUT/rust-$t.log" | grep -E "test result|panicked|worst|skipped" | tail -8
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  done
fi
if want tune; then
  echo "== qjit tune: one layer (4096x4096) over 8 M buckets, QuantizedLinear kernels"
  printf 'model,layer,N,K\nllama-2-7b,q_proj,4096,4096\n' > "$OUT/one_layer.csv"
  export QJIT_TUNING_DB="$OUT/tuning.json"
  /usr/bin/time -f "tune wall %e s" timeout 200 $B/tools/qjit tune --shapes "$OUT/one_layer.csv" \
    --m 1,16,64,128,256,1024,2048,8192 2> "$OUT/tune.err" | tee "$OUT/tune.md" | tail -20
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  tail -3 "$OUT/tune.err"
fi
if want tuneall; then
  echo "== qjit tune: every model shape, QuantizedLinear kernels, M ${TUNE_M:=1,16,64,128,512,2048,8192}"
  export QJIT_TUNING_DB="$OUT/tuning.json"
  /usr/bin/time -f "tune wall %e s" timeout ${TUNE_TIMEOUT:-330} $B/tools/qjit tune --shapes data/llm_linear_shapes.csv \
    --m "$TUNE_M" 2> "$OUT/tune_all.err" > "$OUT/tune_all.md"
  [ $? -eq 0 ] || status=1
  grep -E "^\|" "$OUT/tune_all.md" | awk -F'|' 'NR>2 && $3 ~ /gemm/ {print}' | head -70
  tail -2 "$OUT/tune_all.md"; grep -E "BUG|failed|wall" "$OUT/tune_all.err" | head
fi
if want tunepre; then
  echo "== qjit tune, prefill configs side by side (QJIT_LOG=info lists every candidate's time)"
  printf 'model,layer,N,K\nllama-2-7b,o_proj,4096,4096\nllama-2-13b,gate_up_proj,27648,5120\nllama-3-70b,o_proj,8192,8192\nllama-3-70b,down_proj,8192,28672\n' > /tmp/pre.csv
  QJIT_LOG=info QJIT_TUNING_DB=/tmp/tuning-pre.json timeout ${TUNE_TIMEOUT:-300} $B/tools/qjit tune --shapes /tmp/pre.csv \
    --m ${TUNE_M:-2048,8192} --plans sq 2> "$OUT/tune_pre.err" > "$OUT/tune_pre.md"
  [ $? -eq 0 ] || status=1
  grep -E "us$" "$OUT/tune_pre.err" | sed -E 's/.*gemm_s8 s8->bf16 (n=[0-9]+ k=[0-9]+ m<=[0-9]+).*gemm_sm90 (.*): (.*)/\1 \2: \3/' | head -120
  grep -E "^\|" "$OUT/tune_pre.md" | head -12
fi
if want qrow; then
  echo "== quantize pass vs a copy of the same bytes (bench/quantize_rowwise_bench)"
  timeout 200 $B/bench/quantize_rowwise_bench --benchmark_min_time=0.05 --benchmark_filter="${QROW_FILTER:-.}" > "$OUT/quantize_bench.log" 2>&1
  [ $? -eq 0 ] || status=1
  grep -vE "^BM_|^-|^Benchmark|^Run on|^CPU|^  L|^Load" "$OUT/quantize_bench.log" | tail -30
fi
if want qsweep; then
  # Issue 18: every quantize config, plain and smoothed, against a copy and the plain heuristic config.
  echo "== quantize_rowwise_bench ${QSWEEP_ARGS:=--sweep}"
  timeout 300 $B/bench/quantize_rowwise_bench $QSWEEP_ARGS 2>&1 | tee -a "$OUT/quantize_sweep.log" | grep -E "^\*|vs_base" | sort -t' ' -k1,1 | head -150
fi
if want normq; then
  echo "== fused norm + quantize vs a copy of the same bytes and the unfused pair (bench/norm_quantize_bench)"
  timeout ${NORMQ_TIMEOUT:-300} $B/bench/norm_quantize_bench --benchmark_min_time=0.05 \
    --benchmark_filter="${NORMQ_FILTER:-.}" > "$OUT/norm_quantize_bench.log" 2>&1
  [ $? -eq 0 ] || status=1
  grep -E "^\|" "$OUT/norm_quantize_bench.log" | head -160
  if python3 -c "import torch" 2>/dev/null; then
    echo "== bench/norm_peers.py: PyTorch RMSNorm, RMSNorm + qjit quantize, qjit fused"
    PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}" QJIT_LIBRARY="${QJIT_LIBRARY:-$PWD/$B/libqjit.so}" \
      timeout ${NORMQ_PEERS_TIMEOUT:-240} python3 bench/norm_peers.py --m "${NORMQ_M:-1,16,128,2048,8192}" \
      --csv "$OUT/norm_peers.csv" 2> "$OUT/norm_peers.err" | tee "$OUT/norm_peers.md"
    [ "${PIPESTATUS[0]}" -eq 0 ] || { status=1; tail -3 "$OUT/norm_peers.err"; }
  else
    echo "== bench/norm_peers.py skipped: torch does not import here"
  fi
fi
if want w8a16; then
  echo "== WeightOnlyLinearPlan<bf16> (W8A16) vs bf16 cuBLASLt, interleaved (bench/weight_only_linear_bench)"
  timeout ${W8A16_TIMEOUT:-240} $B/bench/weight_only_linear_bench --benchmark_filter="${W8A16_FILTER:-.}" \
    --benchmark_counters_tabular=true > "$OUT/weight_only_linear_bench.log" 2>&1
  [ $? -eq 0 ] || status=1
  grep -E "^w8a16|^Benchmark|ERROR|error" "$OUT/weight_only_linear_bench.log" | head -60
fi
if want host; then
  echo "== bench/host_overhead.py: host us per call, qjit from Python / torch.ops / the C ABI beside torch's eager ops"
  PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}" QJIT_LIBRARY="${QJIT_LIBRARY:-$PWD/$B/libqjit.so}" \
    timeout ${HOST_TIMEOUT:-120} python3 bench/host_overhead.py --calls "${HOST_CALLS:-2000}" --csv "$OUT/host_overhead.csv" \
    --profile "$OUT/host_profile.txt" 2> "$OUT/host_overhead.err" | tee "$OUT/host_overhead.md"
  [ "${PIPESTATUS[0]}" -eq 0 ] || { status=1; tail -5 "$OUT/host_overhead.err"; }
fi
if want tune80; then
  echo "== qjit tune on the portable sm80 path (QJIT_DISABLE_SM90=1): 8192^3 and 4096^2 decode"
  printf 'model,layer,N,K\nsquare,8192,8192,8192\nllama-2-7b,o_proj,4096,4096\n' > /tmp/sm80_shapes.csv
  QJIT_DISABLE_SM90=1 QJIT_TUNING_DB=/tmp/tuning80.json timeout 240 $B/tools/qjit tune --shapes /tmp/sm80_shapes.csv \
    --m 1,8192 --plans sq 2> /tmp/tune80.err | grep -E "^\||tuned in" | tee "$OUT/tune80.md"
  grep -E "BUG|failed" /tmp/tune80.err | head
fi
if want pdl; then
  echo "== programmatic dependent launch A/B (qjit bench, llama-2-7b + llama-3-70b, decode M)"
  for pdl in 1 0; do
    QJIT_DISABLE_PDL=$pdl timeout 150 $B/tools/qjit bench --shapes data/llm_linear_shapes.csv --m 1,16,64,128 \
      --filter 'llama-2-7b|llama-3-70b' --pref heuristic --regime burst > "$OUT/pdl-disabled-$pdl.md" 2>> "$OUT/bench.err"
    echo "-- QJIT_DISABLE_PDL=$pdl"; grep -E "^\| (llama|burst)" "$OUT/pdl-disabled-$pdl.md" | awk -F'|' '{print $2,$5,$6,$8,$17,$19}'
  done
fi
if want select; then
  echo "== select latency"
  timeout 60 $B/bench/select_bench --benchmark_min_time=0.2 2>&1 | tee "$OUT/select_bench.log" | grep -E "^BM_"
fi
if want qbench; then
  # Issue 16's interleaved bench: qjit against cuBLASLt (int8 GEMM; bf16 for QuantizedLinear), A B A B over 5 rounds
  # with clocks and power, in parts (QBENCH_PARTS, default all four; each part fits one 10-minute call):
  #   burst      stream launches, burst regime, every shape x QBENCH_M
  #   sustained  stream launches, sustained regime (QBENCH_SUSTAIN_MS per side per round), M QBENCH_SUSTAINED_M
  #   graph      --graph, both regimes, M QBENCH_GRAPH_M (decode)
  #   odd        data/odd_shapes.csv beside aligned neighbours, aligned and contiguous layouts (issue 15; not default)
  #   peers      bench/peers.py (torch F.linear, torch._int_mm, Triton; qjit through its Python package), burst at
  #              PEERS_M and sustained at PEERS_SUSTAINED_M, when torch imports
  # Everything lands in $OUT/qbench.tgz (CSV, markdown, logs); the geomean tables in $OUT/qbench.md.
  QB=/tmp/qbench-out; rm -rf "$QB"; mkdir -p "$QB"
  parts=",${QBENCH_PARTS:-burst,sustained,graph,peers},"
  : "${QBENCH_M:=1,16,64,128,512,2048,8192}" "${QBENCH_SUSTAINED_M:=128,512,2048,8192}" "${QBENCH_GRAPH_M:=1,16,64}"
  : "${QBENCH_SUSTAIN_MS:=200}" "${QBENCH_FILTER:=.}" "${QBENCH_PREF:=tuned}"
  qb() {  # qb NAME TIMEOUT ARGS...: one qjit bench run into $QB/NAME.{md,csv}
    local name=$1 limit=$2; shift 2
    echo "== qjit bench $name (pref $QBENCH_PREF, filter $QBENCH_FILTER): $*"
    timeout "$limit" $B/tools/qjit bench --shapes data/llm_linear_shapes.csv --filter "$QBENCH_FILTER" \
      --pref "$QBENCH_PREF" --sustain-ms "$QBENCH_SUSTAIN_MS" --csv "$QB/$name.csv" "$@" > "$QB/$name.md" 2> "$QB/$name.err"
    [ $? -eq 0 ] || { status=1; grep -E "mismatch|failed|error|NVML|GPU" "$QB/$name.err" | head -5; }
    grep -E "^(\| (regime|sustained|burst) \||clock and power)" "$QB/$name.md" | tee -a "$OUT/qbench.md"
  }
  [[ $parts == *,burst,* ]] && qb burst "${QBENCH_TIMEOUT:-330}" --m "$QBENCH_M" --regime burst
  [[ $parts == *,sustained,* ]] && qb sustained "${QBENCH_TIMEOUT:-500}" --m "$QBENCH_SUSTAINED_M" --regime sustained
  [[ $parts == *,graph,* ]] && qb graph "${QBENCH_TIMEOUT:-330}" --m "$QBENCH_GRAPH_M" --regime both --graph
  if [[ $parts == *,odd,* ]]; then
    # Issue 15: data/odd_shapes.csv, each row beside its aligned neighbour, in the aligned layout (weights prepacked,
    # act_q scratch padded: the Hopper path for every K) and the contiguous one (K % 16 != 0: the portable kernel).
    # The kernels are compiled first in parallel (qjit warmup) so the bench's selects hit the cache.
    : "${QBENCH_ODD_M:=1,16,128,2048,8192}"
    $B/tools/qjit warmup --shapes data/odd_shapes.csv --m "$QBENCH_ODD_M" --arch sm_90a --jobs 16 > "$QB/odd-warmup.log" 2>&1
    odd() {  # odd NAME LAYOUT M
      echo "== qjit bench odd shapes $1 (layout $2, M $3)"
      timeout "${QBENCH_TIMEOUT:-330}" $B/tools/qjit bench --shapes data/odd_shapes.csv --pref heuristic --regime burst \
        --layout "$2" --m "$3" --csv "$QB/$1.csv" > "$QB/$1.md" 2> "$QB/$1.err"
      [ $? -eq 0 ] || { status=1; grep -E "mismatch|failed|error|GPU" "$QB/$1.err" | head -5; }
      sed -n '/^### odd shapes/,$p' "$QB/$1.md" | tee -a "$OUT/qbench.md"
    }
    odd odd-aligned aligned "$QBENCH_ODD_M"
    odd odd-contiguous contiguous "${QBENCH_ODD_CONTIG_M:-16,2048}"
  fi
  if [[ $parts == *,peers,* ]]; then
    if python3 -c "import torch" 2>/dev/null; then
      # qjit's own ops through the Python package over this build's libqjit.so, so the ratios are interleaved too.
      for run in "burst ${PEERS_M:-$QBENCH_M}" "sustained ${PEERS_SUSTAINED_M:-2048,8192}"; do
        set -- $run
        echo "== bench/peers.py $1 (M $2)"
        PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}" QJIT_LIBRARY="${QJIT_LIBRARY:-$PWD/$B/libqjit.so}" \
          timeout "${PEERS_TIMEOUT:-270}" python3 bench/peers.py --shapes data/llm_linear_shapes.csv --m "$2" \
          --filter "$QBENCH_FILTER" --regime "$1" --sustain-ms "$QBENCH_SUSTAIN_MS" --csv "$QB/peers-$1.csv" \
          2> "$QB/peers-$1.err"
        [ $? -eq 0 ] || { status=1; tail -3 "$QB/peers-$1.err"; }
        python3 - "$QB/peers-$1.csv" <<'PY' | tee -a "$OUT/qbench.md"
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for col in ("torch_int_mm_ratio", "triton_s8_ratio", "torch_bf16_ratio"):
    for name, lo, hi in (("M<=64", 1, 64), ("M 128-512", 128, 512), ("M>=2048", 2048, 1 << 62)):
        v = [float(r[col]) for r in rows if r[col] and lo <= int(r["m"]) <= hi]
        if v:
            print(f"peers {rows[0]['regime']}: {col} {name}: geomean {math.exp(sum(map(math.log, v)) / len(v)):.3f} over {len(v)} rows")
PY
      done
    else
      echo "== bench/peers.py skipped: torch does not import here"
    fi
  fi
  tar czf "$OUT/qbench.tgz" -C "$QB" .
fi
if want profile; then
  # Nsight Compute on the lent machine (Firecracker runtime; --clock-control none leaves the clocks alone): the
  # first launches of one qjit bench row each, qjit's kernels and cuBLASLt's side by side.
  echo "== ncu profile (${PROFILE_CASES:=llama-2-7b:o_proj:4096:4096:8192 llama-3-70b:down_proj:8192:28672:8192 llama-2-7b:o_proj:4096:4096:16})"
  command -v ncu >/dev/null || export PATH=$PATH:$(ls -d /opt/nvidia/nsight-compute/*/ 2>/dev/null | tail -1)
  for c in $PROFILE_CASES; do
    IFS=: read -r model layer n k m <<< "$c"
    printf 'model,layer,N,K\n%s,%s,%s,%s\n' "$model" "$layer" "$n" "$k" > /tmp/prof.csv
    timeout 240 ncu --clock-control none --set full --launch-count ${PROFILE_LAUNCHES:-6} --csv --page details \
      ${PROFILE_KERNELS:+--kernel-name "regex:$PROFILE_KERNELS"} \
      $B/tools/qjit bench --shapes /tmp/prof.csv --m "$m" --pref heuristic --warmup 1 --iters 1 --rounds 1 --regime burst \
      > "/tmp/ncu-$layer-$n-$k-m$m.csv" 2> /tmp/ncu.err || { echo "ncu failed"; tail -5 /tmp/ncu.err; }
    python3 - "/tmp/ncu-$layer-$n-$k-m$m.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
hdr = next((i for i, r in enumerate(rows) if r and r[0] == "ID"), None)
if hdr is None: print(open(sys.argv[1]).read()[:2000]); sys.exit()
h = rows[hdr]; ix = {k: h.index(k) for k in ("ID", "Kernel Name", "Metric Name", "Metric Value", "Metric Unit")}
want = ("Duration", "Compute (SM) Throughput", "Memory Throughput", "DRAM Throughput", "L2 Cache Throughput",
        "L1/TEX Cache Throughput", "Executed Ipc Active", "Issue Slots Busy", "Registers Per Thread",
        "Achieved Occupancy", "No Eligible", "One or More Eligible")
seen = {}
for r in rows[hdr + 1:]:
    if len(r) < len(h): continue
    if r[ix["Metric Name"]] in want:
        key = (r[ix["ID"]], r[ix["Kernel Name"]][:60])
        seen.setdefault(key, []).append(f'{r[ix["Metric Name"]]}={r[ix["Metric Value"]]}{r[ix["Metric Unit"]]}')
for (i, name), vals in seen.items(): print(i, name, "|", "; ".join(vals))
PY
  done
  tar czf "$OUT/ncu.tgz" -C /tmp $(cd /tmp && ls ncu-*.csv) 2>/dev/null
fi
if want qprof; then
  # Issue 18: Nsight Compute on the quantize pass, plain against smoothed (and any QPROF_CASES), one launch each after
  # a few warm-ups: duration, DRAM / L2 / L1 traffic and throughput, occupancy, registers and where warps stall.
  command -v ncu >/dev/null || export PATH=$PATH:$(ls -d /opt/nvidia/nsight-compute/*/ 2>/dev/null | tail -1)
  stalls=$(for s in barrier branch_resolving dispatch_stall drain imc_miss lg_throttle long_scoreboard math_pipe_throttle \
    membar mio_throttle misc no_instruction not_selected selected short_scoreboard tex_throttle wait; do
    printf 'smsp__average_warps_issue_stalled_%s_per_issue_active.ratio,' "$s"; done)
  metrics="gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_bytes.sum,lts__t_sector_hit_rate.pct,l1tex__t_bytes.sum,l1tex__t_sector_hit_rate.pct,l1tex__throughput.avg.pct_of_peak_sustained_active,sm__warps_active.avg.pct_of_peak_sustained_active,launch__registers_per_thread,launch__occupancy_limit_registers,launch__occupancy_limit_warps,smsp__inst_executed.sum,smsp__issue_active.avg.pct_of_peak_sustained_active,smsp__warps_eligible.avg.per_cycle_active,${stalls%,}"
  for c in ${QPROF_CASES:-quantize_rowwise_bf16/K=4096/M=8192 quantize_rowwise_bf16_smooth/K=4096/M=8192 quantize_rowwise_bf16/K=14336/M=8192 quantize_rowwise_bf16_smooth/K=14336/M=8192}; do
    f="/tmp/qprof-$(echo "$c" | tr '/=' '__').csv"
    timeout 120 ncu --clock-control none --launch-skip 4 --launch-count 1 --kernel-name regex:quantize --csv --page raw \
      --metrics "$metrics" $B/bench/quantize_rowwise_bench --benchmark_filter="^$c/" > "$f" 2> /tmp/qprof.err \
      || { echo "ncu failed on $c"; tail -3 /tmp/qprof.err; }
    python3 - "$f" "$c" <<'PY'
import csv, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if r]
hdr = next((i for i, r in enumerate(rows) if r[0] == "ID"), None)
if hdr is None or len(rows) < hdr + 3: print(sys.argv[2], "no ncu rows"); sys.exit()
h, v = rows[hdr], rows[hdr + 2]
out = []
for name, val in zip(h, v):
    if name.startswith("smsp__average_warps_issue_stalled_"):
        try:
            if float(val) < 0.05: continue
        except ValueError: pass
        name = "stall_" + name[len("smsp__average_warps_issue_stalled_"):].replace("_per_issue_active.ratio", "")
    elif not any(name.startswith(p) for p in ("gpu__", "dram__", "lts__", "l1tex__", "sm__", "launch__", "smsp__")):
        continue
    out.append(f"{name}={val}")
print(sys.argv[2], "|", "; ".join(out))
PY
  done
fi
if want houseab; then
  # Issue 14's bar (no bench row slower than before beyond noise, +-3%) with Nsight Compute instead of event timing:
  # kernel durations (gpu__time_duration, caches flushed before each kernel, clocks left alone) of two qjit binaries'
  # `qjit bench`, old and new alternately over HOUSEAB_ROUNDS rounds (A B A B ...). Rows: SmoothQuantLinearPlan (its
  # GEMM) and QuantizedLinearPlan (quantize pass + GEMM) over the Llama-2-7B shapes (HOUSEAB_MODEL; o_proj is the
  # 4096x4096 one) x HOUSEAB_M, as PERF.md's v7 A/B. Each process's profiled kernels are given to the bench's rows
  # by its "[i/n] ... N= K= M=" lines, which come between ncu's per-kernel lines; per row and plan the median of
  # every launch of every round. OLD is the build before the house refactor (65ab9ed, staged by scripts/gpu-stage.sh
  # into $STAGE/old/qjit when QJIT_OLD_QJIT names it); its bench has no --regime/--rounds/--batch (warmup + iters
  # batches of 5), so each binary gets its own flags. Logs and CSVs in $OUT/houseab.tgz, the table in houseab.txt.
  HA=/tmp/houseab; rm -rf "$HA"; mkdir -p "$HA"
  HA_OLD=${HOUSEAB_OLD:-$STAGE/old/qjit} HA_NEW=${HOUSEAB_NEW:-$B/tools/qjit}
  : "${HOUSEAB_ROUNDS:=3}" "${HOUSEAB_M:=1,16,128,2048,8192}" "${HOUSEAB_MODEL:=llama-2-7b}" "${HOUSEAB_WARMUP:=2}"
  command -v ncu >/dev/null || PATH=$PATH:$(ls -d /opt/nvidia/nsight-compute/*/ 2>/dev/null | tail -1)
  { echo "model,layer,N,K"; grep "^$HOUSEAB_MODEL," data/llm_linear_shapes.csv; } > "$HA/shapes.csv"
  shapes=$(($(wc -l < "$HA/shapes.csv") - 1)); ms=$(tr ',' '\n' <<< "$HOUSEAB_M" | wc -l)
  # Launches a row: SQ's GEMM and QL's quantize + GEMM, each warmup + 5 (one batch of 5 timed).
  per_row=$((3 * (HOUSEAB_WARMUP + 5))); kernels=$((shapes * ms * per_row))
  # NOTE: the estimate's constants (s): ~12 a process (ncu start, CUDA, cuBLASLt, weights, its algorithm search),
  # ~0.03 a profiled kernel; the measured wall of each process is printed, to correct them.
  echo "== houseab: ncu kernel durations, old $HA_OLD vs new $HA_NEW, $HOUSEAB_MODEL ($shapes shapes) x M $HOUSEAB_M," \
    "$HOUSEAB_ROUNDS rounds A B; $kernels kernels a process, estimated" \
    "$(( 2 * HOUSEAB_ROUNDS * (12 + kernels * 3 / 100) + 20 )) s of GPU time"
  if ! command -v ncu >/dev/null || [ ! -x "$HA_OLD" ] || [ ! -x "$HA_NEW" ]; then
    echo "houseab: needs ncu and both binaries (old: $HA_OLD, new: $HA_NEW)"; status=1
  else
    for side in old new; do  # the kernels compiled first, off the clock (both use the same cache dir)
      bin=$HA_OLD; [ $side = new ] && bin=$HA_NEW
      timeout 120 "$bin" warmup --arch "${HOUSEAB_ARCH:-sm_90a}" --shapes "$HA/shapes.csv" --m "$HOUSEAB_M" \
        > "$HA/warmup-$side.log" 2>&1 || { echo "houseab: $side qjit warmup failed"; tail -3 "$HA/warmup-$side.log"; }
    done
    for ((r = 1; r <= HOUSEAB_ROUNDS; ++r)); do
      for side in old new; do
        if [ $side = old ]; then
          bin=$HA_OLD; flags=(--warmup "$HOUSEAB_WARMUP" --iters 1)
        else
          bin=$HA_NEW; flags=(--regime burst --rounds 1 --iters 1 --batch 5 --warmup "$HOUSEAB_WARMUP")
        fi
        t0=$(date +%s)
        timeout "${HOUSEAB_TIMEOUT:-150}" ncu --clock-control none --cache-control all --metrics gpu__time_duration.sum \
          --kernel-name "regex:^qjit_(gemm|quantize)_" --launch-skip 0 --launch-count $((kernels * 2)) \
          --csv --page details --print-units base \
          "$bin" bench --shapes "$HA/shapes.csv" --m "$HOUSEAB_M" --pref heuristic "${flags[@]}" \
          > "$HA/$side-$r.log" 2>&1
        rc=$?
        [ $rc -eq 0 ] || { status=1; echo "houseab: $side round $r: ncu exited $rc"; tail -5 "$HA/$side-$r.log"; }
        echo "houseab: $side round $r: $(( $(date +%s) - t0 )) s, $(grep -c '^==PROF== Profiling' "$HA/$side-$r.log") kernels"
      done
    done
    python3 - "$HA" "$HOUSEAB_ROUNDS" <<'PY' | tee "$OUT/houseab.txt"
import csv, math, re, statistics, sys
d, rounds = sys.argv[1], int(sys.argv[2])
item_re = re.compile(r"^\[(\d+)/(\d+)\] (.+?) N=(\d+) K=(\d+) M=(\d+)")  # labels hold spaces ("llama-2-7b o_proj")
prof_re = re.compile(r'^==PROF== Profiling "([^"]+)"(?: - (\d+))?')
scale = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3, "msecond": 1e3, "s": 1e6, "second": 1e6}
def parse(path):
    """{row: {role: [us, ...]}} for one process; rows (label, N, K, M); roles sq, ql_q, ql_gemm."""
    item, owner, csv_lines, n, items = None, {}, [], 0, []
    for line in open(path, errors="replace"):
        m = item_re.match(line)
        if m: item = (m[3], int(m[4]), int(m[5]), int(m[6])); items.append(item); continue
        m = prof_re.match(line)
        if m:
            owner[int(m[2]) if m[2] else n] = item; n += 1; continue
        if line.startswith('"'): csv_lines.append(line)
    rows = list(csv.reader(csv_lines))
    hdr = next((i for i, r in enumerate(rows) if r and r[0] == "ID"), None)
    if hdr is None: raise SystemExit(f"houseab: no ncu CSV in {path}")
    h = rows[hdr]; ix = {k: h.index(k) for k in ("ID", "Kernel Name", "Metric Name", "Metric Unit", "Metric Value")}
    launches = []
    for r in rows[hdr + 1:]:
        if len(r) < len(h) or r[ix["Metric Name"]] != "gpu__time_duration.sum": continue
        us = float(r[ix["Metric Value"]].replace(",", "")) * scale[r[ix["Metric Unit"]]]
        launches.append((int(r[ix["ID"]]), r[ix["Kernel Name"]], us))
    launches.sort()
    if not owner and launches:
        # No per-kernel progress lines: split by launch order, each row being SQ GEMMs then QL (quantize, GEMM) pairs.
        print(f"houseab: {path}: no '==PROF== Profiling' lines; rows assigned by launch order")
        at, in_ql, prev_q = 0, False, False
        for i, name, _ in launches:
            is_q = name.startswith("qjit_quantize_")
            if not is_q and not prev_q and in_ql: at, in_ql = at + 1, False
            in_ql = in_ql or is_q
            owner[i] = items[at] if at < len(items) else None
            prev_q = is_q
        if at + 1 != len(items): print(f"houseab: WARNING {path}: {at + 1} rows by launch order, {len(items)} in the bench")
    out, prev, bad = {}, None, 0
    for i, name, us in launches:
        row = owner.get(i)
        if row is None: raise SystemExit(f"houseab: kernel {i} ({name}) of {path} has no bench row before it")
        gm = re.search(r"_n(\d+)_k(\d+)", name)
        if name.startswith("qjit_quantize_"): role = "ql_q"
        else: role = "ql_gemm" if prev and prev[0] == row and prev[1].startswith("qjit_quantize_") else "sq"
        if (gm and (int(gm[1]), int(gm[2])) != (row[1], row[2])) or (role == "ql_q" and f"_k{row[2]}_" not in name):
            bad += 1
        out.setdefault(row, {}).setdefault(role, []).append(us)
        prev = (row, name)
    if bad: print(f"houseab: WARNING {bad} kernels of {path} name another N/K than their row")
    # Only the timed batch (the last 5 launches of each role): the warm-up launches differ between the binaries (the
    # new bench's burst regime idles before them, so their clocks ramp: session 14 saw its first SQ launches at M = 8192
    # up to 40% slower, its last five at the old binary's time).
    return {row: {role: v[-5:] for role, v in roles.items()} for row, roles in out.items()}
data = {"old": {}, "new": {}}   # side -> row -> role -> [per-round medians], and pooled samples
pooled = {"old": {}, "new": {}}
for side in data:
    for r in range(1, rounds + 1):
        try: proc = parse(f"{d}/{side}-{r}.log")
        except (OSError, SystemExit) as e: print(f"houseab: {side} round {r}: {e}"); continue
        for row, roles in proc.items():
            for role, v in roles.items():
                data[side].setdefault(row, {}).setdefault(role, []).append(statistics.median(v))
                pooled[side].setdefault(row, {}).setdefault(role, []).extend(v)
def plan_us(side, row, plan):
    roles = pooled[side].get(row, {})
    need = ["sq"] if plan == "SmoothQuant" else ["ql_q", "ql_gemm"]
    if not all(roles.get(k) for k in need): return None, None
    us = sum(statistics.median(roles[k]) for k in need)
    per_round = [sum(x) for x in zip(*(data[side][row][k] for k in need))]
    spread = max(per_round) / min(per_round) - 1 if per_round else 0
    return us, spread
rows = sorted(set(pooled["old"]) | set(pooled["new"]), key=lambda r: (r[1], r[2], r[3]))
with open(f"{d}/houseab.csv", "w") as f:
    f.write("plan,label,n,k,m,old_us,new_us,new_over_old,old_spread,new_spread\n")
    print(f"{'plan':<15} {'shape':<22} {'M':>5} {'old us':>9} {'new us':>9} {'new/old':>8}  spread old/new")
    summary = {}
    for plan in ("SmoothQuant", "QuantizedLinear"):
        for row in rows:
            o, so = plan_us("old", row, plan); n, sn = plan_us("new", row, plan)
            shape = f"{row[0].split('/')[-1]} {row[1]}x{row[2]}"
            if o is None or n is None:
                print(f"{plan:<15} {shape:<22} {row[3]:>5} missing on the {'old' if o is None else 'new'} side"); continue
            ratio = n / o
            summary.setdefault(plan, []).append((ratio, shape, row[3]))
            flag = "  <-- +" + f"{100 * (ratio - 1):.1f}%" if ratio > 1.03 else ""
            print(f"{plan:<15} {shape:<22} {row[3]:>5} {o:9.2f} {n:9.2f} {ratio:8.3f}  {100 * so:.1f}% / {100 * sn:.1f}%{flag}")
            f.write(f"{plan},{row[0]},{row[1]},{row[2]},{row[3]},{o:.3f},{n:.3f},{ratio:.4f},{so:.4f},{sn:.4f}\n")
allr = []
for plan, v in summary.items():
    g = math.exp(sum(math.log(r) for r, _, _ in v) / len(v)); worst = max(v)
    allr += v
    print(f"houseab {plan}: new/old geomean {g:.3f} over {len(v)} rows, max {worst[0]:.3f} ({worst[1]} M={worst[2]})")
if allr:
    worst = max(allr); over = [x for x in allr if x[0] > 1.03]
    print(f"houseab: all {len(allr)} rows: geomean {math.exp(sum(math.log(r) for r, _, _ in allr) / len(allr)):.3f},"
          f" max {worst[0]:.3f} ({worst[1]} M={worst[2]}); {len(over)} rows above 1.03: " + ("PASS" if not over else "CHECK"))
PY
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    tar czf "$OUT/houseab.tgz" -C "$HA" .
  fi
fi
if want tunescale; then
  # Issue 19: the whole shape file x M on every GPU (--devices all) against one GPU (--devices 0): wall times, the
  # speed-up (bar TUNESCALE_BAR, default 6.5) and the winners compared (same config, or within the tuner's 2% rule).
  # Each run starts from an empty kernel cache and database, so both compile everything. Runs are kept in
  # TUNESCALE_DIR (under build/, which a warm machine keeps between calls), so TUNESCALE_RUNS='all' and
  # TUNESCALE_RUNS='0' may be two calls of 10 minutes each; the comparison runs whenever both results exist.
  TS_DIR=${TUNESCALE_DIR:-$B/tunescale}
  TS_M=${TUNESCALE_M:-1,16,64,128,512,2048,8192}
  for devs in ${TUNESCALE_RUNS:-all 0}; do
    run="$TS_DIR/devices-${devs//,/-}"
    rm -rf "$run"; mkdir -p "$run"
    echo "== qjit tune --devices $devs: data/llm_linear_shapes.csv x M $TS_M ($(nvidia-smi -L | wc -l) GPUs visible)"
    t0=$(date +%s.%N)
    QJIT_CACHE_DIR="$run/cache" timeout "${TUNESCALE_TIMEOUT:-570}" $B/tools/qjit tune --shapes data/llm_linear_shapes.csv \
      --m "$TS_M" --devices "$devs" --db "$run/tuning.json" --json > "$run/tune.json" 2> "$run/tune.err"
    rc=$?
    t1=$(date +%s.%N)
    echo "$rc $t0 $t1" > "$run/wall.txt"
    [ $rc -eq 0 ] || { status=1; echo "qjit tune --devices $devs exited $rc"; tail -3 "$run/tune.err"; }
    cp "$run/tune.json" "$OUT/tunescale-${devs//,/-}.json"; cp "$run/tune.err" "$OUT/tunescale-${devs//,/-}.err"
    cp "$run/wall.txt" "$OUT/tunescale-${devs//,/-}.wall"
    grep -E "qjit tune: [0-9]+ kernels|BUG|failed|not used" "$run/tune.err" | head -5
  done
  if [ -s "$TS_DIR/devices-all/tune.json" ] && [ -s "$TS_DIR/devices-0/tune.json" ]; then
    python3 - "$TS_DIR/devices-all" "$TS_DIR/devices-0" "${TUNESCALE_BAR:-6.5}" <<'PY' | tee "$OUT/tunescale.txt"
import json, math, sys
many_dir, one_dir, bar = sys.argv[1], sys.argv[2], float(sys.argv[3])
def load(d):
    rc, t0, t1 = open(d + "/wall.txt").read().split()
    return int(rc), float(t1) - float(t0), json.load(open(d + "/tune.json"))
rc_n, wall_n, many = load(many_dir)
rc_1, wall_1, one = load(one_dir)
gpus = len(many["devices"])
speedup = wall_1 / wall_n
print(f"wall: {wall_1:.1f} s on 1 GPU, {wall_n:.1f} s on {gpus} GPUs: speed-up {speedup:.2f}x (bar {bar}x)"
      f"; estimated {one['estimated_s']:.0f} s and {many['estimated_s']:.0f} s")
busy = [d["busy_s"] for d in many["devices"]]
print("busy per GPU (s): " + " ".join(f"{b:.0f}" for b in busy) + f"; max/mean {max(busy) / (sum(busy) / len(busy)):.3f}")
rows1 = {(r["spec"], r["m"]): r for r in one["results"]}
rowsn = {(r["spec"], r["m"]): r for r in many["results"]}
same = noise = 0
differ = []
for key in sorted(rows1.keys() & rowsn.keys()):
    a, b = rows1[key], rowsn[key]
    if a["tuned"] == b["tuned"]:
        same += 1
    elif (abs(a["tuned_us"] - b["tuned_us"]) <= 0.02 * max(a["tuned_us"], b["tuned_us"]) or
          abs(a["speedup"] - b["speedup"]) <= 0.02 * max(a["speedup"], b["speedup"])):
        noise += 1
    else:
        differ.append((key, a, b))
missing = sorted(rows1.keys() ^ rowsn.keys())
print(f"winners: {same} same config, {noise} other config within 2%, {len(differ)} differ, {len(missing)} in one run only")
for key, a, b in differ[:20]:
    print(f"  {key[0]} m={key[1]}: 1 GPU {a['tuned']} {a['tuned_us']:.2f} us, {gpus} GPUs {b['tuned']} {b['tuned_us']:.2f} us")
est = [(r["estimated_s"], r["wall_s"]) for r in one["results"] if r["wall_s"] > 0]
if len(est) > 2:
    lx = [math.log(e) for e, _ in est]; ly = [math.log(w) for _, w in est]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    cov = sum((x - mx) * (y - my) for x, y in zip(lx, ly))
    r = cov / math.sqrt(sum((x - mx) ** 2 for x in lx) * sum((y - my) ** 2 for y in ly))
    print(f"cost model: estimated {sum(e for e, _ in est):.0f} s vs {sum(w for _, w in est):.0f} s measured on 1 GPU; "
          f"log-log correlation per kernel {r:.3f}")
ok = rc_n == 0 and rc_1 == 0 and speedup >= bar and not differ and not missing
print("tunescale: " + ("PASS" if ok else "FAIL"))
sys.exit(0 if ok else 1)
PY
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  fi
fi
if want abbench; then
  # An old and the new qjit binary, whole `qjit bench` runs alternately (ABB_ROUNDS rounds, order rotated), on
  # data/llm_linear_shapes.csv at ABB_M with ABB_ARGS: what a kernel change does to SmoothQuant (qjit_us) and
  # QuantizedLinear (ql_us), each row's new/old of the per-side medians, and each side's ratio to the cuBLASLt peers
  # (issue 16, PERF.md v9). Both binaries compile their kernels first, off the clock. OLD: ABB_OLD (default
  # $STAGE/old/qjit, staged by scripts/gpu-stage.sh from QJIT_OLD_QJIT). CSVs and the table in $OUT/abbench*.
  AB_OLD=${ABB_OLD:-$STAGE/old/qjit} AB_NEW=$B/tools/qjit
  : "${ABB_M:=1,16,64}" "${ABB_ROUNDS:=2}" "${ABB_ARGS:=--regime burst}"
  echo "== abbench: $AB_OLD vs $AB_NEW, M $ABB_M, $ABB_ROUNDS rounds, $ABB_ARGS"
  for bin in "$AB_OLD" "$AB_NEW"; do
    timeout 120 "$bin" warmup --shapes data/llm_linear_shapes.csv --m "$ABB_M" --arch sm_90a --jobs 16 \
      >> "$OUT/abbench-warmup.log" 2>&1 || echo "abbench: warmup of $bin failed (see abbench-warmup.log)"
  done
  for ((r = 1; r <= ABB_ROUNDS; ++r)); do
    order="old new"; ((r % 2 == 0)) && order="new old"
    for side in $order; do
      bin=$AB_NEW; [ "$side" = old ] && bin=$AB_OLD
      t0=$(date +%s)
      # shellcheck disable=SC2086  # ABB_ARGS is a list of flags
      timeout "${ABB_TIMEOUT:-200}" "$bin" bench --shapes data/llm_linear_shapes.csv --m "$ABB_M" --pref heuristic \
        $ABB_ARGS --csv "$OUT/abbench-$side-$r.csv" > "$OUT/abbench-$side-$r.md" 2>> "$OUT/abbench.err" || status=1
      echo "abbench: round $r $side $(($(date +%s) - t0)) s"
    done
  done
  python3 - "$OUT" "$ABB_ROUNDS" <<'PY' | tee "$OUT/abbench.txt"
import csv, math, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
data = {"old": {}, "new": {}}
for side in data:
    for r in range(1, rounds + 1):
        try: rows = list(csv.DictReader(open(f"{out}/abbench-{side}-{r}.csv")))
        except OSError: print(f"abbench: no {side} CSV for round {r}"); continue
        for row in rows:
            key = (row["label"], int(row["n"]), int(row["k"]), int(row["m"]), row["mode"], row["regime"])
            d = data[side].setdefault(key, {})
            for col in ("qjit_us", "ql_us", "cublaslt_s8_us", "cublaslt_bf16_us"):
                if row.get(col): d.setdefault(col, []).append(float(row[col]))
            if row["check"] != "ok": d["bad"] = row["check"]
gm = lambda v: math.exp(sum(map(math.log, v)) / len(v)) if v else float("nan")
med = lambda d, c: statistics.median(d[c]) if d.get(c) else None
keys = sorted(data["old"].keys() & data["new"].keys(), key=lambda k: (k[4], k[5], k[3], k[0]))
print(f"{'shape':<26} {'M':>4} {'mode':<6} {'SQ old':>8} {'SQ new':>8} {'new/old':>7} {'QL old':>8} {'QL new':>8} "
      f"{'new/old':>7} {'QL-SQ old':>9} {'QL-SQ new':>9} {'bf16/QL old':>11} {'bf16/QL new':>11}")
groups = {}
for k in keys:
    o, n = data["old"][k], data["new"][k]
    v = [med(o, "qjit_us"), med(n, "qjit_us"), med(o, "ql_us"), med(n, "ql_us"), med(o, "cublaslt_bf16_us"),
         med(n, "cublaslt_bf16_us"), med(o, "cublaslt_s8_us"), med(n, "cublaslt_s8_us")]
    if None in v[:4]: continue
    flag = "  " + (o.get("bad") or n.get("bad") or "")
    print(f"{k[0]:<26} {k[3]:>4} {k[4]:<6} {v[0]:8.2f} {v[1]:8.2f} {v[1] / v[0]:7.3f} {v[2]:8.2f} {v[3]:8.2f} "
          f"{v[3] / v[2]:7.3f} {v[2] - v[0]:9.2f} {v[3] - v[1]:9.2f} "
          + (f"{v[4] / v[2]:11.3f} {v[5] / v[3]:11.3f}" if v[4] and v[5] else "") + flag)
    g = groups.setdefault((k[4], k[5], k[3]), {"sq": [], "ql": [], "bf_o": [], "bf_n": [], "s8_o": [], "s8_n": []})
    g["sq"].append(v[1] / v[0]); g["ql"].append(v[3] / v[2])
    if v[4] and v[5]: g["bf_o"].append(v[4] / v[2]); g["bf_n"].append(v[5] / v[3])
    if v[6] and v[7]: g["s8_o"].append(v[6] / v[0]); g["s8_n"].append(v[7] / v[1])
for (mode, regime, m), g in sorted(groups.items()):
    print(f"abbench {mode} {regime} M={m}: new/old SQ {gm(g['sq']):.3f} (max {max(g['sq']):.3f}), QL {gm(g['ql']):.3f} "
          f"(max {max(g['ql']):.3f}); QL vs bf16 old {gm(g['bf_o']):.3f} new {gm(g['bf_n']):.3f}; SQ vs cuBLASLt s8 old "
          f"{gm(g['s8_o']):.3f} new {gm(g['s8_n']):.3f} ({len(g['sq'])} rows)")
PY
fi
if want bench; then
  echo "== benchmarks (filter $bench_filter)"
  timeout 180 $B/bench/gemm_s8_bench --benchmark_filter="$bench_filter" --benchmark_out="$OUT/gemm_s8_bench.json" \
    --benchmark_out_format=json > "$OUT/gemm_s8_bench.log" 2>&1
  grep -E "^\||geometric" "$OUT/gemm_s8_bench.log" | tail -40
fi
exit $status
