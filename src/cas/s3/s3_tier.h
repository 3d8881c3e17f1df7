// S3Tier: the whole S3 tier, assembled from S3Options in one place — the
// client, the bucket as blob and record stores, the durable upload queue, the
// uploader and the local-in-front composition the server serves from.
//
//   server:  TieredBlobStore(ram, tier.blobs())   CasStore / front-ends
//            ActionCache over tier.strict_blobs() and tier.records()
//   tier:    BackedBlobStore(local engine, S3BlobStore)  + UploadQueue + Uploader
//
// Its metrics (Prometheus text) and status (JSON) report S3's health, request
// counts and latency, and the upload queue's depth and age.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cas/s3/backed_store.h"
#include "cas/s3/s3_blob_store.h"
#include "cas/s3/s3_client.h"
#include "cas/s3/s3_options.h"
#include "cas/s3/upload_queue.h"
#include "cas/s3/uploader.h"
#include "cas/tier_report.h"

namespace cycas::s3 {

class S3Tier final : public TierReport {
 public:
  // `local_blobs` and `local_records` (the engine) are not owned. Fails when the
  // configuration is unusable (e.g. the bucket does not exist); starts anyway,
  // with a warning, when S3 cannot be reached: a node must serve its local
  // cache while the object store is down.
  static Result<std::unique_ptr<S3Tier>> Create(const S3Options& options, BlobStore* local_blobs,
                                                RecordStore* local_records);
  // Stops the uploader; what it has not uploaded stays in the durable queue.
  ~S3Tier();

  // Local in front of S3. Contains() answers "absent" when S3 cannot be asked.
  BackedBlobStore* blobs() { return backed_blobs_.get(); }
  // The same, with Contains() answering UNAVAILABLE instead (action-cache completeness).
  BlobStore* strict_blobs() { return backed_blobs_->strict(); }
  RecordStore* records() { return backed_records_.get(); }

  S3Client* client() { return client_.get(); }
  S3BlobStore* bucket_blobs() { return s3_blobs_.get(); }
  UploadQueue* queue() { return queue_.get(); }
  Uploader* uploader() { return uploader_.get(); }
  const S3Options& options() const { return options_; }

  // "up" (the last request succeeded), "down" (it failed: S3 unreachable or
  // failing), or "unknown" (nothing asked yet).
  std::string State() const;
  std::string_view report_name() const override { return "s3"; }
  void RenderPrometheus(std::string& out) const override;
  std::string StatusJson() const override;

  // Stops the uploader now (the destructor does it too).
  void Stop();

 private:
  explicit S3Tier(S3Options options) : options_(std::move(options)) {}
  // Logs changes of S3's state and of the queue (e.g. "drained"), once a second.
  void MonitorLoop();

  S3Options options_;
  std::unique_ptr<S3Client> client_;
  std::unique_ptr<S3BlobStore> s3_blobs_;
  std::unique_ptr<S3RecordStore> s3_records_;
  std::unique_ptr<UploadQueue> queue_;
  std::unique_ptr<Uploader> uploader_;
  std::unique_ptr<BackedBlobStore> backed_blobs_;
  std::unique_ptr<BackedRecordStore> backed_records_;

  std::mutex monitor_mu_;
  std::condition_variable monitor_cv_;
  bool monitor_stop_ = false;
  std::thread monitor_;
};

}  // namespace cycas::s3
