// Interleaved timing (see interleave.h): round order, the two regimes on top of autotune/timing.h, graph capture.
#include "perf/interleave.h"

#include <algorithm>
#include <cmath>

#include "autotune/timing.h"

namespace qjit::perf {
namespace {

// Sustained batches span at least this long, so the ~µs event resolution is noise and the event count stays small.
constexpr double kSustainedBatchUs = 200;
constexpr int kMaxSustainedBatches = 4000;

Status out_of_range(const char* field, int value, int lo, int hi) {
  return Status(StatusCode::InvalidArgument, std::string(field) + " must be in [" + std::to_string(lo) + ", " +
                                                 std::to_string(hi) + "], got " + std::to_string(value));
}

}  // namespace

std::string_view regime_name(Regime r) { return r == Regime::Sustained ? "sustained" : "burst"; }
std::string_view mode_name(LaunchMode m) { return m == LaunchMode::Graph ? "graph" : "stream"; }

Result<std::vector<Regime>> parse_regimes(std::string_view text, std::string_view field) {
  if (text == "sustained") return std::vector<Regime>{Regime::Sustained};
  if (text == "burst") return std::vector<Regime>{Regime::Burst};
  if (text == "both") return std::vector<Regime>{Regime::Sustained, Regime::Burst};
  return Status(StatusCode::InvalidArgument,
                std::string(field) + " must be sustained, burst or both, got '" + std::string(text) + "'");
}

Status validate(const InterleaveOptions& o) {
  if (o.rounds < 1 || o.rounds > 1000) return out_of_range("--rounds", o.rounds, 1, 1000);
  if (o.warmup < 0 || o.warmup > 100000) return out_of_range("--warmup", o.warmup, 0, 100000);
  if (o.batches < 1 || o.batches > 100000) return out_of_range("--iters", o.batches, 1, 100000);
  if (o.batch < 1 || o.batch > 10000) return out_of_range("--batch", o.batch, 1, 10000);
  if (o.sustain_ms < 1 || o.sustain_ms > 60000) return out_of_range("--sustain-ms", o.sustain_ms, 1, 60000);
  if (o.burst_gap_us < 0 || o.burst_gap_us > 1000000) return out_of_range("--burst-gap-us", o.burst_gap_us, 0, 1000000);
  if (o.graph_launches < 1 || o.graph_launches > 4096)
    return out_of_range("--graph-launches", o.graph_launches, 1, 4096);
  return Status();
}

std::vector<int> round_order(int round, int sides) {
  std::vector<int> order;
  if (sides <= 0) return order;
  const int first = ((round % sides) + sides) % sides;
  for (int i = 0; i < sides; ++i) order.push_back((first + i) % sides);
  return order;
}

Result<std::unique_ptr<LaunchGraph>> LaunchGraph::capture(const Launch& launch, int launches, CUstream stream) {
  QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
  if (!api->cuStreamBeginCapture || !api->cuStreamEndCapture || !api->cuGraphInstantiateWithFlags ||
      !api->cuGraphLaunch || !api->cuGraphExecDestroy || !api->cuGraphDestroy)
    return Status(StatusCode::Unsupported,
                  "this CUDA driver lacks stream capture or cuGraphInstantiateWithFlags "
                  "(CUDA 11.4+): --graph cannot run here");
  if (!stream) return Status(StatusCode::InvalidArgument, "graph capture needs a created stream, not the default one");
  auto g = std::unique_ptr<LaunchGraph>(new LaunchGraph());
  g->api_ = api;
  g->launches_ = launches;
  QJIT_CU(*api, cuStreamBeginCapture, stream, runtime::kStreamCaptureModeThreadLocal);
  Status launched;
  for (int i = 0; i < launches && launched.ok(); ++i) launched = launch(i);
  // NOTE: the capture is ended even after a failed launch, or the stream stays in capture mode.
  const runtime::CUresult end = api->cuStreamEndCapture(stream, &g->graph_);
  QJIT_TRY(launched.with_context("capturing a launch into a CUDA graph"));
  if (end != runtime::kCudaSuccess) return runtime::driver_error(*api, end, "cuStreamEndCapture");
  QJIT_CU(*api, cuGraphInstantiateWithFlags, &g->exec_, g->graph_, 0);
  return g;
}

LaunchGraph::~LaunchGraph() {
  if (exec_) api_->cuGraphExecDestroy(exec_);
  if (graph_) api_->cuGraphDestroy(graph_);
}

Status LaunchGraph::replay(CUstream stream) const {
  QJIT_CU(*api_, cuGraphLaunch, exec_, stream);
  return Status();
}

Result<std::vector<SideTiming>> time_interleaved(const std::vector<Launch>& sides, CUstream stream,
                                                 const InterleaveOptions& o, const Nvml* nvml) {
  QJIT_TRY(validate(o));
  if (sides.empty()) return Status(StatusCode::InvalidArgument, "time_interleaved needs at least one side");
  const int n = static_cast<int>(sides.size());
  const bool graph = o.mode == LaunchMode::Graph;
  // What one timed "call" is per side: a launch, or a replay of the side's graph.
  std::vector<std::unique_ptr<LaunchGraph>> graphs(sides.size());
  std::vector<Launch> calls(sides.size());
  for (int s = 0; s < n; ++s) {
    if (graph) {
      auto g = LaunchGraph::capture(sides[s], o.graph_launches, stream);
      if (!g.has_value()) return g.error().with_context("side " + std::to_string(s));
      graphs[s] = std::move(*g);
      const LaunchGraph* gp = graphs[s].get();
      calls[s] = [gp, stream](int) { return gp->replay(stream); };
    } else {
      calls[s] = sides[s];
    }
  }
  const int per_call = graph ? o.graph_launches : 1;
  std::vector<int> next_call(sides.size(), 0);
  std::vector<double> estimate_us(sides.size(), 0);  // per launch
  // Warm-up and a first estimate of each side's time (sizes the sustained batches).
  for (int s = 0; s < n; ++s) {
    autotune::TimingOptions t{
        .warmup = o.warmup, .reps = 1, .batch = graph ? 1 : o.batch, .launches_per_call = per_call};
    auto first = autotune::batch_launch_us(calls[s], stream, t, &next_call[s]);
    if (!first.has_value()) return first.error().with_context("side " + std::to_string(s) + " warm-up");
    estimate_us[s] = std::max(first->front(), 1e-3);
  }
  std::vector<SideTiming> out(sides.size());
  ClockPowerSampler sampler(nvml);
  for (int round = 0; round < o.rounds; ++round) {
    for (int s : round_order(round, n)) {
      autotune::TimingOptions t;
      t.warmup = 0;
      t.launches_per_call = per_call;
      if (o.regime == Regime::Sustained) {
        const double call_us = estimate_us[s] * per_call;
        t.batch = std::max(graph ? 1 : o.batch, static_cast<int>(std::ceil(kSustainedBatchUs / call_us)));
        t.reps =
            std::clamp(static_cast<int>(std::ceil(o.sustain_ms * 1e3 / (call_us * t.batch))), 5, kMaxSustainedBatches);
        t.sync_each_batch = false;
      } else {
        t.batch = graph ? 1 : o.batch;
        t.reps = o.batches;
        t.idle_us = o.burst_gap_us;
      }
      sampler.start();
      auto samples = autotune::batch_launch_us(calls[s], stream, t, &next_call[s]);
      const ClockPower cp = sampler.stop();
      if (!samples.has_value())
        return samples.error().with_context("side " + std::to_string(s) + " round " + std::to_string(round));
      const double med = autotune::median(std::move(*samples));
      out[s].round_us.push_back(med);
      out[s].clock.add(cp);
      estimate_us[s] = std::max(med, 1e-3);
    }
  }
  for (auto& side : out) side.us = autotune::median(side.round_us);
  return out;
}

}  // namespace qjit::perf
