// DirEntry: one 16-byte directory entry, and RingClock, which decides whether
// the bytes an entry points at are still in the ring or already overwritten.
#pragma once

#include <cstdint>

namespace cycas::engine {

enum class EntryType : uint8_t {
  kObject = 0,    // a single-Doc object, or the header Doc of a multi-fragment object
  kFragment = 1,  // fragment 0 of a multi-fragment object (kept to prove the object is whole)
  kRecord = 2,    // a mutable record (action cache entry, alternates vector)
};

// 44 tag bits: with at most a few entries compared per lookup, the chance that an
// absent key matches a stored tag is below 4 * 2^-44 ~ 2.3e-13 per lookup. A match
// is then confirmed against the full key stored in the Doc on every read.
inline constexpr uint64_t kTagBits = 44;
inline constexpr uint64_t kTagMask = (uint64_t{1} << kTagBits) - 1;
inline constexpr uint64_t kCycleMask = 15;

struct DirEntry {
  // word 0
  uint64_t tag : 44;
  uint64_t cycle : 4;       // low bits of the ring cycle the Doc was written in
  uint64_t type : 2;        // EntryType
  uint64_t multi : 1;       // kObject that is the header of a multi-fragment object
  uint64_t used : 1;
  uint64_t sectors_hi : 12;
  // word 1
  uint64_t offset : 32;     // Doc position in 512-byte sectors from the ring start
  uint64_t next : 16;       // index of the next entry of the bucket chain in the segment; 0 = end
  uint64_t sectors_lo : 16;

  uint32_t sectors() const { return static_cast<uint32_t>(sectors_hi << 16 | sectors_lo); }
  void set_sectors(uint32_t s) {
    sectors_hi = s >> 16;
    sectors_lo = s & 0xffff;
  }
};
static_assert(sizeof(DirEntry) == 16, "a directory entry must stay 16 bytes");

inline constexpr uint32_t kMaxDocSectors = (1u << 28) - 1;

// Where the writer is in the ring. Data written in the current cycle is live
// below the cursor; data of the previous cycle is live at or above evict_end
// (the end of the region being, or about to be, overwritten). Everything else
// has been overwritten. Entries keep only 4 cycle bits, so the directory is swept
// of dead entries at every wrap to keep old cycles from aliasing.
struct RingClock {
  uint64_t cycle = 1;
  uint32_t cursor = 0;
  uint32_t evict_end = 0;

  bool IsLive(const DirEntry& e) const {
    if (!e.used) return false;
    if (e.cycle == (cycle & kCycleMask)) return e.offset < cursor;
    if (e.cycle == ((cycle - 1) & kCycleMask)) return e.offset >= evict_end;
    return false;
  }
  // Sectors until the writer overwrites `offset` (of a live entry).
  uint64_t DistanceAhead(uint32_t offset, uint32_t ring_sectors) const {
    return offset >= cursor ? offset - cursor : uint64_t{ring_sectors} - cursor + offset;
  }
};

}  // namespace cycas::engine
