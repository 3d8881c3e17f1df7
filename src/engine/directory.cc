#include "engine/directory.h"

#include <algorithm>
#include <cstring>

namespace cycas::engine {

DirGeometry DirGeometry::ForObjects(uint64_t objects) {
  uint64_t buckets = std::max<uint64_t>(1, (objects + Directory::kDepth - 1) / Directory::kDepth);
  uint64_t per_segment_max = Directory::kMaxSegmentEntries / Directory::kDepth;
  DirGeometry g;
  g.segments = static_cast<uint32_t>((buckets + per_segment_max - 1) / per_segment_max);
  g.buckets_per_segment = static_cast<uint32_t>((buckets + g.segments - 1) / g.segments);
  return g;
}

Directory::Directory(DirGeometry geometry)
    : geometry_(geometry), entries_(geometry.entries()), free_head_(geometry.segments, 0) {
  RebuildFreelists();
}

void Directory::Locate(const Key& key, uint32_t* segment, uint32_t* head) const {
  // Multiply-shift instead of division: the hash is uniform, so its product
  // with the segment count splits into a segment (high word) and a fraction
  // (low word) that picks the bucket within it the same way.
  using u128 = unsigned __int128;
  u128 seg_product = static_cast<u128>(key.BucketHash()) * geometry_.segments;
  uint64_t fraction = static_cast<uint64_t>(seg_product);
  *segment = static_cast<uint32_t>(seg_product >> 64);
  *head =
      static_cast<uint32_t>((static_cast<u128>(fraction) * geometry_.buckets_per_segment) >> 64) *
      kDepth;
}

void Directory::FreePush(PackedDirEntry* seg, uint32_t segment, uint32_t index) {
  uint32_t first = free_head_[segment];
  seg[index] = PackedDirEntry{};
  seg[index].set_next(first);
  seg[index].set_prev(0);  // index 0 is a bucket head, never free: it serves as "none"
  if (first != 0) seg[first].set_prev(index);
  free_head_[segment] = static_cast<uint16_t>(index);
}

void Directory::FreeUnlink(PackedDirEntry* seg, uint32_t segment, uint32_t index) {
  uint32_t prev = seg[index].prev(), next = seg[index].next();
  if (prev != 0) {
    seg[prev].set_next(next);
  } else {
    free_head_[segment] = static_cast<uint16_t>(next);
  }
  if (next != 0) seg[next].set_prev(prev);
  seg[index] = PackedDirEntry{};
}

uint32_t Directory::TakeFree(PackedDirEntry* seg, uint32_t segment, uint32_t head) {
  // Own rows first, then the next bucket's (the adjacent cache line, which a
  // lookup prefetches too), then anywhere in the segment.
  const uint32_t last = std::min(head + 2 * kDepth, SegmentEntries());
  for (uint32_t i = head + 1; i < last; i++) {
    if (i % kDepth != 0 && !seg[i].used()) {
      FreeUnlink(seg, segment, i);
      return i;
    }
  }
  uint32_t i = free_head_[segment];
  if (i != 0) FreeUnlink(seg, segment, i);
  return i;
}

template <typename Pred>
uint64_t Directory::Purge(PackedDirEntry* seg, uint32_t segment, uint32_t head, Pred drop) {
  uint64_t removed = 0;
  // The head is stored in place: removing it pulls its successor into the slot.
  while (seg[head].used() && drop(seg[head])) {
    removed++;
    uint32_t n = seg[head].next();
    if (n == 0) {
      seg[head] = PackedDirEntry{};
      break;
    }
    seg[head] = seg[n];
    FreePush(seg, segment, n);
  }
  if (!seg[head].used()) {
    used_ -= removed;
    return removed;
  }
  uint32_t prev = head;
  uint32_t cur = seg[head].next();
  while (cur != 0) {
    uint32_t next = seg[cur].next();
    if (drop(seg[cur])) {
      seg[prev].set_next(next);
      FreePush(seg, segment, cur);
      removed++;
    } else {
      prev = cur;
    }
    cur = next;
  }
  used_ -= removed;
  return removed;
}

std::optional<DirEntry> Directory::Find(const Key& key, EntryType type, const RingClock& clock) {
  uint32_t segment, head;
  Locate(key, &segment, &head);
  PackedDirEntry* seg = Segment(segment);
  // Ask for the lines after the head's now, so that chain entries in them
  // (the bucket's tail, the next bucket) arrive with the head's miss rather
  // than after it.
  const char* line = reinterpret_cast<const char*>(seg + head);
  __builtin_prefetch(line + 64);
  __builtin_prefetch(line + 2 * kDepth * sizeof(PackedDirEntry) - 1);
  if (!seg[head].used()) return std::nullopt;
  const uint64_t tag = TagOf(key);
  const uint32_t want = static_cast<uint32_t>(type);
  bool saw_dead = false;
  std::optional<DirEntry> found;
  for (uint32_t i = head;;) {
    const PackedDirEntry& e = seg[i];
    if (!clock.IsLive(e)) {
      saw_dead = true;
    } else if (e.tag() == tag && e.type() == want) {
      found = e.Unpack();
      break;
    }
    i = e.next();
    if (i == 0) break;
  }
  if (saw_dead) {
    Purge(seg, segment, head, [&](const PackedDirEntry& e) { return !clock.IsLive(e); });
  }
  return found;
}

bool Directory::Insert(const Key& key, DirEntry entry, const RingClock& clock) {
  uint32_t segment, head;
  Locate(key, &segment, &head);
  PackedDirEntry* seg = Segment(segment);
  const uint64_t tag = TagOf(key);
  const uint32_t type = static_cast<uint32_t>(entry.type);
  entry.tag = tag;
  entry.used = 1;
  entry.next = 0;
  Purge(seg, segment, head, [&](const PackedDirEntry& e) {
    return !clock.IsLive(e) || (e.tag() == tag && e.type() == type);
  });
  if (!seg[head].used()) {
    seg[head] = PackedDirEntry::Pack(entry);
    used_++;
    return false;
  }
  bool evicted = false;
  uint32_t slot = TakeFree(seg, segment, head);
  if (slot == 0 && SweepSegment(segment, clock) > 0) slot = TakeFree(seg, segment, head);
  if (slot == 0) {
    // Full segment of live entries: drop the oldest entry of this chain (the
    // tail, since insertion is at the head). A lone head is simply replaced.
    evicted = true;
    uint32_t prev = head, cur = seg[head].next();
    if (cur == 0) {
      seg[head] = PackedDirEntry::Pack(entry);
      return true;
    }
    while (seg[cur].next() != 0) {
      prev = cur;
      cur = seg[cur].next();
    }
    seg[prev].set_next(0);
    slot = cur;
    used_--;
  }
  // Head insertion: the old head moves to the free slot, the new entry takes the head.
  seg[slot] = seg[head];
  entry.next = slot;
  seg[head] = PackedDirEntry::Pack(entry);
  used_++;
  return evicted;
}

bool Directory::Remove(const Key& key, EntryType type, const RingClock& clock) {
  uint32_t segment, head;
  Locate(key, &segment, &head);
  uint64_t tag = TagOf(key);
  const uint32_t want = static_cast<uint32_t>(type);
  return Purge(Segment(segment), segment, head,
               [&](const PackedDirEntry& e) { return e.tag() == tag && e.type() == want; }) > 0;
}

uint64_t Directory::SweepSegment(uint32_t segment, const RingClock& clock) {
  PackedDirEntry* seg = Segment(segment);
  uint64_t removed = 0;
  for (uint32_t b = 0; b < geometry_.buckets_per_segment; b++) {
    removed +=
        Purge(seg, segment, b * kDepth, [&](const PackedDirEntry& e) { return !clock.IsLive(e); });
  }
  return removed;
}

uint64_t Directory::Sweep(const RingClock& clock) {
  uint64_t removed = 0;
  for (uint32_t s = 0; s < geometry_.segments; s++) removed += SweepSegment(s, clock);
  return removed;
}

void Directory::RebuildFreelists() {
  used_ = 0;
  uint32_t n = SegmentEntries();
  for (uint32_t s = 0; s < geometry_.segments; s++) {
    PackedDirEntry* seg = Segment(s);
    free_head_[s] = 0;
    // Push in reverse so low indices are handed out first when a chain
    // outgrows its bucket.
    for (uint32_t i = n; i-- > 0;) {
      if (seg[i].used()) {
        used_++;
      } else if (i % kDepth != 0) {
        FreePush(seg, s, i);
      }
    }
  }
}

Status Directory::Load(std::span<const PackedDirEntry> entries) {
  if (entries.size() != entries_.size()) {
    return Status::DataLoss("directory snapshot has " + std::to_string(entries.size()) +
                            " entries, expected " + std::to_string(entries_.size()));
  }
  uint32_t n = SegmentEntries();
  std::vector<uint8_t> seen(n);
  for (uint32_t s = 0; s < geometry_.segments; s++) {
    const PackedDirEntry* seg = entries.data() + uint64_t{s} * n;
    std::fill(seen.begin(), seen.end(), 0);
    for (uint32_t b = 0; b < geometry_.buckets_per_segment; b++) {
      uint32_t head = b * kDepth;
      if (!seg[head].used()) {
        if (seg[head].next() != 0) return Status::DataLoss("directory: empty head with a chain");
        continue;
      }
      for (uint32_t i = seg[head].next(); i != 0; i = seg[i].next()) {
        if (i >= n || i % kDepth == 0 || seen[i] || !seg[i].used()) {
          return Status::DataLoss("directory: malformed chain in segment " + std::to_string(s));
        }
        seen[i] = 1;
      }
    }
    for (uint32_t i = 0; i < n; i++) {
      if (i % kDepth != 0 && seg[i].used() && !seen[i]) {
        return Status::DataLoss("directory: unreachable entry in segment " + std::to_string(s));
      }
    }
  }
  std::memcpy(entries_.data(), entries.data(), entries.size_bytes());
  // Free entries' links are not trusted from disk: rebuild them.
  for (auto& e : entries_) {
    if (!e.used()) e = PackedDirEntry{};
  }
  RebuildFreelists();
  return Status::Ok();
}

}  // namespace cycas::engine
