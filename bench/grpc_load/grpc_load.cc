// cycas-load: a gRPC load generator for cycas's two gRPC front-ends, REAPI v2
// (ContentAddressableStorage + ByteStream) and zako (NegotiateBlobs +
// Transport), so that both are measured with the same blobs, concurrency and
// clock, and their ratio means something. Used by bench/compare.sh; see
// bench/README.md. `cycas-load gen` writes the blob pools the HTTP load
// scripts use (see blob_set.h).
//
// One run = an unmeasured preload of --set blobs, then a measured phase of
// --duration seconds (or --max-ops operations) on --concurrency threads. It
// prints one JSON line: operations (RPCs or transfers), items (blobs or
// digests) and bytes per second, per-operation latency p50/p99, and the
// client's own CPU use, since client and server share the machine.
#include <arpa/inet.h>
#include <google/protobuf/arena.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "blob_set.h"
#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "client/zako_client.h"
#include "digest/hex.h"
#include "google/bytestream/bytestream.grpc.pb.h"
#include "util/config.h"

namespace cycas::bench {
namespace {

namespace v2 = build::bazel::remote::execution::v2;
namespace bs = google::bytestream;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kByteStreamThreshold = 1 << 20;  // REAPI: larger blobs go over ByteStream
constexpr size_t kChunk = 1 << 20;                  // ByteStream and zako chunk size

const char kUsage[] = R"(Usage:
  cycas-load --api reapi|zako|http --op OP [OPTIONS]
  cycas-load gen --size BYTES --count N --seed N --out DIR

Ops (measured for --duration seconds or --max-ops operations):
  exists    FindMissingBlobs (reapi) / NegotiateBlobs (zako) of --digests
            digests per request, all of them present (the --set blobs)
  upload    new blobs of --size: BatchUpdateBlobs of --batch blobs (reapi,
            blobs under 1 MiB), ByteStream Write (reapi, larger), Transport
            Upload (zako, one blob per call)
  download  random blobs of the preloaded set: BatchReadBlobs / ByteStream
            Read / Transport Download
  mixed     a build-like mix: --write-pct % uploads of new blobs, the rest
            downloads; --large-pct % of each are --large-size blobs (the rest
            --size), one blob per operation

Options (defaults):
  --server 127.0.0.1:9092   gRPC address (zako: the CAS service)
  --concurrency 16          client threads, each with its own operation in flight
  --duration 10             seconds of the measured phase
  --max-ops N               stop after N operations (default: unbounded)
  --size 4KiB  --batch 32  --digests 10000  --set 4096  --seed 1
  --large-size 4MiB --large-set 8 --large-pct 2 --write-pct 10
  --new N                   new blobs prepared for uploads (default: 200000
                            small ones, 64 of 1 MiB or more)
  --large-new 256           new large blobs prepared for the mixed op
When the new blobs run out, the measured phase ends early for every thread
(the report says "exhausted"), so every upload measured is of a new blob.
  --instance NAME           REAPI instance name (default: empty)
  --digest-function sha256  REAPI digest function, sha256 or blake3 (zako is
                            always BLAKE3, HTTP always SHA-256); blake3 makes
                            the server hash as much as for zako
  --http-prefix /cas/       --api http: PUT/GET {prefix}{sha256 hex} on
                            --server HOST:PORT (upload and download only)
  --preload-to HOST:PORT    --api http: preload into this server (a proxy's
                            origin), then warm --server with one GET of each

gen writes DIR/pool (the random pool) and DIR/names.txt (SHA-256 hex of
blobs 0..N-1, one a line) and DIR/params (size, range, stride).
Exit status: 0 success, 1 an operation failed, 2 bad usage.
)";

struct Options {
  std::string api, op, server = "127.0.0.1:9092", instance, http_prefix = "/cas/", preload_to;
  std::string digest_function = "sha256";
  uint64_t concurrency = 16, duration = 10, max_ops = UINT64_MAX;
  uint64_t size = 4096, batch = 32, digests = 10000, set = 4096, seed = 1;
  uint64_t large_size = 4 << 20, large_set = 8, large_pct = 2, write_pct = 10;
  uint64_t new_blobs = 0, large_new = 256;
};

Result<std::map<std::string, std::string>> ParseFlags(int argc, char** argv, int first) {
  std::map<std::string, std::string> flags;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) return Status::InvalidArgument("unexpected argument '" + a + "'");
    auto eq = a.find('=');
    if (eq != std::string::npos) {
      flags[a.substr(2, eq - 2)] = a.substr(eq + 1);
    } else if (i + 1 < argc) {
      flags[a.substr(2)] = argv[++i];
    } else {
      return Status::InvalidArgument("flag " + a + " needs a value");
    }
  }
  return flags;
}

