// BodySpool: holds a request body whose name or size is not known until it has
// all arrived (chunked uploads, zstd-encoded uploads, action-cache values), so
// that it can be verified and then streamed into the store.
//
// The first `memory_limit` bytes stay in memory; beyond that the spool moves to
// an anonymous temporary file (O_TMPFILE, never visible in the directory and
// gone when closed), so a large body is never held in RAM. Bytes are hashed as
// they arrive. Not safe for concurrent use.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "cas/blob_store.h"
#include "digest/hasher.h"
#include "util/status.h"

namespace cycas::api::http {

class BodySpool {
 public:
  BodySpool(std::string dir, size_t memory_limit, DigestFunction fn);
  ~BodySpool();
  BodySpool(const BodySpool&) = delete;
  BodySpool& operator=(const BodySpool&) = delete;

  Status Append(std::span<const uint8_t> data);
  uint64_t size() const { return size_; }
  // Completes the hash; call once, after the last Append.
  Digest Finish();

  // True while every byte is in memory (then memory() holds them).
  bool in_memory() const { return fd_ < 0; }
  const std::string& memory() const { return memory_; }
  // Copies bytes [offset, offset + out.size()) out of the spool.
  Result<size_t> Read(uint64_t offset, std::span<uint8_t> out) const;
  // Streams everything into `writer` (does not commit).
  Status CopyTo(BlobWriter& writer) const;
  // Everything as one string, refusing spools larger than `limit`.
  Result<std::string> ReadAll(uint64_t limit) const;

 private:
  Status MoveToFile();

  std::string dir_;
  size_t memory_limit_;
  Hasher hasher_;
  std::string memory_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace cycas::api::http
