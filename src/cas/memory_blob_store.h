// The RAM tier: small hot blobs held in memory, bounded by bytes.
//
// Only blobs up to `max_blob_size` are admitted (large blobs would flush the
// whole tier for one read and stream fine from disk anyway). Eviction is LRU by
// bytes; readers share the stored bytes, so a hit costs no copy.
#pragma once

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "cas/blob_store.h"

namespace cycas {

class MemoryBlobStore final : public BlobStore {
 public:
  MemoryBlobStore(uint64_t capacity_bytes, uint64_t max_blob_size);

  Result<bool> Contains(const Digest& digest) override;
  Status ContainsMany(std::span<const Digest> digests, std::span<uint8_t> present) override;
  Result<std::unique_ptr<BlobReader>> OpenRead(const Digest& digest) override;
  std::unique_ptr<BlobReader> OpenReadIfInMemory(const Digest& digest) override;
  // INVALID_ARGUMENT for blobs above max_blob_size.
  Result<std::unique_ptr<BlobWriter>> OpenWrite(const Digest& digest) override;
  Status Remove(const Digest& digest) override;
  std::string_view name() const override { return "ram"; }

  // Inserts a complete blob (used for promotion from lower tiers).
  void Insert(const Digest& digest, std::shared_ptr<const std::string> bytes);
  bool Admits(uint64_t size) const { return size <= max_blob_size_ && size <= capacity_; }

  uint64_t bytes_used() const;
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Item {
    Digest digest;
    std::shared_ptr<const std::string> bytes;
  };
  using List = std::list<Item>;

  const uint64_t capacity_;
  const uint64_t max_blob_size_;
  mutable std::mutex mu_;
  List lru_;  // front = most recently used
  std::unordered_map<Digest, List::iterator> index_;
  uint64_t used_ = 0;
  std::atomic<uint64_t> hits_{0}, misses_{0};
};

// A reader over bytes held in memory.
class MemoryBlobReader final : public BlobReader {
 public:
  explicit MemoryBlobReader(std::shared_ptr<const std::string> bytes) : bytes_(std::move(bytes)) {}
  uint64_t size() const override { return bytes_->size(); }
  Result<size_t> Read(uint64_t offset, std::span<uint8_t> out) override;
  Result<std::span<const uint8_t>> ReadView(uint64_t offset, size_t max) override;

 private:
  std::shared_ptr<const std::string> bytes_;
};

}  // namespace cycas
