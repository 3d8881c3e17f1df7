#include "cas/s3/uploader.h"

#include <random>
#include <vector>

#include "util/log.h"

namespace cycas::s3 {

Uploader::Uploader(UploadQueue* queue, BlobStore* local_blobs, RecordStore* local_records,
                   BlobStore* remote_blobs, RecordStore* remote_records, Options options,
                   BlindWrite* blind)
    : queue_(queue),
      local_blobs_(local_blobs),
      local_records_(local_records),
      remote_blobs_(remote_blobs),
      remote_records_(remote_records),
      options_(options),
      blind_(blind) {
  backoff_.base = options_.backoff;
  backoff_.max = options_.backoff_max;
}

Uploader::~Uploader() { Stop(); }

void Uploader::Start() {
  std::lock_guard lk(mu_);
  stop_ = false;
  for (int i = 0; i < options_.workers; i++) workers_.emplace_back([this] { WorkerLoop(); });
}

void Uploader::Stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

Status Uploader::UploadBlob(const Digest& digest) {
  auto reader = local_blobs_->OpenRead(digest);
  if (!reader.ok()) {
    if (reader.status().code() == StatusCode::kNotFound) {
      lost_++;
      LOG(kWarn, "S3 upload dropped: the blob left the local store before it was uploaded")
          .kv("digest", digest.ToString());
      return Status::Ok();
    }
    return reader.status();
  }
  bool blind = blind_ != nullptr && digest.size_bytes() <= options_.blind_put_max;
  auto writer = blind ? blind_->OpenOverwrite(digest) : remote_blobs_->OpenWrite(digest);
  if (!writer.ok()) {
    if (writer.status().code() == StatusCode::kAlreadyExists) {
      present_++;
      return Status::Ok();
    }
    return writer.status();
  }
  std::vector<uint8_t> buf(1 << 20);
  uint64_t off = 0, size = (*reader)->size();
  while (off < size) {
    auto n = (*reader)->Read(off, buf);
    if (!n.ok() || *n == 0) {
      (*writer)->Abort();
      if (!n.ok() && n.status().code() != StatusCode::kNotFound) return n.status();
      lost_++;  // overwritten while being read
      return Status::Ok();
    }
    Status st = (*writer)->Append({buf.data(), *n});
    if (!st.ok()) {
      (*writer)->Abort();
      return st;
    }
    off += *n;
  }
  RETURN_IF_ERROR((*writer)->Commit());
  blobs_++;
  bytes_ += size;
  return Status::Ok();
}

Status Uploader::UploadRecord(const std::string& name) {
  auto value = local_records_->Get(name);
  if (!value.ok()) {
    if (value.status().code() == StatusCode::kNotFound) {
      lost_++;
      return Status::Ok();
    }
    return value.status();
  }
  RETURN_IF_ERROR(remote_records_->Put(name, *value));
  records_++;
  return Status::Ok();
}

Status Uploader::Upload(const UploadItem& item) {
  if (item.kind == UploadItem::Kind::kBlob) {
    if (!item.digest) return Status::Ok();
    return UploadBlob(*item.digest);
  }
  return UploadRecord(item.record);
}

std::chrono::milliseconds Uploader::NextBackoff(int failures) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  // At least half the ceiling, so a gateway that is down is not probed in a tight loop.
  auto full = backoff_.Backoff(std::min(failures, 30), ~uint64_t{0} >> 1);
  auto jitter = backoff_.Backoff(std::min(failures, 30), rng());
  return full / 2 + jitter / 2;
}

void Uploader::Finish(UploadItem item, const Status& status) {
  if (status.ok()) {
    queue_->Done(item.id);
    std::lock_guard lk(mu_);
    consecutive_failures_ = 0;
    return;
  }
  failures_++;
  item.attempts++;
  std::chrono::milliseconds delay;
  {
    std::lock_guard lk(mu_);
    delay = NextBackoff(consecutive_failures_++);
    resume_at_ = std::chrono::steady_clock::now() + delay;
  }
  // The first failure of an entry is worth a warning; its retries only a debug line.
  if (item.attempts == 1) {
    LOG(kWarn, "S3 upload failed; will retry")
        .kv("item", item.Describe())
        .kv("retry_in_ms", delay.count())
        .kv("error", status.ToString());
  } else {
    LOG(kDebug, "S3 upload failed again; will retry")
        .kv("item", item.Describe())
        .kv("attempts", item.attempts)
        .kv("retry_in_ms", delay.count())
        .kv("error", status.ToString());
  }
  queue_->Retry(std::move(item), delay);
}

void Uploader::WorkerLoop() {
  for (;;) {
    {
      std::unique_lock lk(mu_);
      // While S3 is failing, every worker waits out the backoff together.
      while (!stop_ && std::chrono::steady_clock::now() < resume_at_) cv_.wait_until(lk, resume_at_);
      if (stop_) return;
    }
    auto item = queue_->Take(std::chrono::steady_clock::now() + std::chrono::milliseconds(200));
    if (!item) {
      std::lock_guard lk(mu_);
      if (stop_) return;
      continue;
    }
    Finish(*item, Upload(*item));
  }
}

UploaderStats Uploader::Stats() const {
  UploaderStats s;
  s.blobs_uploaded = blobs_;
  s.bytes_uploaded = bytes_;
  s.records_uploaded = records_;
  s.already_present = present_;
  s.lost = lost_;
  s.failures = failures_;
  {
    std::lock_guard lk(mu_);
    s.paused = std::chrono::steady_clock::now() < resume_at_;
  }
  return s;
}

}  // namespace cycas::s3
