// TieredBlobStore: RAM in front of the local engine, an optional remote behind.
//
// Reads try each tier in order; a local hit small enough for RAM is promoted,
// and a remote hit is verified against its digest and stored locally on the way
// back. Writes go to the local tier (durably) and, for small blobs, into RAM;
// with write-through they are also streamed to the remote tier.
#pragma once

#include <atomic>

#include "cas/blob_store.h"
#include "cas/memory_blob_store.h"

namespace cycas {

class TieredBlobStore final : public BlobStore {
 public:
  struct Options {
    bool remote_write_through = false;
  };
  // `ram` and `remote` may be null; `local` is required. None are owned.
  TieredBlobStore(MemoryBlobStore* ram, BlobStore* local, BlobStore* remote, Options options);

  Result<bool> Contains(const Digest& digest) override;
  Status ContainsMany(std::span<const Digest> digests, std::span<uint8_t> present) override;
  Result<std::unique_ptr<BlobReader>> OpenRead(const Digest& digest) override;
  // From the RAM tier (touching the disk copy, as OpenRead does).
  std::unique_ptr<BlobReader> OpenReadIfInMemory(const Digest& digest) override;
  Result<std::unique_ptr<BlobWriter>> OpenWrite(const Digest& digest) override;
  Status Remove(const Digest& digest) override;
  std::string_view name() const override { return "tiered"; }

  uint64_t remote_fetches() const { return remote_fetches_; }

 private:
  Status FetchFromRemote(const Digest& digest);

  MemoryBlobStore* ram_;
  BlobStore* local_;
  BlobStore* remote_;
  Options options_;
  std::atomic<uint64_t> remote_fetches_{0};
};

// Reads a whole blob into memory (for promotion and small values).
Result<std::string> ReadWholeBlob(BlobReader& reader);

}  // namespace cycas
