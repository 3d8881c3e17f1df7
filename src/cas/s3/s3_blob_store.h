// S3BlobStore and S3RecordStore: a bucket as a BlobStore and a RecordStore,
// laid out as object_layout.h describes.
//
// S3BlobStore:
//  * Contains: HEAD; present only when the object's size equals the digest's
//    (an object of another size is not this blob). ContainsMany runs many HEADs
//    concurrently.
//  * OpenRead: one streamed GET of the whole object (size checked against the
//    digest first), read sequentially with bounded memory; a read at another
//    offset, or a transfer that broke off, continues with a ranged GET from
//    there. Bytes are not verified here: the layer that keeps them verifies.
//  * OpenWrite: ALREADY_EXISTS when the object is present; otherwise blobs up
//    to s3.multipart_threshold are buffered and sent as one PUT at Commit,
//    larger ones as a multipart upload of s3.part_size parts, aborted on any
//    failure or Abort() so no partial object is ever visible.
//  * Remove: DELETE.
// Errors: NOT_FOUND only for an absent object; UNAVAILABLE when S3 could not
// be asked (never reported as "absent"). Safe for concurrent use.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "cas/blob_store.h"
#include "cas/record_store.h"
#include "cas/s3/object_layout.h"
#include "cas/s3/s3_client.h"

namespace cycas::s3 {

// A store that can answer many existence checks at once.
class BatchContains {
 public:
  virtual ~BatchContains() = default;
  virtual std::vector<Result<bool>> ContainsMany(std::span<const Digest> digests) = 0;
};

// A store that can write a blob without asking first whether it is there
// (for small blobs a second copy costs less than the round trip of asking).
class BlindWrite {
 public:
  virtual ~BlindWrite() = default;
  virtual Result<std::unique_ptr<BlobWriter>> OpenOverwrite(const Digest& digest) = 0;
};

class S3BlobStore final : public BlobStore, public BatchContains, public BlindWrite {
 public:
  // `client` is not owned.
  S3BlobStore(S3Client* client, ObjectLayout layout, size_t read_buffer_bytes = 4u << 20);

  Result<bool> Contains(const Digest& digest) override;
  std::vector<Result<bool>> ContainsMany(std::span<const Digest> digests) override;
  Result<std::unique_ptr<BlobReader>> OpenRead(const Digest& digest) override;
  Result<std::unique_ptr<BlobWriter>> OpenWrite(const Digest& digest) override;
  // OpenWrite without the HEAD: the object is (re)written whatever is there.
  Result<std::unique_ptr<BlobWriter>> OpenOverwrite(const Digest& digest) override;
  Status Remove(const Digest& digest) override;
  std::string_view name() const override { return "s3"; }

  const ObjectLayout& layout() const { return layout_; }
  uint64_t size_mismatches() const { return size_mismatches_; }

 private:
  S3Client* client_;
  ObjectLayout layout_;
  size_t read_buffer_bytes_;
  std::atomic<uint64_t> size_mismatches_{0};
};

class S3RecordStore final : public RecordStore {
 public:
  S3RecordStore(S3Client* client, ObjectLayout layout)
      : client_(client), layout_(std::move(layout)) {}

  Result<std::string> Get(std::string_view name) override;
  Status Put(std::string_view name, std::string_view value) override;
  Status Remove(std::string_view name) override;
  size_t max_value_size() const override { return client_->options().max_record_size; }

 private:
  S3Client* client_;
  ObjectLayout layout_;
};

}  // namespace cycas::s3
