#include "engine/directory.h"

#include <gtest/gtest.h>

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
  e.offset = offset;
  e.cycle = cycle & kCycleMask;
  e.set_sectors(1);
  e.type = static_cast<uint64_t>(EntryType::kObject);
  return e;
}

TEST(DirectoryTest, EntryIsSixteenBytes) { EXPECT_EQ(sizeof(DirEntry), 16u); }

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
  std::vector<DirEntry> raw(d.raw().begin(), d.raw().end());
  Directory ok(d.geometry());
  EXPECT_TRUE(ok.Load(raw).ok());
  EXPECT_EQ(ok.used_entries(), d.used_entries());

  // Point a chain at a bucket head: must be refused, not followed.
  for (auto& e : raw) {
    if (e.used && e.next != 0) {
      e.next = 4;
      break;
    }
  }
  Directory bad(d.geometry());
  EXPECT_FALSE(bad.Load(raw).ok());
}

}  // namespace
}  // namespace cycas::engine
