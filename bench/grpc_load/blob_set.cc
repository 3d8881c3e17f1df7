#include "blob_set.h"

#include <cstring>
#include <thread>

namespace cycas::bench {

Result<BlobSet> BlobSet::Make(uint64_t size, uint64_t min_count, uint64_t seed) {
  if (size == 0) return Status::InvalidArgument("blob size must be positive");
  BlobSet s;
  s.size_ = size;
  // Small blobs get a pool of at least 8 MiB so millions of offsets exist;
  // large ones only need `min_count` windows past the first blob.
  uint64_t extra = std::max<uint64_t>(min_count, 65536);
  uint64_t pool = std::max<uint64_t>(size + extra, 8 << 20);
  if ((pool - size + 1) % kStride == 0) ++pool;
  s.range_ = pool - size + 1;
  s.pool_.resize(pool);
  // splitmix64: fast, and the same sequence in every process for a seed.
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < pool; i += 8) {
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    std::memcpy(s.pool_.data() + i, &z, std::min<size_t>(8, pool - i));
  }
  return s;
}

std::span<const uint8_t> BlobSet::Bytes(uint64_t i) const {
  uint64_t off = (i % range_) * kStride % range_;
  return {reinterpret_cast<const uint8_t*>(pool_.data()) + off, size_};
}

std::vector<Digest> BlobSet::Digests(DigestFunction fn, uint64_t first, uint64_t count) const {
  std::vector<Digest> out(count, Digest(fn, HashBytes{}, 0));
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (uint64_t i = t; i < count; i += threads) out[i] = Digest::Of(fn, Bytes(first + i));
    });
  }
  for (auto& t : ts) t.join();
  return out;
}

}  // namespace cycas::bench
