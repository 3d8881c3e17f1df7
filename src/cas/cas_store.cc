#include "cas/cas_store.h"

#include "cas/memory_blob_store.h"
#include "cas/tiered_blob_store.h"
#include "digest/hasher.h"
#include "digest/hex.h"

namespace cycas {

class VerifyingWriter::HasherBox {
 public:
  explicit HasherBox(DigestFunction fn) : hasher(fn) {}
  Hasher hasher;
};

VerifyingWriter::VerifyingWriter(Digest digest, std::unique_ptr<BlobWriter> inner, CasStore* owner)
    : digest_(digest),
      inner_(std::move(inner)),
      owner_(owner),
      hasher_(std::make_unique<HasherBox>(digest.function())) {}

VerifyingWriter::~VerifyingWriter() {
  Abort();
}

Status VerifyingWriter::Append(std::span<const uint8_t> data) {
  if (done_) return Status::FailedPrecondition("upload already finished");
  if (received_ + data.size() > digest_.size_bytes()) {
    Abort();
    return Status::InvalidArgument("upload of " + digest_.ToString() + " sent more than " +
                                   std::to_string(digest_.size_bytes()) + " bytes");
  }
  hasher_->hasher.Update(data);
  received_ += data.size();
  Status st = inner_->Append(data);
  if (!st.ok()) Abort();
  return st;
}

Status VerifyingWriter::Verify() {
  if (done_) return Status::FailedPrecondition("upload already finished");
  if (received_ != digest_.size_bytes()) {
    Abort();
    return Status::InvalidArgument("upload of " + digest_.ToString() + " is incomplete: expected " +
                                   std::to_string(digest_.size_bytes()) + " bytes, received " +
                                   std::to_string(received_));
  }
  HashBytes actual = hasher_->hasher.Finish();
  if (actual != digest_.hash()) {
    Abort();
    return Status::InvalidArgument("upload does not match its digest: expected " +
                                   std::string(DigestFunctionName(digest_.function())) + " " +
                                   digest_.hex() + ", computed " + HexEncode(actual));
  }
  return Status::Ok();
}

Status VerifyingWriter::Commit() {
  RETURN_IF_ERROR(Verify());
  Status st = inner_->Commit();
  Finish();
  return st;
}

void VerifyingWriter::CommitAsync(std::function<void(Status)> done) {
  if (Status st = Verify(); !st.ok()) return done(st);
  inner_->CommitAsync([this, done = std::move(done)](Status st) {
    Finish();
    done(std::move(st));
  });
}

void VerifyingWriter::Abort() {
  if (done_) return;
  inner_->Abort();
  Finish();
}

void VerifyingWriter::Finish() {
  if (done_) return;
  done_ = true;
  owner_->EndFlight(digest_);
}

CasStore::CasStore(BlobStore* blobs, RecordStore* records, CasOptions options)
    : blobs_(blobs), records_(records), options_(options) {}

Status CasStore::CheckDigest(const Digest& digest) const {
  if (digest.size_bytes() > options_.max_blob_size) {
    return Status::InvalidArgument("digest " + digest.ToString() + ": size_bytes " +
                                   std::to_string(digest.size_bytes()) +
                                   " exceeds the largest blob this server accepts (" +
                                   std::to_string(options_.max_blob_size) + ")");
  }
  return Status::Ok();
}

Result<bool> CasStore::Contains(const Digest& digest) {
  RETURN_IF_ERROR(CheckDigest(digest));
  if (digest.IsEmptyBlob()) return true;
  return blobs_->Contains(digest);
}

Status CasStore::ContainsMany(std::span<const Digest> digests, std::span<uint8_t> present) {
  bool has_empty = false;
  for (const Digest& d : digests) {
    RETURN_IF_ERROR(CheckDigest(d));
    has_empty |= d.IsEmptyBlob();
  }
  if (!has_empty) return blobs_->ContainsMany(digests, present);
  // The empty blob is always present and never asked of a tier (a remote
  // would be asked for nothing): only the others go down.
  std::vector<Digest> others;
  std::vector<size_t> where;
  for (size_t i = 0; i < digests.size(); i++) {
    if (digests[i].IsEmptyBlob()) {
      present[i] = 1;
    } else {
      others.push_back(digests[i]);
      where.push_back(i);
    }
  }
  std::vector<uint8_t> found(others.size());
  RETURN_IF_ERROR(blobs_->ContainsMany(others, found));
  for (size_t j = 0; j < others.size(); j++) present[where[j]] = found[j];
  return Status::Ok();
}

Result<std::unique_ptr<BlobReader>> CasStore::OpenRead(const Digest& digest) {
  RETURN_IF_ERROR(CheckDigest(digest));
  if (digest.IsEmptyBlob()) {
    return std::unique_ptr<BlobReader>(new MemoryBlobReader(std::make_shared<const std::string>()));
  }
  return blobs_->OpenRead(digest);
}

std::unique_ptr<BlobReader> CasStore::OpenReadIfInMemory(const Digest& digest) {
  if (!CheckDigest(digest).ok()) return nullptr;
  if (digest.IsEmptyBlob())
    return std::make_unique<MemoryBlobReader>(std::make_shared<const std::string>());
  return blobs_->OpenReadIfInMemory(digest);
}

bool CasStore::UploadInFlight(const Digest& digest) {
  std::lock_guard lk(mu_);
  return in_flight_.contains(digest);
}

Result<std::unique_ptr<BlobWriter>> CasStore::OpenWrite(const Digest& digest) {
  RETURN_IF_ERROR(CheckDigest(digest));
  if (digest.IsEmptyBlob()) return Status::AlreadyExists("the empty blob always exists");
  {
    std::unique_lock lk(mu_);
    bool free =
        cv_.wait_for(lk, options_.single_flight_wait, [&] { return !in_flight_.contains(digest); });
    if (!free) {
      return Status::Unavailable("another upload of " + digest.ToString() +
                                 " is still in progress; retry later");
    }
    in_flight_.emplace(digest, 1);
  }
  auto release = [&] { EndFlight(digest); };
  auto present = blobs_->Contains(digest);
  if (!present.ok() && present.status().code() != StatusCode::kUnavailable) {
    release();
    return present.status();
  }
  // A tier that cannot answer (a remote that is down) must not block uploads:
  // storing a blob twice is harmless, refusing it is not.
  if (present.ok() && *present) {
    release();
    return Status::AlreadyExists("blob " + digest.ToString() + " already exists");
  }
  auto inner = blobs_->OpenWrite(digest);
  if (!inner.ok()) {
    release();
    return inner.status();
  }
  return std::unique_ptr<BlobWriter>(new VerifyingWriter(digest, std::move(*inner), this));
}

void CasStore::EndFlight(const Digest& digest) {
  std::lock_guard lk(mu_);
  in_flight_.erase(digest);
  cv_.notify_all();
}

Status CasStore::Put(const Digest& digest, std::string_view bytes) {
  auto w = OpenWrite(digest);
  if (!w.ok()) return w.status().code() == StatusCode::kAlreadyExists ? Status::Ok() : w.status();
  RETURN_IF_ERROR((*w)->Append({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}));
  return (*w)->Commit();
}

Result<std::string> CasStore::ReadAll(const Digest& digest, uint64_t limit) {
  if (digest.size_bytes() > limit) {
    return Status::ResourceExhausted("blob " + digest.ToString() + " is larger than " +
                                     std::to_string(limit) + " bytes");
  }
  ASSIGN_OR_RETURN(auto r, OpenRead(digest));
  return ReadWholeBlob(*r);
}

}  // namespace cycas
