// Phases 4-6 on one store holding --objects (10 million) objects: Contains()
// rate, RAM per object, and restart time (clean, and after a crash).
//
// The store is filled in relaxed mode (EngineOptions.durable = false) with
// 64-byte objects from many threads: durability is not what this phase
// measures, and each Doc then takes one 512-byte sector, the least the format
// allows. That floor is why 10 M objects need a ~6 GiB file, not 4: 10 M x
// 512 B of ring, plus 2 snapshot copies of the directory, plus slack for the
// 4 KiB padding that ends every aggregated write.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "bench_common.h"
#include "engine/doc.h"
#include "engine/fault_env.h"

namespace cycas::bench {
namespace {

struct FillResult {
  uint64_t done = 0;
  double seconds = 0;
  bool truncated = false;
};

// Puts keys [first, first + count) of `space` from `threads` threads.
Result<FillResult> Fill(engine::Engine& e, uint64_t space, uint64_t first, uint64_t count,
                        uint32_t threads, std::span<const uint8_t> payload, double max_seconds) {
  std::atomic<uint64_t> next{0}, done{0};
  std::atomic<bool> stop{false};
  Status first_error;
  std::mutex mu;
  std::vector<std::thread> pool;
  auto t0 = std::chrono::steady_clock::now();
  for (uint32_t t = 0; t < threads; t++) {
    pool.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        uint64_t i = next.fetch_add(1, std::memory_order_relaxed);
        if (i >= count) break;
        Status s = e.Put(MakeKey(space, first + i), payload);
        if (s.ok()) {
          done.fetch_add(1, std::memory_order_relaxed);
        } else if (s.code() != StatusCode::kAlreadyExists) {
          std::lock_guard lk(mu);
          if (first_error.ok()) first_error = s;
          stop = true;
        }
      }
    });
  }
  FillResult r;
  while (next.load() < count && !stop.load()) {
    if (SecondsSince(t0) > max_seconds) {
      r.truncated = true;
      stop = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (auto& th : pool) th.join();
  r.seconds = SecondsSince(t0);
  r.done = done;
  if (!first_error.ok()) return first_error.WithContext("filling the store");
  return r;
}

struct LookupResult {
  double wall_rate = 0;  // lookups per wall-clock second, per thread
  double cpu_rate = 0;   // lookups per second of CPU time the thread got, per thread
  uint64_t found = 0, total = 0;
};

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Calls Contains() on `keys` from `threads` threads for about `seconds`. On a
// shared machine a thread is not on a core all the time, so the rate per CPU
// second (what one core does while it runs the lookups) is reported next to
// the rate per wall-clock second.
// batch == 0: one Contains() per key; otherwise ContainsAndTouchMany() over
// `batch` keys at a time, the call the CAS layer makes for existence checks.
LookupResult MeasureLookups(engine::Engine& e, const std::vector<engine::Key>& keys,
                            uint32_t threads, double seconds, size_t batch = 0) {
  std::atomic<uint64_t> found{0}, total{0};
  std::vector<double> wall(threads), cpu(threads);
  std::vector<std::thread> pool;
  for (uint32_t t = 0; t < threads; t++) {
    pool.emplace_back([&, t] {
      // Each thread walks the sample from its own offset, so threads do not
      // touch the same directory entries in lock step.
      size_t pos = keys.size() / threads * t;
      uint64_t n = 0, f = 0;
      auto t0 = std::chrono::steady_clock::now();
      double c0 = ThreadCpuSeconds();
      double elapsed = 0;
      std::vector<uint8_t> present(batch);
      while (true) {
        if (batch == 0) {
          for (int i = 0; i < 16384; i++) {
            f += e.Contains(keys[pos]) ? 1 : 0;
            if (++pos == keys.size()) pos = 0;
          }
          n += 16384;
        } else {
          for (size_t done = 0; done < 16384; done += batch) {
            if (pos + batch > keys.size()) pos = 0;
            e.ContainsAndTouchMany(std::span(keys).subspan(pos, batch), present);
            for (uint8_t p : present) f += p;
            pos += batch;
            n += batch;
          }
        }
        elapsed = SecondsSince(t0);
        if (elapsed >= seconds) break;
      }
      wall[t] = static_cast<double>(n) / elapsed;
      cpu[t] = static_cast<double>(n) / (ThreadCpuSeconds() - c0);
      found += f;
      total += n;
    });
  }
  for (auto& th : pool) th.join();
  LookupResult r;
  for (uint32_t t = 0; t < threads; t++) {
    r.wall_rate += wall[t] / threads;
    r.cpu_rate += cpu[t] / threads;
  }
  r.found = found;
  r.total = total;
  return r;
}

}  // namespace

