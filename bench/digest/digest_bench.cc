// Hashing throughput for the two digest functions. Every uploaded byte is
// hashed once to verify it, so these numbers bound upload throughput per core;
// 4 KiB stands for the many small blobs of a build (per-hash overhead shows),
// 16 MiB for large outputs (the raw kernel speed shows).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "digest/digest.h"
#include "digest/hasher.h"

namespace cycas {
namespace {

std::vector<uint8_t> RandomBytes(size_t n) {
  std::vector<uint8_t> v(n);
  std::mt19937_64 rng(42);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// One-shot HashOf: includes constructing the Hasher (for SHA-256, allocating
// and initialising an EVP context), as a caller hashing a blob in memory would.
void BM_HashOf(benchmark::State& state, DigestFunction fn) {
  const auto data = RandomBytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    HashBytes h = HashOf(fn, data);
    benchmark::DoNotOptimize(h);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

// A long-lived Hasher fed 64 KiB pieces, the way an upload stream arrives.
void BM_Streaming64KiB(benchmark::State& state, DigestFunction fn) {
  const auto data = RandomBytes(static_cast<size_t>(state.range(0)));
  constexpr size_t kPiece = 64 * 1024;
  Hasher hasher(fn);
  for (auto _ : state) {
    for (size_t pos = 0; pos < data.size(); pos += kPiece) {
      hasher.Update(std::span(data).subspan(pos, std::min(kPiece, data.size() - pos)));
    }
    HashBytes h = hasher.Finish();
    benchmark::DoNotOptimize(h);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

constexpr int64_t k4KiB = 4 << 10;
constexpr int64_t k16MiB = 16 << 20;

BENCHMARK_CAPTURE(BM_HashOf, sha256, DigestFunction::kSha256)->Arg(k4KiB)->Arg(k16MiB);
BENCHMARK_CAPTURE(BM_HashOf, blake3, DigestFunction::kBlake3)->Arg(k4KiB)->Arg(k16MiB);
BENCHMARK_CAPTURE(BM_Streaming64KiB, sha256, DigestFunction::kSha256)->Arg(k16MiB);
BENCHMARK_CAPTURE(BM_Streaming64KiB, blake3, DigestFunction::kBlake3)->Arg(k16MiB);

}  // namespace
}  // namespace cycas
