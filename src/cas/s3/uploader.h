// Uploader: the workers that drain the UploadQueue into S3.
//
// Each entry is uploaded from the local store as it is now: a blob is streamed
// from the local engine — a large one only after a HEAD found it missing
// (another node may have uploaded it), a small one (<= blind_put_max) with a
// plain PUT, since asking costs as much as sending; a record is uploaded with
// its newest local value. An
// entry whose local copy is gone (evicted before it could be uploaded) is
// dropped and counted as lost. A failed upload goes back into the queue with
// exponential backoff, and when S3 is unavailable all workers pause together
// for that backoff instead of hammering a gateway that is down.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "cas/blob_store.h"
#include "cas/record_store.h"
#include "cas/s3/retry_policy.h"
#include "cas/s3/s3_blob_store.h"
#include "cas/s3/upload_queue.h"

namespace cycas::s3 {

struct UploaderStats {
  uint64_t blobs_uploaded = 0, bytes_uploaded = 0, records_uploaded = 0;
  uint64_t already_present = 0;  // S3 had the blob: nothing sent
  uint64_t lost = 0;             // local copy gone before upload
  uint64_t failures = 0;         // attempts that failed (and were requeued)
  bool paused = false;           // backing off after S3 failures
};

class Uploader {
 public:
  struct Options {
    int workers = 4;
    std::chrono::milliseconds backoff{100};
    std::chrono::milliseconds backoff_max{5'000};
    // Blobs up to this size are PUT without asking first whether S3 has them
    // (when the remote supports it): one round trip instead of two.
    uint64_t blind_put_max = 64 * 1024;
  };
  // Nothing is owned. Workers start with Start().
  // `blind` (may be null) is remote_blobs' BlindWrite face.
  Uploader(UploadQueue* queue, BlobStore* local_blobs, RecordStore* local_records, BlobStore* remote_blobs,
           RecordStore* remote_records, Options options, BlindWrite* blind = nullptr);
  ~Uploader();

  void Start();
  // Stops the workers after their current upload; queued entries stay queued.
  void Stop();

  // Uploads one entry now, in the caller's thread. OK also when there was
  // nothing to do (already in S3, or lost locally: see stats).
  Status Upload(const UploadItem& item);
  // Records the outcome of an Upload() of a claimed item: Done, or requeued with backoff.
  void Finish(UploadItem item, const Status& status);

  UploaderStats Stats() const;

 private:
  void WorkerLoop();
  Status UploadBlob(const Digest& digest);
  Status UploadRecord(const std::string& name);
  std::chrono::milliseconds NextBackoff(int failures);

  UploadQueue* queue_;
  BlobStore* local_blobs_;
  RecordStore* local_records_;
  BlobStore* remote_blobs_;
  RecordStore* remote_records_;
  Options options_;
  BlindWrite* blind_;
  RetryPolicy backoff_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::chrono::steady_clock::time_point resume_at_{};  // global pause after failures
  int consecutive_failures_ = 0;
  std::vector<std::thread> workers_;

  std::atomic<uint64_t> blobs_{0}, bytes_{0}, records_{0}, present_{0}, lost_{0}, failures_{0};
};

}  // namespace cycas::s3
