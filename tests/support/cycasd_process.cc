#include "cycasd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace cycas::testing {

std::string CycasdProcess::BinaryPath() { return CYCASD_PATH; }

CycasdProcess::CycasdProcess(std::vector<std::string> overrides) : overrides_(std::move(overrides)) {
  char tmpl[] = "/tmp/cycasd-test-XXXXXX";
  char* dir = mkdtemp(tmpl);
  data_dir_ = dir ? dir : "/tmp/cycasd-test";
  ready_file_ = data_dir_ + "/ready";
  log_file_ = data_dir_ + "/cycasd.log";
}

CycasdProcess::~CycasdProcess() {
  if (pid_ > 0) Stop();
  std::error_code ec;
  std::filesystem::remove_all(data_dir_, ec);
}

bool CycasdProcess::Start(int timeout_ms) {
  std::filesystem::remove(ready_file_);
  ports_.clear();  // a restart binds new port-0 listeners
  std::vector<std::string> args = {BinaryPath(),
                                   "--set", "server.data_dir=" + data_dir_,
                                   "--set", "server.listen=127.0.0.1:0",
                                   "--set", "http.listen=127.0.0.1:0",
                                   "--set", "zako.transport_listen=127.0.0.1:0",
                                   "--set", "server.ready_file=" + ready_file_,
                                   "--set", "engine.size=64MiB",
                                   "--set", "engine.stripes=2"};
  for (const auto& o : overrides_) {
    args.push_back("--set");
    args.push_back(o);
  }
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDERR_FILENO);
      dup2(fd, STDOUT_FILENO);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error_ = "cycasd exited during startup:\n" + log();
      return false;
    }
    std::ifstream f(ready_file_);
    if (f) {
      std::string name;
      int port;
      while (f >> name >> port) ports_[name] = port;
      if (!ports_.empty()) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  error_ = "cycasd did not become ready:\n" + log();
  Kill();
  return false;
}

int CycasdProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 1500; i++) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  return -1;
}

void CycasdProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int CycasdProcess::port(const std::string& name) const {
  auto it = ports_.find(name);
  return it == ports_.end() ? 0 : it->second;
}

std::string CycasdProcess::address(const std::string& name) const {
  return "127.0.0.1:" + std::to_string(port(name));
}

std::string CycasdProcess::log() const {
  std::ifstream f(log_file_);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace cycas::testing
