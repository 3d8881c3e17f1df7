#include "cas/s3/s3_tier.h"

#include <cstdio>
#include <sstream>

#include "util/log.h"

namespace cycas::s3 {

Result<std::unique_ptr<S3Tier>> S3Tier::Create(const S3Options& options, BlobStore* local_blobs,
                                               RecordStore* local_records) {
  std::unique_ptr<S3Tier> t(new S3Tier(options));
  ASSIGN_OR_RETURN(t->client_, S3Client::Create(options));
  Status bucket = t->client_->CheckBucket();
  if (bucket.code() == StatusCode::kFailedPrecondition) return bucket;
  if (!bucket.ok()) {
    LOG(kWarn, "S3 is not reachable at startup; serving the local cache and queueing uploads")
        .kv("endpoint", options.endpoint)
        .kv("error", bucket.ToString());
  }
  ObjectLayout layout(options.prefix);
  t->s3_blobs_ = std::make_unique<S3BlobStore>(t->client_.get(), layout);
  t->s3_records_ = std::make_unique<S3RecordStore>(t->client_.get(), layout);
  UploadQueue::Options qo;
  qo.dir = options.queue_dir;
  qo.limit = options.queue_limit;
  qo.full_wait = options.queue_full_wait;
  ASSIGN_OR_RETURN(t->queue_, UploadQueue::Open(qo));
  Uploader::Options uo;
  uo.workers = options.upload_workers;
  uo.backoff = options.retry_backoff;
  uo.backoff_max = options.retry_backoff_max;
  t->uploader_ = std::make_unique<Uploader>(t->queue_.get(), local_blobs, local_records, t->s3_blobs_.get(),
                                            t->s3_records_.get(), uo, t->s3_blobs_.get());
  BackedBlobStore::Options bo;
  bo.write_mode = options.write_mode;
  bo.existence_ttl = options.existence_cache_ttl;
  bo.existence_entries = options.existence_cache_entries;
  t->backed_blobs_ = std::make_unique<BackedBlobStore>(local_blobs, t->s3_blobs_.get(), t->s3_blobs_.get(),
                                                       t->queue_.get(), t->uploader_.get(), bo);
  t->backed_records_ = std::make_unique<BackedRecordStore>(local_records, t->s3_records_.get(), t->queue_.get(),
                                                           t->uploader_.get(), options.write_mode);
  t->uploader_->Start();
  t->monitor_ = std::thread([p = t.get()] { p->MonitorLoop(); });
  LOG(kInfo, "S3 tier ready")
      .kv("endpoint", options.endpoint)
      .kv("bucket", options.bucket)
      .kv("prefix", options.prefix)
      .kv("write_mode", options.write_mode == WriteMode::kWriteBack ? "write-back" : "write-through")
      .kv("credentials", options.credentials.source)
      .kv("queued", t->queue_->depth());
  return t;
}

S3Tier::~S3Tier() { Stop(); }

void S3Tier::Stop() {
  {
    std::lock_guard lk(monitor_mu_);
    monitor_stop_ = true;
  }
  monitor_cv_.notify_all();
  if (monitor_.joinable()) monitor_.join();
  if (uploader_) uploader_->Stop();
  if (queue_) queue_->Close();
}

std::string S3Tier::State() const {
  S3ClientStats s = client_->Stats();
  if (s.consecutive_failures > 0) return "down";
  if (s.seconds_since_success < 0) return "unknown";
  return "up";
}

void S3Tier::MonitorLoop() {
  std::string last_state = "unknown";
  uint64_t last_depth = queue_->depth();
  std::unique_lock lk(monitor_mu_);
  while (!monitor_stop_) {
    monitor_cv_.wait_for(lk, std::chrono::seconds(1));
    if (monitor_stop_) break;
    std::string state = State();
    if (state != last_state && state != "unknown") {
      S3ClientStats s = client_->Stats();
      if (state == "down") {
        LOG(kWarn, "S3 is unavailable").kv("error", s.last_error).kv("queued", queue_->depth());
      } else {
        LOG(kInfo, "S3 is available").kv("queued", queue_->depth());
      }
      last_state = state;
    }
    uint64_t depth = queue_->depth();
    if (depth == 0 && last_depth > 0) {
      LOG(kInfo, "S3 upload queue drained").kv("uploaded_blobs", uploader_->Stats().blobs_uploaded);
    }
    last_depth = depth;
  }
}

namespace {

void Metric(std::string& out, const char* name, const char* type, const char* help, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
  out += name;
  out += ' ';
  out += buf;
  out += '\n';
}

}  // namespace

void S3Tier::RenderPrometheus(std::string& out) const {
  S3ClientStats c = client_->Stats();
  UploadQueueStats q = queue_->Stats();
  UploaderStats u = uploader_->Stats();
  BackedStats b = backed_blobs_->Stats();
  auto g = [&](const char* n, const char* h, double v) { Metric(out, n, "gauge", h, v); };
  auto k = [&](const char* n, const char* h, double v) { Metric(out, n, "counter", h, v); };
  g("cycas_s3_up", "1 when the last S3 request succeeded, 0 when it failed.", State() == "down" ? 0 : 1);
  g("cycas_s3_upload_queue_depth", "Uploads acknowledged locally and not yet known to be in S3.",
    static_cast<double>(q.depth));
  g("cycas_s3_upload_queue_oldest_seconds", "Age of the oldest queued upload.", q.oldest_age_seconds);
  k("cycas_s3_upload_queue_replayed_total", "Queued uploads found in the journal at startup.",
    static_cast<double>(q.replayed));
  k("cycas_s3_uploaded_blobs_total", "Blobs uploaded to S3.", static_cast<double>(u.blobs_uploaded));
  k("cycas_s3_uploaded_bytes_total", "Bytes of blobs uploaded to S3.", static_cast<double>(u.bytes_uploaded));
  k("cycas_s3_uploaded_records_total", "Records uploaded to S3.", static_cast<double>(u.records_uploaded));
  k("cycas_s3_upload_skipped_total", "Queued blobs S3 already had.", static_cast<double>(u.already_present));
  k("cycas_s3_upload_lost_total", "Queued uploads whose local copy was gone first.", static_cast<double>(u.lost));
  k("cycas_s3_upload_failures_total", "Upload attempts that failed and were requeued.",
    static_cast<double>(u.failures));
  k("cycas_s3_requests_total", "HTTP exchanges with S3.", static_cast<double>(c.transport.exchanges));
  k("cycas_s3_request_errors_total", "S3 requests that ended in an error other than 404.",
    static_cast<double>(c.failures));
  k("cycas_s3_request_retries_total", "S3 requests retried.", static_cast<double>(c.retries));
  k("cycas_s3_request_seconds_total", "Summed duration of S3 exchanges.",
    static_cast<double>(c.transport.latency_micros_total) / 1e6);
  g("cycas_s3_requests_in_flight", "S3 exchanges running now.", static_cast<double>(c.transport.active));
  g("cycas_s3_requests_queued", "S3 exchanges waiting for a connection.", static_cast<double>(c.transport.queued));
  k("cycas_s3_received_bytes_total", "Bytes received from S3.", static_cast<double>(c.transport.bytes_received));
  k("cycas_s3_sent_bytes_total", "Bytes sent to S3.", static_cast<double>(c.transport.bytes_sent));
  k("cycas_s3_read_local_hits_total", "Reads served by the local store.", static_cast<double>(b.local_hits));
  k("cycas_s3_read_remote_hits_total", "Local misses fetched from S3.", static_cast<double>(b.remote_hits));
  k("cycas_s3_read_remote_bytes_total", "Bytes fetched from S3 on local misses.", static_cast<double>(b.remote_bytes));
  k("cycas_s3_read_misses_total", "Reads of blobs in neither store.", static_cast<double>(b.misses));
  k("cycas_s3_read_unavailable_total", "Local misses answered UNAVAILABLE (S3 down).",
    static_cast<double>(b.unavailable));
  k("cycas_s3_read_corrupt_total", "S3 objects that did not match their digest.", static_cast<double>(b.corrupt));
  k("cycas_s3_read_joined_total", "Local misses that waited for a concurrent fetch.",
    static_cast<double>(b.joined_fetches));
  k("cycas_s3_contains_remote_total", "Existence checks answered by a HEAD.", static_cast<double>(b.contains_remote));
  k("cycas_s3_contains_cached_total", "Existence checks answered by the existence cache.",
    static_cast<double>(b.contains_cached));
  k("cycas_s3_contains_unavailable_total", "Existence checks S3 could not answer.",
    static_cast<double>(b.contains_unavailable));
}

std::string S3Tier::StatusJson() const {
  S3ClientStats c = client_->Stats();
  UploadQueueStats q = queue_->Stats();
  UploaderStats u = uploader_->Stats();
  double mean_ms = c.transport.exchanges == 0
                       ? 0
                       : static_cast<double>(c.transport.latency_micros_total) / 1e3 /
                             static_cast<double>(c.transport.exchanges);
  auto esc = [](const std::string& s) {
    std::string o;
    for (char ch : s) {
      if (ch == '"' || ch == '\\') o += '\\';
      if (static_cast<unsigned char>(ch) < 0x20) continue;
      if (ch == '<') {  // the status page embeds this JSON in a <script> element
        o += "\\u003c";
        continue;
      }
      o += ch;
    }
    return o;
  };
  std::ostringstream os;
  os << "{\"state\":\"" << State() << "\",\"endpoint\":\"" << esc(options_.endpoint) << "\",\"bucket\":\""
     << esc(options_.bucket) << "\",\"prefix\":\"" << esc(options_.prefix) << "\",\"write_mode\":\""
     << (options_.write_mode == WriteMode::kWriteBack ? "write-back" : "write-through")
     << "\",\"last_error\":\"" << esc(c.last_error) << "\",\"seconds_since_success\":" << c.seconds_since_success
     << ",\"requests\":" << c.transport.exchanges << ",\"mean_latency_ms\":" << mean_ms
     << ",\"in_flight\":" << c.transport.active << ",\"queue\":{\"depth\":" << q.depth
     << ",\"oldest_seconds\":" << q.oldest_age_seconds << ",\"limit\":" << options_.queue_limit
     << ",\"uploaded_blobs\":" << u.blobs_uploaded << ",\"uploaded_bytes\":" << u.bytes_uploaded
     << ",\"lost\":" << u.lost << ",\"paused\":" << (u.paused ? "true" : "false") << "}}";
  return os.str();
}

}  // namespace cycas::s3