Status TakeNumber(std::map<std::string, std::string>& flags, const std::string& name, uint64_t* out,
                  bool bytes, uint64_t min) {
  auto it = flags.find(name);
  if (it == flags.end()) return Status::Ok();
  uint64_t v;
  if (bytes) {
    auto r = ParseBytes(it->second);
    if (!r.ok()) return Status::InvalidArgument("--" + name + ": " + r.status().message());
    v = *r;
  } else {
    auto r = ParseInt(it->second);
    if (!r.ok() || *r < 0) {
      return Status::InvalidArgument("--" + name + ": '" + it->second +
                                     "' is not a non-negative integer");
    }
    v = static_cast<uint64_t>(*r);
  }
  if (v < min) {
    return Status::InvalidArgument("--" + name + " must be at least " + std::to_string(min));
  }
  *out = v;
  flags.erase(it);
  return Status::Ok();
}

Result<Options> ParseOptions(std::map<std::string, std::string> flags) {
  Options o;
  auto take_str = [&](const char* name, std::string* out) {
    if (auto it = flags.find(name); it != flags.end()) {
      *out = it->second;
      flags.erase(it);
    }
  };
  take_str("api", &o.api);
  take_str("op", &o.op);
  take_str("server", &o.server);
  take_str("instance", &o.instance);
  take_str("http-prefix", &o.http_prefix);
  take_str("preload-to", &o.preload_to);
  take_str("digest-function", &o.digest_function);
  RETURN_IF_ERROR(TakeNumber(flags, "concurrency", &o.concurrency, false, 1));
  RETURN_IF_ERROR(TakeNumber(flags, "duration", &o.duration, false, 1));
  RETURN_IF_ERROR(TakeNumber(flags, "max-ops", &o.max_ops, false, 1));
  RETURN_IF_ERROR(TakeNumber(flags, "size", &o.size, true, 1));
  RETURN_IF_ERROR(TakeNumber(flags, "batch", &o.batch, false, 1));
  RETURN_IF_ERROR(TakeNumber(flags, "digests", &o.digests, false, 1));
  RETURN_IF_ERROR(TakeNumber(flags, "set", &o.set, false, 1));
  RETURN_IF_ERROR(TakeNumber(flags, "seed", &o.seed, false, 0));
  RETURN_IF_ERROR(TakeNumber(flags, "large-size", &o.large_size, true, 1));
  RETURN_IF_ERROR(TakeNumber(flags, "large-set", &o.large_set, false, 1));
  RETURN_IF_ERROR(TakeNumber(flags, "large-pct", &o.large_pct, false, 0));
  RETURN_IF_ERROR(TakeNumber(flags, "write-pct", &o.write_pct, false, 0));
  RETURN_IF_ERROR(TakeNumber(flags, "new", &o.new_blobs, false, 1));
  RETURN_IF_ERROR(TakeNumber(flags, "large-new", &o.large_new, false, 1));
  if (!flags.empty()) return Status::InvalidArgument("unknown flag --" + flags.begin()->first);
  if (o.api != "reapi" && o.api != "zako" && o.api != "http") {
    return Status::InvalidArgument("--api must be 'reapi', 'zako' or 'http', got '" + o.api + "'");
  }
  if (o.digest_function != "sha256" && o.digest_function != "blake3") {
    return Status::InvalidArgument("--digest-function must be 'sha256' or 'blake3', got '" +
                                   o.digest_function + "'");
  }
  if (o.digest_function == "blake3" && o.api != "reapi") {
    return Status::InvalidArgument("--digest-function blake3 is for --api reapi only");
  }
  if (!o.preload_to.empty() && o.api != "http") {
    return Status::InvalidArgument("--preload-to is for --api http only");
  }
  if (o.api == "http" && o.op != "upload" && o.op != "download") {
    return Status::InvalidArgument("--api http supports --op upload and download only");
  }
  if (o.op != "exists" && o.op != "upload" && o.op != "download" && o.op != "mixed") {
    return Status::InvalidArgument("--op must be exists, upload, download or mixed, got '" + o.op +
                                   "'");
  }
  if (o.large_pct > 100 || o.write_pct > 100) {
    return Status::InvalidArgument("--large-pct and --write-pct are percentages (0..100)");
  }
  if (o.api != "reapi") o.batch = 1;  // zako and HTTP move one blob per call
  if (o.size >= kByteStreamThreshold) o.batch = 1;
  if (o.new_blobs == 0) o.new_blobs = o.size >= kByteStreamThreshold ? 64 : 200'000;
  return o;
}

