#include "api/http/http_server.h"

#include <openssl/x509.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <vector>

#include "api/http/body_spool.h"
#include "api/http/byte_range.h"
#include "api/http/content_negotiation.h"
#include "api/http/http_cache.h"
#include "api/http/http_metrics.h"
#include "api/http/request_path.h"
#include "api/http/status_page.h"
#include "cas/tiered_blob_store.h"
#include "digest/hasher.h"
#include "digest/hex.h"
#include "util/log.h"
#include "util/thread_name.h"

namespace cycas::api::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

HttpOptions HttpOptionsFromConfig(const Config& config) {
  HttpOptions o;
  o.listen = config.GetString("http.listen");
  o.max_header_size = config.GetBytes("http.max_header_size");
  o.max_body_size = config.GetBytes("http.max_body_size");
  o.idle_timeout = config.GetDuration("http.idle_timeout");
  o.slow_client_timeout = config.GetDuration("http.slow_client_timeout");
  o.ac_strict = config.GetBool("http.ac_strict");
  o.threads = static_cast<int>(config.GetInt("http.threads"));
  if (o.threads <= 0)
    o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  o.blocking_threads = static_cast<int>(config.GetInt("http.blocking_threads"));
  o.zstd_max_blob = config.GetBytes("http.zstd_max_blob");
  o.tls_cert_file = config.GetString("http.tls_cert_file");
  o.tls_key_file = config.GetString("http.tls_key_file");
  o.tls_client_ca_file = config.GetString("http.tls_client_ca_file");
  o.spool_dir = config.GetString("server.data_dir");
  o.ram_capacity = config.GetBytes("cas.ram_capacity");
  o.kv_namespaces.clear();
  std::string_view list = config.GetString("http.kv_namespaces");
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) o.kv_namespaces.emplace_back(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return o;
}

namespace {

// Bytes moved per read from the store or the socket: large enough for
// throughput, small enough that thousands of transfers fit in memory.
constexpr size_t kChunkSize = 64 * 1024;
// Responses up to this size are read whole and sent with their header in one
// write; larger ones stream in pieces of kLargeChunkSize (the engine's fragment
// size, so each piece is one read of one fragment).
constexpr size_t kSmallResponse = 64 * 1024;
constexpr size_t kLargeChunkSize = 1024 * 1024;
// A connection keeps a read buffer up to this size between requests (a small
// upload's header and body fit); a larger one is shrunk when its body is read.
constexpr size_t kIdleBuffer = 8 * 1024;
// Bodies up to this size are spooled in memory; larger ones go to a file.
constexpr size_t kSpoolMemory = 256 * 1024;

// The one place where statuses become HTTP codes.
int HttpCodeFor(const Status& st) {
  switch (st.code()) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kFailedPrecondition:
      return 412;
    case StatusCode::kOutOfRange:
      return 416;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kResourceExhausted:
    case StatusCode::kUnavailable:
    case StatusCode::kAborted:
      return 503;
    default:
      return 500;
  }
}

Method MethodOf(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get:
      return Method::kGet;
    case bhttp::verb::head:
      return Method::kHead;
    case bhttp::verb::put:
      return Method::kPut;
    default:
      return Method::kOther;
  }
}

bool IEquals(std::string_view a, std::string_view b) {
  return beast::iequals(beast::string_view(a.data(), a.size()),
                        beast::string_view(b.data(), b.size()));
}

std::string_view SV(beast::string_view s) {
  return {s.data(), s.size()};
}

using Headers = std::vector<std::pair<std::string, std::string>>;
// Builds a header list outside co_await expressions: GCC 12 miscompiles
// braced initializer lists of temporaries there ("array used as initializer").
Headers OneHeader(std::string name, std::string value) {
  Headers h;
  h.emplace_back(std::move(name), std::move(value));
  return h;
}

using Request = bhttp::request<bhttp::buffer_body>;
using Parser = bhttp::request_parser<bhttp::buffer_body>;

// A connection's byte stream: plain TCP, or TLS over it (http.tls_*). One
// type for both, so the request code is written once and plain connections
// pay one branch per operation, not a TLS layer.
class HttpStream {
 public:
  using executor_type = tcp::socket::executor_type;

  HttpStream(tcp::socket socket, ssl::context* tls) {
    if (tls != nullptr) {
      tls_.emplace(std::move(socket), *tls);
    } else {
      plain_.emplace(std::move(socket));
    }
  }

