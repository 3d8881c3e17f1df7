// Crash loop: runs engine_crash_writer in a child process, kills it with
// SIGKILL at a random moment, reopens the store in this process and checks it
// against the reference model (workload.h): every acknowledged object is
// byte-exact unless the ring may have overwritten it, removed objects stay
// removed, records hold their last acknowledged value (or the value of the
// update that was in flight), nothing is ever served with wrong bytes, and the
// engine accepts writes again. See README.md for the knobs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "engine/fault_env.h"
#include "util/log.h"
#include "workload.h"

namespace cycas::engine::crash {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

std::string WriterPath() {
  if (const char* p = std::getenv("CYCAS_CRASH_WRITER")) return p;
  return CYCAS_CRASH_WRITER;
}

struct WriterRun {
  std::vector<std::string> lines;
  bool ready = false;
  bool killed = false;  // died of our SIGKILL (anything else is a failure)
  int wait_status = 0;
  std::string failure;
};

// Starts the writer, waits until it is writing (unless `early`), lets it run
// for `run_for`, SIGKILLs it and collects every line it wrote before dying.
// Lines are in the pipe before the writer dies, so each was written (and its
// operation acknowledged) before the kill.
WriterRun RunAndKill(const std::vector<std::string>& args, const std::string& stderr_path,
                     bool early, std::chrono::milliseconds run_for) {
  WriterRun out;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    out.failure = "pipe2 failed";
    return out;
  }
  int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    if (err >= 0) ::dup2(err, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  if (err >= 0) ::close(err);
  if (pid < 0) {
    ::close(fds[0]);
    out.failure = "fork failed";
    return out;
  }

  std::mutex mu;
  std::condition_variable cv;
  std::string buffer;
  bool ready = false, eof = false;
  std::thread reader([&] {
    char buf[65536];
    while (true) {
      ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard lk(mu);
      if (n <= 0) {
        eof = true;
        cv.notify_all();
        return;
      }
      buffer.append(buf, static_cast<size_t>(n));
      if (!ready && (buffer.rfind("R ", 0) == 0 || buffer.find("\nR ") != std::string::npos ||
                     buffer.rfind("F ", 0) == 0)) {
        ready = true;
        cv.notify_all();
      }
    }
  });
  if (!early) {
    std::unique_lock lk(mu);
    if (!cv.wait_for(lk, std::chrono::seconds(30), [&] { return ready || eof; })) {
      out.failure = "writer did not become ready within 30 s";
    }
  }
  std::this_thread::sleep_for(run_for);
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, &out.wait_status, 0) < 0 && errno == EINTR) {
  }
  reader.join();
  ::close(fds[0]);
  out.killed = WIFSIGNALED(out.wait_status) && WTERMSIG(out.wait_status) == SIGKILL;
  // Only whole lines count: a line is written with one write(2), so a partial
  // line cannot occur, but be strict anyway.
  std::istringstream in(buffer.substr(0, buffer.rfind('\n') + 1));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("R ", 0) == 0) out.ready = true;
    out.lines.push_back(line);
  }
  return out;
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  return s.size() > 4000 ? s.substr(s.size() - 4000) : s;
}

