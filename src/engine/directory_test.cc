#include "engine/directory.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace cycas::engine {
namespace {

Key RandomKey(std::mt19937_64& rng) {
  Key k;
  for (int i = 0; i < 4; i++) {
    uint64_t w = rng();
    std::memcpy(k.bytes.data() + 8 * i, &w, 8);
  }
  return k;
}

DirEntry At(uint32_t offset, uint64_t cycle = 1) {
  DirEntry e{};
  e.used = 1;
  e.offset = offset;
  e.cycle = cycle & kCycleMask;
  e.set_sectors(1);
  e.type = static_cast<uint64_t>(EntryType::kObject);
  return e;
}

TEST(DirectoryTest, PackedEntryIsFourteenBytes) {
  EXPECT_EQ(sizeof(PackedDirEntry), 14u);
}

TEST(DirectoryTest, PackRoundTripsEveryFieldAndRoundsLengthUp) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 100000; i++) {
    DirEntry e{};
    e.tag = rng() & kTagMask;
    e.cycle = rng() & kCycleMask;
    e.type = rng() % 3;
    e.multi = rng() & 1;
    e.used = rng() & 1;
    e.offset = static_cast<uint32_t>(rng());
    e.next = rng() & 0xffff;
    uint32_t sectors = i < 5000 ? static_cast<uint32_t>(i + 1)
                                : 1 + static_cast<uint32_t>(rng() % kMaxApproxSectors);
    e.set_sectors(sectors);
    DirEntry d = PackedDirEntry::Pack(e).Unpack();
    EXPECT_EQ(d.tag, e.tag);
    EXPECT_EQ(d.cycle, e.cycle);
    EXPECT_EQ(d.type, e.type);
    EXPECT_EQ(d.multi, e.multi);
    EXPECT_EQ(d.used, e.used);
    EXPECT_EQ(d.offset, e.offset);
    EXPECT_EQ(d.next, e.next);
    // Never short (the reader would cut the Doc), exact up to 1024 sectors,
    // and less than 1/128 over above that.
    ASSERT_GE(d.sectors(), sectors) << sectors;
    if (sectors <= 1024) {
      EXPECT_EQ(d.sectors(), sectors);
    }
    EXPECT_LE(d.sectors() - sectors, std::max<uint32_t>(sectors / 128, 7)) << sectors;
  }
  DirEntry e{};
  e.set_sectors(kMaxApproxSectors);
  EXPECT_EQ(PackedDirEntry::Pack(e).Unpack().sectors(), kMaxApproxSectors);
}

TEST(DirectoryTest, InsertFindRemove) {
  Directory d(DirGeometry::ForObjects(1000));
  RingClock clock{1, 1000, 1000};
  std::mt19937_64 rng(1);
  std::vector<Key> keys;
  for (uint32_t i = 0; i < 500; i++) {
    keys.push_back(RandomKey(rng));
    EXPECT_FALSE(d.Insert(keys.back(), At(i), clock));
  }
  for (uint32_t i = 0; i < 500; i++) {
    auto e = d.Find(keys[i], EntryType::kObject, clock);
    ASSERT_TRUE(e.has_value()) << i;
    EXPECT_EQ(e->offset, i);
  }
  EXPECT_FALSE(d.Find(keys[0], EntryType::kRecord, clock).has_value());
  EXPECT_TRUE(d.Remove(keys[7], EntryType::kObject, clock));
  EXPECT_FALSE(d.Find(keys[7], EntryType::kObject, clock).has_value());
  EXPECT_EQ(d.used_entries(), 499u);
  for (int i = 0; i < 1000; i++) EXPECT_FALSE(d.Find(RandomKey(rng), EntryType::kObject, clock));
}

TEST(DirectoryTest, ReinsertReplacesInsteadOfDuplicating) {
  Directory d(DirGeometry::ForObjects(64));
  RingClock clock{1, 1000, 1000};
  std::mt19937_64 rng(2);
  Key k = RandomKey(rng);
  d.Insert(k, At(5), clock);
  d.Insert(k, At(9), clock);
  EXPECT_EQ(d.used_entries(), 1u);
  EXPECT_EQ(d.Find(k, EntryType::kObject, clock)->offset, 9u);
}

TEST(DirectoryTest, OverwrittenEntriesAreDead) {
  Directory d(DirGeometry::ForObjects(64));
  std::mt19937_64 rng(3);
  Key a = RandomKey(rng), b = RandomKey(rng);
  RingClock clock{1, 100, 100};
  d.Insert(a, At(10, 1), clock);
  d.Insert(b, At(90, 1), clock);
  // The writer wrapped and is now overwriting sectors [0, 50) in cycle 2.
  RingClock later{2, 0, 50};
  EXPECT_FALSE(d.Find(a, EntryType::kObject, later).has_value());
  EXPECT_TRUE(d.Find(b, EntryType::kObject, later).has_value());
  // One more cycle: everything from cycle 1 is gone.
  RingClock much_later{3, 0, 0};
  EXPECT_EQ(d.Sweep(much_later), 1u);
  EXPECT_EQ(d.used_entries(), 0u);
}

