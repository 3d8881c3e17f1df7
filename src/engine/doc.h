// Doc: the header in front of every record in a stripe's content ring.
//
// Layout (little-endian, 128 bytes; see docs/disk-format.md):
//   0  u32 magic "CYDC"        4  u16 version       6 u8 type     7 u8 flags
//   8  u32 header_len         12  u32 data_len
//  16  u64 total_len          24  u64 serial (generation << 40 | counter)
//  32  u64 cycle              40  u64 checksum (XXH3-64 of header with this field 0, then data)
//  48  first_key[32]          80  key[32]        112 reserved[16] (zero)
// A Doc occupies round_up(header_len + data_len, 512) bytes on disk.
// Everything read back is validated before use; any mismatch means "not here".
#pragma once

#include <cstdint>
#include <span>

#include "engine/key.h"
#include "util/status.h"

namespace cycas::engine {

inline constexpr uint32_t kDocMagic = 0x43445943;  // "CYDC" read as little-endian bytes
inline constexpr uint16_t kDocVersion = 1;
inline constexpr uint32_t kDocHeaderSize = 128;
inline constexpr uint32_t kSectorSize = 512;

enum class DocType : uint8_t {
  kBlob = 1,          // a whole object in one Doc
  kFragment = 2,      // one data fragment of a multi-fragment object
  kObjectHeader = 3,  // fragment table of a multi-fragment object, under first_key
  kRecord = 4,        // a small mutable record (action cache entry, alternates vector)
  kTombstone = 5,     // removal of `key` (so recovery does not resurrect it)
  // The Doc of an operation that was told it failed, rewritten in place (see
  // VoidDoc): never applied, never readable, but it keeps its length and
  // serial so the ring stays an unbroken chain for recovery.
  kVoid = 6,
};

struct DocHeader {
  uint32_t magic;
  uint16_t version;
  uint8_t type;
  uint8_t flags;
  uint32_t header_len;
  uint32_t data_len;
  uint64_t total_len;
  uint64_t serial;
  uint64_t cycle;
  uint64_t checksum;
  Key first_key;
  Key key;
  uint8_t reserved[16];
};
static_assert(sizeof(DocHeader) == kDocHeaderSize, "Doc header layout must stay 128 bytes");

inline uint64_t SectorsFor(uint64_t bytes) {
  return (bytes + kSectorSize - 1) / kSectorSize;
}
inline uint64_t DocSectors(uint64_t data_len) {
  return SectorsFor(kDocHeaderSize + data_len);
}

// Writes header + data at `out` (which must have DocSectors(data.size())*512 bytes),
// zero-filling the padding, and computes the checksum.
void EncodeDoc(DocHeader header, std::span<const uint8_t> data, uint8_t* out);

// Turns the encoded Doc at `doc` into a kVoid Doc of the same length and
// serial, with zeroed keys so that no lookup can ever match it, and a new
// checksum. A Doc that is already void is left alone.
void VoidDoc(uint8_t* doc);

// Validates the header alone (magic, version, lengths within `max_len`).
// Returns the doc's total byte length (header + data) on success.
Result<uint32_t> CheckDocHeader(const DocHeader& h, uint64_t max_len);

// Full validation of a doc held in memory: header, then checksum over the data.
Status VerifyDoc(const uint8_t* doc, uint64_t available);

}  // namespace cycas::engine