std::string RandomUuid(std::mt19937_64& rng) {
  char buf[40];
  uint64_t a = rng(), b = rng();
  // Version 4, variant 10xx, as RFC 4122 lays out.
  std::snprintf(buf, sizeof buf,
                "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-%04" PRIx64 "-%012" PRIx64, a >> 32,
                (a >> 16) & 0xffff, a & 0xfff, 0x8000 | (b >> 48 & 0x3fff),
                b & uint64_t{0xffffffffffff});
  return buf;
}

// The two protocols behind one interface, so one driver measures both.
class Api {
 public:
  virtual ~Api() = default;
  // One existence request; every digest must be reported present.
  virtual Status Exists(const std::vector<Digest>& digests) = 0;
  virtual Status Upload(const std::vector<std::pair<Digest, std::span<const uint8_t>>>& blobs,
                        std::mt19937_64& rng) = 0;
  virtual Status Download(const std::vector<Digest>& digests) = 0;
};

class ReapiApi : public Api {
 public:
  ReapiApi(const Options& o)
      : instance_(o.instance),
        blake3_(o.digest_function == "blake3"),
        function_(blake3_ ? v2::DigestFunction::BLAKE3 : v2::DigestFunction::SHA256) {
    // As many TCP connections as the zako client opens for Transport (one per
    // thread, at most 8), so neither protocol is limited by one connection.
    size_t n = std::min<uint64_t>(o.concurrency, 8);
    for (size_t i = 0; i < n; ++i) {
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(-1);
      args.SetMaxSendMessageSize(-1);
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt("cycas.connection_index", static_cast<int>(i));
      auto ch = grpc::CreateCustomChannel(o.server, grpc::InsecureChannelCredentials(), args);
      cas_.push_back(v2::ContentAddressableStorage::NewStub(ch));
      bytestream_.push_back(bs::ByteStream::NewStub(ch));
    }
  }

  Status Exists(const std::vector<Digest>& digests) override {
    // Built per call on an arena, the way ZakoClient::FindMissing builds its
    // NegotiateBlobs messages, so both protocols cost the client the same work
    // per digest (here: hex instead of raw bytes, which is the protocol's).
    google::protobuf::ArenaOptions arena_options;
    arena_options.start_block_size = 64 << 10;
    arena_options.max_block_size = 1 << 20;
    google::protobuf::Arena arena(arena_options);
    auto* req = google::protobuf::Arena::CreateMessage<v2::FindMissingBlobsRequest>(&arena);
    req->set_instance_name(instance_);
    req->set_digest_function(function_);
    req->mutable_blob_digests()->Reserve(static_cast<int>(digests.size()));
    for (const auto& d : digests) {
      auto* p = req->add_blob_digests();
      std::string* hash = p->mutable_hash();
      hash->resize(2 * d.hash().size());
      HexEncodeTo(d.hash(), *hash);
      p->set_size_bytes(static_cast<int64_t>(d.size_bytes()));
    }
    auto* resp = google::protobuf::Arena::CreateMessage<v2::FindMissingBlobsResponse>(&arena);
    grpc::ClientContext ctx;
    Deadline(ctx);
    RETURN_IF_ERROR(Check(Cas()->FindMissingBlobs(&ctx, *req, resp), "FindMissingBlobs"));
    if (resp->missing_blob_digests_size() != 0) {
      return Status::Internal(
          "FindMissingBlobs: " + std::to_string(resp->missing_blob_digests_size()) +
          " uploaded blobs reported missing");
    }
    return Status::Ok();
  }

  Status Upload(const std::vector<std::pair<Digest, std::span<const uint8_t>>>& blobs,
                std::mt19937_64& rng) override {
    if (blobs.size() == 1 && blobs[0].first.size_bytes() >= kByteStreamThreshold) {
      return Write(blobs[0].first, blobs[0].second, rng);
    }
    v2::BatchUpdateBlobsRequest req;
    req.set_instance_name(instance_);
    req.set_digest_function(function_);
    for (const auto& [d, bytes] : blobs) {
      auto* r = req.add_requests();
      *r->mutable_digest() = Proto(d);
      r->set_data(bytes.data(), bytes.size());
    }
    v2::BatchUpdateBlobsResponse resp;
    grpc::ClientContext ctx;
    Deadline(ctx);
    RETURN_IF_ERROR(Check(Cas()->BatchUpdateBlobs(&ctx, req, &resp), "BatchUpdateBlobs"));
    for (const auto& r : resp.responses()) {
      if (r.status().code() != 0) {
        return Status::Internal("BatchUpdateBlobs: blob " + r.digest().hash() + ": " +
                                r.status().message());
      }
    }
    return Status::Ok();
  }

