// BlobSet: many distinct pseudo-random blobs of one size without holding them
// all in memory. Blob i is the window [offset(i), offset(i) + size) of one
// random pool; offset(i) = i * kStride mod (pool size - size + 1), and since
// kStride is prime and the pool is sized so that the modulus is not a multiple
// of it, the first `range()` blobs are all different. The HTTP load scripts
// (bench/compare/*.lua) rebuild the same blobs from the pool file that
// `cycas-load gen` writes, so every load generator names blobs by their real
// digest without hashing on the hot path.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "digest/digest.h"
#include "util/status.h"

namespace cycas::bench {

class BlobSet {
 public:
  static constexpr uint64_t kStride = 4099;

  // A pool for `size`-byte blobs filled from `seed`, large enough for at
  // least `min_count` distinct blobs.
  static Result<BlobSet> Make(uint64_t size, uint64_t min_count, uint64_t seed);

  uint64_t size() const { return size_; }
  uint64_t range() const { return range_; }
  std::span<const uint8_t> Bytes(uint64_t i) const;
  const std::string& pool() const { return pool_; }

  // Digests of blobs [first, first + count), hashed on all cores.
  std::vector<Digest> Digests(DigestFunction fn, uint64_t first, uint64_t count) const;

 private:
  uint64_t size_ = 0;
  uint64_t range_ = 0;
  std::string pool_;
};

}  // namespace cycas::bench
