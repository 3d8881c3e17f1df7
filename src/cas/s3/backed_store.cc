#include "cas/s3/backed_store.h"

#include <vector>

#include "digest/hasher.h"
#include "util/log.h"

namespace cycas::s3 {

namespace {

// Write-through: upload a claimed entry now; its failure is the caller's error.
Status UploadThrough(UploadQueue* queue, Uploader* uploader, uint64_t id, const std::string& what) {
  UploadItem item = queue->ReadyAndClaim(id);
  Status st = uploader->Upload(item);
  uploader->Finish(item, st);
  if (st.ok()) return st;
  return Status::Unavailable(what + " is stored locally, but the S3 write-through failed (the upload is "
                             "queued and will be retried): " + st.message());
}

}  // namespace

// The local writer plus the queue entry that was made durable before it.
class BackedBlobWriter final : public BlobWriter {
 public:
  BackedBlobWriter(BackedBlobStore* owner, Digest digest, std::unique_ptr<BlobWriter> local, uint64_t id)
      : owner_(owner), digest_(digest), local_(std::move(local)), id_(id) {}
  ~BackedBlobWriter() override { Abort(); }

  Status Append(std::span<const uint8_t> data) override { return local_->Append(data); }

  Status Commit() override {
    if (done_) return Status::FailedPrecondition("upload of " + digest_.ToString() + " already finished");
    done_ = true;
    Status st = local_->Commit();
    if (!st.ok()) {
      owner_->queue_->Cancel(id_);
      return st;
    }
    if (owner_->options_.write_mode == WriteMode::kWriteThrough) {
      return UploadThrough(owner_->queue_, owner_->uploader_, id_, "blob " + digest_.ToString());
    }
    owner_->queue_->Ready(id_);
    return Status::Ok();
  }

  void Abort() override {
    if (done_) return;
    done_ = true;
    local_->Abort();
    owner_->queue_->Cancel(id_);
  }

