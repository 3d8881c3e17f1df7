// Load and soak test (issue 7, item 5): the real cycasd on loopback under
// ≥ 1,000 concurrent keep-alive HTTP connections driven by one epoll thread,
// plus several gRPC channels (REAPI FindMissingBlobs, ByteStream Read,
// BatchUpdateBlobs), for a set time. Meanwhile slow readers (a large GET read
// a few KiB at a time) and slowloris clients (a header sent byte by byte) must
// be cut off by http.slow_client_timeout / http.idle_timeout without growing
// the server's memory or stopping other clients' requests.
//
// Checked: no request that should succeed fails (every body is compared with
// what was stored); the server's peak RSS (VmHWM) stays under a stated limit;
// every one-second interval completes requests (no stall while the slow
// clients are connected); slow clients are closed by the server in time.
// Reported: requests, p50/p99/max latency per kind, peak RSS.
//
// Knobs (environment): CYCAS_LOAD_SECONDS (default 60), CYCAS_LOAD_CONNECTIONS
// (default 1000), CYCAS_LOAD_THINK_MS (mean pause between a connection's
// requests, default 400), CYCAS_LOAD_RSS_LIMIT_MIB (default 512),
// CYCAS_LOAD_ENGINE_SIZE (store size, default 1GiB).
#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "cycasd_process.h"
#include "digest/digest.h"
#include "google/bytestream/bytestream.grpc.pb.h"
#include "http_conn.h"
#include "test_blobs.h"

namespace cycas {
namespace {

namespace v2 = build::bazel::remote::execution::v2;
namespace bs = google::bytestream;
using Clock = std::chrono::steady_clock;

using test::EnvInt;
using test::SeededBytes;


std::string ShaHex(const std::string& b) {
  return Digest::Of(DigestFunction::kSha256, b).hex();
}

long ProcStatusKb(pid_t pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.compare(0, field.size() + 1, field + ":") == 0)
      return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

int ConnectNonBlocking(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

// Latencies in microseconds, per request kind.
struct Latencies {
  std::mutex mu;
  std::map<std::string, std::vector<uint32_t>> by_kind;
  void Add(const std::string& kind, Clock::duration d) {
    std::lock_guard l(mu);
    by_kind[kind].push_back(
        static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count()));
  }
};

double Pct(std::vector<uint32_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))] / 1000.0;
}

// What the HTTP clients may read: preloaded blobs.
struct Corpus {
  std::vector<std::string> blobs;
  std::vector<std::string> hex;
};

// The epoll-driven HTTP load: many keep-alive connections, one thread.
class HttpLoad {
 public:
  HttpLoad(int port, int connections, int think_ms, const Corpus& corpus, Latencies& lat)
      : port_(port), think_ms_(think_ms), corpus_(corpus), lat_(lat), conns_(connections) {}

  struct Conn {
    int fd = -1;
    uint64_t id = 0;
    std::string out;
    size_t out_off = 0;
    std::string in;
    std::string kind;
    int expect_status = 0;
    const std::string* expect_body = nullptr;
    std::string own_body;  // expected body kept by value (ac values)
    bool head = false;
    Clock::time_point sent, next;
    bool busy = false;
    std::vector<std::pair<std::string, std::string>> acs;  // this connection's ac entries
    std::mt19937_64 rng;
  };