  executor_type get_executor() { return lowest().get_executor(); }
  tcp::socket& lowest() { return tls_ ? tls_->next_layer() : *plain_; }
  bool is_tls() const { return tls_.has_value(); }
  ssl::stream<tcp::socket>& tls() { return *tls_; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(error_code, size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (tls_) {
            tls_->async_read_some(b, std::move(handler));
          } else {
            plain_->async_read_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(error_code, size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (tls_) {
            tls_->async_write_some(b, std::move(handler));
          } else {
            plain_->async_write_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

 private:
  std::optional<tcp::socket> plain_;
  std::optional<ssl::stream<tcp::socket>> tls_;
};

// The subject CN of the client certificate the TLS handshake verified, or "".
std::string PeerCommonName(ssl::stream<tcp::socket>& tls) {
  SSL* s = tls.native_handle();
  X509* cert = SSL_get1_peer_certificate(s);
  if (cert == nullptr) return "";
  std::string cn;
  if (SSL_get_verify_result(s) == X509_V_OK) {
    char buf[256];
    int n =
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof(buf));
    if (n > 0) cn.assign(buf, static_cast<size_t>(n));
  }
  X509_free(cert);
  return cn;
}

// What a request needs: reads need the read scope, everything that changes
// state (PUT, DELETE, MKCOL, and methods this server refuses anyway) write.
auth::Access AccessFor(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get:
    case bhttp::verb::head:
    case bhttp::verb::options:
    case bhttp::verb::propfind:
      return auth::Access::kRead;
    default:
      return auth::Access::kWrite;
  }
}

// The outcome of one request, for metrics and connection reuse.
struct Outcome {
  int code = 0;
  bool keep_alive = true;
};

}  // namespace

namespace {

// Digests whose upload is streaming in over HTTP right now. CasStore's
// single-flight makes a second writer of a digest *block* until the first
// finishes; but a streaming HTTP upload holds its writer across suspensions
// (waiting for body bytes), so blocking pool threads on it could starve the
// very coroutine they wait for. HTTP uploads therefore take this flight first,
// without blocking: a second upload of a digest spools its body, then waits
// asynchronously for the first to end before it touches the store.
class UploadFlights {
 public:
  bool TryBegin(const Digest& d) {
    std::lock_guard lk(mu_);
    return active_.insert(d).second;
  }
  void End(const Digest& d) {
    std::lock_guard lk(mu_);
    active_.erase(d);
  }

 private:
  std::mutex mu_;
  std::unordered_set<Digest> active_;
};

// Ends a flight when the upload's coroutine frame goes, however it ends.
class FlightGuard {
 public:
  FlightGuard(UploadFlights* f, const Digest& d) : flights_(f), digest_(d) {}
  ~FlightGuard() { flights_->End(digest_); }
  FlightGuard(const FlightGuard&) = delete;
  FlightGuard& operator=(const FlightGuard&) = delete;

 private:
  UploadFlights* flights_;
  Digest digest_;
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpOptions options, HttpDeps deps)
      : options_(std::move(options)),
        deps_(deps),
        cache_(deps.cas, deps.action_cache, deps.records, &metrics_, CacheOptions(options_)),
        blocking_(static_cast<size_t>(std::max(1, options_.blocking_threads))),
        acceptor_(ioc_) {}

  // Null for plain HTTP.
  ssl::context* tls() { return tls_.get(); }

  static HttpCache::Options CacheOptions(const HttpOptions& o) {
    HttpCache::Options c;
    c.ac_strict = o.ac_strict;
    c.zstd_max_blob = o.zstd_max_blob;
    return c;
  }

  Status Start();
  void Stop();
  int port() const { return port_; }

  HttpMetrics& metrics() { return metrics_; }
  HttpCache& cache() { return cache_; }
  UploadFlights& flights() { return flights_; }
  // Runs `fn` — a storage call that may block for a group commit or a disk read
  // — on the blocking pool and resumes the caller with its Status, so the
  // threads that serve connections never wait on the disk: 64 uploads share one
  // flush instead of queueing behind a few blocked threads.
  template <typename Fn>
  asio::awaitable<Status> Offload(Fn fn) {
    auto one = co_await OffloadAll(std::move(fn));
    co_return std::move(one[0]);
  }
  // Runs several such calls on the blocking pool at once and resumes the caller
  // when all are done: two durable writes that wait for group commits overlap
  // their waits instead of taking one flush after the other. Plain posts, not
  // co_spawn: every upload pays for this, and a coroutine per call showed up
  // in profiles.
  template <typename... Fns>
  asio::awaitable<std::array<Status, sizeof...(Fns)>> OffloadAll(Fns... fns) {
    co_return co_await AwaitAll([this, fn = std::move(fns)](StatusCallback done) mutable {
      asio::post(blocking_, [fn = std::move(fn), done = std::move(done)]() mutable { done(fn()); });
    }...);
  }
  // Starts several operations that report through a callback on any thread
  // (e.g. an engine commit completing on its flusher) and resumes the caller
  // on its own executor when all have reported: the asynchronous commits need
  // no thread of their own while they wait.
  using StatusCallback = std::function<void(Status)>;
  template <typename... Starts>
  asio::awaitable<std::array<Status, sizeof...(Starts)>> AwaitAll(Starts... starts) {
    using Results = std::array<Status, sizeof...(Starts)>;
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Results)>(
        [this, &starts...](auto handler) {
          using Handler = decltype(handler);
          struct Join {
            // `pending` is set here, not by a default member initializer:
            // clang 14 crashes on sizeof...(Starts) there.
            explicit Join(Handler h)
                : handler(std::move(h)),
                  work(asio::get_associated_executor(handler)),
                  pending(std::tuple_size_v<Results>) {}
            Handler handler;
            // Keeps the caller's executor running until the results are delivered.
            asio::executor_work_guard<asio::associated_executor_t<Handler>> work;
            Results results;
            std::atomic<size_t> pending;
          };
          auto join = std::make_shared<Join>(std::move(handler));
          AsyncBegan();
          auto finish = [this](const std::shared_ptr<Join>& j, size_t i, Status st) {
            j->results[i] = std::move(st);
            if (j->pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
            asio::post(j->work.get_executor(), [j] {
              auto done = std::move(j->handler);
              Results results = std::move(j->results);
              j->work.reset();
              done(std::move(results));
            });
            AsyncEnded();
          };
          size_t i = 0;
          (starts(StatusCallback(
               [join, finish, i = i++](Status st) { finish(join, i, std::move(st)); })),
           ...);
        },
        asio::use_awaitable);
  }
  // Operations of AwaitAll that have not reported yet: their reports post to
  // ioc_, so Stop() waits for them before the io_context can go away.
  void AsyncBegan() {
    std::lock_guard lk(async_mu_);
    async_pending_++;
  }
  void AsyncEnded() {
    std::lock_guard lk(async_mu_);
    if (--async_pending_ == 0) async_cv_.notify_all();
  }
  const HttpOptions& options() const { return options_; }
  const HttpDeps& deps() const { return deps_; }
  std::string StatusJson() const { return BuildStatusJson(StatusInputs()); }
  std::string MetricsText() const;

 private:
  StatusPageInputs StatusInputs() const {
    StatusPageInputs in;
    in.metrics = &metrics_;
    in.engine = deps_.engine;
    in.ram = deps_.ram;
    in.ram_capacity = options_.ram_capacity;
    in.tier_reports = deps_.tier_reports;
    in.grpc_calls = GrpcCalls();
    return in;
  }
  uint64_t GrpcCalls() const { return deps_.grpc_calls ? deps_.grpc_calls() : 0; }
  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> SampleLoop();
  // Builds tls_ from the http.tls_* options; OK and no TLS when they are empty.
  Status SetUpTls();

  HttpOptions options_;
  HttpDeps deps_;
  HttpMetrics metrics_;
  HttpCache cache_;
  UploadFlights flights_;
  asio::io_context ioc_;
  asio::thread_pool blocking_;
  std::mutex async_mu_;
  std::condition_variable async_cv_;
  size_t async_pending_ = 0;
  std::unique_ptr<ssl::context> tls_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  bool started_ = false;
  std::atomic<bool> stopped_{false};
};

namespace {

// One client connection: reads requests in order (pipelined requests wait in
// the buffer), answers each, and closes on error, timeout or "Connection: close".
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, HttpServer::Impl* server)
      : socket_(std::move(socket), server->tls()),
        timer_(socket_.get_executor()),
        server_(server) {}

  asio::awaitable<void> Run();
  asio::any_io_executor executor() { return socket_.get_executor(); }

 private:
  // Sets the deadline of the next socket operations: when it passes, pending
  // operations are cancelled (not the socket closed), so a 408 can still be sent.
  // Cheap on the hot path: it only moves `deadline_` unless the timer would
  // fire too late; a timer that fires early re-checks and waits again.
  void Arm(std::chrono::milliseconds d) {
    timed_out_ = false;
    deadline_ = std::chrono::steady_clock::now() + d;
    if (timer_armed_ && timer_expiry_ <= deadline_) return;
    StartTimer();
  }
  void StartTimer() {
    timer_armed_ = true;
    timer_expiry_ = deadline_;
    uint64_t gen = ++timer_gen_;
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this(), gen](error_code ec) { self->OnTimer(gen, ec); });
  }
  void OnTimer(uint64_t gen, error_code ec) {
    if (gen != timer_gen_) return;  // superseded by a later StartTimer
    timer_armed_ = false;
    if (ec || closed_) return;
    if (std::chrono::steady_clock::now() < deadline_) {
      StartTimer();  // the deadline moved on since this wait began
      return;
    }
    timed_out_ = true;
    error_code ignored;
    socket_.lowest().cancel(ignored);
  }

  asio::awaitable<Outcome> HandleOne();
  // 401 (with WWW-Authenticate) or 403 for a refused request.
  asio::awaitable<Outcome> SendAuthError(const Request& req, const Status& st, bool close);
  asio::awaitable<Outcome> Dispatch(Parser& parser, const Result<CachePath>& path);

  // Writers. Each returns false when the connection is unusable afterwards.
  asio::awaitable<bool> SendText(const Request& req, int code, std::string body,
                                 Headers headers = {}, bool close = false,
                                 std::string content_type = "text/plain; charset=utf-8");
  asio::awaitable<bool> SendContinue(const Request& req);
  // Streams [offset, offset+length) of `reader`; `headers` are added as given.
  // `offload`: reads may wait on the disk, so they are made on the blocking pool.
  asio::awaitable<bool> SendBlob(const Request& req, int code, BlobReader& reader, uint64_t offset,
                                 uint64_t length, Headers headers, bool head, bool offload);
  asio::awaitable<Outcome> SendError(const Request& req, Status st, bool close = false);

  // Reads the rest of the body, passing each piece to `sink`. Returns OK, or
  // the error with the HTTP code to answer (0: the client is gone).
  struct BodyError {
    Status status;
    int code = 0;
  };
  asio::awaitable<BodyError> ReadBody(Parser& parser,
                                      std::function<Status(std::span<const uint8_t>)> sink);

  asio::awaitable<Outcome> CasGet(const Request& req, const CachePath& path, bool head);
  asio::awaitable<Outcome> CasPut(Parser& parser, const CachePath& path);
  // HttpCache::ResolveBlob and RememberSize without this thread waiting on the
  // disk: a size not cached in memory is read, and a size record written, on
  // the blocking pool or by an asynchronous commit.
  asio::awaitable<Result<std::optional<Digest>>> ResolveBlob(const CachePath& path);
  asio::awaitable<void> RememberSize(const Digest& digest);
  asio::awaitable<Outcome> AcGet(const Request& req, const CachePath& path, bool head);
  asio::awaitable<Outcome> AcPut(Parser& parser, const CachePath& path);
  // Key-value namespaces, with the WebDAV methods sccache's backend uses.
  asio::awaitable<Outcome> Kv(Parser& parser, const CachePath& path);
  // Serves a stored value (action cache or key-value) with validators and ranges.
  asio::awaitable<Outcome> ServeValue(const Request& req, AcValue value, size_t slot, bool head);
  // Reads and discards the rest of the body; false when that failed (answer sent).
  asio::awaitable<bool> Drain(Parser& parser);
  // Serves one representation of a cacheable resource: validators, range, body.
  asio::awaitable<Outcome> ServeRepresentation(const Request& req, BlobReader& reader,
                                               std::string etag, bool zstd, bool head,
                                               bool offload = false);
  // Opens a blob without blocking this thread on the disk: a blob in the RAM
  // tier is opened here; any other is opened on the blocking pool (the engine
  // or a remote tier is asked), and read whole there when it is a small one
  // (unless `head`). `*offload` says whether reads of the result may still block.
  asio::awaitable<Result<std::unique_ptr<BlobReader>>> OpenBlob(const Digest& digest, bool head,
                                                                bool* offload);
  // After an answer sent before the body was read: the connection cannot be reused.
  bool BodyPending(const Parser& parser) const { return !parser.is_done(); }

  HttpStream socket_;
  asio::steady_timer timer_;
  // Subject CN of a verified client certificate (HTTPS with http.tls_client_ca_file).
  std::string cert_common_name_;
  HttpServer::Impl* server_;
  beast::flat_buffer buffer_;
  bool timed_out_ = false;
  bool timer_armed_ = false;
  bool closed_ = false;
  uint64_t timer_gen_ = 0;
  std::chrono::steady_clock::time_point deadline_{};
  std::chrono::steady_clock::time_point timer_expiry_{};
};