  Status Download(const std::vector<Digest>& digests) override {
    if (digests.size() == 1 && digests[0].size_bytes() >= kByteStreamThreshold) {
      return Read(digests[0]);
    }
    v2::BatchReadBlobsRequest req;
    req.set_instance_name(instance_);
    req.set_digest_function(function_);
    for (const auto& d : digests) *req.add_digests() = Proto(d);
    v2::BatchReadBlobsResponse resp;
    grpc::ClientContext ctx;
    Deadline(ctx);
    RETURN_IF_ERROR(Check(Cas()->BatchReadBlobs(&ctx, req, &resp), "BatchReadBlobs"));
    if (static_cast<size_t>(resp.responses_size()) != digests.size()) {
      return Status::Internal("BatchReadBlobs: wrong number of responses");
    }
    for (const auto& r : resp.responses()) {
      if (r.status().code() != 0 ||
          r.data().size() != static_cast<uint64_t>(r.digest().size_bytes())) {
        return Status::Internal("BatchReadBlobs: blob " + r.digest().hash() + ": " +
                                (r.status().code() ? r.status().message() : "wrong size"));
      }
    }
    return Status::Ok();
  }

 private:
  static v2::Digest Proto(const Digest& d) {
    v2::Digest p;
    p.set_hash(d.hex());
    p.set_size_bytes(static_cast<int64_t>(d.size_bytes()));
    return p;
  }
  static void Deadline(grpc::ClientContext& ctx) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    // A call on a channel whose connection failed waits for it to reconnect
    // (within the deadline) rather than failing at once: in 3 of 4 benchmark
    // runs on 2026-11-24 one connection attempt to the live server on
    // loopback failed ("No such file or directory"), which ended the run.
    ctx.set_wait_for_ready(true);
  }
  static Status Check(const grpc::Status& st, const char* what) {
    if (st.ok()) return Status::Ok();
    return Status::Internal(std::string(what) + ": gRPC code " +
                            std::to_string(static_cast<int>(st.error_code())) + ": " +
                            st.error_message());
  }
  size_t Next() { return next_.fetch_add(1, std::memory_order_relaxed) % cas_.size(); }
  v2::ContentAddressableStorage::Stub* Cas() { return cas_[Next()].get(); }
  std::string Prefix() const { return instance_.empty() ? "" : instance_ + "/"; }

  Status Write(const Digest& d, std::span<const uint8_t> bytes, std::mt19937_64& rng) {
    grpc::ClientContext ctx;
    Deadline(ctx);
    bs::WriteResponse resp;
    auto w = bytestream_[Next()]->Write(&ctx, &resp);
    bs::WriteRequest req;
    req.set_resource_name(Prefix() + "uploads/" + RandomUuid(rng) + "/blobs/" +
                          (blake3_ ? "blake3/" : "") + d.hex() + "/" +
                          std::to_string(d.size_bytes()));
    for (size_t off = 0; off < bytes.size(); off += kChunk) {
      size_t n = std::min(kChunk, bytes.size() - off);
      req.set_write_offset(static_cast<int64_t>(off));
      req.set_data(bytes.data() + off, n);
      req.set_finish_write(off + n == bytes.size());
      if (!w->Write(req)) break;  // the server ended the call; Finish says why
      req.clear_resource_name();
    }
    w->WritesDone();
    RETURN_IF_ERROR(Check(w->Finish(), "ByteStream.Write"));
    if (static_cast<uint64_t>(resp.committed_size()) != d.size_bytes()) {
      return Status::Internal("ByteStream.Write: committed_size " +
                              std::to_string(resp.committed_size()));
    }
    return Status::Ok();
  }

  Status Read(const Digest& d) {
    grpc::ClientContext ctx;
    Deadline(ctx);
    bs::ReadRequest req;
    req.set_resource_name(Prefix() + "blobs/" + (blake3_ ? "blake3/" : "") + d.hex() + "/" +
                          std::to_string(d.size_bytes()));
    auto r = bytestream_[Next()]->Read(&ctx, req);
    bs::ReadResponse resp;
    uint64_t got = 0;
    while (r->Read(&resp)) got += resp.data().size();
    RETURN_IF_ERROR(Check(r->Finish(), "ByteStream.Read"));
    if (got != d.size_bytes()) return Status::Internal("ByteStream.Read: short read");
    return Status::Ok();
  }

  std::string instance_;
  bool blake3_;
  v2::DigestFunction::Value function_;
  std::vector<std::unique_ptr<v2::ContentAddressableStorage::Stub>> cas_;
  std::vector<std::unique_ptr<bs::ByteStream::Stub>> bytestream_;
  std::atomic<size_t> next_{0};
};

