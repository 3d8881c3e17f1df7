// Counters the engine keeps for metrics and benchmarks. Relaxed atomics: these
// are statistics, not synchronisation.
#pragma once

#include <atomic>
#include <cstdint>

namespace cycas::engine {

struct EngineStats {
  std::atomic<uint64_t> docs_written{0};
  std::atomic<uint64_t> bytes_written{0};  // including padding
  std::atomic<uint64_t> batches_written{0};
  std::atomic<uint64_t> syncs{0};
  std::atomic<uint64_t> sync_micros{0};
  std::atomic<uint64_t> reads{0};
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> validation_failures{0};
  // Page-cached copies of a Doc that failed validation while the device's copy
  // was good (ReadDoc reads it again with O_DIRECT). Should stay 0: a direct
  // write invalidates the cached pages it covers.
  std::atomic<uint64_t> page_cache_stale{0};
  // Docs above cached_read_max read through the page cache because they were
  // read recently (cache_rereads).
  std::atomic<uint64_t> page_cache_rereads{0};
  std::atomic<uint64_t> directory_evictions{0};
  std::atomic<uint64_t> wraps{0};
  std::atomic<uint64_t> swept_entries{0};
  std::atomic<uint64_t> copy_forward_objects{0};
  std::atomic<uint64_t> copy_forward_bytes{0};
  std::atomic<uint64_t> io_errors{0};
  // Failed writes or syncs anywhere in the store. One fdatasync covers every
  // stripe of a file, and a failed one may have dropped any unsynced write, so
  // this is store-wide: a writer that spans a failure is not acknowledged.
  std::atomic<uint64_t> sync_failures{0};
  // Zeros written over unwritten (preallocated) extents ahead of the cursor,
  // and the time it took (the stripes' converter threads): the first pass
  // over a fresh file costs this much extra writing.
  std::atomic<uint64_t> converted_bytes{0};
  std::atomic<uint64_t> convert_micros{0};
  std::atomic<uint64_t> snapshots{0};
  std::atomic<uint64_t> snapshot_micros{0};
  std::atomic<uint64_t> replayed_docs{0};
  std::atomic<uint64_t> recovery_micros{0};
};

// Per-stripe view at one instant.
struct StripeSnapshotStats {
  uint64_t cycle = 0;
  uint32_t cursor = 0;
  uint32_t ring_sectors = 0;
  uint64_t directory_entries_used = 0;
  uint64_t directory_capacity = 0;
  uint64_t directory_bytes = 0;
};

}  // namespace cycas::engine
