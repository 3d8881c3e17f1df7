// BackedBlobStore and BackedRecordStore: the local store in front of a shared
// remote one (S3), so that many nodes serve one durable cache.
//
// Reads: a local hit is served locally. A local miss reads through: the blob
// is fetched from the remote, verified against its digest, stored locally and
// served from there; concurrent misses of one digest make one remote request
// (single-flight). A miss answers NOT_FOUND only when the remote said
// "absent", and UNAVAILABLE when it could not be asked — never the one for the
// other.
//
// Writes: the local commit is always first and durable. In write-back mode an
// upload intent is made durable in the UploadQueue before the local commit,
// and the blob is acknowledged once local; the Uploader sends it later (and
// again after a restart if need be). In write-through mode the upload runs
// before the acknowledgement, and its failure is the writer's error (the
// blob stays queued, so it still reaches S3 eventually).
//
// Existence: the local index first, then a short-lived cache of remote
// confirmations, then a HEAD (ContainsMany: many at once). When the remote
// cannot be asked, Contains answers "absent" (the caller uploads again: safe
// and cheap) — except through strict(), which answers UNAVAILABLE, for rules
// where a false "absent" costs more, like the action cache's completeness
// check (it would make a client re-execute).
//
// Remove removes the local copy only: the bucket is the shared truth (expire
// objects there with a lifecycle rule).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "cas/blob_store.h"
#include "cas/record_store.h"
#include "cas/s3/existence_cache.h"
#include "cas/s3/s3_blob_store.h"
#include "cas/s3/s3_options.h"
#include "cas/s3/upload_queue.h"
#include "cas/s3/uploader.h"

namespace cycas::s3 {

struct BackedStats {
  uint64_t local_hits = 0;
  uint64_t remote_hits = 0;     // misses served by a fetch from the remote
  uint64_t remote_bytes = 0;    // bytes fetched
  uint64_t misses = 0;          // absent locally and remotely
  uint64_t unavailable = 0;     // misses answered UNAVAILABLE
  uint64_t corrupt = 0;         // remote objects whose bytes did not match their digest
  uint64_t joined_fetches = 0;  // misses that waited for another reader's fetch
  uint64_t contains_local = 0, contains_cached = 0, contains_remote = 0;
  uint64_t contains_unavailable = 0;  // existence checks the remote could not answer
  uint64_t existence_cache_entries = 0;
};

class BackedBlobStore final : public BlobStore, public BatchContains {
 public:
  struct Options {
    WriteMode write_mode = WriteMode::kWriteBack;
    std::chrono::milliseconds existence_ttl{60'000};
    size_t existence_entries = 1'000'000;
  };
  // Nothing is owned. `remote_batch` may be null (ContainsMany then asks one by one).
  BackedBlobStore(BlobStore* local, BlobStore* remote, BatchContains* remote_batch,
                  UploadQueue* queue, Uploader* uploader, Options options);

  Result<bool> Contains(const Digest& digest) override { return ContainsImpl(digest, false); }
  // The local copy only: the bucket does not evict.
  void Touch(const Digest& digest) override { local_->Touch(digest); }
  void TouchMany(std::span<const Digest> digests) override { local_->TouchMany(digests); }
  std::vector<Result<bool>> ContainsMany(std::span<const Digest> digests) override {
    return ContainsManyImpl(digests, false);
  }
  // BlobStore's batched check (FindMissingBlobs, NegotiateBlobs): the same
  // concurrent HEADs for what the local tier lacks.
  Status ContainsMany(std::span<const Digest> digests, std::span<uint8_t> present) override {
    return FlagsFrom(ContainsManyImpl(digests, false), present);
  }
  Result<std::unique_ptr<BlobReader>> OpenRead(const Digest& digest) override;
  Result<std::unique_ptr<BlobWriter>> OpenWrite(const Digest& digest) override;
  Status Remove(const Digest& digest) override { return local_->Remove(digest); }
  std::string_view name() const override { return "s3-backed"; }

  // The same store, but Contains() answers UNAVAILABLE when the remote cannot be asked.
  BlobStore* strict() { return &strict_; }
  BackedStats Stats() const;