// HTTP/1.1 PUT and GET of {prefix}{sha256-hex} on keep-alive connections (one
// per thread). compare.sh uses it for the 64 MiB upload row of every HTTP
// server: wrk's Lua builds each request body as a new string, which costs it
// ~250 ms per 64 MiB and would make that row measure the client.
class HttpApi : public Api {
 public:
  // The Host header carries the port: a proxy's remap rules match on it.
  explicit HttpApi(const Options& o) : prefix_(o.http_prefix), host_(o.server) {
    auto colon = o.server.rfind(':');
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(static_cast<uint16_t>(std::atoi(o.server.c_str() + colon + 1)));
    inet_pton(AF_INET, o.server.substr(0, colon).c_str(), &addr_.sin_addr);
  }

  Status Exists(const std::vector<Digest>&) override {
    return Status::InvalidArgument("--api http has no exists op (wrk measures it)");
  }

  Status Upload(const std::vector<std::pair<Digest, std::span<const uint8_t>>>& blobs,
                std::mt19937_64&) override {
    for (const auto& [d, bytes] : blobs) {
      std::string head = "PUT " + prefix_ + d.hex() + " HTTP/1.1\r\nHost: " + host_ +
                         "\r\nContent-Length: " + std::to_string(bytes.size()) + "\r\n\r\n";
      RETURN_IF_ERROR(Exchange(head, bytes, nullptr));
    }
    return Status::Ok();
  }

  Status Download(const std::vector<Digest>& digests) override {
    for (const auto& d : digests) {
      uint64_t got = 0;
      RETURN_IF_ERROR(Exchange(
          "GET " + prefix_ + d.hex() + " HTTP/1.1\r\nHost: " + host_ + "\r\n\r\n", {}, &got));
      if (got != d.size_bytes()) return Status::Internal("HTTP GET: wrong body size");
    }
    return Status::Ok();
  }

 private:
  struct Conn {
    int fd = -1;
    std::string buf;  // bytes read past the last response
    ~Conn() {
      if (fd >= 0) ::close(fd);
    }
  };

  Status Connect(Conn& c) {
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_) != 0) {
      return Status::Internal(std::string("HTTP connect: ") + std::strerror(errno));
    }
    c.buf.clear();
    return Status::Ok();
  }

  static Status SendAll(int fd, const uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return Status::Internal(std::string("HTTP send: ") + std::strerror(errno));
      p += w;
      n -= static_cast<size_t>(w);
    }
    return Status::Ok();
  }

  // Sends one request and reads its response; *body_bytes gets the body size.
  Status Exchange(const std::string& head, std::span<const uint8_t> body, uint64_t* body_bytes) {
    thread_local Conn c;
    if (c.fd < 0) RETURN_IF_ERROR(Connect(c));
    RETURN_IF_ERROR(SendAll(c.fd, reinterpret_cast<const uint8_t*>(head.data()), head.size()));
    RETURN_IF_ERROR(SendAll(c.fd, body.data(), body.size()));
    std::vector<char> chunk(1 << 20);
    size_t end;
    while ((end = c.buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t r = ::recv(c.fd, chunk.data(), chunk.size(), 0);
      if (r <= 0) {
        ::close(c.fd);
        c.fd = -1;
        return Status::Internal("HTTP: connection closed before the response");
      }
      c.buf.append(chunk.data(), static_cast<size_t>(r));
    }
    std::string headers = c.buf.substr(0, end + 2);
    c.buf.erase(0, end + 4);
    int status = std::atoi(headers.c_str() + headers.find(' ') + 1);
    uint64_t length = 0;
    for (const char* name : {"Content-Length:", "content-length:"}) {
      if (auto at = headers.find(name); at != std::string::npos) {
        length = std::strtoull(headers.c_str() + at + std::strlen(name), nullptr, 10);
      }
    }
    uint64_t left = length;
    uint64_t from_buf = std::min<uint64_t>(left, c.buf.size());
    c.buf.erase(0, from_buf);
    left -= from_buf;
    while (left > 0) {
      ssize_t r = ::recv(c.fd, chunk.data(), std::min<uint64_t>(chunk.size(), left), 0);
      if (r <= 0) {
        ::close(c.fd);
        c.fd = -1;
        return Status::Internal("HTTP: connection closed in the response body");
      }
      left -= static_cast<uint64_t>(r);
    }
    if (body_bytes) *body_bytes = length;
    if (status < 200 || status > 299) {
      return Status::Internal("HTTP " + head.substr(0, head.find(' ')) + ": status " +
                              std::to_string(status));
    }
    return Status::Ok();
  }

  std::string prefix_, host_;
  sockaddr_in addr_{};
};

