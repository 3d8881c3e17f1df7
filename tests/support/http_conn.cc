#include "http_conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>

namespace cycas::testing {

HttpConn::~HttpConn() {
  Close();
}

void HttpConn::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  buf_.clear();
}

bool HttpConn::Connect(std::string* error) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port_));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    *error = std::string("connect: ") + strerror(errno);
    Close();
    return false;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}

bool HttpConn::SendAll(const std::string& bytes, std::string* error) {
  size_t off = 0;
  while (off < bytes.size()) {
    pollfd p{fd_, POLLOUT, 0};
    if (poll(&p, 1, timeout_ms_) <= 0) {
      *error = "send timed out";
      return false;
    }
    ssize_t n = send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      *error = std::string("send: ") + strerror(errno);
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

bool HttpConn::Fill(size_t n, std::string* error) {
  char tmp[65536];
  while (buf_.size() < n) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms_) <= 0) {
      *error = "receive timed out";
      return false;
    }
    ssize_t r = recv(fd_, tmp, sizeof tmp, 0);
    if (r <= 0) {
      *error = r == 0 ? "connection closed by the server" : std::string("recv: ") + strerror(errno);
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(r));
  }
  return true;
}

HttpResult HttpConn::Request(const std::string& method, const std::string& target,
                             const std::string& body, const std::string& extra_headers) {
  bool stale = false;
  HttpResult res = RequestOnce(method, target, body, extra_headers, &stale);
  if (stale && (method == "GET" || method == "HEAD")) {
    stale_retries_++;
    res = RequestOnce(method, target, body, extra_headers, &stale);
  }
  return res;
}

HttpResult HttpConn::RequestOnce(const std::string& method, const std::string& target,
                                 const std::string& body, const std::string& extra_headers,
                                 bool* stale) {
  HttpResult res;
  *stale = false;
  if (fd_ < 0) {
    if (!Connect(&res.error)) return res;
    requests_on_connection_ = 0;
  }
  bool reused = requests_on_connection_++ > 0;
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!extra_headers.empty()) req += extra_headers + "\r\n";
  if (method == "PUT" || method == "POST" || !body.empty())
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n";
  req += body;
  // A server may answer early (413, 431) and close before the body is sent:
  // read its response even when sending failed.
  std::string send_error;
  bool sent = SendAll(req, &send_error);
  if (!sent) shutdown(fd_, SHUT_WR);
  size_t end;
  for (;;) {
    end = buf_.find("\r\n\r\n");
    if (end != std::string::npos) break;
    if (!Fill(buf_.size() + 1, &res.error)) {
      *stale = reused && buf_.empty();
      if (!sent) res.error = send_error + "; then " + res.error;
      Close();
      return res;
    }
  }
  std::string head = buf_.substr(0, end);
  buf_.erase(0, end + 4);
  size_t line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  if (status_line.size() < 12 || status_line.compare(0, 5, "HTTP/") != 0) {
    res.error = "malformed status line: " + status_line;
    Close();
    return res;
  }
  int status = std::atoi(status_line.c_str() + 9);
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    std::string line = head.substr(pos, e - pos);
    pos = e + 2;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    size_t v = line.find_first_not_of(' ', colon + 1);
    res.headers[name] = v == std::string::npos ? "" : line.substr(v);
  }
  size_t length = 0;
  if (auto it = res.headers.find("content-length"); it != res.headers.end())
    length = std::stoull(it->second);
  if (method == "HEAD" || status == 204 || status == 304) length = 0;
  if (!Fill(length, &res.error)) {
    Close();
    return res;
  }
  res.body = buf_.substr(0, length);
  buf_.erase(0, length);
  res.status = status;
  if (!sent) {
    Close();
    return res;
  }
  if (auto it = res.headers.find("connection"); it != res.headers.end() && it->second == "close")
    Close();
  return res;
}

}  // namespace cycas::testing
