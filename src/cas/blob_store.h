// BlobStore: the one interface every storage tier implements.
//
// RAM, the local cyclone engine, a remote cycas server and object storage all
// answer the same five questions, so the CAS layer can compose them freely
// (a tiered store is itself a BlobStore) and each can be tested alone.
//
// Contracts:
//  * Blobs are keyed by Digest (function, hash, size). A store never verifies
//    content against the digest: that is VerifyingBlobStore's job, layered on top.
//  * Contains() is exact (never "present" for an absent blob) and touches what it
//    finds, so a blob reported present is not the next thing evicted.
//  * A writer's bytes become visible only at Commit(); Abort() (or destroying an
//    uncommitted writer) leaves nothing reachable.
//  * Implementations are safe for concurrent use.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "digest/digest.h"
#include "util/status.h"

namespace cycas {

// A byte range of a blob: `length` unset means "to the end".
struct BlobRange {
  uint64_t offset = 0;
  std::optional<uint64_t> length;
};

class BlobReader {
 public:
  virtual ~BlobReader() = default;
  // Total size of the blob in bytes.
  virtual uint64_t size() const = 0;
  // Copies up to out.size() bytes starting at `offset` into `out`; returns the
  // number copied (0 only at or past the end). Bytes are validated before they
  // are returned: a corrupt or overwritten record is an error, never data.
  virtual Result<size_t> Read(uint64_t offset, std::span<uint8_t> out) = 0;
  // Read() without the copy: up to `max` bytes starting at `offset`, as a view
  // of memory the reader holds (empty only at or past the end). The view stays
  // valid until the next Read() or ReadView() on this reader, or its
  // destruction. Streaming large blobs to a socket this way saves a copy of
  // every byte; readers that hold no buffer of their own copy into one.
  virtual Result<std::span<const uint8_t>> ReadView(uint64_t offset, size_t max);

 private:
  std::vector<uint8_t> view_buffer_;  // the default ReadView()'s copy
};

class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual Status Append(std::span<const uint8_t> data) = 0;
  // Makes the blob visible. In the default durable mode the bytes are on stable
  // storage when this returns OK.
  virtual Status Commit() = 0;
  // True when CommitAsync() never blocks the calling thread (it only queues
  // the commit), so an event loop may call it instead of handing Commit() to
  // a thread that can block.
  virtual bool CanCommitAsync() const { return false; }
  // Commit() reporting through `done`, on any thread (keep `done` short). The
  // writer must stay alive until `done` has run. The default commits here.
  virtual void CommitAsync(std::function<void(Status)> done) { done(Commit()); }
  // Discards everything written. Safe to call more than once.
  virtual void Abort() = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  virtual Result<bool> Contains(const Digest& digest) = 0;
  // Contains() of many digests: present[i] = 1 if digests[i] is stored (the
  // spans have the same length). One call lets a store overlap the lookups
  // (the engine prefetches its directory) instead of waiting on each in turn;
  // the default asks one at a time. On an error `present` is unspecified and
  // callers that must name the digest at fault ask one at a time.
  virtual Status ContainsMany(std::span<const Digest> digests, std::span<uint8_t> present) {
    for (size_t i = 0; i < digests.size(); i++) {
      ASSIGN_OR_RETURN(bool found, Contains(digests[i]));
      present[i] = found ? 1 : 0;
    }
    return Status::Ok();
  }
  // NOT_FOUND when absent.
  virtual Result<std::unique_ptr<BlobReader>> OpenRead(const Digest& digest) = 0;
  // Marks the blob as in use, so that a store which evicts keeps it (the
  // engine copies a blob near eviction forward). Asks nothing of a remote and
  // needs no I/O; the default does nothing, so a store that wraps another
  // must forward it.
  virtual void Touch(const Digest& digest) {}
  // Touch() for many blobs; a store that can batch the lookups overrides it
  // (the engine prefetches the directory buckets of the next keys).
  virtual void TouchMany(std::span<const Digest> digests) {
    for (const Digest& d : digests) Touch(d);
  }
  // OpenRead() when that needs no I/O (the blob is held in memory), else
  // nullptr: lets a caller on an event loop serve such blobs in place and
  // take every other read to a thread that may block. The default has no
  // such blobs.
  virtual std::unique_ptr<BlobReader> OpenReadIfInMemory(const Digest& digest) { return nullptr; }
  // ALREADY_EXISTS when the blob is already stored.
  virtual Result<std::unique_ptr<BlobWriter>> OpenWrite(const Digest& digest) = 0;
  virtual Status Remove(const Digest& digest) = 0;
  // Short name for logs and metrics ("ram", "engine", "remote").
  virtual std::string_view name() const = 0;
};

}  // namespace cycas