  void Run(const std::atomic<bool>& stop, Clock::time_point start) {
    start_ = start;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (size_t i = 0; i < conns_.size(); i++) {
      Conn& c = conns_[i];
      c.id = i;
      c.rng.seed(i * 7919 + 1);
      // Spread the connects and first requests over the first second.
      c.next = start + std::chrono::microseconds(c.rng() % 1'000'000);
    }
    std::vector<epoll_event> events(256);
    // After `stop`, no new requests; those in flight get up to 15 s to finish.
    std::optional<Clock::time_point> stopping;
    for (;;) {
      auto now = Clock::now();
      if (!stopping && stop.load()) stopping = now;
      if (stopping) {
        bool busy = std::any_of(conns_.begin(), conns_.end(), [](const Conn& c) { return c.busy; });
        if (!busy || now - *stopping > std::chrono::seconds(15)) break;
      }
      for (auto& c : conns_) {
        if (stopping || c.busy || now < c.next) continue;
        if (c.fd < 0) {
          c.fd = ConnectNonBlocking(port_);
          if (c.fd < 0) {
            Fail(c, "connect failed");
            continue;
          }
          epoll_event ev{};
          ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
          ev.data.u64 = c.id;
          epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
          opened_++;
        }
        Issue(c);
        Flush(c, ep);
      }
      int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 5);
      for (int i = 0; i < n; i++) {
        Conn& c = conns_[events[i].data.u64];
        if (c.fd < 0) continue;
        if (events[i].events & EPOLLOUT) Flush(c, ep);
        if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) Receive(c, ep);
      }
    }
    for (auto& c : conns_) {
      if (c.fd >= 0) close(c.fd);
      if (c.busy) unfinished_++;
    }
    close(ep);
  }

  uint64_t completed() const { return completed_; }
  uint64_t failures() const { return failures_; }
  uint64_t opened() const { return opened_; }
  uint64_t unfinished() const { return unfinished_; }
  const std::vector<uint32_t>& per_second() const { return per_second_; }
  const std::vector<std::string>& failure_samples() const { return failure_samples_; }

 private:
  void Issue(Conn& c) {
    int pick = static_cast<int>(c.rng() % 100);
    c.head = false;
    c.expect_body = nullptr;
    c.own_body.clear();
    std::string req;
    if (pick < 55) {
      size_t i = c.rng() % corpus_.blobs.size();
      req = "GET /cas/" + corpus_.hex[i] + " HTTP/1.1\r\nHost: l\r\n\r\n";
      c.kind = "http GET /cas";
      c.expect_status = 200;
      c.expect_body = &corpus_.blobs[i];
    } else if (pick < 65) {
      size_t i = c.rng() % corpus_.blobs.size();
      req = "HEAD /cas/" + corpus_.hex[i] + " HTTP/1.1\r\nHost: l\r\n\r\n";
      c.kind = "http HEAD /cas";
      c.expect_status = 200;
      c.head = true;
    } else if (pick < 73) {
      req = "GET /cas/" + ShaHex(SeededBytes(c.rng(), 16)) + " HTTP/1.1\r\nHost: l\r\n\r\n";
      c.kind = "http GET miss";
      c.expect_status = 404;
    } else if (pick < 88) {
      std::string body = SeededBytes(c.rng(), 1024 + c.rng() % (15 << 10));
      req = "PUT /cas/" + ShaHex(body) +
            " HTTP/1.1\r\nHost: l\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
            body;
      c.kind = "http PUT /cas";
      c.expect_status = 201;
    } else if (pick < 94 || c.acs.empty()) {
      std::string key = ShaHex(SeededBytes(c.rng(), 8));
      std::string value = "v:" + SeededBytes(c.rng(), 100 + c.rng() % 2000);
      req = "PUT /ac/" + key +
            " HTTP/1.1\r\nHost: l\r\nContent-Length: " + std::to_string(value.size()) + "\r\n\r\n" +
            value;
      c.acs.emplace_back(key, value);
      // Only recent entries are read back: older ones may have left the ring in a long run.
      if (c.acs.size() > 4) c.acs.erase(c.acs.begin());
      c.kind = "http PUT /ac";
      c.expect_status = 201;
    } else {
      auto& [key, value] = c.acs[c.rng() % c.acs.size()];
      req = "GET /ac/" + key + " HTTP/1.1\r\nHost: l\r\n\r\n";
      c.kind = "http GET /ac";
      c.expect_status = 200;
      c.own_body = value;
    }
    c.out = std::move(req);
    c.out_off = 0;
    c.in.clear();
    c.busy = true;
    c.sent = Clock::now();
  }

  void Flush(Conn& c, int ep) {
    while (c.out_off < c.out.size()) {
      ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN)) return;
      if (n <= 0) {
        Fail(c, std::string("send: ") + strerror(errno));
        Drop(c, ep);
        return;
      }
      c.out_off += static_cast<size_t>(n);
    }
  }

  void Receive(Conn& c, int ep) {
    char buf[65536];
    for (;;) {
      ssize_t n = recv(c.fd, buf, sizeof buf, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {
        // The server closes only connections it was right to close; these are all active.
        Fail(c, n == 0 ? "server closed a keep-alive connection"
                       : std::string("recv: ") + strerror(errno));
        Drop(c, ep);
        return;
      }
      c.in.append(buf, static_cast<size_t>(n));
    }
    if (!c.busy) return;
    size_t hend = c.in.find("\r\n\r\n");
    if (hend == std::string::npos) return;
    int status = std::atoi(c.in.c_str() + 9);
    size_t length = 0;
    std::string head = c.in.substr(0, hend);
    for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    size_t cl = head.find("\r\ncontent-length:");
    if (cl != std::string::npos) length = std::strtoull(head.c_str() + cl + 17, nullptr, 10);
    size_t body_len = c.head ? 0 : length;
    if (c.in.size() < hend + 4 + body_len) return;
    std::string_view body(c.in.data() + hend + 4, body_len);
    auto now = Clock::now();
    if (status != c.expect_status) {
      Fail(c, c.kind + ": status " + std::to_string(status) + " " +
                  std::string(body.substr(0, 200)) +
                  (c.expect_body
                       ? " (corpus blob of " + std::to_string(c.expect_body->size()) + " bytes)"
                       : ""));
    } else if (c.expect_body && body != *c.expect_body) {
      Fail(c, c.kind + ": wrong body");
    } else if (!c.own_body.empty() && body != c.own_body) {
      Fail(c, c.kind + ": wrong ac value");
    } else {
      lat_.Add(c.kind, now - c.sent);
      completed_++;
      size_t sec = static_cast<size_t>(
          std::chrono::duration_cast<std::chrono::seconds>(now - start_).count());
      if (per_second_.size() <= sec) per_second_.resize(sec + 1);
      per_second_[sec]++;
    }
    c.in.erase(0, hend + 4 + body_len);
    c.busy = false;
    uint64_t think = think_ms_ > 0 ? c.rng() % (2 * static_cast<uint64_t>(think_ms_)) : 0;
    c.next = now + std::chrono::milliseconds(think);
  }

  void Drop(Conn& c, int ep) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
    c.busy = false;
    c.next = Clock::now() + std::chrono::milliseconds(100);
  }

  void Fail(Conn& c, const std::string& what) {
    failures_++;
    failures_by_kind_[c.kind]++;
    if (failure_samples_.size() < 10)
      failure_samples_.push_back("conn " + std::to_string(c.id) + ": " + what);
  }

  int port_;
  int think_ms_;
  const Corpus& corpus_;
  Latencies& lat_;
  std::vector<Conn> conns_;
  Clock::time_point start_;
  uint64_t completed_ = 0, failures_ = 0, opened_ = 0, unfinished_ = 0;
  std::vector<uint32_t> per_second_;
  std::vector<std::string> failure_samples_;

 public:
  std::map<std::string, uint64_t> failures_by_kind_;
};