class ZakoApi : public Api {
 public:
  static Result<std::unique_ptr<ZakoApi>> Connect(const Options& o) {
    client::ClientOptions co;
    co.server = o.server;
    co.negotiate_batch = o.digests;  // one request message per Exists call
    co.chunk_size = kChunk;
    co.transport_connections = static_cast<int>(std::min<uint64_t>(o.concurrency, 8));
    ASSIGN_OR_RETURN(auto c, client::ZakoClient::Connect(co));
    auto api = std::unique_ptr<ZakoApi>(new ZakoApi);
    api->client_ = std::move(c);
    return api;
  }

  Status Exists(const std::vector<Digest>& digests) override {
    ASSIGN_OR_RETURN(auto missing, client_->FindMissing(digests));
    if (!missing.empty()) {
      return Status::Internal("NegotiateBlobs: " + std::to_string(missing.size()) +
                              " uploaded blobs reported missing");
    }
    return Status::Ok();
  }

  Status Upload(const std::vector<std::pair<Digest, std::span<const uint8_t>>>& blobs,
                std::mt19937_64&) override {
    for (const auto& [d, bytes] : blobs) {
      auto r = client_->Upload(d, [&](uint64_t off, std::span<uint8_t> out) -> Result<size_t> {
        size_t n = std::min<size_t>(out.size(), bytes.size() - off);
        std::memcpy(out.data(), bytes.data() + off, n);
        return n;
      });
      RETURN_IF_ERROR(r.status());
    }
    return Status::Ok();
  }

  Status Download(const std::vector<Digest>& digests) override {
    for (const auto& d : digests) {
      uint64_t got = 0;
      RETURN_IF_ERROR(client_->Download(d, 0, std::nullopt, [&](std::span<const uint8_t> b) {
        got += b.size();
        return Status::Ok();
      }));
      if (got != d.size_bytes()) return Status::Internal("Transport Download: short read");
    }
    return Status::Ok();
  }

 private:
  ZakoApi() = default;
  std::unique_ptr<client::ZakoClient> client_;
};

// Blobs of one size: a preloaded set [0, set) and new ones [set, set + fresh).
struct Pool {
  BlobSet blobs;
  std::vector<Digest> present;
  std::vector<Digest> fresh;
  std::atomic<uint64_t> next_fresh{0};
};

Result<std::unique_ptr<Pool>> MakePool(DigestFunction fn, uint64_t size, uint64_t set,
                                       uint64_t fresh, uint64_t seed) {
  ASSIGN_OR_RETURN(BlobSet blobs, BlobSet::Make(size, set + fresh, seed));
  if (set + fresh > blobs.range()) return Status::InvalidArgument("too many blobs for the pool");
  auto p = std::make_unique<Pool>();
  p->blobs = std::move(blobs);
  p->present = p->blobs.Digests(fn, 0, set);
  p->fresh = p->blobs.Digests(fn, set, fresh);
  return p;
}

// Runs fn(thread) on n threads; the first error wins.
Status OnThreads(uint64_t n, const std::function<Status(uint64_t)>& fn) {
  std::mutex mu;
  Status first;
  std::vector<std::thread> ts;
  for (uint64_t t = 0; t < n; ++t) {
    ts.emplace_back([&, t] {
      Status st = fn(t);
      std::lock_guard lk(mu);
      if (!st.ok() && first.ok()) first = st;
    });
  }
  for (auto& t : ts) t.join();
  return first;
}

