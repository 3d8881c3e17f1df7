// directory_bench: Directory::Find alone, on a directory far larger than the
// CPU caches (10 M entries, 90 % full, as engine_bench's dir phase), so every
// lookup is a cache miss and usually a TLB miss. engine_bench measures the
// same through Engine::Contains (stripe choice, stripe lock); this isolates
// the directory's own cost.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "engine/directory.h"

namespace cycas::engine {
namespace {

constexpr uint64_t kEntries = 10'000'000;

Key KeyOf(uint64_t space, uint64_t i) {
  Key k;
  std::mt19937_64 rng(space * 0x9E3779B97F4A7C15ull ^ i);
  for (int w = 0; w < 4; w++) {
    uint64_t v = rng();
    std::memcpy(k.bytes.data() + 8 * w, &v, 8);
  }
  return k;
}

struct Fixture {
  Fixture() : dir(DirGeometry::ForObjects(kEntries * 10 / 9)), clock{1, 1u << 31, 1u << 31} {
    for (uint64_t i = 0; i < kEntries; i++) {
      DirEntry e{};
      e.offset = static_cast<uint32_t>(i);
      e.cycle = 1;
      e.set_sectors(1);
      dir.Insert(KeyOf(1, i), e, clock);
    }
    std::mt19937_64 rng(7);
    for (int i = 0; i < (1 << 20); i++) {
      present.push_back(KeyOf(1, rng() % kEntries));
      absent.push_back(KeyOf(2, i));
    }
  }
  Directory dir;
  RingClock clock;
  std::vector<Key> present, absent;
};

Fixture& Shared() {
  static Fixture* f = new Fixture();
  return *f;
}

void Lookups(benchmark::State& state, bool want_present) {
  Fixture& f = Shared();
  const auto& keys = want_present ? f.present : f.absent;
  size_t i = 0;
  uint64_t found = 0;
  for (auto _ : state) {
    found += f.dir.Find(keys[i], EntryType::kObject, f.clock).has_value();
    if (++i == keys.size()) i = 0;
  }
  benchmark::DoNotOptimize(found);
  state.SetItemsProcessed(state.iterations());
  state.counters["occupancy"] =
      static_cast<double>(f.dir.used_entries()) / static_cast<double>(f.dir.capacity());
  state.counters["bytes_per_entry"] =
      static_cast<double>(f.dir.memory_bytes()) / static_cast<double>(f.dir.used_entries());
}

// The pattern of Engine::ContainsAndTouchMany: prefetch the bucket of the key
// kAhead places on, then look up the current one.
void PrefetchedLookups(benchmark::State& state, bool want_present) {
  Fixture& f = Shared();
  const auto& keys = want_present ? f.present : f.absent;
  const size_t ahead = static_cast<size_t>(state.range(0));
  size_t i = 0;
  uint64_t found = 0;
  for (auto _ : state) {
    size_t j = i + ahead;
    f.dir.Prefetch(keys[j >= keys.size() ? j - keys.size() : j]);
    found += f.dir.Find(keys[i], EntryType::kObject, f.clock).has_value();
    if (++i == keys.size()) i = 0;
  }
  benchmark::DoNotOptimize(found);
  state.SetItemsProcessed(state.iterations());
}

void BM_FindPresent(benchmark::State& state) {
  Lookups(state, true);
}
void BM_FindPresentPrefetched(benchmark::State& state) {
  PrefetchedLookups(state, true);
}
void BM_FindAbsentPrefetched(benchmark::State& state) {
  PrefetchedLookups(state, false);
}
BENCHMARK(BM_FindPresentPrefetched)->Arg(4)->Arg(8)->Arg(16);
BENCHMARK(BM_FindAbsentPrefetched)->Arg(8);
void BM_FindAbsent(benchmark::State& state) {
  Lookups(state, false);
}
BENCHMARK(BM_FindPresent);
BENCHMARK(BM_FindAbsent);

}  // namespace
}  // namespace cycas::engine
