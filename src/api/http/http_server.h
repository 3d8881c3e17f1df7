// HttpServer: the HTTP/1.1 front-end — Bazel's HTTP cache layout (/cas/, /ac/),
// Prometheus metrics (/metrics) and the live status page (/status,
// /status.json). See docs/http.md for the protocol, limits and codes.
//
// Built on Boost.Beast: a fixed pool of threads runs one io_context; each
// connection is a coroutine on its own strand, so thousands of idle keep-alive
// connections cost only their coroutine frame and a small buffer. Storage calls
// that may wait (commits, reads of blobs not in the RAM tier, record reads) are
// made on a separate blocking pool, so the connection threads never wait on the
// disk or a remote tier (both pool sizes are configurable). Request bodies
// are streamed into the store chunk by chunk and responses are streamed from
// it, so neither an upload nor a slow reader makes the server hold a whole blob.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "auth/authenticator.h"
#include "cas/action_cache.h"
#include "cas/cas_store.h"
#include "cas/memory_blob_store.h"
#include "cas/record_store.h"
#include "cas/tier_report.h"
#include "engine/engine.h"
#include "util/config.h"
#include "util/prometheus.h"
#include "util/status.h"

namespace cycas::api::http {

struct HttpOptions {
  std::string listen = "127.0.0.1:8080";
  uint64_t max_header_size = 16 * 1024;                   // 431 beyond
  uint64_t max_body_size = uint64_t{4} << 30;             // 413 beyond
  std::chrono::milliseconds idle_timeout{60'000};         // keep-alive wait / header read
  std::chrono::milliseconds slow_client_timeout{30'000};  // longest stall in a body read or write
  bool ac_strict = false;
  int threads = 2;  // connection threads; the server passes http.threads (0: one per core)
  // Threads that make the storage calls which may block (commits of uploads,
  // action-cache writes): as many uploads can share one group commit.
  int blocking_threads = 64;
  // Directory for spool files of bodies whose size or hash is not known up
  // front (chunked or zstd-encoded uploads, large action-cache values).
  std::string spool_dir = ".";
  uint64_t zstd_max_blob = 16ull << 20;  // 0 disables zstd alternates
  uint64_t ram_capacity = 0;             // for the status page
  // First path segments that hold generic key-value namespaces (ccache's
  // default layouts, sccache's WebDAV backend).
  std::vector<std::string> kv_namespaces = {"ccache", "sccache"};
  // HTTPS (http.tls_*): with a certificate and key the listener speaks TLS
  // only. A client CA makes the server ask for (not require) a client
  // certificate, whose subject CN the credentials file may map to a principal.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
};

// Reads the http.* options (and server.data_dir for spooling).
HttpOptions HttpOptionsFromConfig(const Config& config);

// What the front-end serves from; nothing is owned. `ram` and `engine` may be null.
struct HttpDeps {
  CasStore* cas = nullptr;
  ActionCache* action_cache = nullptr;
  RecordStore* records = nullptr;
  engine::Engine* engine = nullptr;
  MemoryBlobStore* ram = nullptr;
  std::vector<const TierReport*> tier_reports;  // shown on /metrics and /status (not owned)
  // Further metrics for /metrics, e.g. the gRPC front-ends' (not owned).
  std::vector<const MetricsSource*> metrics_sources;
  // Calls the gRPC front-ends have answered so far (may be empty), for the
  // status page's request rates.
  std::function<uint64_t()> grpc_calls;
  // Who may call (docs/auth.md); null: auth is off, every request is allowed.
  const auth::Authenticator* authenticator = nullptr;
  // A remote or S3 tier is configured: CAS calls may wait on the network.
  bool network_tiers = false;
};

class HttpServer {
 public:
  HttpServer(HttpOptions options, HttpDeps deps);
  ~HttpServer();

  // Binds, listens and starts the thread pool. UNAVAILABLE naming the address on failure.
  Status Start();
  // Stops accepting, closes connections and joins the threads. Idempotent.
  void Stop();
  // The bound port (the real one when listening on port 0).
  int port() const;

  // Opaque here (keeps Beast out of this header); public so the connection code can name it.
  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cycas::api::http
