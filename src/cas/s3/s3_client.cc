#include "cas/s3/s3_client.h"

#include <random>
#include <thread>

#include "cas/s3/object_layout.h"
#include "util/log.h"

namespace cycas::s3 {

namespace {

uint64_t RandomBits() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng();
}

Result<uint64_t> ParseSize(std::string_view text, std::string_view what) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return Status::Unavailable("S3 " + std::string(what) + ": malformed size '" + std::string(text) + "'");
  }
  return std::stoull(std::string(text));
}

}  // namespace

Result<std::unique_ptr<S3Client>> S3Client::Create(const S3Options& options) {
  TransportOptions t;
  t.max_connections = options.concurrency;
  t.connect_timeout = options.connect_timeout;
  t.stall_timeout = options.stall_timeout;
  t.tls_verify = options.tls_verify;
  t.ca_file = options.tls_ca_file;
  t.aws_sigv4 = "aws:amz:" + options.region + ":s3";
  t.access_key = options.credentials.access_key;
  t.secret_key = options.credentials.secret_key;
  t.session_token = options.credentials.session_token;
  t.max_buffered_body = std::max<uint64_t>(options.max_record_size, 1u << 20) + 4096;
  ASSIGN_OR_RETURN(auto transport, HttpTransport::Create(std::move(t)));
  return std::unique_ptr<S3Client>(new S3Client(options, std::move(transport)));
}

S3Client::S3Client(S3Options options, std::unique_ptr<HttpTransport> transport)
    : options_(std::move(options)), transport_(std::move(transport)) {
  retry_.retries = options_.retries;
  retry_.base = options_.retry_backoff;
  retry_.max = options_.retry_backoff_max;
}

HttpRequest S3Client::Request(std::string method, const std::string& key, std::string query) const {
  HttpRequest r;
  r.method = std::move(method);
  r.url = ObjectUrl(options_, key, query);
  r.timeout = options_.request_timeout;
  return r;
}

std::chrono::milliseconds S3Client::TimeoutFor(size_t body_bytes) const {
  // Up to 1 MiB moves well within any sane request timeout; beyond, the
  // duration depends on the link and only the stall timeout applies.
  return body_bytes <= (1u << 20) ? options_.request_timeout : std::chrono::milliseconds(0);
}

void S3Client::Sleep(int retry) {
  retries_++;
  std::this_thread::sleep_for(retry_.Backoff(retry, RandomBits()));
}

HttpResponse S3Client::Exchange(const HttpRequest& request) {
  for (int attempt = 0;; attempt++) {
    HttpResponse r = transport_->Perform(request);
    if (attempt >= retry_.retries || !RetryPolicy::IsRetryable(r.error, r.status)) return r;
    LOG(kDebug, "S3 request retried")
        .kv("method", request.method)
        .kv("url", request.url)
        .kv("status", r.status)
        .kv("error", r.error_text);
    Sleep(attempt);
  }
}

Status S3Client::Outcome(std::string_view what, const HttpResponse& r) {
  Status st = StatusFromHttp(what, r.error, r.error_text, r.status, XmlElement(r.body, "Code"),
                             XmlElement(r.body, "Message"));
  std::lock_guard lk(health_mu_);
  if (st.ok() || st.code() == StatusCode::kNotFound) {
    if (!st.ok()) not_found_++;
    consecutive_failures_ = 0;
    last_error_.clear();
    last_success_ = std::chrono::steady_clock::now();
  } else {
    failures_++;
    consecutive_failures_++;
    last_error_ = st.ToString();
  }
  return st;
}

Result<std::optional<uint64_t>> S3Client::Head(const std::string& key) {
  heads_++;
  HttpResponse r = Exchange(Request("HEAD", key));
  Status st = Outcome("HEAD " + key, r);
  if (st.code() == StatusCode::kNotFound) return std::optional<uint64_t>();
  if (!st.ok()) return st;
  ASSIGN_OR_RETURN(uint64_t size, ParseSize(r.header("content-length"), "HEAD " + key));
  return std::optional<uint64_t>(size);
}

