// Phase 7: hit ratio on a replayed Zipf trace versus an exact LRU cache.
//
// The engine's ring evicts in FIFO order at disk speed; DESIGN.md promises hit
// ratios close to LRU because objects read while old are copied forward.
// The trace: Zipf(alpha 0.9) over a universe of objects whose total size is 3x
// the store's ring, sizes uniform in 4-64 KiB. Every request does what a
// cache front-end does: Contains + Touch (Engine::ContainsAndTouch, one
// directory lookup), then OpenRead (and read it all) on a hit, Put on a miss. The LRU of the same
// byte capacity (the ring's bytes) replays the same trace in the same run. Warm-up: until LRU
// misses have written 2 rings' worth (both caches full, the engine's ring wrapped); measured: the
// following 4 rings' worth of misses.
//
// The trace is replayed by a few threads taking requests in trace order from a
// shared counter, so the engine sees the LRU's order up to a window of
// --zipf-threads requests; the store runs in relaxed mode, since durability
// does not change what is cached and a synced trace would take far longer.
#include <algorithm>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "bench_common.h"
#include "cache_model.h"

namespace cycas::bench {
namespace {

struct Trace {
  std::vector<uint32_t> sizes;     // per item
  std::vector<uint32_t> requests;  // item per request
  std::vector<uint8_t> lru_hit;    // per request
  size_t warmup = 0;
};

Trace MakeTrace(const BenchConfig& c, uint64_t ring_bytes, uint64_t seed) {
  Trace t;
  const double mean = (c.zipf_min_size + c.zipf_max_size) / 2.0;
  const uint64_t items =
      static_cast<uint64_t>(c.zipf_working_set * static_cast<double>(ring_bytes) / mean);
  std::mt19937_64 rng(seed);
  t.sizes.resize(items);
  std::uniform_int_distribution<uint32_t> size_dist(c.zipf_min_size, c.zipf_max_size);
  for (auto& s : t.sizes) s = size_dist(rng);
  ZipfSampler zipf(items, c.zipf_alpha);
  LruBytes lru(ring_bytes);
  uint64_t miss_bytes = 0;
  const uint64_t warm_bytes = 2 * ring_bytes, end_bytes = 6 * ring_bytes;
  const uint64_t max_requests = c.zipf_requests != 0 ? c.zipf_requests : 50'000'000;
  while (t.requests.size() < max_requests) {
    uint32_t item = zipf(rng);
    bool hit = lru.Access(item, t.sizes[item]);
    t.requests.push_back(item);
    t.lru_hit.push_back(hit ? 1 : 0);
    if (!hit) miss_bytes += t.sizes[item];
    if (t.warmup == 0 && miss_bytes >= warm_bytes) t.warmup = t.requests.size();
    if (c.zipf_requests == 0 && miss_bytes >= end_bytes) break;
  }
  if (t.warmup == 0 || c.zipf_requests != 0) t.warmup = t.requests.size() / 3;
  return t;
}

struct Counters {
  uint64_t requests = 0, hits = 0, hit_bytes = 0, req_bytes = 0, put_bytes = 0, errors = 0;
  std::vector<uint32_t> refused_items;
};

}  // namespace

Status RunHitRatioPhase(const BenchConfig& c, Report& r, int rep) {
  Trace trace;
  uint64_t ring_bytes = 0;
  for (double fraction : c.cf_fractions) {
    char name[32];
    std::snprintf(name, sizeof name, "cf=%.2f", fraction);
    const std::string cf(name);
    RemoveStore(c);
    RecordingEnv env;
    engine::EngineOptions o;
    o.path = c.StorePath();
    o.size = c.zipf_store;
    o.stripes = c.stripes;
    o.durable = false;
    o.average_object_size = 16 * kKiB;  // about half the mean object: the directory never limits
    o.copy_forward_fraction = fraction;
    // A second writer of a key waits for the first (default up to 30 s). Here
    // at most 100 ms, so that a write slot that is never released (README,
    // "engine problems") costs one refused Put instead of stalling a replay
    // thread for 30 s. A refused Put is a miss that stores nothing, as it
    // would be for a client; it does not favour the engine.
    o.writer_wait = std::chrono::milliseconds(100);
    o.env = &env;
    ASSIGN_OR_RETURN(auto e, engine::Engine::Open(o));
    if (trace.requests.empty()) {
      ring_bytes = e->Stats().ring_bytes;
      trace = MakeTrace(c, ring_bytes,
                        c.seed * 499 + 1 + static_cast<uint64_t>(rep));  // seed 1: 500 + rep
    }
    const size_t total = trace.requests.size();
    const auto payload = RandomBytes(c.zipf_max_size, 19);
    std::atomic<size_t> next{0};
    std::atomic<bool> stop{false};
    std::vector<Counters> counters(c.zipf_threads);
    engine::EngineStatsSnapshot at_warmup{};
    std::mutex mu;
    Status first_error;
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (uint32_t t = 0; t < c.zipf_threads; t++) {
      pool.emplace_back([&, t] {
        std::vector<uint8_t> buf(c.zipf_max_size);
        Counters& k = counters[t];
        while (!stop.load(std::memory_order_relaxed)) {
          size_t i = next.fetch_add(1);
          if (i >= total) break;
          if (i == trace.warmup) {
            std::lock_guard lk(mu);
            at_warmup = e->Stats();
          }
          uint32_t item = trace.requests[i];
          uint32_t size = trace.sizes[item];
          engine::Key key = MakeKey(70, item);
          bool hit = false;
          if (e->ContainsAndTouch(key)) {  // Contains + Touch, one directory lookup
            auto rd = e->OpenRead(key);
            if (rd.ok()) {
              uint64_t off = 0;
              while (off < (*rd)->size()) {
                auto got = (*rd)->Read(off, buf);
                if (!got.ok() || *got == 0) break;
                off += *got;
              }
              hit = off == size;
            }
          }
          uint64_t put = 0;
          if (!hit) {
            Status s = e->Put(key, {payload.data(), size});
            if (s.ok()) {
              put = size;
            } else if (s.code() != StatusCode::kAlreadyExists) {
              k.errors++;
              if (s.code() == StatusCode::kUnavailable) k.refused_items.push_back(item);
              std::lock_guard lk(mu);
              if (first_error.ok()) first_error = s;
            }
          }
          if (i >= trace.warmup) {
            k.requests++;
            k.req_bytes += size;
            k.hits += hit ? 1 : 0;
            k.hit_bytes += hit ? size : 0;
            k.put_bytes += put;
          }
        }
      });
    }
    while (next.load() < total && SecondsSince(t0) < c.zipf_max_seconds) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stop = true;
    for (auto& th : pool) th.join();
    double secs = SecondsSince(t0);
    e->DrainCopyForward();
    const auto end = e->Stats();
    size_t processed = std::min(next.load(), total);
    RETURN_IF_ERROR(e->Close());
    e.reset();
    RemoveStore(c);

    Counters sum;
    for (const auto& k : counters) {
      sum.requests += k.requests;
      sum.hits += k.hits;
      sum.hit_bytes += k.hit_bytes;
      sum.req_bytes += k.req_bytes;
      sum.put_bytes += k.put_bytes;
      sum.errors += k.errors;
      sum.refused_items.insert(sum.refused_items.end(), k.refused_items.begin(),
                               k.refused_items.end());
    }
    if (processed <= trace.warmup || sum.requests == 0) {
      return Status(StatusCode::kDeadlineExceeded,
                    "hit ratio: the trace did not get past warm-up in time");
    }
    if (processed < total)
      r.Note("WARNING: zipf replay stopped at --zipf-max-seconds before the trace ended");
    if (sum.errors > 0) {
      std::sort(sum.refused_items.begin(), sum.refused_items.end());
      size_t distinct = std::unique(sum.refused_items.begin(), sum.refused_items.end()) -
                        sum.refused_items.begin();
      r.Note("WARNING: zipf replay (" + cf + ") had " + std::to_string(sum.errors) +
             " failed Puts (" + std::to_string(distinct) +
             " distinct objects refused as UNAVAILABLE), first: " + first_error.ToString());
    }
    uint64_t lru_hits = 0, lru_hit_bytes = 0, lru_bytes = 0;
    for (size_t i = trace.warmup; i < processed; i++) {
      uint32_t size = trace.sizes[trace.requests[i]];
      lru_hits += trace.lru_hit[i];
      lru_hit_bytes += trace.lru_hit[i] ? size : 0;
      lru_bytes += size;
    }
    const double measured = static_cast<double>(processed - trace.warmup);
    const double lru_ratio = static_cast<double>(lru_hits) / measured;
    const double hit_ratio = static_cast<double>(sum.hits) / static_cast<double>(sum.requests);
    const double cf_bytes =
        static_cast<double>(end.copy_forward_bytes - at_warmup.copy_forward_bytes);
    if (fraction == c.cf_fractions.front()) {
      r.Add("zipf", "LRU hit ratio (same bytes), reference", "ratio", lru_ratio);
    }
    r.Add("zipf", "hit ratio, " + cf, "ratio", hit_ratio);
    r.Add("zipf", "hit ratio / LRU, " + cf, "ratio", hit_ratio / lru_ratio, Target{true, 0.95});
    r.Add("zipf", "byte hit ratio / LRU byte hit ratio, " + cf, "ratio",
          (static_cast<double>(sum.hit_bytes) / static_cast<double>(sum.req_bytes)) /
              (static_cast<double>(lru_hit_bytes) / static_cast<double>(lru_bytes)));
    r.Add("zipf", "copy-forward bytes / bytes Put, " + cf, "ratio",
          cf_bytes / static_cast<double>(std::max<uint64_t>(1, sum.put_bytes)));
    r.Add("zipf", "requests/s, " + cf, "/s", static_cast<double>(processed) / secs);
    if (rep > 0 || fraction != c.cf_fractions.front()) continue;
    char note[256];
    std::snprintf(note, sizeof note,
                  "zipf: ring %.0f MiB, %zu objects in the universe (%.1fx ring), %zu requests, "
                  "warm-up %zu, %u replay threads",
                  static_cast<double>(ring_bytes) / kMiB, trace.sizes.size(), c.zipf_working_set,
                  total, trace.warmup, c.zipf_threads);
    r.Note(note);
  }
  return Status::Ok();
}

}  // namespace cycas::bench
