#include "cas/tiered_blob_store.h"

#include <algorithm>
#include <cassert>
#include <vector>

#include "digest/hasher.h"
#include "util/log.h"

namespace cycas {

Result<std::string> ReadWholeBlob(BlobReader& reader) {
  std::string out(reader.size(), '\0');
  uint64_t off = 0;
  while (off < out.size()) {
    ASSIGN_OR_RETURN(size_t n, reader.Read(off, {reinterpret_cast<uint8_t*>(out.data()) + off,
                                                 out.size() - off}));
    if (n == 0) return Status::DataLoss("blob ended early");
    off += n;
  }
  return out;
}

namespace {

// Fans one upload out to the local tier (authoritative), RAM and the remote.
class TeeWriter final : public BlobWriter {
 public:
  TeeWriter(Digest digest, std::unique_ptr<BlobWriter> local, MemoryBlobStore* ram,
            std::unique_ptr<BlobWriter> remote)
      : digest_(digest), local_(std::move(local)), ram_(ram), remote_(std::move(remote)) {
    if (ram_ && ram_->Admits(digest.size_bytes())) {
      keep_ = true;
      copy_.reserve(digest.size_bytes());
    }
  }
  Status Append(std::span<const uint8_t> data) override {
    RETURN_IF_ERROR(local_->Append(data));
    if (keep_) {
      if (copy_.size() + data.size() > digest_.size_bytes())
        keep_ = false;
      else
        copy_.append(reinterpret_cast<const char*>(data.data()), data.size());
    }
    if (remote_ && !remote_->Append(data).ok()) {
      remote_->Abort();
      remote_.reset();
    }
    return Status::Ok();
  }
  Status Commit() override {
    RETURN_IF_ERROR(local_->Commit());
    KeepInRam();
    if (remote_) {
      // The local copy is durable; a failed write-through is logged, not fatal.
      Status st = remote_->Commit();
      if (!st.ok() && st.code() != StatusCode::kAlreadyExists) {
        LOG(kWarn, "remote write-through failed")
            .kv("digest", digest_.ToString())
            .kv("error", st.ToString());
      }
    }
    return Status::Ok();
  }
  // A write-through to the remote tier is a blocking call.
  bool CanCommitAsync() const override { return !remote_ && local_->CanCommitAsync(); }
  void CommitAsync(std::function<void(Status)> done) override {
    if (remote_) return done(Commit());
    local_->CommitAsync([this, done = std::move(done)](Status st) {
      if (st.ok()) KeepInRam();
      done(std::move(st));
    });
  }
  void Abort() override {
    local_->Abort();
    if (remote_) remote_->Abort();
    copy_.clear();
  }

