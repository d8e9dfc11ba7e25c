// Interleaved side-by-side timing, the method `qjit bench` and bench/peers.py share: the sides (qjit and its peers)
// run in rounds, A B A B ..., the order rotated each round so every side goes first equally often, each round's time
// the median of its batches and the result the median of the rounds, so thermal and power drift fall equally on
// every side. Two load regimes: sustained (each side runs back to back for about a second per round, every batch
// enqueued without a host round trip, so the board reaches its power limit as in a long prefill) and burst (short
// synchronised batches with idle gaps, as at decode). Two launch modes: stream (each launch enqueued by the host)
// and graph (each side captured once as a CUDA graph of N launches and replayed, as engines run decode). The clock
// and power of each side's timed batches come from NVML when it is there (perf/nvml.h). Preparation -- plan
// selection, a baseline's algorithm search, graph capture -- happens before any timed batch.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "perf/nvml.h"
#include "qjit/status.h"
#include "runtime/driver.h"

namespace qjit::perf {

enum class Regime { Sustained, Burst };
enum class LaunchMode { Stream, Graph };
std::string_view regime_name(Regime r);    // "sustained" | "burst"
std::string_view mode_name(LaunchMode m);  // "stream" | "graph"
// "sustained", "burst" or "both" (sustained first); InvalidArgument naming `field` and the choices otherwise.
Result<std::vector<Regime>> parse_regimes(std::string_view text, std::string_view field);

struct InterleaveOptions {
  int rounds = 5;    // A B A B ... rounds (the order rotated each round)
  int warmup = 5;    // launches (graph: replays) per side before its first round
  int batches = 30;  // burst: timed batches per side per round
  int batch = 5;     // burst: launches per batch (graph mode: one replay of the graph is the batch)
  Regime regime = Regime::Burst;
  int sustain_ms = 1000;   // sustained: how long each side runs back to back per round
  int burst_gap_us = 500;  // burst: idle time after each batch
  LaunchMode mode = LaunchMode::Stream;
  int graph_launches = 16;  // graph mode: launches captured per graph (callers pass >= the rotation's copies)
};
// InvalidArgument naming the option (as the CLI spells it: --rounds, --iters, ...) when a value is out of range.
Status validate(const InterleaveOptions& o);

// The side order of round `round` over `sides` sides: 0, 1, ..., rotated left by round % sides.
std::vector<int> round_order(int round, int sides);

// One side: launch(i) enqueues call i (on weight copy i % copies) on the stream.
using Launch = std::function<Status(int)>;

struct SideTiming {
  double us = 0;                 // median over rounds of each round's median, microseconds per launch
  std::vector<double> round_us;  // each round's median, in round order
  ClockPower clock;              // SM clock and board power over this side's timed batches (samples 0: no NVML)
};

// A CUDA graph of `launches` calls of a Launch captured on `stream` (calls 0 .. launches-1, so the graph itself
// rotates the weights), replayed as one call.
class LaunchGraph {
 public:
  static Result<std::unique_ptr<LaunchGraph>> capture(const Launch& launch, int launches, CUstream stream);
  ~LaunchGraph();
  Status replay(CUstream stream) const;
  int launches() const { return launches_; }

 private:
  LaunchGraph() = default;
  const runtime::DriverApi* api_ = nullptr;
  runtime::CUgraph graph_ = nullptr;
  runtime::CUgraphExec exec_ = nullptr;
  int launches_ = 0;
};

// Times the sides interleaved on `stream` (not the legacy default stream in graph mode: it cannot be captured).
// `nvml` may be null. A failing side stops the timing with its Status, prefixed by its index.
Result<std::vector<SideTiming>> time_interleaved(const std::vector<Launch>& sides, CUstream stream,
                                                 const InterleaveOptions& options, const Nvml* nvml);

}  // namespace qjit::perf
