// Layout: where things are in a span (a store file or block device).
//
//   [span header, 4 KiB] [stripe 0] [stripe 1] ...
//   stripe = [snapshot copy A] [snapshot copy B] [content ring]
//   snapshot copy = [snapshot header, 4 KiB] [directory entries, padded to 4 KiB]
// Full byte-level description: docs/disk-format.md.
#pragma once

#include <cstdint>

#include "engine/directory.h"
#include "util/status.h"

namespace cycas::engine {

inline constexpr uint32_t kSpanMagic = 0x50535943;      // "CYSP"
inline constexpr uint32_t kSnapshotMagic = 0x4e535943;  // "CYSN"
// 2: directory entries packed into 14 bytes (PackedDirEntry), buckets chosen
// by multiply-shift. Docs are unchanged from 1, but snapshots are not.
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint64_t kBlockSize = 4096;
// Durable mode syncs every batch that completes a commit; batches of fragments
// only are covered by a later sync, but at most this many in a row. A power
// cut can tear all batches written since the last sync, and the one in
// flight, so after an unclean stop recovery treats this many plus one
// aggregation windows after its cursor as overwritten.
inline constexpr uint32_t kMaxUnsyncedBatches = 3;

inline uint64_t AlignUp(uint64_t v, uint64_t a) {
  return (v + a - 1) / a * a;
}
inline uint64_t AlignDown(uint64_t v, uint64_t a) {
  return v / a * a;
}

struct SpanHeader {
  uint32_t magic;
  uint32_t version;
  uint64_t span_size;
  uint64_t stripe_size;
  uint32_t stripe_count;
  uint32_t dir_segments;
  uint32_t dir_buckets_per_segment;
  uint32_t reserved0;
  uint64_t checksum;  // XXH3-64 of this struct with checksum = 0
};

struct StripeGeometry {
  uint64_t base = 0;             // byte offset of the stripe in the span
  uint64_t snapshot_bytes = 0;   // one snapshot copy, 4 KiB aligned
  uint64_t content_offset = 0;   // byte offset of the ring in the span
  uint32_t content_sectors = 0;  // ring size in 512-byte sectors
  DirGeometry dir;

  uint64_t SnapshotOffset(int copy) const { return base + uint64_t(copy) * snapshot_bytes; }
};

enum class SnapshotKind : uint32_t {
  kSnapshot = 0,          // header + directory entries
  kGenerationMarker = 1,  // header only: reserves a Doc generation before a session writes
};

inline constexpr uint32_t kSnapshotClean = 1;

struct SnapshotHeader {
  uint32_t magic;
  uint32_t version;
  uint64_t serial;  // increases with every snapshot of this stripe
  uint64_t cycle;   // RingClock at the time of the snapshot
  uint32_t cursor;
  uint32_t stripe_index;
  uint64_t last_doc_serial;  // serial of the last Doc reflected in the entries
  uint64_t entry_count;
  uint64_t entries_checksum;
  uint64_t generation;  // Doc generation of the session that wrote this header
  uint32_t kind;        // SnapshotKind
  uint32_t flags;       // kSnapshotClean: written at shutdown, nothing written after
  uint64_t checksum;    // of this struct with checksum = 0
};

// Computes the layout of a new span of `span_size` bytes.
Result<SpanHeader> PlanSpan(uint64_t span_size, uint32_t stripes, uint64_t average_object_size,
                            uint64_t min_ring_bytes);
// Validates a span header read from disk.
Status CheckSpanHeader(const SpanHeader& h, uint64_t file_size);
void SealSpanHeader(SpanHeader* h);
StripeGeometry GeometryOf(const SpanHeader& h, uint32_t stripe);

uint64_t ChecksumOf(const void* data, uint64_t len);
void SealSnapshotHeader(SnapshotHeader* h);
bool SnapshotHeaderValid(const SnapshotHeader& h);

}  // namespace cycas::engine