asio::awaitable<void> Connection::Run() {
  HttpMetrics& m = server_->metrics();
  m.ConnectionOpened();
  error_code ec;
  socket_.lowest().set_option(tcp::no_delay(true), ec);
  if (socket_.is_tls()) {
    Arm(server_->options().idle_timeout);
    co_await socket_.tls().async_handshake(ssl::stream_base::server,
                                           asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      LOG(kDebug, "tls handshake failed").kv("error", ec.message());
      closed_ = true;
      timer_gen_++;
      timer_.cancel();
      socket_.lowest().close(ec);
      m.ConnectionClosed();
      co_return;
    }
    cert_common_name_ = PeerCommonName(socket_.tls());
  }
  while (true) {
    Outcome o = co_await HandleOne();
    if (!o.keep_alive) break;
  }
  // Lingering close: stop sending, then read and discard what the client may
  // still be sending (e.g. the body of a refused upload) for a moment, so the
  // kernel does not answer it with a reset that could destroy our response.
  Arm(std::chrono::milliseconds(1000));
  if (socket_.is_tls()) {
    // close_notify, so the client can tell a complete response from a cut one.
    co_await socket_.tls().async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
  }
  socket_.lowest().shutdown(tcp::socket::shutdown_send, ec);
  std::vector<uint8_t> sink(16 * 1024);
  for (size_t drained = 0; drained < (1u << 20);) {
    size_t n = co_await socket_.lowest().async_read_some(
        asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    drained += n;
  }
  closed_ = true;
  timer_gen_++;
  timer_.cancel();
  socket_.lowest().close(ec);
  m.ConnectionClosed();
}

asio::awaitable<Outcome> Connection::HandleOne() {
  const HttpOptions& opts = server_->options();
  Parser parser;
  parser.header_limit(
      static_cast<std::uint32_t>(std::min<uint64_t>(opts.max_header_size, UINT32_MAX)));
  parser.body_limit(opts.max_body_size);
  error_code ec;
  Arm(opts.idle_timeout);
  co_await bhttp::async_read_header(socket_, buffer_, parser,
                                    asio::redirect_error(asio::use_awaitable, ec));
  auto start = std::chrono::steady_clock::now();
  if (ec) {
    // Nothing of a request arrived: an idle keep-alive connection ended or timed out.
    bool partial = parser.got_some() || buffer_.size() > 0;
    if (!partial || ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
      co_return Outcome{0, false};
    }
    Request dummy;
    dummy.version(11);
    int code = 0;
    std::string msg;
    if (timed_out_) {
      code = 408, msg = "request header not complete within http.idle_timeout";
    } else if (ec == bhttp::error::header_limit) {
      code = 431, msg = "request header larger than http.max_header_size (" +
                        std::to_string(opts.max_header_size) + " bytes)";
    } else if (ec == bhttp::error::body_limit) {
      code = 413, msg = "request body larger than http.max_body_size (" +
                        std::to_string(opts.max_body_size) + " bytes)";
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()) {
      code = 400, msg = "malformed request: " + ec.message();
    } else {
      co_return Outcome{0, false};  // the network failed: nobody to answer
    }
    co_await SendText(dummy, code, msg + "\n", {}, /*close=*/true);
    server_->metrics().Record(kOtherEndpoint, Method::kOther, code,
                              std::chrono::steady_clock::now() - start);
    co_return Outcome{code, false};
  }
  const Request& req = parser.get();
  Result<CachePath> path = ParseRequestTarget(SV(req.target()), server_->options().kv_namespaces);
  Outcome o = co_await Dispatch(parser, path);
  size_t slot = path.ok() ? EndpointSlot(path->endpoint) : kOtherEndpoint;
  server_->metrics().Record(slot, MethodOf(req.method()), o.code,
                            std::chrono::steady_clock::now() - start);
  if (o.keep_alive && (!req.keep_alive() || !parser.is_done())) o.keep_alive = false;
  co_return o;
}

asio::awaitable<Outcome> Connection::SendAuthError(const Request& req, const Status& st,
                                                   bool close) {
  int code = st.code() == StatusCode::kUnauthenticated ? 401 : 403;
  Headers headers;
  if (code == 401) headers = OneHeader("WWW-Authenticate", "Basic realm=\"cycas\"");
  bool ok = co_await SendText(req, code, st.message() + "\n", std::move(headers), close);
  co_return Outcome{code, ok};
}

asio::awaitable<Outcome> Connection::Dispatch(Parser& parser, const Result<CachePath>& path) {
  const Request& req = parser.get();
  // Auth before anything else (docs/auth.md): who the caller is, then, for a
  // path that parses, whether they may read or write its instance. /metrics
  // and /status name no instance: the read scope is enough.
  if (const auth::Authenticator* authenticator = server_->deps().authenticator) {
    auto who = authenticator->Identify(
        {SV(req[bhttp::field::authorization]), std::string_view(cert_common_name_)});
    Status st = who.ok() ? Status::Ok() : who.status();
    if (st.ok() && path.ok()) {
      std::optional<std::string_view> instance;
      if (path->endpoint == Endpoint::kCas || path->endpoint == Endpoint::kAc ||
          path->endpoint == Endpoint::kKv) {
        instance = path->instance;
      }
      st = auth::Authenticator::Permit(*who, AccessFor(req.method()), instance);
    }
    if (!st.ok()) {
      Outcome o_ = co_await SendAuthError(req, st, BodyPending(parser));
      co_return o_;
    }
  }
  if (!path.ok()) {
    Outcome o_ = co_await SendError(req, path.status(), BodyPending(parser));
    co_return o_;
  }
  bool get = req.method() == bhttp::verb::get, head = req.method() == bhttp::verb::head;
  bool put = req.method() == bhttp::verb::put;
  const Endpoint ep = path->endpoint;
  if (ep == Endpoint::kKv) {
    Outcome o = co_await Kv(parser, *path);
    co_return o;
  }
  if ((ep == Endpoint::kCas || ep == Endpoint::kAc) && (get || head || put)) {
    Outcome o;
    if (put && ep == Endpoint::kCas) {
      o = co_await CasPut(parser, *path);
    } else if (put) {
      o = co_await AcPut(parser, *path);
    } else if (ep == Endpoint::kCas) {
      o = co_await CasGet(req, *path, head);
    } else {
      o = co_await AcGet(req, *path, head);
    }
    co_return o;
  }
  if (get || head) {
    std::string body, type;
    Headers headers;
    if (ep == Endpoint::kMetrics) {
      body = server_->MetricsText();
      type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (ep == Endpoint::kStatus) {
      body = BuildStatusHtml(server_->StatusJson());
      type = "text/html; charset=utf-8";
      headers = OneHeader("Cache-Control", "no-store");
    } else {
      body = server_->StatusJson();
      type = "application/json";
      headers = OneHeader("Cache-Control", "no-store");
    }
    bool ok = co_await SendText(req, 200, std::move(body), std::move(headers), BodyPending(parser),
                                std::move(type));
    co_return Outcome{200, ok};
  }
  std::string allow = (path->endpoint == Endpoint::kCas || path->endpoint == Endpoint::kAc)
                          ? std::string("GET, HEAD, PUT")
                          : std::string("GET, HEAD");
  bool ok = co_await SendText(req, 405,
                              "method " + std::string(SV(req.method_string())) +
                                  " not allowed on " + std::string(SV(req.target())) + "\n",
                              OneHeader("Allow", allow), BodyPending(parser));
  co_return Outcome{405, ok};
}

asio::awaitable<bool> Connection::SendText(const Request& req, int code, std::string body,
                                           Headers headers, bool close, std::string content_type) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(code), req.version()};
  res.set(bhttp::field::server, "cycas");
  res.set(bhttp::field::content_type, content_type);
  for (const auto& [k, v] : headers) res.set(k, v);
  bool head = req.method() == bhttp::verb::head;
  size_t n = body.size();
  res.body() = std::move(body);
  res.prepare_payload();
  if (head) res.body().clear();
  res.keep_alive(!close && req.keep_alive());
  error_code ec;
  Arm(server_->options().slow_client_timeout);
  if (head) {
    bhttp::response_serializer<bhttp::string_body> sr{res};
    co_await bhttp::async_write_header(socket_, sr, asio::redirect_error(asio::use_awaitable, ec));
  } else {
    co_await bhttp::async_write(socket_, res, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) server_->metrics().AddBytesOut(n);
  }
  co_return !ec && !close;
}

