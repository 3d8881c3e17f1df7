#include "cas/s3/http_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "util/log.h"

namespace cycas::s3 {

namespace {

enum CommandKind { kStart = 0, kUnpause = 1, kCancel = 2 };

// Error bodies of streamed requests are kept only this far (S3's are < 1 KiB).
constexpr size_t kMaxStreamErrorBody = 64 * 1024;

TransportError ClassifyCurl(CURLcode code) {
  switch (code) {
    case CURLE_OK: return TransportError::kNone;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR: return TransportError::kConnect;
    case CURLE_OPERATION_TIMEDOUT: return TransportError::kTimeout;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SEND_FAIL_REWIND: return TransportError::kIo;
    default: return TransportError::kOther;
  }
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string TrimHeaderValue(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
  return std::string(v);
}

}  // namespace

std::string HttpResponse::header(const std::string& lowercase_name) const {
  auto it = headers.find(lowercase_name);
  return it == headers.end() ? std::string() : it->second;
}

struct HttpTransport::Exchange {
  HttpRequest request;
  bool streaming = false;
  size_t buffer_limit = 0;
  curl_slist* header_list = nullptr;
  std::chrono::steady_clock::time_point started;

  std::mutex mu;
  std::condition_variable cv;
  HttpResponse response;  // status/headers/body as they arrive
  bool headers_done = false;
  bool done = false;
  bool paused = false;            // the write callback paused the transfer
  bool unpause_posted = false;    // a reader asked the loop to resume it
  bool body_overflow = false;     // a buffered body exceeded its limit
  std::string buffer;             // streamed bytes not yet read, from buffer_offset
  size_t buffer_offset = 0;
};

namespace {

using Exchange = HttpTransport::Exchange;

size_t HeaderCallback(char* data, size_t size, size_t nitems, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  size_t n = size * nitems;
  std::string_view line(data, n);
  std::lock_guard lk(ex->mu);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response (after a 100 Continue or a redirect): start over.
    ex->response.headers.clear();
    size_t sp = line.find(' ');
    ex->response.status = sp == std::string_view::npos ? 0 : std::atol(std::string(line.substr(sp + 1, 3)).c_str());
    return n;
  }
  if (line == "\r\n" || line == "\n") {
    if (ex->response.status >= 200) {
      ex->headers_done = true;
      ex->cv.notify_all();
    }
    return n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    ex->response.headers[Lower(line.substr(0, colon))] = TrimHeaderValue(line.substr(colon + 1));
  }
  return n;
}

size_t WriteCallback(char* data, size_t size, size_t nmemb, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  size_t n = size * nmemb;
  std::lock_guard lk(ex->mu);
  bool success = ex->response.status >= 200 && ex->response.status < 300;
  if (ex->streaming && success) {
    if (ex->buffer.size() - ex->buffer_offset >= ex->buffer_limit) {
      // Full: curl keeps these bytes and offers them again once resumed.
      ex->paused = true;
      return CURL_WRITEFUNC_PAUSE;
    }
    ex->buffer.append(data, n);
    ex->cv.notify_all();
    return n;
  }
  size_t limit = ex->streaming ? kMaxStreamErrorBody : ~size_t{0};
  if (!ex->streaming && ex->response.body.size() + n > ex->buffer_limit) {
    ex->body_overflow = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  if (ex->response.body.size() < limit) {
    ex->response.body.append(data, std::min(n, limit - ex->response.body.size()));
  }
  return n;
}

}  // namespace

Result<std::unique_ptr<HttpTransport>> HttpTransport::Create(TransportOptions options) {
  static std::once_flag once;
  static CURLcode init_code = CURLE_OK;
  std::call_once(once, [] { init_code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (init_code != CURLE_OK) {
    return Status::Internal(std::string("curl_global_init: ") + curl_easy_strerror(init_code));
  }
  curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  if (info->version_num < 0x074B00) {  // 7.75.0: CURLOPT_AWS_SIGV4
    return Status::FailedPrecondition(std::string("libcurl ") + info->version +
                                      " is too old for the S3 tier (needs 7.75 for AWS SigV4)");
  }
  std::unique_ptr<HttpTransport> t(new HttpTransport(std::move(options)));
  t->multi_ = curl_multi_init();
  if (t->multi_ == nullptr) return Status::Internal("curl_multi_init failed");
  auto* multi = static_cast<CURLM*>(t->multi_);
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(t->options_.max_connections));
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(t->options_.max_connections));
  t->thread_ = std::thread([p = t.get()] { p->Loop(); });
  return t;
}

HttpTransport::HttpTransport(TransportOptions options) : options_(std::move(options)) {}

HttpTransport::~HttpTransport() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
  for (void* h : idle_handles_) curl_easy_cleanup(static_cast<CURL*>(h));
  if (multi_) curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void HttpTransport::Wake() {
  if (multi_) curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

void HttpTransport::Post(std::shared_ptr<Exchange> ex, int command) {
  {
    std::lock_guard lk(mu_);
    if (stop_ && command == kStart) {
      queued_--;
      std::lock_guard elk(ex->mu);
      ex->response.error = TransportError::kCancelled;
      ex->response.error_text = "the S3 transport is shutting down";
      ex->done = ex->headers_done = true;
      ex->cv.notify_all();
      return;
    }
    commands_.push_back({std::move(ex), command});
  }
  Wake();
}

std::shared_ptr<HttpTransport::Exchange> HttpTransport::Submit(const HttpRequest& request,
                                                               bool streaming,
                                                               size_t buffer_bytes) {
  auto ex = std::make_shared<Exchange>();
  ex->request = request;
  ex->streaming = streaming;
  ex->buffer_limit = streaming ? std::max<size_t>(buffer_bytes, 16 * 1024) : options_.max_buffered_body;
  queued_++;
  Post(ex, kStart);
  return ex;
}

void HttpTransport::StartExchange(const std::shared_ptr<Exchange>& ex) {
  CURL* easy;
  if (!idle_handles_.empty()) {
    easy = static_cast<CURL*>(idle_handles_.back());
    idle_handles_.pop_back();
    curl_easy_reset(easy);
  } else {
    easy = curl_easy_init();
  }
  const HttpRequest& rq = ex->request;
  curl_easy_setopt(easy, CURLOPT_URL, rq.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);  // keys may hold "." segments: sign them as they are
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 256L * 1024);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  if (rq.timeout.count() > 0) curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(rq.timeout.count()));
  // No byte moved for stall_timeout: the exchange is dead (a gateway that
  // accepted the connection but hangs is a failure, not a wait).
  long stall_s = static_cast<long>((options_.stall_timeout.count() + 999) / 1000);
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, std::max(1L, stall_s));
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, options_.tls_verify ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, options_.tls_verify ? 2L : 0L);
  if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!options_.aws_sigv4.empty()) {
    curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, options_.aws_sigv4.c_str());
    curl_easy_setopt(easy, CURLOPT_USERNAME, options_.access_key.c_str());
    curl_easy_setopt(easy, CURLOPT_PASSWORD, options_.secret_key.c_str());
  }
  curl_slist* list = nullptr;
  list = curl_slist_append(list, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
  if (!options_.session_token.empty()) {
    list = curl_slist_append(list, ("x-amz-security-token: " + options_.session_token).c_str());
  }
  for (const auto& h : rq.headers) list = curl_slist_append(list, h.c_str());
  ex->header_list = list;
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
  // curl adds "Expect: 100-continue" to bodies over 1 MiB; do not wait for the 100.
  // (Not removed with an empty "Expect:" header: curl's SigV4 would sign a header it never sends.)
  curl_easy_setopt(easy, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
  if (rq.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (rq.method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else if (rq.method == "PUT" || rq.method == "POST") {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(rq.body.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, rq.body.data() ? rq.body.data() : "");
    if (rq.method == "PUT") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "PUT");
  } else {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, rq.method.c_str());
  }
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, HeaderCallback);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, ex.get());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, WriteCallback);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, ex.get());
  curl_easy_setopt(easy, CURLOPT_PRIVATE, ex.get());
  ex->started = std::chrono::steady_clock::now();
  queued_--;
  active_++;
  running_[easy] = ex;
  curl_multi_add_handle(static_cast<CURLM*>(multi_), easy);
}

