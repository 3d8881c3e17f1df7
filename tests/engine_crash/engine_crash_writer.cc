// engine_crash_writer: opens the engine on a store file and writes the
// deterministic workload of workload.h from several threads until it is killed.
//
// Protocol on stdout (a pipe to the crash driver; every line is shorter than
// PIPE_BUF, so each write(2) is atomic and lines never interleave):
//   "R <open_micros>"  the engine is open (after recovery); threads start now
//   "A ..."            one operation returned (FormatAck); written before the
//                      thread starts its next operation, so the lines of one
//                      thread are a prefix of its stream
//   "X <thread>"       the thread stopped: its next operation would exceed the
//                      run's write budget (nothing of it was started)
//   "F <message>"      the engine failed to open
// The process never exits on its own after "R": it waits to be killed.
//
// Usage: engine_crash_writer --store=PATH --size=BYTES --seed=N --run=N
//                            [--threads=N] [--budget=BYTES]
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "util/log.h"
#include "workload.h"

namespace {

void Emit(const std::string& line) {
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDOUT_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::_Exit(3);  // the driver is gone
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

bool Flag(const char* arg, const char* name, std::string* out) {
  size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *out = arg + n + 1;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cycas::engine;
  using namespace cycas::engine::crash;
  std::string store, v;
  uint64_t size = 64ull << 20, seed = 1, run = 0, threads = 4, budget = 16ull << 20;
  for (int i = 1; i < argc; i++) {
    if (Flag(argv[i], "--store", &v))
      store = v;
    else if (Flag(argv[i], "--size", &v))
      size = std::strtoull(v.c_str(), nullptr, 10);
    else if (Flag(argv[i], "--seed", &v))
      seed = std::strtoull(v.c_str(), nullptr, 10);
    else if (Flag(argv[i], "--run", &v))
      run = std::strtoull(v.c_str(), nullptr, 10);
    else if (Flag(argv[i], "--threads", &v))
      threads = std::strtoull(v.c_str(), nullptr, 10);
    else if (Flag(argv[i], "--budget", &v))
      budget = std::strtoull(v.c_str(), nullptr, 10);
    else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (store.empty() || threads == 0 || threads >= kProbeThread) {
    std::fprintf(
        stderr,
        "usage: %s --store=PATH [--size=BYTES --seed=N --run=N --threads=N --budget=BYTES]\n",
        argv[0]);
    return 2;
  }
  cycas::log::SetLevel(cycas::log::Level::kWarn);

  auto t0 = std::chrono::steady_clock::now();
  auto engine = Engine::Open(CrashTestOptions(store, size));
  if (!engine.ok()) {
    Emit("F " + engine.status().ToString() + "\n");
    return 1;
  }
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  Emit("R " + std::to_string(micros) + "\n");

  std::atomic<int64_t> left{static_cast<int64_t>(budget)};
  std::vector<std::thread> workers;
  for (uint32_t t = 0; t < threads; t++) {
    workers.emplace_back([&, t] {
      OpStream stream(seed, run, t);
      while (true) {
        Op op = stream.Next();
        int64_t cost = static_cast<int64_t>(RingBytesOf(op));
        if (left.fetch_sub(cost) < cost) {
          Emit("X " + std::to_string(t) + "\n");
          return;
        }
        cycas::Status st = Execute(**engine, op);
        Emit(FormatAck(t, stream.produced(), op, st.code()));
      }
    });
  }
  for (auto& w : workers) w.join();
  // Budget spent: stay alive, engine open, until the driver kills us.
  while (true) ::pause();
}