asio::awaitable<bool> Connection::SendContinue(const Request& req) {
  bhttp::response<bhttp::empty_body> res{bhttp::status::continue_, req.version()};
  error_code ec;
  Arm(server_->options().slow_client_timeout);
  co_await bhttp::async_write(socket_, res, asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

asio::awaitable<Outcome> Connection::SendError(const Request& req, Status st, bool close) {
  int code = HttpCodeFor(st);
  if (code >= 500)
    LOG(kWarn, "http request failed").kv("target", SV(req.target())).kv("error", st.ToString());
  bool ok = co_await SendText(req, code, st.message() + "\n", {}, close);
  co_return Outcome{code, ok};
}

asio::awaitable<bool> Connection::SendBlob(const Request& req, int code, BlobReader& reader,
                                           uint64_t offset, uint64_t length, Headers headers,
                                           bool head, bool offload) {
  if (!head && length <= kSmallResponse) {
    // Small: one read, one write (header and body gathered).
    bhttp::response<bhttp::string_body> small{static_cast<bhttp::status>(code), req.version()};
    small.set(bhttp::field::server, "cycas");
    small.set(bhttp::field::content_type, "application/octet-stream");
    for (const auto& [k, v] : headers) small.set(k, v);
    std::string& body = small.body();
    body.resize(length);
    auto read_all = [&]() -> Status {
      for (uint64_t got = 0; got < length;) {
        auto n = reader.Read(
            offset + got,
            std::span<uint8_t>(reinterpret_cast<uint8_t*>(body.data()) + got, length - got));
        if (!n.ok()) return n.status();
        if (*n == 0) return Status::DataLoss("short blob");
        got += *n;
      }
      return Status::Ok();
    };
    // An if, not ?: — GCC 12 mis-compiles co_await inside a conditional expression.
    Status read = Status::Ok();
    if (offload) {
      read = co_await server_->Offload(read_all);
    } else {
      read = read_all();
    }
    if (!read.ok()) {
      bool ok = co_await SendText(req, 500, "read failed: " + read.ToString() + "\n");
      co_return ok;
    }
    small.content_length(length);
    small.keep_alive(req.keep_alive());
    error_code ec;
    Arm(server_->options().slow_client_timeout);
    co_await bhttp::async_write(socket_, small, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) server_->metrics().AddBytesOut(length);
    co_return !ec;
  }
  bhttp::response<bhttp::buffer_body> res{static_cast<bhttp::status>(code), req.version()};
  res.set(bhttp::field::server, "cycas");
  res.set(bhttp::field::content_type, "application/octet-stream");
  for (const auto& [k, v] : headers) res.set(k, v);
  res.content_length(length);
  res.keep_alive(req.keep_alive());
  res.body().data = nullptr;
  res.body().more = !head && length > 0;
  bhttp::response_serializer<bhttp::buffer_body> sr{res};
  error_code ec;
  Arm(server_->options().slow_client_timeout);
  co_await bhttp::async_write_header(socket_, sr, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return false;
  if (head || length == 0) co_return true;
  // Sent straight from the reader's buffer (an engine fragment, a RAM-tier
  // blob): no copy into a buffer of our own. The view stays valid until the
  // next ReadView, i.e. until this piece has been written.
  const size_t piece = length > kLargeChunkSize ? kLargeChunkSize : kChunkSize;
  uint64_t pos = offset, end = offset + length;
  while (pos < end) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(piece, end - pos));
    Result<std::span<const uint8_t>> view = std::span<const uint8_t>();
    auto read = [&] {
      view = reader.ReadView(pos, want);
      return Status::Ok();
    };
    if (offload) {
      co_await server_->Offload(read);
    } else {
      (void)read();
    }
    if (!view.ok() || view->empty()) {
      // Headers are out: the only honest signal left is to cut the connection.
      LOG(kWarn, "http read failed mid-response")
          .kv("target", SV(req.target()))
          .kv("error", view.ok() ? std::string("short blob") : view.status().ToString());
      co_return false;
    }
    const size_t n = view->size();
    pos += n;
    res.body().data = const_cast<uint8_t*>(view->data());  // buffer_body only reads it
    res.body().size = n;
    res.body().more = pos < end;
    Arm(server_->options().slow_client_timeout);
    co_await bhttp::async_write(socket_, sr, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) co_return false;
    server_->metrics().AddBytesOut(n);
  }
  if (!sr.is_done()) {
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = false;
    co_await bhttp::async_write(socket_, sr, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == bhttp::error::need_buffer) ec = {};
  }
  co_return !ec;
}

asio::awaitable<Connection::BodyError> Connection::ReadBody(
    Parser& parser, std::function<Status(std::span<const uint8_t>)> sink) {
  // Pieces of at most kChunkSize, no larger than the body when its length is
  // known: small uploads are the common case and should not pay for 64 KiB.
  size_t piece = kChunkSize;
  if (auto remaining = parser.content_length_remaining()) {
    piece = static_cast<size_t>(std::clamp<uint64_t>(*remaining, 1, kChunkSize));
  }
  std::vector<uint8_t> chunk(piece);
  // Beast reads as much as the connection buffer has room for, and that buffer
  // only grew to fit the headers: without room, a large body arrives ~1 KiB per
  // recv(2) (65k system calls and async operations for 64 MiB). Room beyond a
  // small buffer is given back afterwards so that idle keep-alive connections
  // stay small, without a reallocation on every small request.
  buffer_.reserve(buffer_.size() + piece);
  struct Shrink {
    beast::flat_buffer& b;
    ~Shrink() {
      if (b.capacity() > kIdleBuffer) b.shrink_to_fit();
    }
  } shrink{buffer_};
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    error_code ec;
    Arm(server_->options().slow_client_timeout);
    co_await bhttp::async_read(socket_, buffer_, parser,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec == bhttp::error::need_buffer) ec = {};
    size_t got = chunk.size() - parser.get().body().size;
    if (got > 0) {
      server_->metrics().AddBytesIn(got);
      Status st = sink(std::span<const uint8_t>(chunk.data(), got));
      if (!st.ok()) co_return BodyError{st, HttpCodeFor(st)};
    }
    if (ec) {
      if (timed_out_) {
        co_return BodyError{Status(StatusCode::kDeadlineExceeded,
                                   "request body stalled longer than http.slow_client_timeout"),
                            408};
      }
      if (ec == bhttp::error::body_limit) {
        co_return BodyError{
            Status::ResourceExhausted("request body larger than http.max_body_size (" +
                                      std::to_string(server_->options().max_body_size) + " bytes)"),
            413};
      }
      if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
          ec != bhttp::error::partial_message) {
        co_return BodyError{Status::InvalidArgument("malformed request body: " + ec.message()),
                            400};
      }
      co_return BodyError{Status::Cancelled("client went away during the body: " + ec.message()),
                          0};
    }
  }
  co_return BodyError{};
}

