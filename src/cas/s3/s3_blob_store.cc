#include "cas/s3/s3_blob_store.h"

#include <algorithm>

#include "util/log.h"

namespace cycas::s3 {

namespace {

class S3BlobReader final : public BlobReader {
 public:
  S3BlobReader(S3Client* client, std::string key, uint64_t size, size_t buffer_bytes, Download first)
      : client_(client),
        key_(std::move(key)),
        size_(size),
        buffer_bytes_(buffer_bytes),
        stream_(std::move(first.stream)),
        pos_(first.offset) {}

  uint64_t size() const override { return size_; }

  Result<size_t> Read(uint64_t offset, std::span<uint8_t> out) override {
    if (offset >= size_ || out.empty()) return size_t{0};
    out = out.first(static_cast<size_t>(std::min<uint64_t>(out.size(), size_ - offset)));
    int broken = 0;
    for (;;) {
      if (!stream_ || offset != pos_) {
        stream_.reset();
        ASSIGN_OR_RETURN(Download d, client_->OpenDownload(key_, offset, buffer_bytes_));
        if (d.object_size != size_) {
          return Status::Unavailable("S3 GET " + key_ + ": the object changed size while being read");
        }
        stream_ = std::move(d.stream);
        pos_ = offset;
      }
      auto n = stream_->Read(out);
      if (n.ok() && *n > 0) {
        pos_ += *n;
        return *n;
      }
      // The body ended early or the transfer broke off: continue from here
      // with a ranged GET, as often as a request would be retried.
      stream_.reset();
      if (++broken > client_->options().retries) {
        return n.ok() ? Status::Unavailable("S3 GET " + key_ + ": body ended at byte " +
                                            std::to_string(pos_) + " of " + std::to_string(size_))
                      : n.status();
      }
      LOG(kDebug, "S3 download resumed").kv("key", key_).kv("offset", pos_);
    }
  }