void HttpTransport::FinishExchange(void* handle, int code) {
  auto* easy = static_cast<CURL*>(handle);
  auto it = running_.find(easy);
  if (it == running_.end()) return;
  std::shared_ptr<Exchange> ex = std::move(it->second);
  running_.erase(it);
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), easy);
  curl_off_t up = 0, down = 0;
  curl_easy_getinfo(easy, CURLINFO_SIZE_UPLOAD_T, &up);
  curl_easy_getinfo(easy, CURLINFO_SIZE_DOWNLOAD_T, &down);
  bytes_sent_ += static_cast<uint64_t>(up);
  bytes_received_ += static_cast<uint64_t>(down);
  idle_handles_.push_back(easy);
  curl_slist_free_all(ex->header_list);
  ex->header_list = nullptr;
  active_--;
  exchanges_++;
  latency_micros_ += static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                               std::chrono::steady_clock::now() - ex->started)
                                               .count());
  auto curl_code = static_cast<CURLcode>(code);
  std::lock_guard lk(ex->mu);
  if (curl_code != CURLE_OK) {
    transport_errors_++;
    ex->response.error = ClassifyCurl(curl_code);
    ex->response.error_text = curl_easy_strerror(curl_code);
    if (ex->body_overflow) {
      ex->response.error = TransportError::kOther;
      ex->response.error_text = "response body larger than " + std::to_string(ex->buffer_limit) + " bytes";
    }
  }
  ex->done = true;
  ex->headers_done = true;
  ex->cv.notify_all();
}