std::vector<Result<std::optional<uint64_t>>> S3Client::HeadMany(std::span<const std::string> keys) {
  std::vector<Result<std::optional<uint64_t>>> out(keys.size(), Result<std::optional<uint64_t>>(std::nullopt));
  std::vector<size_t> todo(keys.size());
  for (size_t i = 0; i < keys.size(); i++) todo[i] = i;
  heads_ += keys.size();
  for (int attempt = 0; !todo.empty(); attempt++) {
    std::vector<HttpRequest> requests;
    requests.reserve(todo.size());
    for (size_t i : todo) requests.push_back(Request("HEAD", keys[i]));
    std::vector<HttpResponse> responses = transport_->PerformAll(requests);
    std::vector<size_t> again;
    for (size_t j = 0; j < todo.size(); j++) {
      const HttpResponse& r = responses[j];
      size_t i = todo[j];
      if (attempt < retry_.retries && RetryPolicy::IsRetryable(r.error, r.status)) {
        again.push_back(i);
        continue;
      }
      Status st = Outcome("HEAD " + keys[i], r);
      if (st.code() == StatusCode::kNotFound) {
        out[i] = std::optional<uint64_t>();
      } else if (!st.ok()) {
        out[i] = st;
      } else {
        auto size = ParseSize(r.header("content-length"), "HEAD " + keys[i]);
        out[i] = size.ok() ? Result<std::optional<uint64_t>>(std::optional<uint64_t>(*size))
                           : Result<std::optional<uint64_t>>(size.status());
      }
    }
    todo.swap(again);
    if (!todo.empty()) Sleep(attempt);
  }
  return out;
}

Result<std::string> S3Client::Get(const std::string& key, uint64_t max_size) {
  gets_++;
  HttpRequest rq = Request("GET", key);
  HttpResponse r = Exchange(rq);
  if (r.error == TransportError::kOther && r.error_text.find("larger than") != std::string::npos) {
    return Status::FailedPrecondition("S3 GET " + key + ": object larger than " +
                                      std::to_string(max_size) + " bytes");
  }
  RETURN_IF_ERROR(Outcome("GET " + key, r));
  if (r.body.size() > max_size) {
    return Status::FailedPrecondition("S3 GET " + key + ": object of " + std::to_string(r.body.size()) +
                                      " bytes is larger than the limit of " + std::to_string(max_size));
  }
  if (std::string cl = r.header("content-length"); !cl.empty() && cl != std::to_string(r.body.size())) {
    return Status::Unavailable("S3 GET " + key + ": body of " + std::to_string(r.body.size()) +
                               " bytes, but Content-Length " + cl);
  }
  return std::move(r.body);
}

Result<Download> S3Client::OpenDownload(const std::string& key, uint64_t offset, size_t buffer_bytes) {
  gets_++;
  HttpRequest rq = Request("GET", key);
  rq.timeout = std::chrono::milliseconds(0);  // bounded by the stall timeout
  if (offset > 0) rq.headers.push_back("Range: bytes=" + std::to_string(offset) + "-");
  std::string what = "GET " + key;
  for (int attempt = 0;; attempt++) {
    std::unique_ptr<HttpStream> s = transport_->Stream(rq, buffer_bytes);
    const HttpResponse& h = s->head();
    if (attempt < retry_.retries && RetryPolicy::IsRetryable(h.error, h.status)) {
      Sleep(attempt);
      continue;
    }
    RETURN_IF_ERROR(Outcome(what, h));
    Download d;
    d.offset = offset;
    if (h.status == 206) {
      // "Content-Range: bytes 100-199/5000"
      std::string cr = h.header("content-range");
      size_t slash = cr.rfind('/');
      size_t dash = cr.find('-');
      if (cr.rfind("bytes ", 0) != 0 || slash == std::string::npos || dash == std::string::npos) {
        return Status::Unavailable("S3 " + what + ": malformed Content-Range '" + cr + "'");
      }
      ASSIGN_OR_RETURN(uint64_t start, ParseSize(cr.substr(6, dash - 6), what));
      ASSIGN_OR_RETURN(d.object_size, ParseSize(cr.substr(slash + 1), what));
      if (start != offset) {
        return Status::Unavailable("S3 " + what + ": asked for bytes from " + std::to_string(offset) +
                                   ", got a range from " + std::to_string(start));
      }
    } else {
      if (offset != 0) {
        return Status::Unavailable("S3 " + what + ": the server ignored the Range header");
      }
      ASSIGN_OR_RETURN(d.object_size, ParseSize(h.header("content-length"), what));
    }
    d.stream = std::move(s);
    return d;
  }
}