 private:
  S3Client* client_;
  std::string key_;
  uint64_t size_;
  size_t buffer_bytes_;
  std::unique_ptr<HttpStream> stream_;
  uint64_t pos_;
};

class S3BlobWriter final : public BlobWriter {
 public:
  S3BlobWriter(S3Client* client, std::string key, uint64_t expected_size)
      : client_(client), key_(std::move(key)), expected_(expected_size) {
    const S3Options& o = client_->options();
    multipart_ = expected_ > o.multipart_threshold;
    if (multipart_) {
      // S3 allows 10,000 parts: grow the part size for huge blobs (whole MiBs).
      uint64_t min_part = (expected_ + 9'999) / 10'000;
      part_size_ = std::max<uint64_t>(o.part_size, (min_part + (1u << 20) - 1) & ~uint64_t{(1u << 20) - 1});
      buffer_.reserve(static_cast<size_t>(part_size_));
    } else {
      buffer_.reserve(static_cast<size_t>(expected_));
    }
  }
  ~S3BlobWriter() override { Abort(); }

  Status Append(std::span<const uint8_t> data) override {
    if (done_) return Status::FailedPrecondition("S3 upload of " + key_ + " already finished");
    if (received_ + data.size() > expected_) {
      Abort();
      return Status::InvalidArgument("S3 upload of " + key_ + ": more than the expected " +
                                     std::to_string(expected_) + " bytes");
    }
    received_ += data.size();
    const char* p = reinterpret_cast<const char*>(data.data());
    size_t left = data.size();
    while (left > 0) {
      size_t room = multipart_ ? static_cast<size_t>(part_size_) - buffer_.size() : left;
      size_t n = std::min(room, left);
      buffer_.append(p, n);
      p += n;
      left -= n;
      if (multipart_ && buffer_.size() == part_size_) {
        Status st = FlushPart();
        if (!st.ok()) {
          Abort();
          return st;
        }
      }
    }
    return Status::Ok();
  }

  Status Commit() override {
    if (done_) return Status::FailedPrecondition("S3 upload of " + key_ + " already finished");
    if (received_ != expected_) {
      Abort();
      return Status::InvalidArgument("S3 upload of " + key_ + " is incomplete: " +
                                     std::to_string(received_) + " of " + std::to_string(expected_) +
                                     " bytes");
    }
    Status st;
    if (!multipart_) {
      st = client_->Put(key_, buffer_);
    } else {
      if (!buffer_.empty() || etags_.empty()) st = FlushPart();
      if (st.ok()) st = client_->CompleteMultipartUpload(key_, upload_id_, etags_);
    }
    if (!st.ok()) {
      Abort();
      return st;
    }
    done_ = true;
    buffer_.clear();
    buffer_.shrink_to_fit();
    return Status::Ok();
  }

  void Abort() override {
    if (done_) return;
    done_ = true;
    buffer_.clear();
    buffer_.shrink_to_fit();
    if (!upload_id_.empty()) {
      // Parts of an aborted upload would otherwise be billed and kept forever.
      Status st = client_->AbortMultipartUpload(key_, upload_id_);
      if (!st.ok()) {
        LOG(kWarn, "S3 multipart abort failed (a bucket lifecycle rule for incomplete uploads cleans it up)")
            .kv("key", key_)
            .kv("error", st.ToString());
      }
    }
  }

 private:
  Status FlushPart() {
    if (upload_id_.empty()) {
      ASSIGN_OR_RETURN(upload_id_, client_->CreateMultipartUpload(key_));
    }
    ASSIGN_OR_RETURN(std::string etag,
                     client_->UploadPart(key_, upload_id_, static_cast<int>(etags_.size() + 1), buffer_));
    etags_.push_back(std::move(etag));
    buffer_.clear();
    return Status::Ok();
  }

  S3Client* client_;
  std::string key_;
  uint64_t expected_;
  bool multipart_ = false;
  uint64_t part_size_ = 0;
  uint64_t received_ = 0;
  std::string buffer_;
  std::string upload_id_;
  std::vector<std::string> etags_;
  bool done_ = false;
};

}  // namespace

S3BlobStore::S3BlobStore(S3Client* client, ObjectLayout layout, size_t read_buffer_bytes)
    : client_(client), layout_(std::move(layout)), read_buffer_bytes_(read_buffer_bytes) {}

Result<bool> S3BlobStore::Contains(const Digest& digest) {
  ASSIGN_OR_RETURN(std::optional<uint64_t> size, client_->Head(layout_.BlobKey(digest)));
  if (!size) return false;
  if (*size != digest.size_bytes()) {
    size_mismatches_++;
    LOG(kWarn, "S3 object has the wrong size for its digest; treated as absent")
        .kv("digest", digest.ToString())
        .kv("object_size", *size);
    return false;
  }
  return true;
}

std::vector<Result<bool>> S3BlobStore::ContainsMany(std::span<const Digest> digests) {
  std::vector<std::string> keys;
  keys.reserve(digests.size());
  for (const Digest& d : digests) keys.push_back(layout_.BlobKey(d));
  auto sizes = client_->HeadMany(keys);
  std::vector<Result<bool>> out;
  out.reserve(digests.size());
  for (size_t i = 0; i < digests.size(); i++) {
    if (!sizes[i].ok()) {
      out.emplace_back(sizes[i].status());
    } else {
      bool present = sizes[i]->has_value() && **sizes[i] == digests[i].size_bytes();
      if (sizes[i]->has_value() && !present) size_mismatches_++;
      out.emplace_back(present);
    }
  }
  return out;
}

Result<std::unique_ptr<BlobReader>> S3BlobStore::OpenRead(const Digest& digest) {
  std::string key = layout_.BlobKey(digest);
  auto d = client_->OpenDownload(key, 0, read_buffer_bytes_);
  if (!d.ok()) {
    if (d.status().code() == StatusCode::kNotFound) {
      return Status::NotFound("blob " + digest.ToString() + " is not in S3");
    }
    return d.status();
  }
  if (d->object_size != digest.size_bytes()) {
    size_mismatches_++;
    return Status::NotFound("blob " + digest.ToString() + ": S3 object " + key + " has " +
                            std::to_string(d->object_size) + " bytes, not " +
                            std::to_string(digest.size_bytes()));
  }
  return std::unique_ptr<BlobReader>(
      new S3BlobReader(client_, std::move(key), digest.size_bytes(), read_buffer_bytes_, std::move(*d)));
}

Result<std::unique_ptr<BlobWriter>> S3BlobStore::OpenWrite(const Digest& digest) {
  ASSIGN_OR_RETURN(bool present, Contains(digest));
  if (present) return Status::AlreadyExists("blob " + digest.ToString() + " is already in S3");
  return std::unique_ptr<BlobWriter>(new S3BlobWriter(client_, layout_.BlobKey(digest), digest.size_bytes()));
}

Result<std::unique_ptr<BlobWriter>> S3BlobStore::OpenOverwrite(const Digest& digest) {
  return std::unique_ptr<BlobWriter>(new S3BlobWriter(client_, layout_.BlobKey(digest), digest.size_bytes()));
}

Status S3BlobStore::Remove(const Digest& digest) { return client_->Delete(layout_.BlobKey(digest)); }

Result<std::string> S3RecordStore::Get(std::string_view name) {
  auto r = client_->Get(layout_.RecordKey(name), max_value_size());
  if (!r.ok() && r.status().code() == StatusCode::kNotFound) {
    return Status::NotFound("record " + std::string(name) + " is not in S3");
  }
  return r;
}

Status S3RecordStore::Put(std::string_view name, std::string_view value) {
  if (value.size() > max_value_size()) {
    return Status::InvalidArgument("record of " + std::to_string(value.size()) +
                                   " bytes exceeds s3.max_record_size");
  }
  return client_->Put(layout_.RecordKey(name), value);
}

Status S3RecordStore::Remove(std::string_view name) { return client_->Delete(layout_.RecordKey(name)); }

}  // namespace cycas::s3