 private:
  void KeepInRam() {
    if (keep_ && copy_.size() == digest_.size_bytes()) {
      ram_->Insert(digest_, std::make_shared<const std::string>(std::move(copy_)));
    }
  }
  Digest digest_;
  std::unique_ptr<BlobWriter> local_;
  MemoryBlobStore* ram_;
  std::unique_ptr<BlobWriter> remote_;
  bool keep_ = false;
  std::string copy_;
};

}  // namespace

TieredBlobStore::TieredBlobStore(MemoryBlobStore* ram, BlobStore* local, BlobStore* remote,
                                 Options options)
    : ram_(ram), local_(local), remote_(remote), options_(options) {}

Result<bool> TieredBlobStore::Contains(const Digest& digest) {
  if (ram_) {
    ASSIGN_OR_RETURN(bool in_ram, ram_->Contains(digest));
    if (in_ram) {
      // Still touch the disk copy: RAM is volatile and the ring must keep it too.
      local_->Touch(digest);
      return true;
    }
  }
  ASSIGN_OR_RETURN(bool local, local_->Contains(digest));
  if (local || !remote_) return local;
  return remote_->Contains(digest);
}

Status TieredBlobStore::ContainsMany(std::span<const Digest> digests, std::span<uint8_t> present) {
  assert(digests.size() == present.size());
  // RAM first (asking refreshes its LRU order). As in Contains(), a RAM hit's
  // disk copy is only touched, which needs no I/O: asking the local tier about
  // it could cost a HEAD when that tier is backed by a bucket.
  std::fill(present.begin(), present.end(), uint8_t{0});
  if (ram_) RETURN_IF_ERROR(ram_->ContainsMany(digests, present));
  std::vector<Digest> hits, rest;
  std::vector<size_t> rest_at;
  for (size_t i = 0; i < digests.size(); i++) {
    if (present[i]) {
      hits.push_back(digests[i]);
    } else {
      rest.push_back(digests[i]);
      rest_at.push_back(i);
    }
  }
  if (!hits.empty()) local_->TouchMany(hits);
  if (rest.empty()) return Status::Ok();
  std::vector<uint8_t> in_local(rest.size());
  RETURN_IF_ERROR(local_->ContainsMany(rest, in_local));
  for (size_t j = 0; j < rest.size(); j++) {
    uint8_t here = in_local[j];
    if (!here && remote_) {
      ASSIGN_OR_RETURN(bool remote, remote_->Contains(rest[j]));
      here = remote ? 1 : 0;
    }
    present[rest_at[j]] = here;
  }
  return Status::Ok();
}

Status TieredBlobStore::FetchFromRemote(const Digest& digest) {
  ASSIGN_OR_RETURN(auto reader, remote_->OpenRead(digest));
  auto writer = local_->OpenWrite(digest);
  if (!writer.ok()) {
    return writer.status().code() == StatusCode::kAlreadyExists ? Status::Ok() : writer.status();
  }
  // Another server's bytes are verified like a client's upload before we keep them.
  Hasher hasher(digest.function());
  std::vector<uint8_t> buf(1 << 20);
  uint64_t off = 0;
  while (off < reader->size()) {
    ASSIGN_OR_RETURN(size_t n, reader->Read(off, buf));
    if (n == 0) break;
    hasher.Update({buf.data(), n});
    RETURN_IF_ERROR((*writer)->Append({buf.data(), n}));
    off += n;
  }
  if (off != digest.size_bytes() || hasher.Finish() != digest.hash()) {
    (*writer)->Abort();
    return Status::DataLoss("remote tier returned bytes that do not match " + digest.ToString());
  }
  RETURN_IF_ERROR((*writer)->Commit());
  remote_fetches_++;
  return Status::Ok();
}

std::unique_ptr<BlobReader> TieredBlobStore::OpenReadIfInMemory(const Digest& digest) {
  if (ram_ == nullptr) return nullptr;
  auto r = ram_->OpenReadIfInMemory(digest);
  if (r) local_->Touch(digest);  // as in OpenRead; no I/O
  return r;
}

Result<std::unique_ptr<BlobReader>> TieredBlobStore::OpenRead(const Digest& digest) {
  if (ram_) {
    auto r = ram_->OpenRead(digest);
    if (r.ok()) {
      // As in Contains: the disk copy must be touched too, or a blob read only
      // from RAM ages out of the ring and is gone after a restart.
      local_->Touch(digest);
      return r;
    }
  }
  auto r = local_->OpenRead(digest);
  if (!r.ok() && r.status().code() == StatusCode::kNotFound && remote_) {
    Status st = FetchFromRemote(digest);
    if (!st.ok()) {
      if (st.code() == StatusCode::kNotFound) return st;
      LOG(kWarn, "remote fetch failed").kv("digest", digest.ToString()).kv("error", st.ToString());
      // Never a false "absent": the blob may well exist behind a failing remote.
      if (st.code() == StatusCode::kDataLoss) {
        return Status::NotFound("blob " + digest.ToString() +
                                " not found (the remote's copy is corrupt)");
      }
      return Status::Unavailable(
          "blob " + digest.ToString() +
          " is not stored locally and the remote tier failed: " + st.message());
    }
    r = local_->OpenRead(digest);
  }
  if (!r.ok()) return r;
  if (ram_ && ram_->Admits((*r)->size())) {
    ASSIGN_OR_RETURN(std::string bytes, ReadWholeBlob(**r));
    auto shared = std::make_shared<const std::string>(std::move(bytes));
    ram_->Insert(digest, shared);
    return std::unique_ptr<BlobReader>(new MemoryBlobReader(std::move(shared)));
  }
  return r;
}

Result<std::unique_ptr<BlobWriter>> TieredBlobStore::OpenWrite(const Digest& digest) {
  ASSIGN_OR_RETURN(auto local, local_->OpenWrite(digest));
  std::unique_ptr<BlobWriter> remote;
  if (remote_ && options_.remote_write_through) {
    auto w = remote_->OpenWrite(digest);
    if (w.ok()) remote = std::move(*w);
  }
  return std::unique_ptr<BlobWriter>(
      new TeeWriter(digest, std::move(local), ram_, std::move(remote)));
}

Status TieredBlobStore::Remove(const Digest& digest) {
  if (ram_) RETURN_IF_ERROR(ram_->Remove(digest));
  return local_->Remove(digest);
}

}  // namespace cycas