Status S3Client::Put(const std::string& key, std::string_view body) {
  puts_++;
  HttpRequest rq = Request("PUT", key);
  rq.body = body;
  rq.timeout = TimeoutFor(body.size());
  rq.headers.push_back("Content-Type: application/octet-stream");
  return Outcome("PUT " + key, Exchange(rq));
}

Status S3Client::Delete(const std::string& key) {
  deletes_++;
  Status st = Outcome("DELETE " + key, Exchange(Request("DELETE", key)));
  return st.code() == StatusCode::kNotFound ? Status::Ok() : st;
}

Result<std::string> S3Client::CreateMultipartUpload(const std::string& key) {
  multiparts_++;
  HttpRequest rq = Request("POST", key, "uploads=");
  rq.headers.push_back("Content-Type: application/octet-stream");
  HttpResponse r = Exchange(rq);
  RETURN_IF_ERROR(Outcome("POST " + key + "?uploads", r));
  std::string id = XmlElement(r.body, "UploadId");
  if (id.empty()) {
    return Status::Unavailable("S3 POST " + key + "?uploads: no UploadId in the answer");
  }
  return id;
}

Result<std::string> S3Client::UploadPart(const std::string& key, const std::string& upload_id,
                                         int part_number, std::string_view body) {
  parts_++;
  // Canonical query: names in order (partNumber < uploadId), values encoded.
  HttpRequest rq = Request("PUT", key,
                           "partNumber=" + std::to_string(part_number) +
                               "&uploadId=" + UriEncode(upload_id, /*keep_slash=*/false));
  rq.body = body;
  rq.timeout = TimeoutFor(body.size());
  HttpResponse r = Exchange(rq);
  RETURN_IF_ERROR(Outcome("PUT " + key + " part " + std::to_string(part_number), r));
  std::string etag = r.header("etag");
  if (etag.empty()) {
    return Status::Unavailable("S3 PUT " + key + " part " + std::to_string(part_number) + ": no ETag");
  }
  return etag;
}

Status S3Client::CompleteMultipartUpload(const std::string& key, const std::string& upload_id,
                                         const std::vector<std::string>& etags) {
  std::string xml = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < etags.size(); i++) {
    xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + XmlEscape(etags[i]) +
           "</ETag></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  HttpRequest rq = Request("POST", key, "uploadId=" + UriEncode(upload_id, false));
  rq.body = xml;
  rq.headers.push_back("Content-Type: application/xml");
  HttpResponse r = Exchange(rq);
  std::string what = "POST " + key + "?uploadId (complete)";
  RETURN_IF_ERROR(Outcome(what, r));
  // S3 may answer 200 and still fail the completion in the body.
  if (r.body.find("<Error>") != std::string::npos) {
    return StatusFromHttp(what, TransportError::kNone, "", 500, XmlElement(r.body, "Code"),
                          XmlElement(r.body, "Message"));
  }
  return Status::Ok();
}

Status S3Client::AbortMultipartUpload(const std::string& key, const std::string& upload_id) {
  aborts_++;
  HttpRequest rq = Request("DELETE", key, "uploadId=" + UriEncode(upload_id, false));
  Status st = Outcome("DELETE " + key + "?uploadId (abort)", Exchange(rq));
  return st.code() == StatusCode::kNotFound ? Status::Ok() : st;
}

Status S3Client::CheckBucket() {
  HttpResponse r = Exchange(Request("HEAD", ""));
  Status st = Outcome("HEAD bucket " + options_.bucket, r);
  if (st.code() == StatusCode::kNotFound) {
    return Status::FailedPrecondition("S3 bucket '" + options_.bucket + "' does not exist at " +
                                      options_.endpoint);
  }
  return st;
}

S3ClientStats S3Client::Stats() const {
  S3ClientStats s;
  s.heads = heads_;
  s.gets = gets_;
  s.puts = puts_;
  s.deletes = deletes_;
  s.parts = parts_;
  s.multipart_uploads = multiparts_;
  s.multipart_aborts = aborts_;
  s.retries = retries_;
  s.not_found = not_found_;
  s.failures = failures_;
  s.consecutive_failures = consecutive_failures_;
  {
    std::lock_guard lk(health_mu_);
    s.last_error = last_error_;
    if (last_success_) {
      s.seconds_since_success =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - *last_success_).count();
    }
  }
  s.transport = transport_->Stats();
  return s;
}

}  // namespace cycas::s3
