// Shared pieces of engine_bench: the run configuration, key and payload
// generation, an IoEnv that records whether the engine got O_DIRECT, and the
// phase entry points (one file per phase).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/io_env.h"
#include "engine/key.h"
#include "raw_io.h"
#include "report.h"

namespace cycas::bench {

inline constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB, kGiB = 1024 * kMiB;

struct BenchConfig {
  std::string dir = "/tmp";  // where the store file (and the raw baseline file) live
  bool quick = false;
  int repeat = 3;  // every figure is measured this many times
  std::vector<std::string> phases = {"raw", "large", "small", "dir", "zipf"};
  uint32_t stripes = 0;  // 0: the engine's default (one per core)
  uint64_t seed = 1;
  bool markdown = false;
  bool verbose = false;

  // 1. raw baseline
  uint64_t raw_bytes = 2 * kGiB;
  uint32_t raw_block = 4 * kMiB;
  // 2. large objects
  uint32_t large_objects = 16;
  uint64_t large_size = 64 * kMiB;
  uint32_t read_ahead = engine::EngineOptions{}.read_ahead_fragments;
  uint32_t page_cache_reads = engine::EngineOptions{}.cached_read_max;
  uint64_t convert_ahead = engine::EngineOptions{}.convert_ahead_bytes;
  bool page_cache_rereads = engine::EngineOptions{}.cache_rereads;
  uint32_t aggregation = engine::EngineOptions{}.aggregation_bytes;
  uint32_t large_chunk = 1 * kMiB;  // Append() size, like a streamed upload's chunks
  // 3. small objects
  uint32_t small_threads = 64;
  // Which kinds of small-object writer run: blocking threads, async submitters.
  bool small_threads_mode = true;
  bool small_async_mode = true;
  uint32_t small_size = 4 * kKiB;
  double small_seconds = 10;
  uint64_t small_store = 2 * kGiB;
  // 4-6. directory: lookups, RAM per object, restart
  uint64_t objects = 10'000'000;
  uint32_t tiny_size = 64;  // payload of the objects that fill the directory
  uint32_t fill_threads = 512;
  double fill_max_seconds = 1800;
  double dir_load = 0.9;  // target directory occupancy at `objects`
  double lookup_seconds = 2;
  int restarts = 3;  // clean restarts (at least --repeat)
  // 7. hit ratio
  uint64_t zipf_store = 1 * kGiB;
  double zipf_alpha = 0.9;
  double zipf_working_set = 3;  // universe bytes / store ring bytes
  uint32_t zipf_min_size = 4 * kKiB, zipf_max_size = 64 * kKiB;
  uint64_t zipf_requests = 0;  // 0: enough for misses to write ~8 rings
  uint32_t zipf_threads = 8;
  double zipf_max_seconds = 240;
  std::vector<double> cf_fractions = {0, 0.1, 0.25};

  std::string StorePath() const { return dir + "/engine_bench.store"; }
  std::string RawPath() const { return dir + "/engine_bench.raw"; }
  bool Runs(const std::string& phase) const;
};

// A uniformly distributed key (the engine expects hashes): key `i` of key space `space`.
engine::Key MakeKey(uint64_t space, uint64_t i);

// Deterministic random bytes.
std::vector<uint8_t> RandomBytes(size_t n, uint64_t seed);

double SecondsSince(std::chrono::steady_clock::time_point t0);
uint64_t ResidentBytes();
// CPU time (user + system) of the whole process so far: on a shared machine,
// the CPU a phase used says more than its wall-clock time alone.
double ProcessCpuSeconds();

// Wraps the default IoEnv and remembers whether the store file got O_DIRECT.
class RecordingEnv final : public engine::IoEnv {
 public:
  Result<std::unique_ptr<engine::BlockFile>> OpenBlockFile(const std::string& path, uint64_t size,
                                                           bool want_direct_io) override;
  std::atomic<int> direct_io{-1};  // -1: no file opened yet
};

// Removes the store file so the next phase formats a fresh one.
void RemoveStore(const BenchConfig& c);

// The raw figures a ratio can be divided by.
enum class RawFigure { kWriteFresh, kWriteOver, kRead, kReadFragment, kSyncWrite };

// Per-repetition baseline. The disk of a shared machine drifts within minutes,
// so raw bandwidth is measured before and after the engine's throughput phases
// and each ratio divides by the mean of the two; the phases record their
// ratios here and Flush() adds them once the second measurement is in.
class Baseline {
 public:
  void AddSample(const RawBandwidth& raw) { samples_.push_back(raw); }
  // Records value / mean(raw figure) under (section, name).
  void Ratio(std::string section, std::string name, double value, RawFigure of,
             std::optional<Target> target = std::nullopt) {
    pending_.push_back({std::move(section), std::move(name), value, of, target});
  }
  void Flush(Report& r);

 private:
  struct Pending {
    std::string section, name;
    double value;
    RawFigure of;
    std::optional<Target> target;
  };
  double Mean(RawFigure f) const;
  std::vector<RawBandwidth> samples_;
  std::vector<Pending> pending_;
};

// Phases. Each adds its figures for repetition `rep` to the report.
Status RunRawPhase(const BenchConfig& c, Report& r, Baseline& base);
// `written`: the store file is fully written before the engine formats it (the
// steady state after the ring's first wrap) instead of only preallocated.
Status RunLargeObjectPhase(const BenchConfig& c, Report& r, Baseline& base, bool written);
Status RunSmallObjectPhase(const BenchConfig& c, Report& r, Baseline& base, bool written,
                           bool async);
Status RunDirectoryPhase(const BenchConfig& c, Report& r);  // runs once, repeats inside
Status RunHitRatioPhase(const BenchConfig& c, Report& r, int rep);

}  // namespace cycas::bench