// Slow clients: slow readers of a large blob and slowloris header senders.
struct SlowResult {
  int readers = 0, readers_cut = 0, loris = 0, loris_closed = 0, loris_408 = 0;
  double loris_close_s_max = 0, reader_bytes_max = 0;
};

SlowResult RunSlowClients(int port, const std::string& big_hex, size_t big_size, int n,
                          int phase_s) {
  SlowResult res;
  struct S {
    int fd = -1;
    bool loris = false;
    size_t got = 0, sent = 0;
    bool closed = false;
    bool saw408 = false;
    Clock::time_point start, closed_at;
    std::string in;
  };
  std::vector<S> s;
  std::string loris_req = "GET /cas/" + big_hex + " HTTP/1.1\r\nHost: l\r\nX-Slow: ";
  for (int i = 0; i < 2 * n; i++) {
    S x;
    x.fd = ConnectNonBlocking(port);
    x.loris = i % 2 == 1;
    x.start = Clock::now();
    if (x.fd < 0) continue;
    pollfd p{x.fd, POLLOUT, 0};
    poll(&p, 1, 2000);
    if (!x.loris) {
      std::string req = "GET /cas/" + big_hex + " HTTP/1.1\r\nHost: l\r\n\r\n";
      send(x.fd, req.data(), req.size(), MSG_NOSIGNAL);
      res.readers++;
    } else {
      res.loris++;
    }
    s.push_back(std::move(x));
  }
  auto start = Clock::now();
  // Every 500 ms: each reader takes 2 KiB, each slowloris sends one more byte.
  while (Clock::now() - start < std::chrono::seconds(phase_s)) {
    for (auto& x : s) {
      if (x.closed) continue;
      char buf[2048];
      if (x.loris) {
        // The request header, one byte per tick, never finished.
        char b = x.sent < loris_req.size() ? loris_req[x.sent] : 'a';
        if (send(x.fd, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) x.sent++;
        ssize_t r = recv(x.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0) x.in.append(buf, static_cast<size_t>(r));
        if (r == 0 || (r < 0 && errno != EAGAIN)) {
          x.closed = true;
          x.closed_at = Clock::now();
        }
      } else {
        ssize_t r = recv(x.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0) x.got += static_cast<size_t>(r);
        if (r == 0 || (r < 0 && errno != EAGAIN)) x.closed = true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  // Drain: a reader the server cut off ends before the whole body.
  for (auto& x : s) {
    if (!x.loris) {
      char buf[65536];
      for (;;) {
        pollfd p{x.fd, POLLIN, 0};
        if (poll(&p, 1, 3000) <= 0) break;
        ssize_t r = recv(x.fd, buf, sizeof buf, 0);
        if (r <= 0) {
          x.closed = true;
          break;
        }
        x.got += static_cast<size_t>(r);
      }
      if (x.closed && x.got < big_size) res.readers_cut++;
      res.reader_bytes_max = std::max(res.reader_bytes_max, static_cast<double>(x.got));
    } else {
      if (x.closed) {
        res.loris_closed++;
        res.loris_close_s_max = std::max(
            res.loris_close_s_max, std::chrono::duration<double>(x.closed_at - x.start).count());
      }
      if (x.in.rfind("HTTP/1.1 408", 0) == 0) res.loris_408++;
    }
    close(x.fd);
  }
  return res;
}

TEST(LoadTest, ThousandConnectionsMixedTrafficWithSlowClients) {
  const int seconds = EnvInt("CYCAS_LOAD_SECONDS", 60);
  const int connections = EnvInt("CYCAS_LOAD_CONNECTIONS", 1000);
  const int think_ms = EnvInt("CYCAS_LOAD_THINK_MS", 400);
  const long rss_limit_mib = EnvInt("CYCAS_LOAD_RSS_LIMIT_MIB", 512);
  const int grpc_channels = 8;
  const char* engine_size = std::getenv("CYCAS_LOAD_ENGINE_SIZE");
  if (!engine_size || !*engine_size) engine_size = "1GiB";
  const int slow_clients = 16;  // of each kind
  const int slow_client_timeout_s = 5, idle_timeout_s = 10;
  ASSERT_GE(seconds, 30) << "the slow-client phase needs at least 30 s";

  // 1,000 client sockets here and as many in the server.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 16384);
  setrlimit(RLIMIT_NOFILE, &rl);
  ASSERT_GE(rl.rlim_cur, static_cast<rlim_t>(connections + 200)) << "raise the open-file limit";

  testing::CycasdProcess server(
      {"engine.size=" + std::string(engine_size), "engine.stripes=2",
       // Directory entries for ~4 KiB per object: the traffic's objects average
       // ~5 KiB, and a full directory drops entries whatever their use.
       "engine.average_object_size=2KiB", "cas.ram_capacity=64MiB",
       "http.slow_client_timeout=" + std::to_string(slow_client_timeout_s) + "s",
       "http.idle_timeout=" + std::to_string(idle_timeout_s) + "s"});
  ASSERT_TRUE(server.Start()) << server.error();
  const int port = server.port("http");

  // The corpus: 200 blobs of 100 B - 256 KiB, and one 32 MiB blob for the slow readers.
  Corpus corpus;
  {
    testing::HttpConn http(port, 30000);
    std::mt19937_64 rng(42);
    for (int i = 0; i < 200; i++) {
      size_t size = i % 10 == 0 ? (64 << 10) + rng() % (192 << 10) : 100 + rng() % (16 << 10);
      corpus.blobs.push_back(SeededBytes(1000 + static_cast<uint64_t>(i), size));
      corpus.hex.push_back(ShaHex(corpus.blobs.back()));
      auto r = http.Request("PUT", "/cas/" + corpus.hex.back(), corpus.blobs.back());
      ASSERT_TRUE(r.status == 201 || r.status == 204) << r.status << r.error;
    }
  }
  const std::string big = SeededBytes(7, 32 << 20);
  const std::string big_hex = ShaHex(big);
  {
    testing::HttpConn http(port, 60000);
    auto r = http.Request("PUT", "/cas/" + big_hex, big);
    ASSERT_EQ(r.status, 201) << r.error;
  }
  long rss_start = ProcStatusKb(server.pid(), "VmRSS");

  Latencies lat;
  std::atomic<bool> stop{false};
  auto start = Clock::now();
  HttpLoad load(port, connections, think_ms, corpus, lat);
  std::thread http_thread([&] { load.Run(stop, start); });

  // gRPC: separate channels (one TCP connection each), each in its own thread.
  std::atomic<uint64_t> grpc_ok{0}, grpc_fail{0};
  std::mutex grpc_err_mu;
  std::string grpc_err;
  std::vector<std::thread> grpc_threads;
  for (int g = 0; g < grpc_channels; g++) {
    grpc_threads.emplace_back([&, g] {
      grpc::ChannelArguments args;
      args.SetInt("cycas.load_channel", g);  // no subchannel sharing between channels
      args.SetMaxReceiveMessageSize(8 << 20);
      auto ch = grpc::CreateCustomChannel(server.address("grpc"),
                                          grpc::InsecureChannelCredentials(), args);
      auto cas = v2::ContentAddressableStorage::NewStub(ch);
      auto bstream = bs::ByteStream::NewStub(ch);
      std::mt19937_64 rng(static_cast<uint64_t>(g) + 99);
      auto deadline = [] {
        auto c = std::make_unique<grpc::ClientContext>();
        c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        return c;
      };
      auto fail = [&](const std::string& what) {
        grpc_fail++;
        std::lock_guard l(grpc_err_mu);
        if (grpc_err.empty()) grpc_err = what;
      };
      while (!stop.load()) {
        int pick = static_cast<int>(rng() % 3);
        auto t0 = Clock::now();
        if (pick == 0) {
          v2::FindMissingBlobsRequest req;
          for (int k = 0; k < 20; k++) {
            size_t i = rng() % corpus.blobs.size();
            auto* d = req.add_blob_digests();
            d->set_hash(corpus.hex[i]);
            d->set_size_bytes(static_cast<int64_t>(corpus.blobs[i].size()));
          }
          v2::FindMissingBlobsResponse resp;
          grpc::Status st = cas->FindMissingBlobs(deadline().get(), req, &resp);
          if (!st.ok() || resp.missing_blob_digests_size() != 0) {
            std::string missing;
            for (const auto& m : resp.missing_blob_digests())
              missing += " " + m.hash().substr(0, 12) + "/" + std::to_string(m.size_bytes());
            fail("FindMissingBlobs: " + st.error_message() + " missing" + missing);
            continue;
          }
          lat.Add("grpc FindMissingBlobs", Clock::now() - t0);
        } else if (pick == 1) {
          size_t i = rng() % corpus.blobs.size();
          bs::ReadRequest req;
          req.set_resource_name("blobs/" + corpus.hex[i] + "/" +
                                std::to_string(corpus.blobs[i].size()));
          auto ctx = deadline();
          auto reader = bstream->Read(ctx.get(), req);
          bs::ReadResponse resp;
          std::string got;
          while (reader->Read(&resp)) got += resp.data();
          grpc::Status st = reader->Finish();
          if (!st.ok() || got != corpus.blobs[i]) {
            fail("ByteStream.Read: " + st.error_message());
            continue;
          }
          lat.Add("grpc ByteStream.Read", Clock::now() - t0);
        } else {
          v2::BatchUpdateBlobsRequest req;
          for (int k = 0; k < 4; k++) {
            std::string b = SeededBytes(rng(), 512 + rng() % 8192);
            auto* r = req.add_requests();
            r->mutable_digest()->set_hash(ShaHex(b));
            r->mutable_digest()->set_size_bytes(static_cast<int64_t>(b.size()));
            r->set_data(b);
          }
          v2::BatchUpdateBlobsResponse resp;
          grpc::Status st = cas->BatchUpdateBlobs(deadline().get(), req, &resp);
          bool ok = st.ok() && resp.responses_size() == 4;
          for (const auto& r : resp.responses()) ok = ok && r.status().code() == 0;
          if (!ok) {
            fail("BatchUpdateBlobs: " + st.error_message());
            continue;
          }
          lat.Add("grpc BatchUpdateBlobs", Clock::now() - t0);
        }
        grpc_ok++;
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 20));
      }
    });
  }

  // RSS sampling, every 200 ms.
  long rss_max = 0;
  std::thread sampler([&] {
    while (!stop.load()) {
      rss_max = std::max(rss_max, ProcStatusKb(server.pid(), "VmRSS"));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });

  // The slow clients join after 10 s, for idle_timeout + 12 s.
  const int slow_start_s = 10;
  const int slow_phase_s = idle_timeout_s + 12;
  std::this_thread::sleep_for(std::chrono::seconds(slow_start_s));
  SlowResult slow = RunSlowClients(port, big_hex, big.size(), slow_clients, slow_phase_s);
  auto slow_end = Clock::now();
  std::this_thread::sleep_until(start + std::chrono::seconds(seconds));
  stop = true;
  http_thread.join();
  for (auto& t : grpc_threads) t.join();
  sampler.join();

  long hwm = ProcStatusKb(server.pid(), "VmHWM");
  {
    // What the store did meanwhile: whether the ring wrapped and hot data was copied forward.
    testing::HttpConn http(port, 10000);
    auto m = http.Request("GET", "/metrics");
    auto metric = [&](const std::string& name) {
      size_t pos = m.body.find("\n" + name + " ");
      return pos == std::string::npos
                 ? std::string("?")
                 : m.body.substr(pos + name.size() + 2,
                                 m.body.find('\n', pos + 1) - pos - name.size() - 2);
    };
    std::printf("store: wraps %s, copy-forwarded objects %s, open HTTP connections at the end %s\n",
                metric("cycas_engine_wraps_total").c_str(),
                metric("cycas_engine_copy_forward_objects_total").c_str(),
                metric("cycas_http_connections_open").c_str());
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "load: %d s, %d HTTP keep-alive connections (%llu opened), %d gRPC channels, think "
      "time %d ms mean\n",
      seconds, connections, static_cast<unsigned long long>(load.opened()), grpc_channels,
      think_ms);
  std::printf("HTTP: %llu requests ok (%.0f/s), %llu failed; gRPC: %llu ok, %llu failed\n",
              static_cast<unsigned long long>(load.completed()),
              static_cast<double>(load.completed()) / secs,
              static_cast<unsigned long long>(load.failures()),
              static_cast<unsigned long long>(grpc_ok.load()),
              static_cast<unsigned long long>(grpc_fail.load()));
  std::vector<uint32_t> all;
  for (auto& [kind, v] : lat.by_kind) {
    all.insert(all.end(), v.begin(), v.end());
    std::printf("  %-24s n=%-8zu p50 %7.2f ms  p99 %7.2f ms  max %8.2f ms\n", kind.c_str(),
                v.size(), Pct(v, 0.5), Pct(v, 0.99), Pct(v, 1.0));
  }
  std::printf("  %-24s n=%-8zu p50 %7.2f ms  p99 %7.2f ms  max %8.2f ms\n", "all", all.size(),
              Pct(all, 0.5), Pct(all, 0.99), Pct(all, 1.0));
  std::printf(
      "server RSS: %ld MiB after preload, max sampled %ld MiB, peak (VmHWM) %ld MiB; "
      "limit %ld MiB\n",
      rss_start / 1024, rss_max / 1024, hwm / 1024, rss_limit_mib);
  std::printf(
      "slow readers: %d, cut off by the server %d (most bytes one read %.0f KiB of %zu "
      "KiB); slowloris: %d, closed %d (408: %d) within %.1f s\n",
      slow.readers, slow.readers_cut, slow.reader_bytes_max / 1024, big.size() >> 10, slow.loris,
      slow.loris_closed, slow.loris_408, slow.loris_close_s_max);
  const auto& ps = load.per_second();
  uint32_t min_during_slow = UINT32_MAX, min_all = UINT32_MAX;
  size_t worst_second = 0, seconds_under_100 = 0;
  size_t slow_from = slow_start_s;
  size_t slow_to = static_cast<size_t>(
      std::chrono::duration_cast<std::chrono::seconds>(slow_end - start).count());
  // Whole seconds of the run only (not the first two, while connecting, nor the drain after it).
  for (size_t s = 2; s + 1 < std::min(ps.size(), static_cast<size_t>(seconds)); s++) {
    if (ps[s] < min_all) worst_second = s;
    min_all = std::min(min_all, ps[s]);
    if (ps[s] < 100) seconds_under_100++;
    if (s >= slow_from && s < slow_to) min_during_slow = std::min(min_during_slow, ps[s]);
  }
  std::printf(
      "HTTP requests completed per second: min %u overall (second %zu; %zu seconds under "
      "100), min %u while slow clients were connected\n",
      min_all, worst_second, seconds_under_100, min_during_slow);
  for (const auto& [kind, n] : load.failures_by_kind_)
    std::printf("  failed %-22s %llu\n", kind.c_str(), static_cast<unsigned long long>(n));
  for (const auto& f : load.failure_samples()) std::printf("  failure: %s\n", f.c_str());
  if (!grpc_err.empty()) std::printf("  gRPC failure: %s\n", grpc_err.c_str());

  EXPECT_EQ(load.failures(), 0u);
  EXPECT_EQ(grpc_fail.load(), 0u);
  EXPECT_GE(load.opened(), static_cast<uint64_t>(connections));
  EXPECT_GT(load.completed(), static_cast<uint64_t>(connections) * 10);
  EXPECT_GT(grpc_ok.load(), 100u);
  EXPECT_LT(hwm / 1024, rss_limit_mib) << "server peak RSS over the stated limit";
  // Nobody was blocked by the slow clients: requests completed in every second they were connected.
  // The overall minimum is reported, not asserted: on a shared 2-core machine a
  // second in which every HTTP thread waits on durable commits can complete
  // nothing (see README.md); the slow clients must not cause such a stall.
  EXPECT_GT(min_during_slow, 0u);
  // Slow clients were cut off by the server's timeouts.
  EXPECT_EQ(slow.readers_cut, slow.readers) << "a slow reader was not cut off";
  EXPECT_EQ(slow.loris_closed, slow.loris) << "a slowloris connection was not closed";
  EXPECT_LE(slow.loris_close_s_max, idle_timeout_s + 5.0);
  EXPECT_EQ(load.unfinished(), 0u) << "requests still unanswered at the end";
}

}  // namespace
}  // namespace cycas