 private:
  class StrictView final : public BlobStore, public BatchContains {
   public:
    explicit StrictView(BackedBlobStore* s) : s_(s) {}
    Result<bool> Contains(const Digest& d) override { return s_->ContainsImpl(d, true); }
    std::vector<Result<bool>> ContainsMany(std::span<const Digest> d) override {
      return s_->ContainsManyImpl(d, true);
    }
    Status ContainsMany(std::span<const Digest> d, std::span<uint8_t> present) override {
      return FlagsFrom(s_->ContainsManyImpl(d, true), present);
    }
    Result<std::unique_ptr<BlobReader>> OpenRead(const Digest& d) override {
      return s_->OpenRead(d);
    }
    void Touch(const Digest& d) override { s_->Touch(d); }
    void TouchMany(std::span<const Digest> d) override { s_->TouchMany(d); }
    Result<std::unique_ptr<BlobWriter>> OpenWrite(const Digest& d) override {
      return s_->OpenWrite(d);
    }
    Status Remove(const Digest& d) override { return s_->Remove(d); }
    std::string_view name() const override { return "s3-backed-strict"; }

   private:
    BackedBlobStore* s_;
  };
  struct Flight {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    Status status;
  };
  friend class BackedBlobWriter;

  Result<bool> ContainsImpl(const Digest& digest, bool strict);
  std::vector<Result<bool>> ContainsManyImpl(std::span<const Digest> digests, bool strict);
  // Per-digest answers as BlobStore::ContainsMany flags; the first error fails the call.
  static Status FlagsFrom(const std::vector<Result<bool>>& answers, std::span<uint8_t> present) {
    for (size_t i = 0; i < answers.size(); i++) {
      if (!answers[i].ok()) return answers[i].status();
      present[i] = *answers[i] ? 1 : 0;
    }
    return Status::Ok();
  }
  Result<bool> RemoteAnswer(const Digest& digest, Result<bool> remote, bool strict);
  // One fetch per digest at a time; the others wait for its outcome.
  Status FetchOnce(const Digest& digest);
  Status Fetch(const Digest& digest);

  BlobStore* local_;
  BlobStore* remote_;
  BatchContains* remote_batch_;
  UploadQueue* queue_;
  Uploader* uploader_;
  Options options_;
  ExistenceCache existence_;
  StrictView strict_{this};

  std::mutex flights_mu_;
  std::unordered_map<Digest, std::shared_ptr<Flight>> flights_;

  std::atomic<uint64_t> local_hits_{0}, remote_hits_{0}, remote_bytes_{0}, misses_{0},
      unavailable_{0};
  std::atomic<uint64_t> corrupt_{0}, joined_{0};
  std::atomic<uint64_t> contains_local_{0}, contains_cached_{0}, contains_remote_{0},
      contains_unavailable_{0};
};

// Records (action-cache entries) the same way: local first, then the remote;
// Put is local and queued (or written through); Remove removes both copies.
// A node serves its own copy of a record while it has one: entries written
// later on another node are seen once the local copy is gone.
class BackedRecordStore final : public RecordStore {
 public:
  BackedRecordStore(RecordStore* local, RecordStore* remote, UploadQueue* queue, Uploader* uploader,
                    WriteMode write_mode)
      : local_(local),
        remote_(remote),
        queue_(queue),
        uploader_(uploader),
        write_mode_(write_mode) {}

  Result<std::string> Get(std::string_view name) override;
  Status Put(std::string_view name, std::string_view value) override;
  Status Remove(std::string_view name) override;
  // The local store is the one that evicts; the bucket keeps what it has.
  void Keep(std::string_view name, std::string_view value) override { local_->Keep(name, value); }
  size_t max_value_size() const override {
    return std::min(local_->max_value_size(), remote_->max_value_size());
  }

  uint64_t remote_hits() const { return remote_hits_; }

 private:
  RecordStore* local_;
  RecordStore* remote_;
  UploadQueue* queue_;
  Uploader* uploader_;
  WriteMode write_mode_;
  std::atomic<uint64_t> remote_hits_{0};
};

}  // namespace cycas::s3