asio::awaitable<Outcome> Connection::ServeRepresentation(const Request& req, BlobReader& reader,
                                                         std::string etag, bool zstd, bool head,
                                                         bool offload) {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"ETag", etag}, {"Vary", "Accept-Encoding"}, {"Accept-Ranges", zstd ? "none" : "bytes"}};
  if (zstd) headers.emplace_back("Content-Encoding", "zstd");
  uint64_t size = reader.size();
  if (auto inm = req.find(bhttp::field::if_none_match); inm != req.end()) {
    if (IfNoneMatchMatches(SV(inm->value()), etag)) {
      bhttp::response<bhttp::empty_body> res{bhttp::status::not_modified, req.version()};
      res.set(bhttp::field::server, "cycas");
      for (const auto& [k, v] : headers) res.set(k, v);
      res.keep_alive(req.keep_alive());
      error_code ec;
      Arm(server_->options().slow_client_timeout);
      co_await bhttp::async_write(socket_, res, asio::redirect_error(asio::use_awaitable, ec));
      co_return Outcome{304, !ec};
    }
  }
  uint64_t offset = 0, length = size;
  int code = 200;
  auto range = req.find(bhttp::field::range);
  auto if_range = req.find(bhttp::field::if_range);
  bool range_applies = !zstd && range != req.end() &&
                       (if_range == req.end() || IfRangeMatches(SV(if_range->value()), etag));
  if (range_applies) {
    ByteRangeResult r = ParseByteRange(SV(range->value()), size);
    if (r.kind == ByteRangeResult::Kind::kUnsatisfiable) {
      headers.emplace_back("Content-Range", UnsatisfiedContentRange(size));
      bool ok = co_await SendText(
          req, 416, "range not satisfiable for " + std::to_string(size) + " bytes\n", headers);
      co_return Outcome{416, ok};
    }
    if (r.kind == ByteRangeResult::Kind::kSatisfiable) {
      code = 206;
      offset = r.offset;
      length = r.length;
      headers.emplace_back("Content-Range", ContentRange(offset, length, size));
    }
  }
  bool ok = co_await SendBlob(req, code, reader, offset, length, headers, head, offload);
  co_return Outcome{code, ok};
}

asio::awaitable<Result<std::optional<Digest>>> Connection::ResolveBlob(const CachePath& path) {
  HttpCache& cache = server_->cache();
  if (auto known = cache.KnownBlob(path.function, path.hash)) co_return known;
  Result<std::optional<Digest>> resolved = std::optional<Digest>();
  co_await server_->Offload([&] {
    resolved = cache.ResolveBlob(path.function, path.hash);
    return Status::Ok();
  });
  co_return resolved;
}

asio::awaitable<void> Connection::RememberSize(const Digest& digest) {
  HttpCache& cache = server_->cache();
  if (cache.CanRememberSizeAsync()) {
    co_await server_->AwaitAll([&](std::function<void(Status)> done) {
      cache.RememberSizeAsync(digest, [done = std::move(done)] { done(Status::Ok()); });
    });
  } else {
    co_await server_->Offload([&] {
      cache.RememberSize(digest);
      return Status::Ok();
    });
  }
}

asio::awaitable<Outcome> Connection::CasGet(const Request& req, const CachePath& path, bool head) {
  HttpCache& cache = server_->cache();
  size_t slot = EndpointSlot(Endpoint::kCas);
  auto digest = co_await ResolveBlob(path);
  if (!digest.ok()) {
    Outcome o_ = co_await SendError(req, digest.status());
    co_return o_;
  }
  auto not_found = [&] {
    return Status::NotFound("blob " + std::string(DigestFunctionName(path.function)) + ":" +
                            HexEncode(path.hash) + " not found");
  };
  if (!*digest) {
    server_->metrics().AddMiss(slot);
    {
      Outcome o_ = co_await SendError(req, not_found());
      co_return o_;
    }
  }
  bool offload = false;
  auto reader = co_await OpenBlob(**digest, head, &offload);
  if (!reader.ok()) {
    if (reader.status().code() == StatusCode::kNotFound) {
      server_->metrics().AddMiss(slot);
      {
        Outcome o_ = co_await SendError(req, not_found());
        co_return o_;
      }
    }
    {
      Outcome o_ = co_await SendError(req, reader.status());
      co_return o_;
    }
  }
  server_->metrics().AddHit(slot);
  cache.KeepSize(**digest);
  std::string hex = HexEncode(path.hash);
  AcceptEncoding ae = ParseAcceptEncoding(SV(req[bhttp::field::accept_encoding]));
  // A ranged request is served from the identity bytes: ranges of an encoded
  // representation are of no use to a cache client.
  bool ranged = req.find(bhttp::field::range) != req.end();
  if (PrefersZstd(ae) && !ranged) {
    // Made on the pool: it may read, compress and durably store the alternate.
    Result<std::optional<Digest>> alt = std::optional<Digest>();
    co_await server_->Offload([&] {
      alt = cache.ZstdAlternate(**digest);
      return Status::Ok();
    });
    if (!alt.ok()) {
      LOG(kWarn, "zstd alternate failed")
          .kv("digest", (*digest)->ToString())
          .kv("error", alt.status().ToString());
    } else if (*alt) {
      bool alt_offload = false;
      auto alt_reader = co_await OpenBlob(**alt, head, &alt_offload);
      if (alt_reader.ok()) {
        server_->metrics().AlternateServed();
        {
          Outcome o_ = co_await ServeRepresentation(req, **alt_reader, QuoteEtag(hex + ".zstd"),
                                                    true, head, alt_offload);
          co_return o_;
        }
      }
    }
  }
  if (ae.identity_q == 0) {
    bool ok = co_await SendText(req, 406,
                                "no acceptable encoding: identity is refused and zstd is not "
                                "available for this blob\n",
                                OneHeader("Vary", "Accept-Encoding"));
    co_return Outcome{406, ok};
  }
  {
    Outcome o_ = co_await ServeRepresentation(req, **reader, QuoteEtag(hex), false, head, offload);
    co_return o_;
  }
}

asio::awaitable<Outcome> Connection::AcGet(const Request& req, const CachePath& path, bool head) {
  size_t slot = EndpointSlot(Endpoint::kAc);
  // On the pool: the record is read from the engine, and its outputs are checked.
  Result<AcValue> value = Status::Internal("value not read");
  co_await server_->Offload([&] {
    value = server_->cache().GetAc(path.instance, path.function, path.hash);
    return Status::Ok();
  });
  if (!value.ok()) {
    if (value.status().code() == StatusCode::kNotFound) server_->metrics().AddMiss(slot);
    {
      Outcome o_ = co_await SendError(req, value.status());
      co_return o_;
    }
  }
  Outcome o = co_await ServeValue(req, std::move(*value), slot, head);
  co_return o;
}

asio::awaitable<Outcome> Connection::ServeValue(const Request& req, AcValue value, size_t slot,
                                                bool head) {
  std::unique_ptr<BlobReader> reader;
  std::string etag;
  bool offload = false;
  if (value.blob) {
    auto r = co_await OpenBlob(*value.blob, head, &offload);
    if (!r.ok()) {
      if (r.status().code() == StatusCode::kNotFound) server_->metrics().AddMiss(slot);
      {
        Outcome o_ = co_await SendError(req, r.status());
        co_return o_;
      }
    }
    reader = std::move(*r);
    etag = QuoteEtag(value.blob->hex());
  } else {
    etag = QuoteEtag(HexEncode(HashOf(DigestFunction::kSha256, value.bytes)));
    reader = std::make_unique<MemoryBlobReader>(
        std::make_shared<const std::string>(std::move(value.bytes)));
  }
  server_->metrics().AddHit(slot);
  {
    Outcome o_ = co_await ServeRepresentation(req, *reader, etag, false, head, offload);
    co_return o_;
  }
}

