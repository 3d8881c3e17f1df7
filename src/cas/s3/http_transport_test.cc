// The curl multi transport against a tiny loopback HTTP server: streamed
// bodies with bounded buffers, batches, and failures classified for retries.
#include "cas/s3/http_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

namespace cycas::s3 {
namespace {

// Serves every request on every connection with `respond(request_head)`
// (keep-alive); `respond` returning "" means: never answer.
class TinyServer {
 public:
  explicit TinyServer(std::function<std::string(const std::string&)> respond) : respond_(std::move(respond)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(fd_, 64);
    accept_ = std::thread([this] { AcceptLoop(); });
  }
  ~TinyServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    accept_.join();
    for (int c : conns_) shutdown(c, SHUT_RDWR);
    for (auto& t : workers_) t.join();
    for (int c : conns_) close(c);
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  int requests() const { return requests_; }

 private:
  void AcceptLoop() {
    while (!stop_) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      conns_.push_back(c);
      workers_.emplace_back([this, c] { Serve(c); });
    }
  }
  void Serve(int c) {
    std::string buf;
    char tmp[65536];
    for (;;) {
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = read(c, tmp, sizeof tmp);
        if (n <= 0) return;
        buf.append(tmp, static_cast<size_t>(n));
      }
      std::string head = buf.substr(0, end + 4);
      buf.erase(0, end + 4);
      requests_++;
      std::string out = respond_(head);
      if (out.empty()) {  // hang
        while (read(c, tmp, sizeof tmp) > 0) {
        }
        return;
      }
      size_t off = 0;
      while (off < out.size()) {
        // MSG_NOSIGNAL: a client that hung up must not kill the test with SIGPIPE.
        ssize_t n = send(c, out.data() + off, out.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return;
        off += static_cast<size_t>(n);
      }
    }
  }

