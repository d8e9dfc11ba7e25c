// Row-range parallelism for the offline toolkit's big passes (stats, smoothing, quantization of 100M+ element
// weights). Small inputs run inline: spawning threads costs more than a few hundred microseconds of work.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>

#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/Threading.h"

namespace qjit::quant::detail {

// NOTE: below this many elements the pass is done on the calling thread (thread start-up ~50 µs dominates).
inline constexpr std::int64_t kParallelMinElements = std::int64_t{1} << 20;

inline unsigned worker_count() { return std::max(1u, llvm::hardware_concurrency().compute_thread_count()); }

// Calls body(chunk_index, row_begin, row_end) over [0, rows) split into `chunks` contiguous ranges; returns the
// number of chunks used (1 when run inline). Chunks run concurrently; body must only write chunk-private data.
inline unsigned parallel_rows(std::int64_t rows, std::int64_t elements_per_row,
                              const std::function<void(unsigned, std::int64_t, std::int64_t)>& body) {
  const unsigned workers = worker_count();
  if (workers <= 1 || rows < 2 || rows * elements_per_row < kParallelMinElements) {
    body(0, 0, rows);
    return 1;
  }
  const unsigned chunks = static_cast<unsigned>(std::min<std::int64_t>(workers, rows));
  llvm::ThreadPool pool(llvm::hardware_concurrency(chunks));
  for (unsigned c = 0; c < chunks; ++c) {
    const std::int64_t begin = rows * c / chunks;
    const std::int64_t end = rows * (c + 1) / chunks;
    pool.async([&body, c, begin, end] { body(c, begin, end); });
  }
  pool.wait();
  return chunks;
}

}  // namespace qjit::quant::detail