asio::awaitable<Result<std::unique_ptr<BlobReader>>> Connection::OpenBlob(const Digest& digest,
                                                                          bool head,
                                                                          bool* offload) {
  CasStore* cas = server_->deps().cas;
  *offload = false;
  if (auto in_memory = cas->OpenReadIfInMemory(digest)) {
    co_return std::unique_ptr<BlobReader>(std::move(in_memory));
  }
  Result<std::unique_ptr<BlobReader>> reader = Status::Internal("blob not opened");
  co_await server_->Offload([&] {
    reader = cas->OpenRead(digest);
    if (!head && reader.ok() && (*reader)->size() <= kSmallResponse) {
      auto bytes = ReadWholeBlob(**reader);
      if (!bytes.ok()) {
        reader = bytes.status();
      } else {
        reader = std::unique_ptr<BlobReader>(
            new MemoryBlobReader(std::make_shared<const std::string>(std::move(*bytes))));
      }
    }
    return Status::Ok();
  });
  *offload = reader.ok() && (head || (*reader)->size() > kSmallResponse);
  co_return reader;
}

asio::awaitable<bool> Connection::Drain(Parser& parser) {
  if (parser.is_done()) co_return true;
  BodyError be = co_await ReadBody(parser, [](std::span<const uint8_t>) { return Status::Ok(); });
  if (be.status.ok()) co_return true;
  if (be.code != 0) co_await SendText(parser.get(), be.code, be.status.message() + "\n", {}, true);
  co_return false;
}