TEST(DirectoryTest, FullSegmentEvictsRatherThanFails) {
  Directory d(DirGeometry::ForObjects(16));
  RingClock clock{1, 1u << 30, 1u << 30};
  std::mt19937_64 rng(4);
  uint64_t evictions = 0;
  for (uint32_t i = 0; i < 1000; i++) evictions += d.Insert(RandomKey(rng), At(i), clock);
  EXPECT_GT(evictions, 0u);
  EXPECT_LE(d.used_entries(), d.capacity());
}

TEST(DirectoryTest, LoadRejectsMalformedChains) {
  Directory d(DirGeometry::ForObjects(64));
  RingClock clock{1, 1000, 1000};
  std::mt19937_64 rng(5);
  for (uint32_t i = 0; i < 40; i++) d.Insert(RandomKey(rng), At(i), clock);
  std::vector<PackedDirEntry> raw(d.raw().begin(), d.raw().end());
  Directory ok(d.geometry());
  EXPECT_TRUE(ok.Load(raw).ok());
  EXPECT_EQ(ok.used_entries(), d.used_entries());

  // Point a chain at a bucket head: must be refused, not followed.
  for (auto& e : raw) {
    if (e.used() && e.next() != 0) {
      e.set_next(4);
      break;
    }
  }
  Directory bad(d.geometry());
  EXPECT_FALSE(bad.Load(raw).ok());
}

// Long random sequences of inserts, reinserts, removals and ring progress
// against a reference map; after every step the raw entries must be a
// loadable snapshot (well-formed chains, a consistent freelist).
TEST(DirectoryTest, RandomOperationsMatchAReferenceModel) {
  Directory d(DirGeometry::ForObjects(4096));
  std::mt19937_64 rng(12);
  // Fewer keys than entries: nothing is ever evicted for want of room, so
  // every absence must be explained by the ring.
  std::vector<Key> keys(3000);
  for (auto& k : keys) k = RandomKey(rng);
  std::map<size_t, DirEntry> model;  // key index -> its newest entry
  RingClock clock{1, 0, 64};
  const uint32_t ring = 1u << 16;
  uint64_t evictions = 0;
  for (int step = 0; step < 300000; step++) {
    size_t k = rng() % keys.size();
    switch (rng() % 8) {
      case 0:
      case 1:
      case 2: {
        // A write at the cursor; the writer has reserved the 64 sectors ahead.
        DirEntry e = At(clock.cursor, clock.cycle);
        if (++clock.cursor == ring) clock = RingClock{clock.cycle + 1, 0, 0};
        clock.evict_end = std::min(ring, clock.cursor + 64);
        if (clock.cursor == 0) d.Sweep(clock);
        if (d.Insert(keys[k], e, clock)) evictions++;
        model[k] = e;
        break;
      }
      case 3:
        d.Remove(keys[k], EntryType::kObject, clock);
        model.erase(k);
        break;
      default: {
        auto f = d.Find(keys[k], EntryType::kObject, clock);
        auto m = model.find(k);
        if (f) {
          // Never a removed key, never a stale location.
          ASSERT_NE(m, model.end()) << step;
          EXPECT_EQ(f->offset, m->second.offset) << step;
          EXPECT_EQ(f->cycle, m->second.cycle) << step;
        } else if (m != model.end()) {
          EXPECT_FALSE(clock.IsLive(m->second)) << step;
          model.erase(m);
        }
      }
    }
    if (step % 5000 == 0) {
      Directory again(d.geometry());
      ASSERT_TRUE(again.Load(d.raw()).ok()) << step;
      EXPECT_EQ(again.used_entries(), d.used_entries());
    }
  }
  EXPECT_EQ(evictions, 0u);
  EXPECT_GT(clock.cycle, 1u);
}

// Chains use their own bucket's rows before the segment freelist, so a
// lookup in a directory at normal occupancy touches one or two cache lines.
TEST(DirectoryTest, ChainsStayInTheirBucketWhenItHasRoom) {
  Directory d(DirGeometry::ForObjects(40000));
  RingClock clock{1, 1u << 30, 1u << 30};
  std::mt19937_64 rng(13);
  for (uint32_t i = 0; i < 36000; i++) d.Insert(RandomKey(rng), At(i), clock);
  auto raw = d.raw();
  const uint32_t n = d.geometry().buckets_per_segment * Directory::kDepth;
  uint64_t chained = 0, local = 0;
  for (uint64_t s = 0; s < d.geometry().segments; s++) {
    for (uint32_t head = 0; head < n; head += Directory::kDepth) {
      const PackedDirEntry& h = raw[s * n + head];
      if (!h.used()) continue;
      for (uint32_t i = h.next(); i != 0; i = raw[s * n + i].next()) {
        chained++;
        if (i > head && i < head + Directory::kDepth) local++;
      }
    }
  }
  ASSERT_GT(chained, 10000u);
  // At 90 % occupancy most chains fit their 4 rows; the rest overflow.
  EXPECT_GT(static_cast<double>(local) / static_cast<double>(chained), 0.6);
}

}  // namespace
}  // namespace cycas::engine