uint64_t Percentile(std::vector<uint64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

TEST(EngineCrashLoop, SigkillNeverLosesAcknowledgedWritesOrServesWrongBytes) {
  const uint64_t cycles = EnvOr("CYCAS_CRASH_CYCLES", 20);
  const uint64_t per_store = std::max<uint64_t>(1, EnvOr("CYCAS_CRASH_CYCLES_PER_STORE", 20));
  const uint64_t size = EnvOr("CYCAS_CRASH_STORE_MB", 64) << 20;
  const uint64_t budget = EnvOr("CYCAS_CRASH_BUDGET_MB", 12) << 20;
  const uint64_t threads = EnvOr("CYCAS_CRASH_THREADS", 4);
  const uint64_t max_ms = EnvOr("CYCAS_CRASH_MAX_MS", 300);
  const uint64_t seed = EnvOr("CYCAS_CRASH_SEED", std::random_device{}());
  // Phantoms (Contains() true, read fails) after a write torn by the kill are a
  // known engine bug (power_cut_test TornBatchOverOldDataLeavesNoPhantoms):
  // reported, fatal only on request.
  const bool strict_presence = EnvOr("CYCAS_CRASH_STRICT_PRESENCE", 1) != 0;
  std::printf("crash loop: seed=%llu (replay the workload with CYCAS_CRASH_SEED) cycles=%llu\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(cycles));
  SCOPED_TRACE("CYCAS_CRASH_SEED=" + std::to_string(seed));
  log::SetLevel(log::Level::kWarn);

  // Kept (with the writer's stderr) when the test fails.
  std::string store =
      testing::TempDir() + "/cycas_crash_loop_" + std::to_string(getpid()) + ".store";
  std::string writer_log = store + ".writer.log";
  std::mt19937_64 rng(seed);

  Model model;
  Positions start;
  VerifyReport total;
  std::vector<uint64_t> recovery_us, writer_open_us;
  uint64_t ring_advance = 0, acked = 0, completed = 0, early_kills = 0, replayed = 0, max_cycle = 0;
  auto t_begin = std::chrono::steady_clock::now();

  for (uint64_t cycle = 0; cycle < cycles; cycle++) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    if (cycle % per_store == 0) {
      std::filesystem::remove(store);
      model.Reset();
      start = FreshStorePositions(size);
    }
    bool early = rng() % 10 == 0;  // sometimes kill while the writer opens or recovers
    auto run_for = std::chrono::milliseconds(early ? rng() % 40 : 20 + rng() % (max_ms - 19));
    early_kills += early;
    std::vector<std::string> args = {WriterPath(),
                                     "--store=" + store,
                                     "--size=" + std::to_string(size),
                                     "--seed=" + std::to_string(seed),
                                     "--run=" + std::to_string(cycle),
                                     "--threads=" + std::to_string(threads),
                                     "--budget=" + std::to_string(budget)};
    WriterRun w = RunAndKill(args, writer_log, early, run_for);
    ASSERT_TRUE(w.failure.empty()) << w.failure << "\n" << Slurp(writer_log);
    ASSERT_TRUE(w.killed) << "writer died on its own (wait status " << w.wait_status << "):\n"
                          << Slurp(writer_log);

    // Feed the model: completed operations in stream order, then the one in flight per thread.
    std::vector<OpStream> streams;
    for (uint32_t t = 0; t < threads; t++) streams.emplace_back(seed, cycle, t);
    std::vector<bool> stopped(threads, false);
    for (const auto& line : w.lines) {
      if (line.rfind("R ", 0) == 0) {
        writer_open_us.push_back(std::strtoull(line.c_str() + 2, nullptr, 10));
      } else if (line.rfind("F ", 0) == 0) {
        FAIL() << "writer could not open the store after a crash: " << line;
      } else if (line.rfind("X ", 0) == 0) {
        size_t t = std::strtoul(line.c_str() + 2, nullptr, 10);
        ASSERT_LT(t, threads) << line;
        stopped[t] = true;
      } else {
        AckLine a;
        ASSERT_TRUE(ParseAck(line, &a)) << line;
        ASSERT_LT(a.thread, threads);
        Op op = streams[a.thread].Next();
        uint64_t value = op.kind == OpKind::kRecordPut ? op.version : op.size;
        ASSERT_TRUE(a.index == streams[a.thread].produced() && a.kind == op.kind && a.id == op.id &&
                    a.value == value)
            << "acknowledgment log does not match the workload stream: " << line;
        ASSERT_TRUE(a.code == StatusCode::kOk || a.code == StatusCode::kAlreadyExists)
            << "writer saw an error without any fault injected: " << line;
        model.Completed(op, a.code, start);
        completed++;
        acked += a.code == StatusCode::kOk;
      }
    }
    if (w.ready) {
      for (uint32_t t = 0; t < threads; t++) {
        if (!stopped[t]) model.InFlight(streams[t].Next(), start);
      }
    }

    // Recover in this process and check everything.
    FaultEnv env(IoEnv::Default());
    EngineOptions opts = CrashTestOptions(store, size);
    opts.env = &env;
    auto t0 = std::chrono::steady_clock::now();
    auto opened = Engine::Open(opts);
    recovery_us.push_back(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count());
    ASSERT_TRUE(opened.ok()) << "reopen after SIGKILL failed: " << opened.status().ToString();
    std::unique_ptr<Engine> e = std::move(*opened);
    replayed += e->Stats().replayed_docs;
    Positions recovered = PositionsOf(*e);
    for (size_t s = 0; s < recovered.linear.size() && s < start.linear.size(); s++) {
      ring_advance +=
          (std::max(recovered.linear[s], start.linear[s]) - start.linear[s]) * kSectorSize;
    }
    VerifyReport rep;
    model.Verify(*e, FurthestWrite(recovered), &rep, 200, rng);
    EXPECT_TRUE(rep.clean() && (!strict_presence || rep.phantom == 0))
        << "cycle " << cycle << ": " << rep.Summary();
    EXPECT_EQ(e->Stats().directory_evictions, 0u);
    total.Add(rep);

    // The engine accepts writes again: a small and a multi-fragment object and a record.
    std::vector<Op> probes = {
        Op{OpKind::kPut, ObjectId(cycle, kProbeThread, 0), 3000, 0, 0},
        Op{OpKind::kPut, ObjectId(cycle, kProbeThread, 1), 150'000, 0, 40'000},
        Op{OpKind::kRecordPut,
           uint64_t{kProbeThread} * kRecordsPerThread + cycle % kRecordsPerThread, 0,
           cycle << 32 | 0xffffffff, 0},
    };
    for (const Op& op : probes) {
      Status st = Execute(*e, op);
      ASSERT_TRUE(st.ok()) << "write after recovery failed: " << st.ToString();
      model.Completed(op, st.code(), recovered);
      if (op.kind == OpKind::kPut) {
        ASSERT_EQ(ReadWhole(*e, ObjectKey(op.id), RecordKind::kObject),
                  ObjectBytes(op.id, op.size));
      }
    }
    start = PositionsOf(*e);  // the next writer continues from here
    for (auto& s : e->Stats().stripes) {
      max_cycle = std::max<uint64_t>(max_cycle, s.cycle);
    }
    if (rng() % 2 == 0) env.crashed = true;  // half the time the verifier "crashes" too
    e.reset();
  }

  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_begin).count();
  std::printf(
      "crash loop summary: cycles=%llu (early kills %llu) seconds=%.1f ops_completed=%llu "
      "acknowledged=%llu\n"
      "  verifications (per cycle): objects=%llu removed_absent=%llu records=%llu "
      "in_flight_landed=%llu "
      "in_flight_absent=%llu evicted_by_wrap=%llu full_reads=%llu\n"
      "  LOST=%llu CORRUPT_SERVED=%llu stale_records=%llu resurrected=%llu phantom=%llu "
      "false_present=%llu\n"
      "  recovery (Engine::Open after SIGKILL): median=%.2f ms p90=%.2f ms max=%.2f ms; "
      "replayed_docs=%llu; writer open median=%.2f ms\n"
      "  ring written by writers: %.1f MiB (%.1f MiB per cycle); highest ring cycle reached=%llu "
      "(a store starts at cycle 1)\n",
      (unsigned long long)cycles, (unsigned long long)early_kills, secs,
      (unsigned long long)completed, (unsigned long long)acked,
      (unsigned long long)total.objects_verified, (unsigned long long)total.removed_verified,
      (unsigned long long)total.records_verified, (unsigned long long)total.in_flight_landed,
      (unsigned long long)total.in_flight_absent, (unsigned long long)total.evicted,
      (unsigned long long)total.present_reads, (unsigned long long)total.lost,
      (unsigned long long)total.corrupt, (unsigned long long)total.stale,
      (unsigned long long)total.resurrected, (unsigned long long)total.phantom,
      (unsigned long long)total.false_present, Percentile(recovery_us, 0.5) / 1000.0,
      Percentile(recovery_us, 0.9) / 1000.0, Percentile(recovery_us, 1.0) / 1000.0,
      (unsigned long long)replayed, Percentile(writer_open_us, 0.5) / 1000.0,
      ring_advance / 1048576.0, ring_advance / 1048576.0 / cycles, (unsigned long long)max_cycle);
  std::fflush(stdout);
  EXPECT_EQ(total.lost, 0u);
  EXPECT_EQ(total.corrupt, 0u);
  EXPECT_EQ(total.stale, 0u);
  EXPECT_EQ(total.resurrected, 0u);
  if (strict_presence) {
    EXPECT_EQ(total.phantom, 0u);
  }
  EXPECT_EQ(total.false_present, 0u);
  EXPECT_GT(total.objects_verified, 0u);
  if (!HasFailure()) {
    std::filesystem::remove(store);
    std::filesystem::remove(writer_log);
  }
}

}  // namespace
}  // namespace cycas::engine::crash
