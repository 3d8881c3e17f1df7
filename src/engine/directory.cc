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
  uint64_t buckets = uint64_t{geometry_.segments} * geometry_.buckets_per_segment;
  uint64_t b = key.BucketHash() % buckets;
  *segment = static_cast<uint32_t>(b / geometry_.buckets_per_segment);
  *head = static_cast<uint32_t>(b % geometry_.buckets_per_segment) * kDepth;
}

void Directory::FreePush(DirEntry* seg, uint32_t segment, uint32_t index) {
  seg[index] = DirEntry{};
  seg[index].next = free_head_[segment];
  free_head_[segment] = static_cast<uint16_t>(index);
}

uint32_t Directory::FreePop(DirEntry* seg, uint32_t segment) {
  uint32_t i = free_head_[segment];
  if (i != 0) {
    free_head_[segment] = static_cast<uint16_t>(seg[i].next);
    seg[i].next = 0;
  }
  return i;
}

template <typename Pred>
uint64_t Directory::Purge(DirEntry* seg, uint32_t segment, uint32_t head, Pred drop) {
  uint64_t removed = 0;
  // The head is stored in place: removing it pulls its successor into the slot.
  while (seg[head].used && drop(seg[head])) {
    removed++;
    uint32_t n = seg[head].next;
    if (n == 0) {
      seg[head] = DirEntry{};
      break;
    }
    seg[head] = seg[n];
    FreePush(seg, segment, n);
  }
  if (!seg[head].used) {
    used_ -= removed;
    return removed;
  }
  uint32_t prev = head;
  uint32_t cur = seg[head].next;
  while (cur != 0) {
    uint32_t next = seg[cur].next;
    if (drop(seg[cur])) {
      seg[prev].next = next;
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
  DirEntry* seg = Segment(segment);
  uint64_t tag = TagOf(key);
  bool saw_dead = false;
  std::optional<DirEntry> found;
  for (uint32_t i = head; seg[head].used;) {
    const DirEntry& e = seg[i];
    if (!clock.IsLive(e)) {
      saw_dead = true;
    } else if (e.tag == tag && e.type == static_cast<uint64_t>(type)) {
      found = e;
      break;
    }
    i = e.next;
    if (i == 0) break;
  }
  if (saw_dead) Purge(seg, segment, head, [&](const DirEntry& e) { return !clock.IsLive(e); });
  return found;
}

bool Directory::Insert(const Key& key, DirEntry entry, const RingClock& clock) {
  uint32_t segment, head;
  Locate(key, &segment, &head);
  DirEntry* seg = Segment(segment);
  uint64_t tag = TagOf(key);
  entry.tag = tag;
  entry.used = 1;
  entry.next = 0;
  Purge(seg, segment, head, [&](const DirEntry& e) {
    return !clock.IsLive(e) || (e.tag == tag && e.type == entry.type);
  });
  if (!seg[head].used) {
    seg[head] = entry;
    used_++;
    return false;
  }
  bool evicted = false;
  uint32_t slot = FreePop(seg, segment);
  if (slot == 0 && SweepSegment(segment, clock) > 0) slot = FreePop(seg, segment);
  if (slot == 0) {
    // Full segment of live entries: drop the oldest entry of this chain (the
    // tail, since insertion is at the head). A lone head is simply replaced.
    evicted = true;
    uint32_t prev = head, cur = seg[head].next;
    if (cur == 0) {
      seg[head] = entry;
      return true;
    }
    while (seg[cur].next != 0) {
      prev = cur;
      cur = seg[cur].next;
    }
    seg[prev].next = 0;
    slot = cur;
    used_--;
  }
  seg[slot] = seg[head];
  entry.next = slot;
  seg[head] = entry;
  used_++;
  return evicted;
}

bool Directory::Remove(const Key& key, EntryType type, const RingClock& clock) {
  uint32_t segment, head;
  Locate(key, &segment, &head);
  uint64_t tag = TagOf(key);
  return Purge(Segment(segment), segment, head, [&](const DirEntry& e) {
           return e.tag == tag && e.type == static_cast<uint64_t>(type);
         }) > 0;
}

uint64_t Directory::SweepSegment(uint32_t segment, const RingClock& clock) {
  DirEntry* seg = Segment(segment);
  uint64_t removed = 0;
  for (uint32_t b = 0; b < geometry_.buckets_per_segment; b++) {
    removed += Purge(seg, segment, b * kDepth, [&](const DirEntry& e) { return !clock.IsLive(e); });
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
    DirEntry* seg = Segment(s);
    free_head_[s] = 0;
    // Push in reverse so low indices (near their buckets) are handed out first.
    for (uint32_t i = n; i-- > 0;) {
      if (seg[i].used) {
        used_++;
      } else if (i % kDepth != 0) {
        FreePush(seg, s, i);
      }
    }
  }
}

Status Directory::Load(std::span<const DirEntry> entries) {
  if (entries.size() != entries_.size()) {
    return Status::DataLoss("directory snapshot has " + std::to_string(entries.size()) +
                            " entries, expected " + std::to_string(entries_.size()));
  }
  uint32_t n = SegmentEntries();
  std::vector<uint8_t> seen(n);
  for (uint32_t s = 0; s < geometry_.segments; s++) {
    const DirEntry* seg = entries.data() + uint64_t{s} * n;
    std::fill(seen.begin(), seen.end(), 0);
    for (uint32_t b = 0; b < geometry_.buckets_per_segment; b++) {
      uint32_t head = b * kDepth;
      if (!seg[head].used) {
        if (seg[head].next != 0) return Status::DataLoss("directory: empty head with a chain");
        continue;
      }
      for (uint32_t i = seg[head].next; i != 0; i = seg[i].next) {
        if (i >= n || i % kDepth == 0 || seen[i] || !seg[i].used) {
          return Status::DataLoss("directory: malformed chain in segment " + std::to_string(s));
        }
        seen[i] = 1;
      }
    }
    for (uint32_t i = 0; i < n; i++) {
      if (i % kDepth != 0 && seg[i].used && !seen[i]) {
        return Status::DataLoss("directory: unreachable entry in segment " + std::to_string(s));
      }
    }
  }
  std::memcpy(entries_.data(), entries.data(), entries.size_bytes());
  // Free entries' links are not trusted from disk: rebuild them.
  for (auto& e : entries_) {
    if (!e.used) e = DirEntry{};
  }
  RebuildFreelists();
  return Status::Ok();
}

}  // namespace cycas::engine
