#include "http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace cycas::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string CurlResponse::header(const std::string& name) const {
  auto it = headers.find(Lower(name));
  return it == headers.end() ? "" : it->second;
}

std::string TempFile(const std::string& bytes) {
  char tmpl[] = "/tmp/cycas-http-e2e-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return "";
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  close(fd);
  return tmpl;
}

int RunCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env,
               std::string* out) {
  std::string out_path = TempFile("");
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(out_path.c_str(), O_WRONLY | O_TRUNC);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (out) *out = ReadFile(out_path);
  unlink(out_path.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

CurlResponse Curl(const std::vector<std::string>& args) {
  std::string body_path = TempFile(""), hdr_path = TempFile("");
  std::vector<std::string> argv = {"curl", "-sS",     "--max-time", "30",
                                   "-o",   body_path, "-D",         hdr_path};
  argv.insert(argv.end(), args.begin(), args.end());
  CurlResponse r;
  r.exit_code = RunCommand(argv, {}, &r.stderr_text);
  r.body = ReadFile(body_path);
  std::string hdrs = ReadFile(hdr_path);
  unlink(body_path.c_str());
  unlink(hdr_path.c_str());
  // Keep only the last header block (after any "100 Continue").
  std::istringstream in(hdrs);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("HTTP/", 0) == 0) {
      r.headers.clear();
      size_t sp = line.find(' ');
      r.status = sp == std::string::npos ? 0 : std::atoi(line.c_str() + sp + 1);
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    r.headers.emplace(Lower(line.substr(0, colon)), value);
  }
  return r;
}

RawConnection::RawConnection(int port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) close(fd_);
}

bool RawConnection::Send(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

namespace {

// Number of complete responses at the start of `s` (Content-Length framing only).
int CompleteResponses(const std::string& s) {
  int n = 0;
  size_t pos = 0;
  while (true) {
    size_t end = s.find("\r\n\r\n", pos);
    if (end == std::string::npos) return n;
    std::string head = Lower(s.substr(pos, end - pos));
    size_t body = 0;
    if (auto cl = head.find("content-length:"); cl != std::string::npos) {
      body = std::strtoull(head.c_str() + cl + 15, nullptr, 10);
    }
    // 1xx, 204 and 304 carry no body whatever the header says.
    int code = std::atoi(head.c_str() + head.find(' ') + 1);
    bool head_request_body = (code / 100 == 1 || code == 204 || code == 304);
    if (head_request_body) body = 0;
    if (end + 4 + body > s.size()) return n;
    pos = end + 4 + body;
    if (code / 100 != 1) n++;
  }
}

}  // namespace

std::string RawConnection::ReadResponses(int n, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string got;
  while (CompleteResponses(got) < n) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) break;
    char buf[65536];
    ssize_t r = recv(fd_, buf, sizeof buf, 0);
    if (r <= 0) break;
    got.append(buf, static_cast<size_t>(r));
  }
  return got;
}

bool RawConnection::WaitClosed(int timeout_ms, std::string* got) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) return false;
    char buf[65536];
    ssize_t r = recv(fd_, buf, sizeof buf, 0);
    if (r <= 0) return true;
    if (got) got->append(buf, static_cast<size_t>(r));
  }
}

int FirstStatus(const std::string& raw) {
  if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12) return 0;
  return std::atoi(raw.c_str() + 9);
}

}  // namespace cycas::testing
