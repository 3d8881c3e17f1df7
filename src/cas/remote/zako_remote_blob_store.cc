#include "cas/remote/zako_remote_blob_store.h"

#include <algorithm>
#include <cstring>

namespace cycas {
namespace {

class RemoteBlobReader final : public BlobReader {
 public:
  RemoteBlobReader(client::ZakoClient* client, Digest digest,
                   std::unique_ptr<client::DownloadStream> stream)
      : client_(client), digest_(digest), stream_(std::move(stream)) {}

  uint64_t size() const override { return digest_.size_bytes(); }

  Result<size_t> Read(uint64_t offset, std::span<uint8_t> out) override {
    if (offset >= digest_.size_bytes() || out.empty()) return size_t{0};
    if (!stream_ || offset != pos_) {
      ASSIGN_OR_RETURN(stream_, client_->OpenDownload(digest_, offset));
      pos_ = offset;
      buf_.clear();
      buf_off_ = 0;
    }
    while (buf_off_ == buf_.size()) {
      buf_off_ = 0;
      ASSIGN_OR_RETURN(bool more, stream_->Next(&buf_));
      if (!more) {
        buf_.clear();
        stream_.reset();
        return Status::DataLoss("remote download of " + digest_.ToString() + " ended at byte " +
                                std::to_string(pos_));
      }
    }
    size_t n = std::min(out.size(), buf_.size() - buf_off_);
    std::memcpy(out.data(), buf_.data() + buf_off_, n);
    buf_off_ += n;
    pos_ += n;
    return n;
  }

 private:
  client::ZakoClient* client_;
  Digest digest_;
  std::unique_ptr<client::DownloadStream> stream_;
  uint64_t pos_ = 0;  // blob offset of buf_[buf_off_]
  std::string buf_;
  size_t buf_off_ = 0;
};

class RemoteBlobWriter final : public BlobWriter {
 public:
  explicit RemoteBlobWriter(std::unique_ptr<client::UploadStream> s) : stream_(std::move(s)) {}
  ~RemoteBlobWriter() override { Abort(); }
  Status Append(std::span<const uint8_t> data) override { return stream_->Append(data); }
  Status Commit() override {
    auto r = stream_->Finish();
    if (!r.ok() && r.status().code() != StatusCode::kAlreadyExists) return r.status();
    return Status::Ok();
  }
  void Abort() override { stream_->Cancel(); }

 private:
  std::unique_ptr<client::UploadStream> stream_;
};

}  // namespace

Result<std::unique_ptr<ZakoRemoteBlobStore>> ZakoRemoteBlobStore::Create(
    client::ClientOptions options) {
  ASSIGN_OR_RETURN(auto c, client::ZakoClient::Connect(std::move(options)));
  return std::unique_ptr<ZakoRemoteBlobStore>(new ZakoRemoteBlobStore(std::move(c)));
}

Result<bool> ZakoRemoteBlobStore::Contains(const Digest& digest) {
  if (digest.function() != DigestFunction::kBlake3) return false;  // zako is BLAKE3 only
  ASSIGN_OR_RETURN(auto missing, client_->FindMissing({&digest, 1}));
  return missing.empty();
}

Result<std::unique_ptr<BlobReader>> ZakoRemoteBlobStore::OpenRead(const Digest& digest) {
  if (digest.function() != DigestFunction::kBlake3) {
    return Status::NotFound("the remote tier holds only BLAKE3 blobs");
  }
  ASSIGN_OR_RETURN(auto stream, client_->OpenDownload(digest, 0));
  return std::unique_ptr<BlobReader>(new RemoteBlobReader(client_.get(), digest, std::move(stream)));
}

Result<std::unique_ptr<BlobWriter>> ZakoRemoteBlobStore::OpenWrite(const Digest& digest) {
  if (digest.function() != DigestFunction::kBlake3) {
    return Status::InvalidArgument("the remote tier stores only BLAKE3 blobs");
  }
  ASSIGN_OR_RETURN(bool present, Contains(digest));
  if (present) return Status::AlreadyExists("blob " + digest.ToString() + " exists remotely");
  ASSIGN_OR_RETURN(auto stream, client_->OpenUpload(digest));
  return std::unique_ptr<BlobWriter>(new RemoteBlobWriter(std::move(stream)));
}

Status ZakoRemoteBlobStore::Remove(const Digest& digest) {
  return Status::Unimplemented("the zako protocol cannot remove " + digest.ToString());
}

}  // namespace cycas