Status Preload(Api& api, const Pool& pool, uint64_t batch, uint64_t concurrency) {
  std::atomic<uint64_t> next{0};
  const uint64_t n = pool.present.size();
  return OnThreads(concurrency, [&](uint64_t t) -> Status {
    std::mt19937_64 rng(t + 1000);
    for (;;) {
      uint64_t first = next.fetch_add(batch);
      if (first >= n) return Status::Ok();
      std::vector<std::pair<Digest, std::span<const uint8_t>>> blobs;
      for (uint64_t i = first; i < std::min(n, first + batch); ++i) {
        blobs.emplace_back(pool.present[i], pool.blobs.Bytes(i));
      }
      RETURN_IF_ERROR(api.Upload(blobs, rng));
    }
  });
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

double Percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

int Run(const Options& o) {
  auto fail = [](const Status& st) {
    std::cerr << "cycas-load: " << st.ToString() << "\n";
    return 1;
  };
  const DigestFunction fn = o.api == "zako" || o.digest_function == "blake3"
                                ? DigestFunction::kBlake3
                                : DigestFunction::kSha256;
  std::unique_ptr<Api> api;
  if (o.api == "reapi") {
    api = std::make_unique<ReapiApi>(o);
  } else if (o.api == "http") {
    api = std::make_unique<HttpApi>(o);
  } else {
    auto z = ZakoApi::Connect(o);
    if (!z.ok()) return fail(z.status());
    api = std::move(*z);
  }

  const bool mixed = o.op == "mixed";
  const uint64_t small_fresh = o.op == "upload" || mixed ? o.new_blobs : 0;
  auto small = MakePool(fn, o.size, o.op == "upload" ? 0 : o.set, small_fresh, o.seed);
  if (!small.ok()) return fail(small.status());
  std::unique_ptr<Pool> large;
  if (mixed) {
    auto l = MakePool(fn, o.large_size, o.large_set, o.large_new, o.seed + 7777);
    if (!l.ok()) return fail(l.status());
    large = std::move(*l);
  }
  if (o.op != "upload" && !o.preload_to.empty()) {
    Options origin = o;
    origin.server = o.preload_to;
    HttpApi origin_api(origin);
    Status st = Preload(origin_api, **small, 1, o.concurrency);
    std::atomic<uint64_t> next{0};
    if (st.ok()) {
      st = OnThreads(o.concurrency, [&](uint64_t) -> Status {
        for (uint64_t i; (i = next++) < (*small)->present.size();) {
          RETURN_IF_ERROR(api->Download({(*small)->present[i]}));
        }
        return Status::Ok();
      });
    }
    if (!st.ok()) return fail(st.WithContext("preload through " + o.preload_to));
  } else if (o.op != "upload") {
    Status st = Preload(*api, **small, o.size >= kByteStreamThreshold ? 1 : 64, o.concurrency);
    if (st.ok() && large) st = Preload(*api, *large, 1, o.concurrency);
    if (!st.ok()) return fail(st.WithContext("preload"));
  }

  // bench/compare.sh samples the server's CPU from this line on.
  std::fprintf(stderr, "measuring\n");
  std::fflush(stderr);
  struct PerThread {
    std::vector<double> latency_ms;
    uint64_t ops = 0, items = 0, bytes = 0;
  };
  std::vector<PerThread> per(o.concurrency);
  std::atomic<uint64_t> started{0};
  std::atomic<bool> exhausted{false};
  const double cpu0 = CpuSeconds();
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::seconds(o.duration);

  Status st = OnThreads(o.concurrency, [&](uint64_t t) -> Status {
    std::mt19937_64 rng(o.seed * 1000003 + t);
    PerThread& me = per[t];
    std::vector<Digest> query;
    if (o.op == "exists") {
      for (uint64_t i = 0; i < o.digests; ++i) {
        query.push_back((*small)->present[(t * o.digests + i) % (*small)->present.size()]);
      }
    }
    std::vector<std::pair<Digest, std::span<const uint8_t>>> up;
    std::vector<Digest> down;
    while (!exhausted && Clock::now() < deadline && started.fetch_add(1) < o.max_ops) {
      up.clear();
      down.clear();
      Pool* pool = small->get();
      bool write = o.op == "upload";
      if (mixed) {
        write = rng() % 100 < o.write_pct;
        if (rng() % 100 < o.large_pct) pool = large.get();
      }
      uint64_t items = o.op == "exists" ? o.digests : mixed ? 1 : o.batch;
      auto op_start = Clock::now();
      if (o.op == "exists") {
        RETURN_IF_ERROR(api->Exists(query));
      } else if (write) {
        uint64_t first = pool->next_fresh.fetch_add(items);
        if (first + items > pool->fresh.size()) {
          exhausted = true;  // ends the phase for all: later uploads would not be new blobs
          return Status::Ok();
        }
        for (uint64_t i = first; i < first + items; ++i) {
          up.emplace_back(pool->fresh[i], pool->blobs.Bytes(pool->present.size() + i));
        }
        RETURN_IF_ERROR(api->Upload(up, rng));
      } else {
        for (uint64_t i = 0; i < items; ++i) {
          down.push_back(pool->present[rng() % pool->present.size()]);
        }
        RETURN_IF_ERROR(api->Download(down));
      }
      me.latency_ms.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - op_start).count());
      ++me.ops;
      me.items += items;
      if (o.op != "exists") me.bytes += items * pool->blobs.size();
    }
    return Status::Ok();
  });
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = CpuSeconds() - cpu0;
  if (!st.ok()) return fail(st);

  std::vector<double> lat;
  uint64_t ops = 0, items = 0, bytes = 0;
  for (auto& p : per) {
    lat.insert(lat.end(), p.latency_ms.begin(), p.latency_ms.end());
    ops += p.ops;
    items += p.items;
    bytes += p.bytes;
  }
  double p50 = Percentile(lat, 0.50), p99 = Percentile(lat, 0.99);
  std::printf(
      "{\"api\":\"%s\",\"op\":\"%s\",\"size\":%" PRIu64 ",\"batch\":%" PRIu64
      ",\"concurrency\":%" PRIu64 ",\"secs\":%.3f,\"ops\":%" PRIu64 ",\"items\":%" PRIu64
      ",\"bytes\":%" PRIu64
      ",\"ops_per_s\":%.1f,\"items_per_s\":%.1f,\"mb_per_s\":%.2f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
      "\"client_cpu_pct\":%.1f,\"exhausted\":%s}\n",
      o.api.c_str(), o.op.c_str(), o.size, o.batch, o.concurrency, secs, ops, items, bytes,
      ops / secs, items / secs, bytes / secs / 1e6, p50, p99, 100 * cpu / secs,
      exhausted ? "true" : "false");
  return 0;
}