void HttpTransport::Loop() {
  auto* multi = static_cast<CURLM*>(multi_);
  for (;;) {
    std::deque<Command> commands;
    bool stopping;
    {
      std::lock_guard lk(mu_);
      commands.swap(commands_);
      stopping = stop_;
    }
    for (auto& c : commands) {
      if (c.kind == kStart) {
        pending_.push_back(std::move(c.ex));
      } else if (c.kind == kUnpause) {
        for (auto& [easy, ex] : running_) {
          if (ex != c.ex) continue;
          {
            std::lock_guard lk(ex->mu);
            ex->paused = false;
            ex->unpause_posted = false;
          }
          // May call the write callback right here with the bytes it held back.
          curl_easy_pause(static_cast<CURL*>(easy), CURLPAUSE_CONT);
          break;
        }
      } else if (c.kind == kCancel) {
        for (auto it = pending_.begin(); it != pending_.end(); ++it) {
          if (*it == c.ex) {
            pending_.erase(it);
            queued_--;
            break;
          }
        }
        for (auto& [easy, ex] : running_) {
          if (ex == c.ex) {
            FinishExchange(easy, CURLE_ABORTED_BY_CALLBACK);
            break;
          }
        }
      }
    }
    if (stopping) break;
    while (!pending_.empty() && running_.size() < static_cast<size_t>(options_.max_connections)) {
      std::shared_ptr<Exchange> ex = std::move(pending_.front());
      pending_.pop_front();
      StartExchange(ex);
    }
    int still_running = 0;
    curl_multi_perform(multi, &still_running);
    int left = 0;
    bool finished = false;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg == CURLMSG_DONE) {
        FinishExchange(msg->easy_handle, msg->data.result);
        finished = true;
      }
    }
    // A slot freed and work waits for it: start it now, not after the next poll.
    if (finished && !pending_.empty()) continue;
    curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  // Shutting down: everything unfinished ends as cancelled.
  std::vector<void*> running;
  for (auto& [easy, ex] : running_) running.push_back(easy);
  for (void* easy : running) FinishExchange(easy, CURLE_ABORTED_BY_CALLBACK);
  {
    std::lock_guard lk(mu_);
    for (auto& c : commands_) {
      if (c.kind == kStart) pending_.push_back(std::move(c.ex));
    }
    commands_.clear();
  }
  for (auto& ex : pending_) {
    std::lock_guard lk(ex->mu);
    ex->response.error = TransportError::kCancelled;
    ex->response.error_text = "the S3 transport is shutting down";
    ex->done = ex->headers_done = true;
    ex->cv.notify_all();
  }
  pending_.clear();
}