// Filled once per run (10 M objects take minutes on a small machine); every
// figure is then measured --repeat times on that store.
Status RunDirectoryPhase(const BenchConfig& c, Report& r) {
  RemoveStore(c);
  const uint32_t stripes =
      c.stripes != 0 ? c.stripes : std::max(1u, std::thread::hardware_concurrency());
  const uint32_t cores = std::max(1u, std::thread::hardware_concurrency());
  const uint64_t n = c.objects;
  const uint64_t doc_bytes = engine::DocSectors(c.tiny_size) * engine::kSectorSize;
  const uint64_t space = 40;

  // Sizing. Ring: n Docs + 30% for the 4 KiB padding that ends each aggregated
  // write (measured 15-20% with 512 fill threads, far more with few) and for
  // keys falling unevenly on stripes, + per-stripe room for two aggregation
  // buffers and the Docs of the crash drills. The ring must not wrap: a crash
  // recovery near the end of the ring starts the next cycle (the engine treats
  // the aggregation window after the cursor as overwritten), and the drills'
  // Docs would then evict the oldest objects. Directory:
  // EngineOptions sizes it as span / average_object_size entries, and its two
  // snapshot copies take 2 x 16 B of span per entry, so average_object_size =
  // 32 + dir_load * ring / n gives a capacity of about n / dir_load entries.
  engine::EngineOptions o;
  const uint64_t ring = n * doc_bytes * 130 / 100 +
                        stripes * (4 * uint64_t{o.aggregation_bytes} + 8 * kMiB) +
                        uint64_t(c.repeat) * stripes * o.aggregation_bytes * 2;
  const uint64_t avg = std::max<uint64_t>(
      engine::kSectorSize, 32 + static_cast<uint64_t>(c.dir_load * static_cast<double>(ring) / n));
  const uint64_t size = (ring * avg / (avg - 32) + (stripes + 1) * kMiB) / kMiB * kMiB;

  RecordingEnv rec;
  engine::FaultEnv fault(&rec);
  o.path = c.StorePath();
  o.size = size;
  o.stripes = stripes;
  o.average_object_size = avg;
  o.durable = false;
  o.env = &fault;
  // Only the half-ring rule snapshots while filling; no idle snapshot may land
  // between the crash drills, so each drill replays the same Docs.
  o.snapshot_interval = std::chrono::hours(1);

  const auto payload = RandomBytes(c.tiny_size, 17);
  const uint64_t rss0 = ResidentBytes();
  ASSIGN_OR_RETURN(auto e, engine::Engine::Open(o));
  std::fprintf(stderr, "         filling %llu objects (%.2f GiB store)...\n",
               static_cast<unsigned long long>(n), static_cast<double>(size) / kGiB);
  ASSIGN_OR_RETURN(FillResult fill,
                   Fill(*e, space, 0, n, c.fill_threads, payload, c.fill_max_seconds));
  const uint64_t rss1 = ResidentBytes();
  auto st = e->Stats();
  const uint64_t stored = st.directory_entries_used;
  char note[512];
  std::snprintf(
      note, sizeof note,
      "directory phase: %llu objects of %u B in a %.2f GiB store (average_object_size %llu, "
      "directory capacity %.2f M entries, %u stripes), filled once, each figure measured %d times",
      static_cast<unsigned long long>(n), c.tiny_size, static_cast<double>(size) / kGiB,
      static_cast<unsigned long long>(avg), static_cast<double>(st.directory_capacity) / 1e6,
      stripes, c.repeat);
  r.Note(note);
  if (fill.truncated) r.Note("WARNING: directory fill stopped at --fill-max-seconds");
  if (st.wraps > 0 || st.directory_evictions > 0) {
    std::snprintf(note, sizeof note,
                  "WARNING: while filling, the ring wrapped %llu times and the directory evicted "
                  "%llu entries",
                  static_cast<unsigned long long>(st.wraps),
                  static_cast<unsigned long long>(st.directory_evictions));
    r.Note(note);
  }
  r.Add("dir", "fill rate (64 B Put, relaxed, " + std::to_string(c.fill_threads) + " threads)",
        "/s", static_cast<double>(fill.done) / fill.seconds);
  r.Add("dir", "  docs per aggregated write during fill", "x",
        static_cast<double>(st.docs_written) / std::max<uint64_t>(1, st.batches_written));
  r.Add("dir", "  ring bytes per doc during fill (512 = no padding)", "B",
        static_cast<double>(st.bytes_written) / std::max<uint64_t>(1, st.docs_written));
  r.Add("dir", "objects stored", "objects", static_cast<double>(stored));
  r.Add("dir", "directory occupancy (used / capacity)", "ratio",
        static_cast<double>(stored) / static_cast<double>(st.directory_capacity));

  // 5. RAM per object. directory_bytes is what the index costs by design; the
  // RSS delta adds everything else the engine allocated (aggregation buffers,
  // open-write table, thread stacks) and shows nothing grows per object.
  r.Add("dir", "directory bytes per stored object", "B",
        static_cast<double>(st.directory_bytes) / static_cast<double>(stored), Target{false, 16});
  r.Add("dir", "process RSS delta per stored object", "B",
        static_cast<double>(rss1 - std::min(rss1, rss0)) / static_cast<double>(stored));

  // 6b. Crash with everything since the last snapshot unsnapshotted: the crash
  // flag makes the final flush and snapshot of Close() vanish, as after kill -9.
  // Snapshots are taken every half ring (or after snapshot_interval idle), so
  // this is the replay a crash at the end of a long burst of writes costs. The
  // reopened engine writes no snapshot before the next crash, so every drill
  // replays the same Docs.
  // Drops the engine as kill -9 would (no final flush or snapshot), opens it
  // again and times that Open().
  struct Reopen {
    double seconds = 0, cpu_seconds = 0;
  };
  auto crash_and_reopen = [&]() -> Result<Reopen> {
    fault.crashed = true;
    e.reset();
    fault.crashed = false;
    auto t0 = std::chrono::steady_clock::now();
    double cpu0 = ProcessCpuSeconds();
    ASSIGN_OR_RETURN(e, engine::Engine::Open(o));
    Reopen out{SecondsSince(t0), ProcessCpuSeconds() - cpu0};
    st = e->Stats();
    return out;
  };
  for (int i = 0; i < c.repeat; i++) {
    ASSIGN_OR_RETURN(Reopen ro, crash_and_reopen());
    const double open_s = ro.seconds;
    r.Add("dir", "reopen after crash: replay all since last snapshot", "s", open_s);
    r.Add("dir", "  CPU time of that reopen (process, full replay)", "s", ro.cpu_seconds);
    r.Add("dir", "  docs replayed (all since last snapshot)", "docs",
          static_cast<double>(st.replayed_docs));
    r.Add("dir", "  replay rate", "/s", static_cast<double>(st.replayed_docs) / open_s);
    if (st.directory_entries_used != stored) {
      std::snprintf(note, sizeof note,
                    "NOTE: directory entries in use: %llu before the crash, %llu after recovery",
                    static_cast<unsigned long long>(stored),
                    static_cast<unsigned long long>(st.directory_entries_used));
      r.Note(note);
    }
  }

  // 4. Contains() from RAM: a lock, a hash and a walk of one bucket chain in a
  // directory far larger than the CPU caches, so mostly cache misses. Present
  // keys stop at their entry; absent keys walk the whole chain. Per core: one
  // thread, then one thread per core.
  const size_t sample = static_cast<size_t>(std::min<uint64_t>(fill.done, 1u << 21));
  std::vector<engine::Key> present(sample), absent(sample);
  std::mt19937_64 rng(c.seed * 1000);
  for (size_t i = 0; i < sample; i++) {
    present[i] = MakeKey(space, rng() % fill.done);
    absent[i] = MakeKey(space + 1000, i);
  }
  for (int i = 0; i < c.repeat; i++) {
    for (uint32_t threads : {1u, cores}) {
      auto hit = MeasureLookups(*e, present, threads, c.lookup_seconds);
      auto miss = MeasureLookups(*e, absent, threads, c.lookup_seconds);
      std::string t = std::to_string(threads) + (threads == 1 ? " thread" : " threads");
      r.Add("dir", "Contains, present key, " + t + ", per CPU-second", "/s/core", hit.cpu_rate,
            Target{true, 5e6});
      r.Add("dir", "Contains, absent key, " + t + ", per CPU-second", "/s/core", miss.cpu_rate,
            Target{true, 5e6});
      r.Add("dir", "  present key, " + t + ", per wall-second per thread", "/s", hit.wall_rate);
      r.Add("dir", "  absent key, " + t + ", per wall-second per thread", "/s", miss.wall_rate);
      r.Add("dir", "  present keys found", "ratio", static_cast<double>(hit.found) / hit.total);
      if (miss.found > 0) r.Note("ERROR: Contains() said present for an absent key");
    }
    // Batched, as FindMissingBlobs / NegotiateBlobs check their digests.
    constexpr size_t kBatch = 1024;
    auto hit = MeasureLookups(*e, present, 1, c.lookup_seconds, kBatch);
    auto miss = MeasureLookups(*e, absent, 1, c.lookup_seconds, kBatch);
    r.Add("dir", "ContainsAndTouchMany (1024 keys/call), present, 1 thread, per CPU-second",
          "/s/core", hit.cpu_rate, Target{true, 5e6});
    r.Add("dir", "ContainsAndTouchMany (1024 keys/call), absent, 1 thread, per CPU-second",
          "/s/core", miss.cpu_rate, Target{true, 5e6});
    r.Add("dir", "  batched present keys found", "ratio",
          static_cast<double>(hit.found) / hit.total);
    if (miss.found > 0) r.Note("ERROR: ContainsAndTouchMany() said present for an absent key");
  }

  // 6a. Crash with one aggregation buffer per stripe written since a snapshot:
  // the least a crash can leave to replay once writes are flowing.
  const uint64_t window = stripes * uint64_t{o.aggregation_bytes} / doc_bytes;
  for (int i = 0; i < c.repeat; i++) {
    RETURN_IF_ERROR(e->SnapshotAll());
    ASSIGN_OR_RETURN(FillResult extra,
                     Fill(*e, space + 2000 + i, 0, window, c.fill_threads, payload, 300));
    (void)extra;
    ASSIGN_OR_RETURN(Reopen ro, crash_and_reopen());
    r.Add("dir", "reopen after crash: replay 1 aggregation window/stripe", "s", ro.seconds);
    r.Add("dir", "  CPU time of that reopen (process, 1-window replay)", "s", ro.cpu_seconds);
    r.Add("dir", "  docs replayed (1 window/stripe)", "docs",
          static_cast<double>(st.replayed_docs));
  }

  // 6. Clean restart: Close() writes a final snapshot per stripe, Open() loads
  // it and finds nothing to replay.
  for (int i = 0; i < std::max(c.restarts, c.repeat); i++) {
    auto t0 = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(e->Close());
    e.reset();
    double close_s = SecondsSince(t0);
    t0 = std::chrono::steady_clock::now();
    double cpu0 = ProcessCpuSeconds();
    ASSIGN_OR_RETURN(e, engine::Engine::Open(o));
    double open_s = SecondsSince(t0);
    double open_cpu = ProcessCpuSeconds() - cpu0;
    st = e->Stats();
    r.Add("dir", "clean restart: Close()", "s", close_s);
    r.Add("dir", "clean restart: Open()", "s", open_s, Target{false, 3});
    r.Add("dir", "  CPU time of that Open() (process)", "s", open_cpu);
    r.Add("dir", "clean restart: Close() + Open()", "s", close_s + open_s, Target{false, 3});
    if (st.replayed_docs != 0) r.Note("WARNING: a clean restart replayed docs");
  }
  uint64_t lost = 0;
  for (size_t i = 0; i < std::min<size_t>(sample, 100000); i++)
    lost += e->Contains(present[i]) ? 0 : 1;
  uint64_t cycle = 0;
  for (const auto& ss : e->Stats().stripes) cycle = std::max(cycle, ss.cycle);
  if (lost > 0 && cycle > 1) {
    r.Note(
        "WARNING: the ring wrapped during the drills (store too small for the fill's padding): " +
        std::to_string(lost) + " of 100000 sampled objects were evicted");
  } else if (lost > 0) {
    r.Note("ERROR: " + std::to_string(lost) +
           " of 100000 sampled objects were lost across crashes and restarts");
  }
  RETURN_IF_ERROR(e->Close());
  e.reset();
  RemoveStore(c);
  return Status::Ok();
}

}  // namespace cycas::bench
