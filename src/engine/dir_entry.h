// DirEntry: one directory entry as the engine's code handles it (decoded, 16
// bytes, exact Doc length); PackedDirEntry: the 14 bytes the directory keeps in
// RAM and in snapshots; and RingClock, which decides whether the bytes an entry
// points at are still in the ring or already overwritten.
#pragma once

#include <cstdint>
#include <cstring>

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
  uint64_t cycle : 4;  // low bits of the ring cycle the Doc was written in
  uint64_t type : 2;   // EntryType
  uint64_t multi : 1;  // kObject that is the header of a multi-fragment object
  uint64_t used : 1;
  uint64_t sectors_hi : 12;
  // word 1
  uint64_t offset : 32;  // Doc position in 512-byte sectors from the ring start
  uint64_t next : 16;    // index of the next entry of the bucket chain in the segment; 0 = end
  uint64_t sectors_lo : 16;

  uint32_t sectors() const { return static_cast<uint32_t>(sectors_hi << 16 | sectors_lo); }
  void set_sectors(uint32_t s) {
    sectors_hi = s >> 16;
    sectors_lo = s & 0xffff;
  }
};
static_assert(sizeof(DirEntry) == 16, "a decoded directory entry is two words");

inline constexpr uint32_t kMaxDocSectors = (1u << 28) - 1;

// A Doc's length in the packed entry is approximate, as in ATS: 2 bits of scale
// and 10 of mantissa, rounded up, in units of 1, 8, 64 or 512 sectors. Up to
// 512 KiB it is exact; above, it overshoots by less than 1/128 of the length
// (at most one 4 KiB block for the default 1 MiB fragments, and reads are
// whole blocks anyway). The reader reads that much and the Doc's own header
// gives the exact length. The largest encodable Doc is 256 MiB, which bounds
// the aggregation buffer.
inline constexpr uint32_t kMaxApproxSectors = 1024u << 9;

inline uint32_t EncodeApproxSectors(uint32_t sectors) {
  for (uint32_t scale = 0; scale < 4; scale++) {
    uint32_t unit_shift = 3 * scale;
    uint32_t units = (sectors + (1u << unit_shift) - 1) >> unit_shift;
    if (units <= 1024) return scale << 10 | (units == 0 ? 0 : units - 1);
  }
  return 0xfff;  // callers keep Docs at or below kMaxApproxSectors
}
inline uint32_t DecodeApproxSectors(uint32_t code) {
  return ((code & 1023) + 1) << (3 * (code >> 10 & 3));
}

// 14 bytes, no padding: the RAM cost of an object is this divided by the
// directory's occupancy (0.9 by default, so 15.6 B). Layout, little-endian:
//   bytes 0-7   tag:44 cycle:4 type:2 multi:1 used:1 approx_sectors:12
//   bytes 8-11  offset in sectors (a free entry keeps its freelist `prev` here)
//   bytes 12-13 next
// Fields are read with memcpy: entries are not aligned, which x86 and ARM
// load without penalty when the access does not cross a cache line.
class PackedDirEntry {
 public:
  static PackedDirEntry Pack(const DirEntry& e) {
    PackedDirEntry p;
    uint64_t w0 = (e.tag & kTagMask) | uint64_t{e.cycle} << 44 | uint64_t{e.type} << 48 |
                  uint64_t{e.multi} << 50 | uint64_t{e.used} << 51 |
                  uint64_t{EncodeApproxSectors(e.sectors())} << 52;
    p.set_w0(w0);
    p.set_offset(static_cast<uint32_t>(e.offset));
    p.set_next(static_cast<uint16_t>(e.next));
    return p;
  }
  DirEntry Unpack() const {
    uint64_t w0 = this->w0();
    DirEntry e{};
    e.tag = w0 & kTagMask;
    e.cycle = w0 >> 44 & 15;
    e.type = w0 >> 48 & 3;
    e.multi = w0 >> 50 & 1;
    e.used = w0 >> 51 & 1;
    e.set_sectors(DecodeApproxSectors(static_cast<uint32_t>(w0 >> 52)));
    e.offset = offset();
    e.next = next();
    return e;
  }

  uint64_t tag() const { return w0() & kTagMask; }
  uint32_t cycle() const { return static_cast<uint32_t>(w0() >> 44 & 15); }
  uint32_t type() const { return static_cast<uint32_t>(w0() >> 48 & 3); }
  bool used() const { return (w0() >> 51 & 1) != 0; }
  uint32_t offset() const {
    uint32_t v;
    std::memcpy(&v, b_ + 8, 4);
    return v;
  }
  uint32_t next() const {
    uint16_t v;
    std::memcpy(&v, b_ + 12, 2);
    return v;
  }
  void set_next(uint32_t n) {
    uint16_t v = static_cast<uint16_t>(n);
    std::memcpy(b_ + 12, &v, 2);
  }
  // Freelist links of a free entry: `prev` reuses the offset field.
  uint32_t prev() const { return offset(); }
  void set_prev(uint32_t p) { set_offset(p); }

 private:
  uint64_t w0() const {
    uint64_t v;
    std::memcpy(&v, b_, 8);
    return v;
  }
  void set_w0(uint64_t v) { std::memcpy(b_, &v, 8); }
  void set_offset(uint32_t v) { std::memcpy(b_ + 8, &v, 4); }

  uint8_t b_[14] = {};
};
static_assert(sizeof(PackedDirEntry) == 14, "a packed directory entry must stay 14 bytes");

// Where the writer is in the ring. Data written in the current cycle is live
// below the cursor; data of the previous cycle is live at or above evict_end
// (the end of the region being, or about to be, overwritten). Everything else
// has been overwritten. Entries keep only 4 cycle bits, so the directory is swept
// of dead entries at every wrap to keep old cycles from aliasing.
struct RingClock {
  uint64_t cycle = 1;
  uint32_t cursor = 0;
  uint32_t evict_end = 0;

  bool IsLive(const DirEntry& e) const { return e.used && IsLive(e.cycle, e.offset); }
  bool IsLive(const PackedDirEntry& e) const { return e.used() && IsLive(e.cycle(), e.offset()); }
  bool IsLive(uint64_t entry_cycle, uint32_t offset) const {
    if (entry_cycle == (cycle & kCycleMask)) return offset < cursor;
    if (entry_cycle == ((cycle - 1) & kCycleMask)) return offset >= evict_end;
    return false;
  }
  // Sectors until the writer overwrites `offset` (of a live entry).
  uint64_t DistanceAhead(uint32_t offset, uint32_t ring_sectors) const {
    return offset >= cursor ? offset - cursor : uint64_t{ring_sectors} - cursor + offset;
  }
};

}  // namespace cycas::engine
