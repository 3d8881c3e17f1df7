// S3Client: the S3 operations the tier needs (HEAD, ranged GET, PUT,
// multipart upload, DELETE), each retried with backoff on transient failures
// and answered as a Status that tells "absent" (NOT_FOUND) from "could not ask"
// (UNAVAILABLE) — see retry_policy.h for the one mapping.
//
// Small requests are bounded by s3.request_timeout; transfers whose length
// depends on the object's size (ranged GETs, large PUTs and parts) by
// s3.stall_timeout. Also keeps the tier's health: the outcome and latency of
// the last requests, for /status and metrics. Safe for concurrent use.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cas/s3/http_transport.h"
#include "cas/s3/s3_options.h"
#include "util/status.h"

namespace cycas::s3 {

// An open ranged GET: the body from `offset` to the end of the object.
struct Download {
  std::unique_ptr<HttpStream> stream;
  uint64_t object_size = 0;
  uint64_t offset = 0;
};

struct S3ClientStats {
  uint64_t heads = 0, gets = 0, puts = 0, deletes = 0, parts = 0, multipart_uploads = 0;
  uint64_t multipart_aborts = 0;
  uint64_t retries = 0;
  uint64_t not_found = 0;
  uint64_t failures = 0;  // requests that ended in an error other than NOT_FOUND
  uint64_t consecutive_failures = 0;
  std::string last_error;  // empty when the last request succeeded
  double seconds_since_success = -1;  // -1: never succeeded
  TransportStats transport;
};

class S3Client {
 public:
  static Result<std::unique_ptr<S3Client>> Create(const S3Options& options);

  // The object's size when present; nullopt when absent.
  Result<std::optional<uint64_t>> Head(const std::string& key);
  // Head() of many keys at once, up to s3.concurrency at a time; answers in order.
  std::vector<Result<std::optional<uint64_t>>> HeadMany(std::span<const std::string> keys);
  // A whole object of at most `max_size` bytes.
  Result<std::string> Get(const std::string& key, uint64_t max_size);
  // A streamed GET from `offset` (Range: bytes=offset-), buffering at most
  // `buffer_bytes` ahead of the reader.
  Result<Download> OpenDownload(const std::string& key, uint64_t offset, size_t buffer_bytes);
  Status Put(const std::string& key, std::string_view body);
  // Absent objects are fine (DELETE is idempotent).
  Status Delete(const std::string& key);

  Result<std::string> CreateMultipartUpload(const std::string& key);  // the upload id
  Result<std::string> UploadPart(const std::string& key, const std::string& upload_id,
                                 int part_number, std::string_view body);  // the part's ETag
  Status CompleteMultipartUpload(const std::string& key, const std::string& upload_id,
                                 const std::vector<std::string>& etags);
  Status AbortMultipartUpload(const std::string& key, const std::string& upload_id);

  // HEAD of the bucket: OK, or an error saying why it cannot be used.
  Status CheckBucket();

  const S3Options& options() const { return options_; }
  S3ClientStats Stats() const;
  HttpTransport* transport() { return transport_.get(); }

 private:
  S3Client(S3Options options, std::unique_ptr<HttpTransport> transport);

  HttpRequest Request(std::string method, const std::string& key, std::string query = {}) const;
  // Performs with retries; the final response (success or the last failure).
  HttpResponse Exchange(const HttpRequest& request);
  // Status of a finished exchange, with the health bookkeeping.
  Status Outcome(std::string_view what, const HttpResponse& r);
  std::chrono::milliseconds TimeoutFor(size_t body_bytes) const;
  void Sleep(int retry);

  S3Options options_;
  std::unique_ptr<HttpTransport> transport_;
  RetryPolicy retry_;

  std::atomic<uint64_t> heads_{0}, gets_{0}, puts_{0}, deletes_{0}, parts_{0}, multiparts_{0};
  std::atomic<uint64_t> aborts_{0}, retries_{0}, not_found_{0}, failures_{0}, consecutive_failures_{0};
  mutable std::mutex health_mu_;
  std::string last_error_;
  std::optional<std::chrono::steady_clock::time_point> last_success_;
};

}  // namespace cycas::s3
