// HttpTransport: HTTP/1.1 exchanges with an S3 endpoint through libcurl's
// multi interface, signed with curl's built-in AWS SigV4.
//
// One thread runs one curl multi handle; every exchange of the tier runs on it,
// so many requests proceed concurrently without a thread each, and connections
// are kept alive and reused across them. At most `max_connections` exchanges
// run at once; later ones wait in a FIFO queue until a slot frees. Callers
// block on their exchange (Perform), on a batch (PerformAll: e.g. thousands of
// HEADs of an existence check, `max_connections` at a time), or consume a
// response body as a stream (Stream): the body is buffered up to a bound and
// the transfer is paused while the buffer is full, so a 64 MiB GET needs
// `buffer_bytes` of memory, not 64 MiB.
//
// Every request carries `x-amz-content-sha256: UNSIGNED-PAYLOAD` (required by
// S3 and Ceph RGW with curl's signer; bytes are verified by digest instead), and
// large PUTs do not wait for a `100 Continue` (it would cost a round trip).
// Safe for concurrent use.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cas/s3/retry_policy.h"
#include "util/status.h"

namespace cycas::s3 {

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string url;             // complete, with path and query in SigV4 canonical form
  std::vector<std::string> headers;  // extra "Name: value" lines
  // PUT/POST payload; must stay valid until the exchange has finished.
  std::string_view body;
  // Whole-exchange limit; zero: only the transport's stall timeout applies
  // (large transfers, whose duration depends on their size).
  std::chrono::milliseconds timeout{0};
};

struct HttpResponse {
  TransportError error = TransportError::kNone;
  std::string error_text;
  long status = 0;
  std::map<std::string, std::string> headers;  // of the final response, names lowercased
  // The body of a buffered exchange; for a stream, only the error body of a
  // non-2xx answer (bounded).
  std::string body;
  std::string header(const std::string& lowercase_name) const;
  bool ok() const { return error == TransportError::kNone && status >= 200 && status < 300; }
};

struct TransportOptions {
  int max_connections = 32;
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds stall_timeout{30'000};
  bool tls_verify = true;
  std::string ca_file;
  std::string aws_sigv4;  // curl's CURLOPT_AWS_SIGV4, e.g. "aws:amz:us-east-1:s3"; empty: unsigned
  std::string access_key, secret_key;
  std::string session_token;  // sent (and signed) as x-amz-security-token when set
  // Buffered bodies larger than this fail the exchange (S3's XML answers are small).
  size_t max_buffered_body = 64u << 20;
};

struct TransportStats {
  uint64_t exchanges = 0;        // finished
  uint64_t transport_errors = 0;  // finished without a response
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t active = 0;  // running now
  uint64_t queued = 0;  // waiting for a connection slot
  uint64_t latency_micros_total = 0;  // sum over finished exchanges (to first byte of body end)
};

class HttpStream;

class HttpTransport {
 public:
  static Result<std::unique_ptr<HttpTransport>> Create(TransportOptions options);
  // Cancels queued and running exchanges (they finish with kCancelled) and joins the thread.
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  HttpResponse Perform(const HttpRequest& request);
  // Runs every request concurrently (bounded by max_connections); answers in order.
  std::vector<HttpResponse> PerformAll(std::span<const HttpRequest> requests);
  // Starts a GET whose body is consumed through the stream; returns once the
  // response headers have arrived or the exchange has failed.
  std::unique_ptr<HttpStream> Stream(const HttpRequest& request, size_t buffer_bytes);

  TransportStats Stats() const;
  const TransportOptions& options() const { return options_; }

  struct Exchange;  // defined in the .cc; public for the curl callbacks

 private:
  explicit HttpTransport(TransportOptions options);
  std::shared_ptr<Exchange> Submit(const HttpRequest& request, bool streaming, size_t buffer_bytes);
  void Post(std::shared_ptr<Exchange> ex, int command);
  void Loop();
  void StartExchange(const std::shared_ptr<Exchange>& ex);
  void FinishExchange(void* easy, int curl_code);
  void Wake();

  friend class HttpStream;

  TransportOptions options_;
  void* multi_ = nullptr;  // CURLM*
  std::thread thread_;

  std::mutex mu_;  // guards the command queue and stop_
  struct Command {
    std::shared_ptr<Exchange> ex;
    int kind;
  };
  std::deque<Command> commands_;
  bool stop_ = false;

  // Owned by the loop thread.
  std::deque<std::shared_ptr<Exchange>> pending_;
  std::map<void*, std::shared_ptr<Exchange>> running_;  // by CURL*
  std::vector<void*> idle_handles_;

  std::atomic<uint64_t> exchanges_{0}, transport_errors_{0}, bytes_received_{0}, bytes_sent_{0};
  std::atomic<uint64_t> active_{0}, queued_{0}, latency_micros_{0};
};

// The body of a streamed response. Read by one thread at a time.
class HttpStream {
 public:
  ~HttpStream();  // cancels an unfinished transfer
  // Status and headers (and, when failed, the error and error body).
  const HttpResponse& head() const { return head_; }
  // Copies the next body bytes into `out`; 0 at the end of the body.
  // UNAVAILABLE when the transfer broke off (the message says why).
  Result<size_t> Read(std::span<uint8_t> out);

 private:
  friend class HttpTransport;
  HttpStream(HttpTransport* owner, std::shared_ptr<HttpTransport::Exchange> ex, HttpResponse head)
      : owner_(owner), ex_(std::move(ex)), head_(std::move(head)) {}
  HttpTransport* owner_;
  std::shared_ptr<HttpTransport::Exchange> ex_;
  HttpResponse head_;
};

}  // namespace cycas::s3
