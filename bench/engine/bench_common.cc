#include "bench_common.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>

namespace cycas::bench {

bool BenchConfig::Runs(const std::string& phase) const {
  return std::find(phases.begin(), phases.end(), phase) != phases.end();
}

engine::Key MakeKey(uint64_t space, uint64_t i) {
  // splitmix64 over (space, i): every word of the key is independently mixed,
  // so stripe, bucket and tag bits are uniform like a digest's.
  uint64_t x = space * 0x9e3779b97f4a7c15ull ^ (i + 0x632be59bd9b4e019ull);
  engine::Key k;
  for (int w = 0; w < 4; w++) {
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    std::memcpy(k.bytes.data() + 8 * w, &z, 8);
  }
  return k;
}

std::vector<uint8_t> RandomBytes(size_t n, uint64_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937_64 rng(seed);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w = rng();
    std::memcpy(v.data() + i, &w, 8);
  }
  for (; i < n; i++) v[i] = static_cast<uint8_t>(rng());
  return v;
}

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

uint64_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

double ProcessCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

Result<std::unique_ptr<engine::BlockFile>> RecordingEnv::OpenBlockFile(const std::string& path,
                                                                       uint64_t size,
                                                                       bool want_direct_io) {
  auto f = engine::IoEnv::Default()->OpenBlockFile(path, size, want_direct_io);
  if (f.ok()) direct_io = (*f)->direct_io() ? 1 : 0;
  return f;
}

double Baseline::Mean(RawFigure f) const {
  double sum = 0;
  for (const auto& s : samples_) {
    switch (f) {
      case RawFigure::kWriteFresh:
        sum += s.write_fresh_mbps;
        break;
      case RawFigure::kWriteOver:
        sum += s.write_over_mbps;
        break;
      case RawFigure::kRead:
        sum += s.read_mbps;
        break;
      case RawFigure::kReadFragment:
        sum += s.read_fragment_mbps;
        break;
      case RawFigure::kSyncWrite:
        sum += s.sync_write_mbps;
        break;
    }
  }
  return sum / static_cast<double>(samples_.size());
}

void Baseline::Flush(Report& r) {
  if (samples_.empty()) {
    if (!pending_.empty()) r.Note("no raw baseline measured (phase raw not run): ratios left out");
  } else {
    for (const auto& p : pending_)
      r.Add(p.section, p.name, "ratio", p.value / Mean(p.of), p.target);
  }
  pending_.clear();
}

void RemoveStore(const BenchConfig& c) {
  ::unlink(c.StorePath().c_str());
}

}  // namespace cycas::bench