HttpResponse HttpTransport::Perform(const HttpRequest& request) {
  auto ex = Submit(request, /*streaming=*/false, 0);
  std::unique_lock lk(ex->mu);
  ex->cv.wait(lk, [&] { return ex->done; });
  return std::move(ex->response);
}

std::vector<HttpResponse> HttpTransport::PerformAll(std::span<const HttpRequest> requests) {
  std::vector<std::shared_ptr<Exchange>> exs;
  exs.reserve(requests.size());
  for (const auto& r : requests) exs.push_back(Submit(r, /*streaming=*/false, 0));
  std::vector<HttpResponse> out;
  out.reserve(exs.size());
  for (auto& ex : exs) {
    std::unique_lock lk(ex->mu);
    ex->cv.wait(lk, [&] { return ex->done; });
    out.push_back(std::move(ex->response));
  }
  return out;
}

std::unique_ptr<HttpStream> HttpTransport::Stream(const HttpRequest& request, size_t buffer_bytes) {
  auto ex = Submit(request, /*streaming=*/true, buffer_bytes);
  HttpResponse head;
  {
    std::unique_lock lk(ex->mu);
    ex->cv.wait(lk, [&] { return ex->headers_done; });
    // A failed request's error body is small: wait for it, so callers can read its <Code>.
    if (ex->response.status >= 300) ex->cv.wait(lk, [&] { return ex->done; });
    head.status = ex->response.status;
    head.headers = ex->response.headers;
    head.error = ex->response.error;
    head.error_text = ex->response.error_text;
    head.body = ex->response.body;
  }
  return std::unique_ptr<HttpStream>(new HttpStream(this, std::move(ex), std::move(head)));
}

TransportStats HttpTransport::Stats() const {
  TransportStats s;
  s.exchanges = exchanges_;
  s.transport_errors = transport_errors_;
  s.bytes_received = bytes_received_;
  s.bytes_sent = bytes_sent_;
  s.active = active_;
  s.queued = queued_;
  s.latency_micros_total = latency_micros_;
  return s;
}

HttpStream::~HttpStream() {
  bool finished;
  {
    std::lock_guard lk(ex_->mu);
    finished = ex_->done;
  }
  if (!finished) owner_->Post(ex_, kCancel);
}

Result<size_t> HttpStream::Read(std::span<uint8_t> out) {
  if (out.empty()) return size_t{0};
  std::unique_lock lk(ex_->mu);
  ex_->cv.wait(lk, [&] { return ex_->buffer.size() > ex_->buffer_offset || ex_->done; });
  size_t available = ex_->buffer.size() - ex_->buffer_offset;
  if (available > 0) {
    size_t n = std::min(available, out.size());
    std::memcpy(out.data(), ex_->buffer.data() + ex_->buffer_offset, n);
    ex_->buffer_offset += n;
    if (ex_->buffer_offset == ex_->buffer.size()) {
      ex_->buffer.clear();
      ex_->buffer_offset = 0;
    } else if (ex_->buffer_offset >= ex_->buffer_limit) {
      ex_->buffer.erase(0, ex_->buffer_offset);
      ex_->buffer_offset = 0;
    }
    if (ex_->paused && !ex_->unpause_posted &&
        ex_->buffer.size() - ex_->buffer_offset <= ex_->buffer_limit / 2) {
      ex_->unpause_posted = true;
      lk.unlock();
      owner_->Post(ex_, kUnpause);
    }
    return n;
  }
  const HttpResponse& r = ex_->response;
  if (r.error != TransportError::kNone) {
    return Status::Unavailable("S3 transfer broke off: " + std::string(TransportErrorName(r.error)) +
                               ": " + r.error_text);
  }
  return size_t{0};
}

}  // namespace cycas::s3
