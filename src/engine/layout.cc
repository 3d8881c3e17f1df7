#include "engine/layout.h"

#include <xxhash.h>

#include "engine/doc.h"

namespace cycas::engine {

uint64_t ChecksumOf(const void* data, uint64_t len) {
  return XXH3_64bits(data, len);
}

namespace {
uint64_t SnapshotBytes(const DirGeometry& g) {
  return kBlockSize + AlignUp(g.entries() * sizeof(PackedDirEntry), kBlockSize);
}
}  // namespace

Result<SpanHeader> PlanSpan(uint64_t span_size, uint32_t stripes, uint64_t average_object_size,
                            uint64_t min_ring_bytes) {
  if (stripes == 0) return Status::InvalidArgument("engine: stripe count must be at least 1");
  if (average_object_size < kSectorSize) {
    return Status::InvalidArgument("engine.average_object_size must be at least 512 bytes");
  }
  uint64_t stripe_size = AlignDown((span_size - kBlockSize) / stripes, kBlockSize);
  DirGeometry g = DirGeometry::ForObjects(stripe_size / average_object_size);
  uint64_t snap = SnapshotBytes(g);
  if (span_size <= kBlockSize || stripe_size < 2 * snap + min_ring_bytes) {
    return Status::InvalidArgument("engine: store of " + std::to_string(span_size) +
                                   " bytes is too small for " + std::to_string(stripes) +
                                   " stripes (each needs at least " +
                                   std::to_string(2 * snap + min_ring_bytes) +
                                   " bytes); use a larger engine.size or fewer stripes");
  }
  uint64_t ring = stripe_size - 2 * snap;
  if (ring / kSectorSize > UINT32_MAX) {
    return Status::InvalidArgument("engine: stripes are limited to 2 TiB; use more stripes");
  }
  SpanHeader h{};
  h.magic = kSpanMagic;
  h.version = kFormatVersion;
  h.span_size = span_size;
  h.stripe_size = stripe_size;
  h.stripe_count = stripes;
  h.dir_segments = g.segments;
  h.dir_buckets_per_segment = g.buckets_per_segment;
  SealSpanHeader(&h);
  return h;
}

void SealSpanHeader(SpanHeader* h) {
  h->checksum = 0;
  h->checksum = ChecksumOf(h, sizeof *h);
}

Status CheckSpanHeader(const SpanHeader& h, uint64_t file_size) {
  if (h.magic != kSpanMagic) return Status::DataLoss("not a cycas store (bad span magic)");
  if (h.version != kFormatVersion) {
    return Status::FailedPrecondition("store format version " + std::to_string(h.version) +
                                      " is not supported by this build (expects " +
                                      std::to_string(kFormatVersion) +
                                      "); the store is a cache: remove the file to start empty");
  }
  SpanHeader copy = h;
  SealSpanHeader(&copy);
  if (copy.checksum != h.checksum) return Status::DataLoss("span header checksum mismatch");
  DirGeometry g{h.dir_segments, h.dir_buckets_per_segment};
  if (h.stripe_count == 0 || h.dir_segments == 0 || h.dir_buckets_per_segment == 0 ||
      uint64_t{h.dir_buckets_per_segment} * Directory::kDepth > Directory::kMaxSegmentEntries ||
      h.stripe_size % kBlockSize != 0 || h.span_size > file_size ||
      kBlockSize + uint64_t{h.stripe_count} * h.stripe_size > h.span_size ||
      h.stripe_size <= 2 * SnapshotBytes(g) ||
      (h.stripe_size - 2 * SnapshotBytes(g)) / kSectorSize > UINT32_MAX) {
    return Status::DataLoss("span header describes an impossible layout");
  }
  return Status::Ok();
}

StripeGeometry GeometryOf(const SpanHeader& h, uint32_t stripe) {
  StripeGeometry s;
  s.dir = DirGeometry{h.dir_segments, h.dir_buckets_per_segment};
  s.base = kBlockSize + uint64_t{stripe} * h.stripe_size;
  s.snapshot_bytes = SnapshotBytes(s.dir);
  s.content_offset = s.base + 2 * s.snapshot_bytes;
  s.content_sectors = static_cast<uint32_t>((h.stripe_size - 2 * s.snapshot_bytes) / kSectorSize);
  return s;
}

void SealSnapshotHeader(SnapshotHeader* h) {
  h->magic = kSnapshotMagic;
  h->version = kFormatVersion;
  h->checksum = 0;
  h->checksum = ChecksumOf(h, sizeof *h);
}

bool SnapshotHeaderValid(const SnapshotHeader& h) {
  if (h.magic != kSnapshotMagic || h.version != kFormatVersion) return false;
  SnapshotHeader copy = h;
  SealSnapshotHeader(&copy);
  return copy.checksum == h.checksum;
}

}  // namespace cycas::engine