int Gen(std::map<std::string, std::string> flags) {
  uint64_t size = 0, count = 0, seed = 1;
  std::string out;
  if (auto it = flags.find("out"); it != flags.end()) {
    out = it->second;
    flags.erase(it);
  }
  Status st = TakeNumber(flags, "size", &size, true, 1);
  if (st.ok()) st = TakeNumber(flags, "count", &count, false, 1);
  if (st.ok()) st = TakeNumber(flags, "seed", &seed, false, 0);
  if (st.ok() && !flags.empty())
    st = Status::InvalidArgument("unknown flag --" + flags.begin()->first);
  if (st.ok() && (size == 0 || count == 0 || out.empty())) {
    st = Status::InvalidArgument("gen needs --size, --count and --out");
  }
  if (!st.ok()) {
    std::cerr << "cycas-load gen: " << st.message() << "\n";
    return 2;
  }
  auto set = BlobSet::Make(size, count, seed);
  if (!set.ok() || count > set->range()) {
    std::cerr << "cycas-load gen: cannot make " << count << " blobs of " << size << " bytes\n";
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  std::ofstream pool(out + "/pool", std::ios::binary);
  pool.write(set->pool().data(), static_cast<std::streamsize>(set->pool().size()));
  std::ofstream names(out + "/names.txt");
  for (const auto& d : set->Digests(DigestFunction::kSha256, 0, count)) names << d.hex() << "\n";
  std::ofstream params(out + "/params");
  params << "size=" << size << "\nrange=" << set->range() << "\nstride=" << BlobSet::kStride
         << "\ncount=" << count << "\n";
  if (!pool || !names || !params) {
    std::cerr << "cycas-load gen: writing " << out << " failed\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace cycas::bench

int main(int argc, char** argv) {
  using namespace cycas::bench;
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  bool gen = std::string(argv[1]) == "gen";
  auto flags = ParseFlags(argc, argv, gen ? 2 : 1);
  if (!flags.ok()) {
    std::cerr << "cycas-load: " << flags.status().message() << "\n";
    return 2;
  }
  if (gen) return Gen(*flags);
  auto o = ParseOptions(*flags);
  if (!o.ok()) {
    std::cerr << "cycas-load: " << o.status().message() << "\n";
    return 2;
  }
  return Run(*o);
}
