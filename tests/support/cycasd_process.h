// CycasdProcess: starts the real cycasd binary on loopback for end-to-end tests.
//
// Each instance gets a fresh data directory and port 0 listeners; Start()
// returns once the server has written its ready file, and port("grpc") etc.
// give the bound ports. The destructor stops the server (SIGTERM, then SIGKILL).
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace cycas::testing {

class CycasdProcess {
 public:
  // `overrides` are extra "key=value" options passed with --set.
  explicit CycasdProcess(std::vector<std::string> overrides = {});
  ~CycasdProcess();

  // Starts the server; returns false (with the log in error()) if it did not become ready.
  bool Start(int timeout_ms = 20000);
  // Graceful stop; returns the exit status (0 on a clean shutdown).
  int Stop();
  // SIGKILL, for crash tests.
  void Kill();

  int port(const std::string& name) const;
  std::string address(const std::string& name) const;  // "127.0.0.1:PORT"
  const std::string& data_dir() const { return data_dir_; }
  pid_t pid() const { return pid_; }  // -1 when not running (e.g. to send it SIGHUP)
  std::string log() const;            // the server's stderr so far
  const std::string& error() const { return error_; }

  // Path of the cycasd binary under test.
  static std::string BinaryPath();

 private:
  std::vector<std::string> overrides_;
  std::string data_dir_;
  std::string ready_file_;
  std::string log_file_;
  std::map<std::string, int> ports_;
  std::string error_;
  pid_t pid_ = -1;
  bool keep_data_ = false;
};

}  // namespace cycas::testing