std::string HttpDate(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// One <D:response> of a PROPFIND answer. `href` holds only safe path characters.
std::string DavResponse(const std::string& href, bool collection, uint64_t length,
                        const std::string& etag) {
  std::string r = "<D:response><D:href>" + href + "</D:href><D:propstat><D:prop>";
  if (collection) {
    r += "<D:resourcetype><D:collection/></D:resourcetype>";
  } else {
    r += "<D:resourcetype/><D:getcontentlength>" + std::to_string(length) +
         "</D:getcontentlength><D:getcontenttype>application/octet-stream</D:getcontenttype>";
    if (!etag.empty()) r += "<D:getetag>" + etag + "</D:getetag>";
  }
  r += "<D:getlastmodified>" + HttpDate(std::chrono::system_clock::now()) + "</D:getlastmodified>";
  r += "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>";
  return r;
}

asio::awaitable<Outcome> Connection::Kv(Parser& parser, const CachePath& path) {
  const Request& req = parser.get();
  HttpCache& cache = server_->cache();
  size_t slot = EndpointSlot(Endpoint::kKv);
  const std::string allow = "GET, HEAD, PUT, DELETE, OPTIONS, PROPFIND, MKCOL";
  std::string href(SV(req.target()));
  if (auto q = href.find('?'); q != std::string::npos) href.resize(q);
  // An if-chain, not a switch: GCC 12 mis-handles co_await inside switch cases.
  const bhttp::verb m = req.method();
  if (m == bhttp::verb::options) {
    if (!co_await Drain(parser)) co_return Outcome{400, false};
    Headers h = OneHeader("Allow", allow);
    h.emplace_back("DAV", "1");
    bool ok = co_await SendText(req, 200, "", std::move(h));
    co_return Outcome{200, ok};
  } else if (m == bhttp::verb::mkcol) {
    // Collections are implicit: every key's parents exist.
    if (!co_await Drain(parser)) co_return Outcome{400, false};
    bool ok = co_await SendText(req, 201, "");
    co_return Outcome{201, ok};
  } else if (m == bhttp::verb::propfind) {
    if (!co_await Drain(parser)) co_return Outcome{400, false};
    std::string body =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">";
    if (path.collection) {
      // Keys cannot be listed: a collection answers for itself only (Depth is ignored).
      body += DavResponse(href, true, 0, "");
    } else {
      Result<AcValue> v = Status::Internal("value not read");
      co_await server_->Offload([&] {
        v = cache.GetKv(path.instance, path.key);
        return Status::Ok();
      });
      if (!v.ok()) {
        if (v.status().code() == StatusCode::kNotFound) server_->metrics().AddMiss(slot);
        {
          Outcome o_ = co_await SendError(req, v.status());
          co_return o_;
        }
      }
      std::string etag = v->blob ? QuoteEtag(v->blob->hex())
                                 : QuoteEtag(HexEncode(HashOf(DigestFunction::kSha256, v->bytes)));
      body += DavResponse(href, false, v->size(), etag);
    }
    body += "</D:multistatus>\n";
    bool ok =
        co_await SendText(req, 207, std::move(body), {}, false, "application/xml; charset=utf-8");
    co_return Outcome{207, ok};
  } else if (m == bhttp::verb::get || m == bhttp::verb::head) {
    bool head = req.method() == bhttp::verb::head;
    if (path.collection) {
      bool ok = co_await SendText(req, 200, "");
      co_return Outcome{200, ok};
    }
    Result<AcValue> v = Status::Internal("value not read");
    co_await server_->Offload([&] {
      v = cache.GetKv(path.instance, path.key);
      return Status::Ok();
    });
    if (!v.ok()) {
      if (v.status().code() == StatusCode::kNotFound) server_->metrics().AddMiss(slot);
      {
        Outcome o_ = co_await SendError(req, v.status());
        co_return o_;
      }
    }
    {
      Outcome o_ = co_await ServeValue(req, std::move(*v), slot, head);
      co_return o_;
    }
  } else if (m == bhttp::verb::put && !path.collection) {
    if (IEquals(SV(req[bhttp::field::expect]), "100-continue") && !parser.is_done()) {
      if (!co_await SendContinue(req)) co_return Outcome{499, false};
    }
    BodySpool spool(server_->options().spool_dir, kSpoolMemory, DigestFunction::kSha256);
    BodyError be =
        co_await ReadBody(parser, [&](std::span<const uint8_t> d) { return spool.Append(d); });
    if (!be.status.ok()) {
      if (be.code == 0) co_return Outcome{499, false};
      bool ok =
          co_await SendText(req, be.code, be.status.message() + "\n", {}, BodyPending(parser));
      co_return Outcome{be.code, ok};
    }
    Status st = cache.PutKv(path.instance, path.key, spool);
    if (!st.ok()) {
      Outcome o_ = co_await SendError(req, st);
      co_return o_;
    }
    bool ok = co_await SendText(req, 201, "");
    co_return Outcome{201, ok};
  } else if (m == bhttp::verb::delete_) {
    if (!co_await Drain(parser)) co_return Outcome{400, false};
    if (!path.collection) {
      Status st = cache.RemoveKv(path.instance, path.key);
      if (!st.ok()) {
        Outcome o_ = co_await SendError(req, st);
        co_return o_;
      }
    }
    bool ok = co_await SendText(req, 204, "");
    co_return Outcome{204, ok};
  }
  bool ok = co_await SendText(
      req, 405, "method " + std::string(SV(req.method_string())) + " not allowed here\n",
      OneHeader("Allow", allow), BodyPending(parser));
  co_return Outcome{405, ok};
}

asio::awaitable<Outcome> Connection::CasPut(Parser& parser, const CachePath& path) {
  const Request& req = parser.get();
  HttpCache& cache = server_->cache();
  CasStore* cas = server_->deps().cas;
  std::string_view encoding = SV(req[bhttp::field::content_encoding]);
  bool zstd = IEquals(encoding, "zstd");
  if (!encoding.empty() && !zstd && !IEquals(encoding, "identity")) {
    bool ok = co_await SendText(
        req, 415,
        "unsupported Content-Encoding '" + std::string(encoding) + "' (identity or zstd)\n",
        OneHeader("Accept-Encoding", "zstd"), BodyPending(parser));
    co_return Outcome{415, ok};
  }
  bool expect_continue = IEquals(SV(req[bhttp::field::expect]), "100-continue");
  auto content_length = parser.content_length();

  // Bazel re-uploads everything: answer a blob we already hold cheaply.
  std::optional<Digest> known;
  if (!zstd && content_length) {
    known = Digest(path.function, path.hash, *content_length);
    if (Status st = cas->CheckDigest(*known); !st.ok()) {
      bool ok = co_await SendText(req, 413, st.message() + "\n", {}, BodyPending(parser));
      co_return Outcome{413, ok};
    }
  } else {
    auto resolved = co_await ResolveBlob(path);
    if (resolved.ok()) known = *resolved;
  }
  // With a remote or S3 tier behind the CAS, an existence check or opening a
  // writer can wait on the network: then they are made on the blocking pool.
  const bool may_block = server_->deps().network_tiers;
  if (known) {
    Result<bool> present = false;
    if (may_block) {
      co_await server_->Offload([&] {
        present = cas->Contains(*known);
        return Status::Ok();
      });
    } else {
      present = cas->Contains(*known);
    }
    if (present.ok() && *present) {
      server_->metrics().ExistingUploadSkipped();
      co_await RememberSize(*known);
      if (!expect_continue && !parser.is_done()) {
        // Without Expect the body is on its way: drain it to keep the connection.
        BodyError be =
            co_await ReadBody(parser, [](std::span<const uint8_t>) { return Status::Ok(); });
        if (!be.status.ok()) {
          if (be.code == 0) co_return Outcome{499, false};
          bool ok = co_await SendText(req, be.code, be.status.message() + "\n", {}, true);
          (void)ok;
          co_return Outcome{be.code, false};
        }
      }
      bhttp::response<bhttp::empty_body> res{bhttp::status::no_content, req.version()};
      res.set(bhttp::field::server, "cycas");
      bool close = BodyPending(parser);
      res.keep_alive(!close && req.keep_alive());
      error_code ec;
      Arm(server_->options().slow_client_timeout);
      co_await bhttp::async_write(socket_, res, asio::redirect_error(asio::use_awaitable, ec));
      co_return Outcome{204, !ec && !close};
    }
  }
  if (expect_continue && !parser.is_done()) {
    if (!co_await SendContinue(req)) co_return Outcome{499, false};
  }

  auto fail = [&](const BodyError& be) -> asio::awaitable<Outcome> {
    if (be.code == 0) co_return Outcome{499, false};
    // The body was not read to its end: the connection cannot carry another request.
    bool ok = co_await SendText(req, be.code, be.status.message() + "\n", {}, BodyPending(parser));
    co_return Outcome{be.code, ok};
  };

  // Size known and no other upload of the digest: stream straight into a
  // verifying writer. (Another upload in flight, over any protocol: spool,
  // below, then wait for it on the blocking pool, not on this thread.)
  std::optional<FlightGuard> flight;
  if (!zstd && content_length && !cas->UploadInFlight(*known) &&
      server_->flights().TryBegin(*known)) {
    flight.emplace(&server_->flights(), *known);
    Digest digest = *known;
    Result<std::unique_ptr<BlobWriter>> writer = Status::Internal("writer not opened");
    if (may_block) {
      co_await server_->Offload([&] {
        writer = cas->OpenWrite(digest);
        return Status::Ok();
      });
    } else {
      writer = cas->OpenWrite(digest);
    }
    if (!writer.ok() && writer.status().code() != StatusCode::kAlreadyExists) {
      {
        Outcome o_ = co_await SendError(req, writer.status(), BodyPending(parser));
        co_return o_;
      }
    }
    bool exists = !writer.ok();
    BodyError be = co_await ReadBody(parser, [&](std::span<const uint8_t> data) {
      return exists ? Status::Ok() : (*writer)->Append(data);
    });
    if (!be.status.ok()) {
      Outcome o_ = co_await fail(be);
      co_return o_;
    }
    if (exists) {
      co_await RememberSize(digest);
      bool ok = co_await SendText(req, 204, "");
      co_return Outcome{204, ok};
    }
    std::array<Status, 2> st;
    if ((*writer)->CanCommitAsync() && cache.CanRememberSizeAsync()) {
      // Both durable writes are queued from here and share a flush; no thread
      // waits for it. The CAS writer checks size and hash before it queues
      // anything and reports a mismatch at once, so a commit that has already
      // failed when the record's turn comes means the record is not written:
      // records are only ever written for verified bytes. (AwaitAll starts
      // its operations in order, on this thread.)
      auto failed = std::make_shared<std::atomic<bool>>(false);
      st = co_await server_->AwaitAll(
          [&](std::function<void(Status)> done) {
            (*writer)->CommitAsync([failed, done = std::move(done)](Status s) {
              if (!s.ok()) failed->store(true);
              done(std::move(s));
            });
          },
          [&](std::function<void(Status)> done) {
            if (failed->load()) return done(Status::Ok());
            cache.RecordNewBlobSizeAsync(digest, [done = std::move(done)] { done(Status::Ok()); });
          });
    } else {
      st[0] = co_await server_->Offload([&] { return (*writer)->Commit(); });
      if (st[0].ok()) co_await RememberSize(digest);
    }
    if (!st[0].ok()) {
      Outcome o_ = co_await SendError(req, st[0]);
      co_return o_;
    }
    bool ok = co_await SendText(req, 201, "");
    co_return Outcome{201, ok};
  }

  // Size unknown until the end (chunked) or bytes to decode (zstd): spool, then verify and store.
  BodySpool spool(server_->options().spool_dir, kSpoolMemory, path.function);
  uint64_t limit = server_->options().max_body_size;
  std::unique_ptr<ZSTD_DStream, size_t (*)(ZSTD_DStream*)> dstream(nullptr, ZSTD_freeDStream);
  std::vector<uint8_t> out;
  size_t last_ret = 0;
  if (zstd) {
    dstream.reset(ZSTD_createDStream());
    ZSTD_initDStream(dstream.get());
    out.resize(ZSTD_DStreamOutSize());
  }
  auto append = [&](std::span<const uint8_t> data) -> Status {
    if (spool.size() + data.size() > limit) {
      return Status::ResourceExhausted("decoded body larger than http.max_body_size (" +
                                       std::to_string(limit) + " bytes)");
    }
    return spool.Append(data);
  };
  BodyError be = co_await ReadBody(parser, [&](std::span<const uint8_t> data) -> Status {
    if (!zstd) return append(data);
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    while (in.pos < in.size) {
      ZSTD_outBuffer o{out.data(), out.size(), 0};
      size_t ret = ZSTD_decompressStream(dstream.get(), &o, &in);
      if (ZSTD_isError(ret))
        return Status::InvalidArgument(std::string("zstd body: ") + ZSTD_getErrorName(ret));
      last_ret = ret;
      RETURN_IF_ERROR(append({out.data(), o.pos}));
    }
    return Status::Ok();
  });
  if (!be.status.ok()) {
    if (be.code == 503) be.code = 413;  // the decoded-size limit
    {
      Outcome o_ = co_await fail(be);
      co_return o_;
    }
  }
  if (zstd && last_ret != 0) {
    {
      Outcome o_ = co_await SendError(
          req, Status::InvalidArgument("zstd body ends inside a frame (truncated)"));
      co_return o_;
    }
  }
  Digest actual = spool.Finish();
  if (actual.hash() != path.hash) {
    {
      Outcome o_ = co_await SendError(
          req, Status::InvalidArgument("upload does not match its digest: expected " +
                                       std::string(DigestFunctionName(path.function)) + " " +
                                       HexEncode(path.hash) + ", computed " + actual.hex()));
      co_return o_;
    }
  }
  if (Status st = cas->CheckDigest(actual); !st.ok()) {
    Outcome o_ = co_await SendError(req, st);
    co_return o_;
  }
  // Take the digest's HTTP flight before touching the store (see UploadFlights).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!server_->flights().TryBegin(actual)) {
    if (std::chrono::steady_clock::now() > deadline) {
      Outcome o_ =
          co_await SendError(req, Status::Unavailable("another upload of " + actual.ToString() +
                                                      " is still in progress; retry later"));
      co_return o_;
    }
    asio::steady_timer pause(socket_.get_executor(), std::chrono::milliseconds(2));
    error_code ignored;
    co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
  flight.emplace(&server_->flights(), actual);
  // Opening waits while an upload over another protocol stores the digest.
  Result<std::unique_ptr<BlobWriter>> writer = Status::Internal("writer not opened");
  co_await server_->Offload([&] {
    writer = cas->OpenWrite(actual);
    return Status::Ok();
  });
  auto remember = [&] {
    cache.RememberSize(actual);
    return Status::Ok();
  };
  int code = 201;
  if (writer.ok()) {
    // Verified above (spool.Finish), so the size record may go alongside the blob.
    auto st = co_await server_->OffloadAll(
        [&] {
          Status s = spool.CopyTo(**writer);
          return s.ok() ? (*writer)->Commit() : s;
        },
        remember);
    if (!st[0].ok()) {
      Outcome o_ = co_await SendError(req, st[0]);
      co_return o_;
    }
  } else if (writer.status().code() == StatusCode::kAlreadyExists) {
    code = 204;
    co_await server_->Offload(remember);
  } else {
    {
      Outcome o_ = co_await SendError(req, writer.status());
      co_return o_;
    }
  }
  bool ok = co_await SendText(req, code, "");
  co_return Outcome{code, ok};
}

asio::awaitable<Outcome> Connection::AcPut(Parser& parser, const CachePath& path) {
  const Request& req = parser.get();
  std::string_view encoding = SV(req[bhttp::field::content_encoding]);
  if (!encoding.empty() && !IEquals(encoding, "identity")) {
    bool ok = co_await SendText(req, 415,
                                "action-cache values are stored as sent: Content-Encoding '" +
                                    std::string(encoding) + "' is not accepted\n",
                                {}, BodyPending(parser));
    co_return Outcome{415, ok};
  }
  if (IEquals(SV(req[bhttp::field::expect]), "100-continue") && !parser.is_done()) {
    if (!co_await SendContinue(req)) co_return Outcome{499, false};
  }
  BodySpool spool(server_->options().spool_dir, kSpoolMemory, DigestFunction::kSha256);
  BodyError be =
      co_await ReadBody(parser, [&](std::span<const uint8_t> d) { return spool.Append(d); });
  if (!be.status.ok()) {
    if (be.code == 0) co_return Outcome{499, false};
    bool ok = co_await SendText(req, be.code, be.status.message() + "\n", {}, BodyPending(parser));
    co_return Outcome{be.code, ok};
  }
  Status st = co_await server_->Offload(
      [&] { return server_->cache().PutAc(path.instance, path.function, path.hash, spool); });
  if (!st.ok()) {
    Outcome o_ = co_await SendError(req, st);
    co_return o_;
  }
  bool ok = co_await SendText(req, 201, "");
  co_return Outcome{201, ok};
}

}  // namespace

