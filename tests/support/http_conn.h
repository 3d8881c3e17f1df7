// HttpConn: a minimal blocking HTTP/1.1 keep-alive client for the fault, load
// and security tests. It sends exactly the bytes it is given (so tests can send
// hostile paths unnormalised, which curl would rewrite) and reads one response
// framed by Content-Length. Every call is bounded by a timeout.
#pragma once

#include <map>
#include <string>

namespace cycas::testing {

struct HttpResult {
  int status = 0;  // 0: no response (connection failed, closed or timed out)
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
  std::string error;  // why status is 0
};

class HttpConn {
 public:
  HttpConn(int port, int timeout_ms = 10000) : port_(port), timeout_ms_(timeout_ms) {}
  ~HttpConn();
  HttpConn(const HttpConn&) = delete;
  HttpConn& operator=(const HttpConn&) = delete;

  // One request; reconnects first if the previous response closed the connection.
  // A GET or HEAD whose reused keep-alive connection is closed before any byte
  // of the response is retried once on a new connection, as HTTP clients do
  // (RFC 9112 section 9.3.1); `stale_retries()` counts these.
  // `extra_headers` are full lines without CRLF, joined by "\r\n".
  HttpResult Request(const std::string& method, const std::string& target,
                     const std::string& body = "", const std::string& extra_headers = "");
  void Close();
  int stale_retries() const { return stale_retries_; }

 private:
  bool Connect(std::string* error);
  bool SendAll(const std::string& bytes, std::string* error);
  // Reads until `buf_` holds at least `n` bytes; false on close/timeout.
  bool Fill(size_t n, std::string* error);

  int port_;
  int timeout_ms_;
  HttpResult RequestOnce(const std::string& method, const std::string& target,
                         const std::string& body, const std::string& extra_headers, bool* stale);

  int fd_ = -1;
  int requests_on_connection_ = 0;
  int stale_retries_ = 0;
  std::string buf_;
};

}  // namespace cycas::testing