 private:
  BackedBlobStore* owner_;
  Digest digest_;
  std::unique_ptr<BlobWriter> local_;
  uint64_t id_;
  bool done_ = false;
};

BackedBlobStore::BackedBlobStore(BlobStore* local, BlobStore* remote, BatchContains* remote_batch,
                                 UploadQueue* queue, Uploader* uploader, Options options)
    : local_(local),
      remote_(remote),
      remote_batch_(remote_batch),
      queue_(queue),
      uploader_(uploader),
      options_(options),
      existence_(options.existence_ttl, options.existence_entries) {}

Result<bool> BackedBlobStore::RemoteAnswer(const Digest& digest, Result<bool> remote, bool strict) {
  if (remote.ok()) {
    contains_remote_++;
    if (*remote) existence_.Insert(digest);
    return *remote;
  }
  contains_unavailable_++;
  if (strict) {
    return Status::Unavailable("cannot tell whether blob " + digest.ToString() +
                               " exists: it is not stored locally and S3 cannot be asked: " +
                               remote.status().message());
  }
  return false;
}

Result<bool> BackedBlobStore::ContainsImpl(const Digest& digest, bool strict) {
  ASSIGN_OR_RETURN(bool local, local_->Contains(digest));
  if (local) {
    contains_local_++;
    return true;
  }
  if (existence_.Contains(digest)) {
    contains_cached_++;
    return true;
  }
  return RemoteAnswer(digest, remote_->Contains(digest), strict);
}

std::vector<Result<bool>> BackedBlobStore::ContainsManyImpl(std::span<const Digest> digests, bool strict) {
  std::vector<Result<bool>> out(digests.size(), Result<bool>(false));
  std::vector<size_t> ask;
  std::vector<Digest> ask_digests;
  for (size_t i = 0; i < digests.size(); i++) {
    auto local = local_->Contains(digests[i]);
    if (!local.ok()) {
      out[i] = local.status();
    } else if (*local) {
      contains_local_++;
      out[i] = true;
    } else if (existence_.Contains(digests[i])) {
      contains_cached_++;
      out[i] = true;
    } else {
      ask.push_back(i);
      ask_digests.push_back(digests[i]);
    }
  }
  if (ask.empty()) return out;
  std::vector<Result<bool>> remote;
  if (remote_batch_ != nullptr) {
    remote = remote_batch_->ContainsMany(ask_digests);
  } else {
    for (const Digest& d : ask_digests) remote.push_back(remote_->Contains(d));
  }
  for (size_t j = 0; j < ask.size(); j++) out[ask[j]] = RemoteAnswer(ask_digests[j], std::move(remote[j]), strict);
  return out;
}

Status BackedBlobStore::Fetch(const Digest& digest) {
  ASSIGN_OR_RETURN(auto reader, remote_->OpenRead(digest));
  auto writer = local_->OpenWrite(digest);
  if (!writer.ok()) {
    // Stored meanwhile by an upload of the same blob: that copy is as good.
    return writer.status().code() == StatusCode::kAlreadyExists ? Status::Ok() : writer.status();
  }
  // Another node's bytes are verified like a client's upload before we keep them.
  Hasher hasher(digest.function());
  std::vector<uint8_t> buf(1 << 20);
  uint64_t off = 0;
  while (off < digest.size_bytes()) {
    auto n = reader->Read(off, buf);
    if (!n.ok() || *n == 0) {
      (*writer)->Abort();
      if (!n.ok()) return n.status();
      return Status::Unavailable("S3 object of " + digest.ToString() + " ended at byte " + std::to_string(off));
    }
    hasher.Update({buf.data(), *n});
    Status st = (*writer)->Append({buf.data(), *n});
    if (!st.ok()) {
      (*writer)->Abort();
      return st;
    }
    off += *n;
  }
  if (hasher.Finish() != digest.hash()) {
    (*writer)->Abort();
    corrupt_++;
    existence_.Erase(digest);
    // Its name promises other bytes: no node can ever use it. Remove it so the
    // next upload of the real blob is not skipped as "already there".
    Status rm = remote_->Remove(digest);
    LOG(kError, "S3 object does not match its digest; removed")
        .kv("digest", digest.ToString())
        .kv("remove", rm.ToString());
    return Status::DataLoss("the S3 copy of " + digest.ToString() + " does not match its digest");
  }
  RETURN_IF_ERROR((*writer)->Commit());
  remote_hits_++;
  remote_bytes_ += digest.size_bytes();
  return Status::Ok();
}

Status BackedBlobStore::FetchOnce(const Digest& digest) {
  std::shared_ptr<Flight> flight;
  bool leader = false;
  {
    std::lock_guard lk(flights_mu_);
    auto& slot = flights_[digest];
    if (!slot) {
      slot = std::make_shared<Flight>();
      leader = true;
    }
    flight = slot;
  }
  if (!leader) {
    joined_++;
    std::unique_lock lk(flight->mu);
    flight->cv.wait(lk, [&] { return flight->done; });
    return flight->status;
  }
  Status st = Fetch(digest);
  {
    std::lock_guard lk(flights_mu_);
    flights_.erase(digest);
  }
  {
    std::lock_guard lk(flight->mu);
    flight->status = st;
    flight->done = true;
  }
  flight->cv.notify_all();
  return st;
}

Result<std::unique_ptr<BlobReader>> BackedBlobStore::OpenRead(const Digest& digest) {
  auto r = local_->OpenRead(digest);
  if (r.ok()) {
    local_hits_++;
    return r;
  }
  if (r.status().code() != StatusCode::kNotFound) return r;
  Status st = FetchOnce(digest);
  if (!st.ok()) {
    switch (st.code()) {
      case StatusCode::kNotFound:
        misses_++;
        return Status::NotFound("blob " + digest.ToString() + " not found (not stored locally, not in S3)");
      case StatusCode::kDataLoss:
        misses_++;
        return Status::NotFound("blob " + digest.ToString() + " not found (" + st.message() + ")");
      case StatusCode::kResourceExhausted:
      case StatusCode::kInvalidArgument:
      case StatusCode::kInternal:
        // The local store refused the copy (e.g. too large for it).
        return st;
      default:
        unavailable_++;
        return Status::Unavailable("blob " + digest.ToString() +
                                   " is not stored locally and S3 is unavailable: " + st.message());
    }
  }
  r = local_->OpenRead(digest);
  if (!r.ok() && r.status().code() == StatusCode::kNotFound) {
    return Status::Unavailable("blob " + digest.ToString() + " was fetched from S3 but is no longer stored locally");
  }
  return r;
}

Result<std::unique_ptr<BlobWriter>> BackedBlobStore::OpenWrite(const Digest& digest) {
  ASSIGN_OR_RETURN(auto local, local_->OpenWrite(digest));
  auto id = queue_->AddBlob(digest);
  if (!id.ok()) {
    local->Abort();
    return id.status();
  }
  return std::unique_ptr<BlobWriter>(new BackedBlobWriter(this, digest, std::move(local), *id));
}

BackedStats BackedBlobStore::Stats() const {
  BackedStats s;
  s.local_hits = local_hits_;
  s.remote_hits = remote_hits_;
  s.remote_bytes = remote_bytes_;
  s.misses = misses_;
  s.unavailable = unavailable_;
  s.corrupt = corrupt_;
  s.joined_fetches = joined_;
  s.contains_local = contains_local_;
  s.contains_cached = contains_cached_;
  s.contains_remote = contains_remote_;
  s.contains_unavailable = contains_unavailable_;
  s.existence_cache_entries = existence_.size();
  return s;
}

Result<std::string> BackedRecordStore::Get(std::string_view name) {
  auto local = local_->Get(name);
  if (local.ok() || local.status().code() != StatusCode::kNotFound) return local;
  auto remote = remote_->Get(name);
  if (remote.ok()) {
    remote_hits_++;
    // Kept locally for the next lookup; not queued (it came from S3).
    if (remote->size() <= local_->max_value_size()) {
      Status st = local_->Put(name, *remote);
      if (!st.ok()) LOG(kWarn, "cannot keep an S3 record locally").kv("record", name).kv("error", st.ToString());
    }
    return remote;
  }
  if (remote.status().code() == StatusCode::kNotFound) {
    return Status::NotFound("record " + std::string(name) + " not found (not stored locally, not in S3)");
  }
  return Status::Unavailable("record " + std::string(name) +
                             " is not stored locally and S3 is unavailable: " + remote.status().message());
}

Status BackedRecordStore::Put(std::string_view name, std::string_view value) {
  if (value.size() > max_value_size()) {
    return Status::InvalidArgument("value of " + std::to_string(value.size()) +
                                   " bytes exceeds the record limit of " + std::to_string(max_value_size()));
  }
  ASSIGN_OR_RETURN(uint64_t id, queue_->AddRecord(name));
  Status st = local_->Put(name, value);
  if (!st.ok()) {
    queue_->Cancel(id);
    return st;
  }
  if (write_mode_ == WriteMode::kWriteThrough) {
    return UploadThrough(queue_, uploader_, id, "record " + std::string(name));
  }
  queue_->Ready(id);
  return Status::Ok();
}

Status BackedRecordStore::Remove(std::string_view name) {
  Status local = local_->Remove(name);
  if (!local.ok() && local.code() != StatusCode::kNotFound) return local;
  return remote_->Remove(name);
}

}  // namespace cycas::s3