std::string HttpServer::Impl::MetricsText() const {
  std::string out;
  out.reserve(16 * 1024);
  metrics_.RenderPrometheus(out);
  AppendStoreMetrics(StatusInputs(), out);
  for (const MetricsSource* source : deps_.metrics_sources) source->RenderPrometheus(out);
  return out;
}

Status HttpServer::Impl::Start() {
  std::string host = options_.listen;
  size_t colon = host.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("http.listen must be host:port, got '" + options_.listen + "'");
  }
  std::string port_text = host.substr(colon + 1);
  host = host.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto port = ParseInt(port_text);
  if (!port.ok() || *port < 0 || *port > 65535) {
    return Status::InvalidArgument("http.listen: bad port '" + port_text + "'");
  }
  error_code ec;
  tcp::resolver resolver(ioc_);
  auto results = resolver.resolve(host, port_text,
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return Status::InvalidArgument("http.listen: cannot resolve '" + host + "': " + ec.message());
  }
  tcp::endpoint ep = results.begin()->endpoint();
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("cannot listen on " + options_.listen + ": " + ec.message());
  RETURN_IF_ERROR(SetUpTls());
  port_ = acceptor_.local_endpoint().port();
  metrics_.TakeSample(GrpcCalls());
  asio::co_spawn(ioc_, AcceptLoop(), asio::detached);
  asio::co_spawn(ioc_, SampleLoop(), asio::detached);
  int n = options_.threads > 0 ? options_.threads : 1;
  for (int i = 0; i < n; i++) {
    threads_.emplace_back([this] {
      NameThisThread("cycas-http");
      ioc_.run();
    });
  }
  started_ = true;
  LOG(kInfo, "http listening")
      .kv("address", options_.listen)
      .kv("port", port_)
      .kv("threads", n)
      .kv("tls", tls_ ? "on" : "off");
  return Status::Ok();
}

Status HttpServer::Impl::SetUpTls() {
  const HttpOptions& o = options_;
  if (o.tls_cert_file.empty() && o.tls_key_file.empty()) {
    if (!o.tls_client_ca_file.empty()) {
      return Status::InvalidArgument(
          "http.tls_client_ca_file needs http.tls_cert_file and "
          "http.tls_key_file (client certificates need HTTPS)");
    }
    return Status::Ok();
  }
  if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
    return Status::InvalidArgument("HTTPS needs both http.tls_cert_file and http.tls_key_file");
  }
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  error_code ec;
  // TLS 1.2 and newer only.
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use,
                   ec);
  ctx->use_certificate_chain_file(o.tls_cert_file, ec);
  if (ec) {
    return Status::InvalidArgument("http.tls_cert_file " + o.tls_cert_file + ": " + ec.message());
  }
  ctx->use_private_key_file(o.tls_key_file, ssl::context::pem, ec);
  if (ec) {
    return Status::InvalidArgument("http.tls_key_file " + o.tls_key_file + ": " + ec.message());
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return Status::InvalidArgument("http.tls_key_file " + o.tls_key_file +
                                   " does not match the certificate in " + o.tls_cert_file);
  }
  if (!o.tls_client_ca_file.empty()) {
    ctx->load_verify_file(o.tls_client_ca_file, ec);
    if (ec) {
      return Status::InvalidArgument("http.tls_client_ca_file " + o.tls_client_ca_file + ": " +
                                     ec.message());
    }
    // Asked for, verified when sent, not required: Basic/Bearer clients still work.
    ctx->set_verify_mode(ssl::verify_peer, ec);
  }
  tls_ = std::move(ctx);
  return Status::Ok();
}

asio::awaitable<void> HttpServer::Impl::AcceptLoop() {
  while (!stopped_) {
    tcp::socket socket(asio::make_strand(ioc_));
    error_code ec;
    co_await acceptor_.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || stopped_) co_return;
      LOG(kWarn, "http accept failed").kv("error", ec.message());
      // Out of file descriptors and the like: back off instead of spinning.
      asio::steady_timer t(ioc_, std::chrono::milliseconds(50));
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    auto conn = std::make_shared<Connection>(std::move(socket), this);
    // The connection's coroutine runs on the socket's strand, like its timer.
    asio::co_spawn(
        conn->executor(), [conn]() -> asio::awaitable<void> { co_await conn->Run(); },
        asio::detached);
  }
}

asio::awaitable<void> HttpServer::Impl::SampleLoop() {
  asio::steady_timer t(ioc_);
  while (!stopped_) {
    t.expires_after(std::chrono::seconds(5));
    error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec || stopped_) co_return;
    metrics_.TakeSample(GrpcCalls());
  }
}

void HttpServer::Impl::Stop() {
  if (!started_ || stopped_.exchange(true)) return;
  asio::post(ioc_, [this] {
    error_code ec;
    acceptor_.close(ec);
  });
  ioc_.stop();
  for (auto& t : threads_) t.join();
  // Storage calls already handed to the pool finish first: they use their
  // coroutines' frames, which live until the io_context is destroyed.
  blocking_.join();
  threads_.clear();
  // Commits queued from connection threads report once their flush is done
  // (the storage below is still open): wait for those reports too.
  std::unique_lock lk(async_mu_);
  if (!async_cv_.wait_for(lk, std::chrono::seconds(60), [&] { return async_pending_ == 0; })) {
    LOG(kError, "HTTP front-end stopped with storage calls still unreported")
        .kv("calls", async_pending_);
  }
}

HttpServer::HttpServer(HttpOptions options, HttpDeps deps)
    : impl_(std::make_unique<Impl>(std::move(options), deps)) {}
HttpServer::~HttpServer() {
  Stop();
}
Status HttpServer::Start() {
  return impl_->Start();
}
void HttpServer::Stop() {
  impl_->Stop();
}
int HttpServer::port() const {
  return impl_->port();
}

}  // namespace cycas::api::http
