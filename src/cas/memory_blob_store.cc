#include "cas/memory_blob_store.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace cycas {

Result<size_t> MemoryBlobReader::Read(uint64_t offset, std::span<uint8_t> out) {
  if (offset >= bytes_->size()) return size_t{0};
  size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), bytes_->size() - offset));
  std::memcpy(out.data(), bytes_->data() + offset, n);
  return n;
}

Result<std::span<const uint8_t>> MemoryBlobReader::ReadView(uint64_t offset, size_t max) {
  if (offset >= bytes_->size()) return std::span<const uint8_t>();
  size_t n = static_cast<size_t>(std::min<uint64_t>(max, bytes_->size() - offset));
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes_->data()) + offset, n);
}

namespace {
class MemoryBlobWriter final : public BlobWriter {
 public:
  MemoryBlobWriter(MemoryBlobStore* store, Digest digest) : store_(store), digest_(digest) {
    buf_.reserve(digest.size_bytes());
  }
  Status Append(std::span<const uint8_t> data) override {
    if (buf_.size() + data.size() > digest_.size_bytes()) {
      return Status::InvalidArgument("more bytes than the digest's size " +
                                     std::to_string(digest_.size_bytes()));
    }
    buf_.append(reinterpret_cast<const char*>(data.data()), data.size());
    return Status::Ok();
  }
  Status Commit() override {
    store_->Insert(digest_, std::make_shared<const std::string>(std::move(buf_)));
    return Status::Ok();
  }
  void Abort() override { buf_.clear(); }

 private:
  MemoryBlobStore* store_;
  Digest digest_;
  std::string buf_;
};
}  // namespace

MemoryBlobStore::MemoryBlobStore(uint64_t capacity_bytes, uint64_t max_blob_size)
    : capacity_(capacity_bytes), max_blob_size_(max_blob_size) {}

Result<bool> MemoryBlobStore::Contains(const Digest& digest) {
  std::lock_guard lk(mu_);
  auto it = index_.find(digest);
  if (it == index_.end()) return false;
  lru_.splice(lru_.begin(), lru_, it->second);
  return true;
}

Status MemoryBlobStore::ContainsMany(std::span<const Digest> digests, std::span<uint8_t> present) {
  assert(digests.size() == present.size());
  // Taking the lock per digest cost more than the lookups under contention
  // (FindMissing checks thousands at once, from several pool threads); taking
  // it per batch of this many bounds how long other callers wait.
  constexpr size_t kPerLock = 128;
  for (size_t begin = 0; begin < digests.size(); begin += kPerLock) {
    const size_t end = std::min(digests.size(), begin + kPerLock);
    std::lock_guard lk(mu_);
    for (size_t i = begin; i < end; i++) {
      auto it = index_.find(digests[i]);
      present[i] = it == index_.end() ? 0 : 1;
      if (it != index_.end()) lru_.splice(lru_.begin(), lru_, it->second);
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<BlobReader>> MemoryBlobStore::OpenRead(const Digest& digest) {
  std::lock_guard lk(mu_);
  auto it = index_.find(digest);
  if (it == index_.end()) {
    misses_++;
    return Status::NotFound("blob " + digest.ToString() + " not in RAM tier");
  }
  hits_++;
  lru_.splice(lru_.begin(), lru_, it->second);
  return std::unique_ptr<BlobReader>(new MemoryBlobReader(it->second->bytes));
}

std::unique_ptr<BlobReader> MemoryBlobStore::OpenReadIfInMemory(const Digest& digest) {
  // A miss is not counted here: the caller goes on to OpenRead(), which counts it.
  std::lock_guard lk(mu_);
  auto it = index_.find(digest);
  if (it == index_.end()) return nullptr;
  hits_++;
  lru_.splice(lru_.begin(), lru_, it->second);
  return std::unique_ptr<BlobReader>(new MemoryBlobReader(it->second->bytes));
}

Result<std::unique_ptr<BlobWriter>> MemoryBlobStore::OpenWrite(const Digest& digest) {
  if (!Admits(digest.size_bytes())) {
    return Status::InvalidArgument("blob " + digest.ToString() +
                                   " is larger than the RAM tier admits (" +
                                   std::to_string(max_blob_size_) + " bytes)");
  }
  {
    std::lock_guard lk(mu_);
    if (index_.contains(digest))
      return Status::AlreadyExists("blob " + digest.ToString() + " exists");
  }
  return std::unique_ptr<BlobWriter>(new MemoryBlobWriter(this, digest));
}

void MemoryBlobStore::Insert(const Digest& digest, std::shared_ptr<const std::string> bytes) {
  if (!Admits(bytes->size())) return;
  std::lock_guard lk(mu_);
  if (auto it = index_.find(digest); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  used_ += bytes->size();
  lru_.push_front(Item{digest, std::move(bytes)});
  index_.emplace(digest, lru_.begin());
  while (used_ > capacity_ && !lru_.empty()) {
    used_ -= lru_.back().bytes->size();
    index_.erase(lru_.back().digest);
    lru_.pop_back();
  }
}

Status MemoryBlobStore::Remove(const Digest& digest) {
  std::lock_guard lk(mu_);
  auto it = index_.find(digest);
  if (it != index_.end()) {
    used_ -= it->second->bytes->size();
    lru_.erase(it->second);
    index_.erase(it);
  }
  return Status::Ok();
}

uint64_t MemoryBlobStore::bytes_used() const {
  std::lock_guard lk(mu_);
  return used_;
}

}  // namespace cycas
