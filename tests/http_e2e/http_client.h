// Clients for the HTTP end-to-end tests: curl run as a subprocess (a real,
// independent HTTP implementation) and a raw socket for requests curl will not
// send (malformed lines, oversize headers, stalls, pipelining).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace cycas::testing {

struct CurlResponse {
  int exit_code = -1;
  int status = 0;                                   // last status line's code
  std::multimap<std::string, std::string> headers;  // lowercase names, of the final response
  std::string body;
  std::string stderr_text;
  std::string header(const std::string& name) const;  // first value, or ""
};

// Runs `curl -sS <args...>` (no shell) and collects status, headers and body.
CurlResponse Curl(const std::vector<std::string>& args);

// Writes `bytes` to a fresh temporary file and returns its path.
std::string TempFile(const std::string& bytes);

// Runs a command (no shell) with an optional environment; returns exit code, output in `out`.
int RunCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env,
               std::string* out);

class RawConnection {
 public:
  explicit RawConnection(int port);
  ~RawConnection();
  bool connected() const { return fd_ >= 0; }
  bool Send(const std::string& bytes);
  // Reads until `n` complete responses are seen (by Content-Length), the peer
  // closes, or `timeout_ms` passes. Returns everything read.
  std::string ReadResponses(int n, int timeout_ms = 5000);
  // Reads until the peer closes or the timeout passes; true if it closed.
  bool WaitClosed(int timeout_ms, std::string* got = nullptr);

 private:
  int fd_ = -1;
  std::string pending_;
};

// Status code of the first response in `raw` ("HTTP/1.1 204 ..." -> 204), or 0.
int FirstStatus(const std::string& raw);

}  // namespace cycas::testing