  std::function<std::string(const std::string&)> respond_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread accept_;
  std::vector<int> conns_;
  std::vector<std::thread> workers_;
};

std::string Ok(const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

std::unique_ptr<HttpTransport> Transport(int stall_ms = 5000, int connections = 8) {
  TransportOptions o;
  o.max_connections = connections;
  o.stall_timeout = std::chrono::milliseconds(stall_ms);
  o.connect_timeout = std::chrono::milliseconds(2000);
  auto t = HttpTransport::Create(o);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return std::move(*t);
}

TEST(HttpTransportTest, PerformReturnsStatusHeadersAndBody) {
  TinyServer server([](const std::string& head) {
    EXPECT_NE(head.find("x-amz-content-sha256: UNSIGNED-PAYLOAD"), std::string::npos) << head;
    return Ok("hello", "ETag: \"abc\"\r\n");
  });
  auto t = Transport();
  HttpRequest rq;
  rq.url = server.url("/b/k");
  HttpResponse r = t->Perform(rq);
  EXPECT_TRUE(r.ok()) << r.error_text;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(r.header("etag"), "\"abc\"");
}

TEST(HttpTransportTest, ConnectionRefusedIsAConnectError) {
  int port;
  {
    TinyServer s([](const std::string&) { return Ok(""); });
    port = std::stoi(s.url("").substr(17));
  }
  auto t = Transport();
  HttpRequest rq;
  rq.url = "http://127.0.0.1:" + std::to_string(port) + "/x";
  HttpResponse r = t->Perform(rq);
  EXPECT_EQ(r.error, TransportError::kConnect) << r.error_text;
  EXPECT_TRUE(RetryPolicy::IsRetryable(r.error, r.status));
}

TEST(HttpTransportTest, AServerThatNeverAnswersTimesOut) {
  TinyServer server([](const std::string&) { return std::string(); });
  auto t = Transport(/*stall_ms=*/1000);
  HttpRequest rq;
  rq.url = server.url("/hang");
  auto start = std::chrono::steady_clock::now();
  HttpResponse r = t->Perform(rq);
  EXPECT_EQ(r.error, TransportError::kTimeout) << r.error_text;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(HttpTransportTest, RequestTimeoutBoundsAnExchange) {
  TinyServer server([](const std::string&) { return std::string(); });
  auto t = Transport(/*stall_ms=*/30000);
  HttpRequest rq;
  rq.url = server.url("/hang");
  rq.timeout = std::chrono::milliseconds(300);
  HttpResponse r = t->Perform(rq);
  EXPECT_EQ(r.error, TransportError::kTimeout) << r.error_text;
}

TEST(HttpTransportTest, StreamedBodyArrivesIntactThroughASmallBuffer) {
  std::string body(4 << 20, '\0');
  for (size_t i = 0; i < body.size(); i++) body[i] = static_cast<char>(i * 131 + (i >> 12));
  TinyServer server([&](const std::string&) { return Ok(body); });
  auto t = Transport();
  HttpRequest rq;
  rq.url = server.url("/big");
  auto s = t->Stream(rq, /*buffer_bytes=*/64 * 1024);
  ASSERT_EQ(s->head().status, 200);
  std::string got;
  std::vector<uint8_t> chunk(7000);
  for (int i = 0;; i++) {
    auto n = s->Read(chunk);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    if (*n == 0) break;
    got.append(reinterpret_cast<char*>(chunk.data()), *n);
    if (i % 64 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a slow reader
  }
  EXPECT_EQ(got.size(), body.size());
  EXPECT_TRUE(got == body);
}

TEST(HttpTransportTest, StreamOfAnErrorCarriesTheErrorBody) {
  TinyServer server([](const std::string&) {
    std::string xml = "<Error><Code>NoSuchKey</Code></Error>";
    return "HTTP/1.1 404 Not Found\r\nContent-Length: " + std::to_string(xml.size()) + "\r\n\r\n" + xml;
  });
  auto t = Transport();
  HttpRequest rq;
  rq.url = server.url("/missing");
  auto s = t->Stream(rq, 1 << 16);
  EXPECT_EQ(s->head().status, 404);
  EXPECT_EQ(XmlElement(s->head().body, "Code"), "NoSuchKey");
}

TEST(HttpTransportTest, AbandonedStreamsAreCancelled) {
  std::string body(8 << 20, 'z');
  TinyServer server([&](const std::string&) { return Ok(body); });
  auto t = Transport();
  HttpRequest rq;
  rq.url = server.url("/big");
  for (int i = 0; i < 5; i++) {
    auto s = t->Stream(rq, 1 << 16);
    std::vector<uint8_t> chunk(1000);
    ASSERT_TRUE(s->Read(chunk).ok());
  }
  // The transport is still usable and has no transfer left running.
  HttpResponse r = t->Perform(rq);
  EXPECT_TRUE(r.ok());
  for (int i = 0; i < 100 && t->Stats().active > 0; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(t->Stats().active, 0u);
}

TEST(HttpTransportTest, PerformAllAnswersEveryRequestInOrder) {
  TinyServer server([](const std::string& head) {
    size_t a = head.find("/n/") + 3;
    std::string n = head.substr(a, head.find(' ', a) - a);
    return Ok(n);
  });
  auto t = Transport(5000, /*connections=*/4);
  std::vector<HttpRequest> rqs(200);
  for (size_t i = 0; i < rqs.size(); i++) rqs[i].url = server.url("/n/" + std::to_string(i));
  auto rs = t->PerformAll(rqs);
  ASSERT_EQ(rs.size(), rqs.size());
  for (size_t i = 0; i < rs.size(); i++) EXPECT_EQ(rs[i].body, std::to_string(i));
}

TEST(HttpTransportTest, PutSendsTheBody) {
  std::atomic<bool> saw{false};
  TinyServer server([&](const std::string& head) {
    if (head.rfind("PUT /obj", 0) == 0 && head.find("Content-Length: 5") != std::string::npos &&
        head.find("Expect:") == std::string::npos) {
      saw = true;
    }
    return Ok("");
  });
  auto t = Transport();
  HttpRequest rq;
  rq.method = "PUT";
  rq.url = server.url("/obj");
  rq.body = "12345";
  HttpResponse r = t->Perform(rq);
  EXPECT_TRUE(r.ok()) << r.error_text;
  EXPECT_TRUE(saw);
}

}  // namespace
}  // namespace cycas::s3
