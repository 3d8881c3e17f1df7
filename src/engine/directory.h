// Directory: the in-RAM index of one stripe, modelled on ATS's directory.
//
// Entries live in a flat array split into segments; each segment holds buckets
// of kDepth entries. A bucket's first entry is its chain head; further entries
// of the chain are linked by 16-bit `next` indices, with new entries inserted
// at the head. As in ATS, a chain takes a free row of its own bucket first, so
// most lookups touch one or two adjacent cache lines, and only then an entry
// from the segment's freelist (doubly linked through the free entries
// themselves, so a bucket row can be taken out of it in O(1)). Nothing else is
// allocated per object: memory is 14 bytes per entry (PackedDirEntry), fixed
// at open.
// Dead entries (overwritten by the ring) are removed lazily when a walk meets
// them, by Sweep() at every wrap, and when a segment runs out of free entries.
// Not thread-safe: the owning Stripe serialises access under its lock.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "engine/dir_entry.h"
#include "engine/key.h"
#include "util/huge_page_allocator.h"
#include "util/status.h"

namespace cycas::engine {

struct DirGeometry {
  uint32_t segments = 1;
  uint32_t buckets_per_segment = 1;
  uint64_t entries() const { return uint64_t{segments} * buckets_per_segment * 4; }

  // Chooses a geometry holding about `objects` entries (bucket depth 4).
  static DirGeometry ForObjects(uint64_t objects);
};

class Directory {
 public:
  static constexpr uint32_t kDepth = 4;
  static constexpr uint32_t kMaxSegmentEntries = 65536;

  explicit Directory(DirGeometry geometry);

  // The live entry for (key, type), if any.
  std::optional<DirEntry> Find(const Key& key, EntryType type, const RingClock& clock);
  // Adds an entry, replacing any previous entry for (key, type). When the
  // segment has no free entry, dead entries are reclaimed first; failing that,
  // the oldest entry of the bucket chain is evicted (returns true then).
  bool Insert(const Key& key, DirEntry entry, const RingClock& clock);
  bool Remove(const Key& key, EntryType type, const RingClock& clock);
  // Hints the CPU to load the bucket of `key`. Safe without the owner's lock:
  // the geometry and the array's address never change after construction.
  void Prefetch(const Key& key) const {
    uint32_t segment, head;
    Locate(key, &segment, &head);
    const PackedDirEntry* b = entries_.data() + uint64_t{segment} * SegmentEntries() + head;
    // The bucket and the next one (where chains overflow first): 112 bytes,
    // two or three cache lines.
    const char* p = reinterpret_cast<const char*>(b);
    __builtin_prefetch(p);
    __builtin_prefetch(p + 64);
    __builtin_prefetch(p + 2 * kDepth * sizeof(PackedDirEntry) - 1);
  }
  // Removes every dead entry; returns how many were removed.
  uint64_t Sweep(const RingClock& clock);

  uint64_t used_entries() const { return used_; }
  uint64_t capacity() const { return entries_.size(); }
  const DirGeometry& geometry() const { return geometry_; }
  uint64_t memory_bytes() const {
    return entries_.size() * sizeof(PackedDirEntry) + free_head_.size() * sizeof(uint16_t);
  }

  // Raw entries, for snapshots.
  std::span<const PackedDirEntry> raw() const { return entries_; }
  // Replaces the contents with a snapshot's entries after checking that every
  // chain is well formed (indices in range, no entry in two chains, no cycles).
  Status Load(std::span<const PackedDirEntry> entries);

  static uint64_t TagOf(const Key& key) { return key.TagBits() & kTagMask; }

 private:
  uint32_t SegmentEntries() const { return geometry_.buckets_per_segment * kDepth; }
  PackedDirEntry* Segment(uint32_t s) { return entries_.data() + uint64_t{s} * SegmentEntries(); }
  void Locate(const Key& key, uint32_t* segment, uint32_t* head) const;
  // Walks the chain at `head` removing entries for which drop(entry) is true.
  template <typename Pred>
  uint64_t Purge(PackedDirEntry* seg, uint32_t segment, uint32_t head, Pred drop);
  void FreePush(PackedDirEntry* seg, uint32_t segment, uint32_t index);
  // Takes entry `index` (which must be free) out of the freelist.
  void FreeUnlink(PackedDirEntry* seg, uint32_t segment, uint32_t index);
  // A free entry for the chain at `head`: a row of its own bucket if one is
  // free, else of the next bucket, else the freelist's first; 0 if the
  // segment has none.
  uint32_t TakeFree(PackedDirEntry* seg, uint32_t segment, uint32_t head);
  uint64_t SweepSegment(uint32_t segment, const RingClock& clock);
  void RebuildFreelists();

  DirGeometry geometry_;
  std::vector<PackedDirEntry, HugePageAllocator<PackedDirEntry>> entries_;
  std::vector<uint16_t> free_head_;  // per segment; 0 = empty (index 0 is always a head)
  uint64_t used_ = 0;
};

}  // namespace cycas::engine
