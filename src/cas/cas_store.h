// CasStore: the CAS layer's face to the protocol front-ends.
//
// Everything a front-end needs, with the CAS rules applied once for all
// protocols: digests are checked for plausibility, the empty blob always
// exists, every upload is hashed as it arrives and committed only if size and
// hash match the digest, and concurrent uploads of one digest are collapsed
// (the second waits for the first, then is told the blob exists).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "cas/blob_store.h"
#include "cas/record_store.h"

namespace cycas {

struct CasOptions {
  // A digest claiming more than this is refused as implausible.
  uint64_t max_blob_size = uint64_t{1} << 40;
  // How long a second uploader of a digest waits for the first to finish.
  std::chrono::milliseconds single_flight_wait{60'000};
};

class CasStore {
 public:
  // Neither store is owned; `records` may be null when no record store exists.
  CasStore(BlobStore* blobs, RecordStore* records, CasOptions options = {});

  // INVALID_ARGUMENT naming the digest when its size is implausible.
  Status CheckDigest(const Digest& digest) const;

  Result<bool> Contains(const Digest& digest);
  // Contains() of many digests (BlobStore::ContainsMany). An invalid digest
  // fails the whole call; ask one at a time to learn which.
  Status ContainsMany(std::span<const Digest> digests, std::span<uint8_t> present);
  Result<std::unique_ptr<BlobReader>> OpenRead(const Digest& digest);
  // OpenRead() if it needs no I/O (the empty blob, a blob held in RAM), else
  // nullptr, also for a digest OpenRead() would reject (it says why).
  std::unique_ptr<BlobReader> OpenReadIfInMemory(const Digest& digest);
  // A verifying writer. ALREADY_EXISTS when the blob is present (after waiting
  // for a concurrent upload of the same digest to finish).
  Result<std::unique_ptr<BlobWriter>> OpenWrite(const Digest& digest);
  // Whether an upload of `digest` is in progress now (OpenWrite would wait for
  // it). A hint: the answer may change at once.
  bool UploadInFlight(const Digest& digest);

  // Stores a blob held in memory (verified). An already present blob is OK.
  Status Put(const Digest& digest, std::string_view bytes);
  // Reads a whole blob, refusing blobs larger than `limit`.
  Result<std::string> ReadAll(const Digest& digest, uint64_t limit);

  RecordStore* records() { return records_; }
  const CasOptions& options() const { return options_; }

 private:
  friend class VerifyingWriter;
  void EndFlight(const Digest& digest);

  BlobStore* blobs_;
  RecordStore* records_;
  CasOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<Digest, int> in_flight_;
};

// Hashes bytes as they pass and commits the inner writer only if they match.
class VerifyingWriter final : public BlobWriter {
 public:
  VerifyingWriter(Digest digest, std::unique_ptr<BlobWriter> inner, CasStore* owner);
  ~VerifyingWriter() override;
  Status Append(std::span<const uint8_t> data) override;
  Status Commit() override;
  bool CanCommitAsync() const override { return inner_->CanCommitAsync(); }
  void CommitAsync(std::function<void(Status)> done) override;
  void Abort() override;
  uint64_t received() const { return received_; }

 private:
  // The size and hash check that precedes every commit (aborts on a mismatch).
  Status Verify();
  void Finish();
  Digest digest_;
  std::unique_ptr<BlobWriter> inner_;
  CasStore* owner_;
  class HasherBox;
  std::unique_ptr<HasherBox> hasher_;
  uint64_t received_ = 0;
  bool done_ = false;
};

}  // namespace cycas
