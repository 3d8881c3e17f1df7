// Hashing throughput for the two digest functions. Every uploaded byte is
// hashed once to verify it, so these numbers bound upload throughput per core;
// 4 KiB stands for the many small blobs of a build (per-hash overhead shows),
// 16 MiB for large outputs (the raw kernel speed shows).
#include <benchmark/benchmark.h>
#include <blake3.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "cas/engine_keys.h"
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

std::vector<Digest> SomeDigests() {
  std::vector<Digest> digests;
  for (int i = 0; i < 1024; i++) {
    digests.push_back(Digest::Of(DigestFunction::kSha256, "blob " + std::to_string(i)));
  }
  return digests;
}

// Every lookup of a blob derives its engine key (cas/engine_keys.h), so
// FindMissingBlobs derives thousands per call. EngineKeyForBlob runs BLAKE3's
// one compression directly; the baseline derives the same key through the
// public hasher API.
void BM_EngineKeyForBlob(benchmark::State& state) {
  const auto digests = SomeDigests();
  size_t i = 0;
  for (auto _ : state) {
    engine::Key k = EngineKeyForBlob(digests[i++ % digests.size()]);
    benchmark::DoNotOptimize(k);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_EngineKeyViaBlake3Hasher(benchmark::State& state) {
  const auto digests = SomeDigests();
  blake3_hasher context;
  blake3_hasher_init_derive_key(&context, "cycas 2026 cas blob key v1");
  size_t i = 0;
  for (auto _ : state) {
    const Digest& d = digests[i++ % digests.size()];
    uint8_t buf[1 + 8 + kHashLength];
    buf[0] = static_cast<uint8_t>(d.function());
    uint64_t size = d.size_bytes();
    std::memcpy(buf + 1, &size, 8);
    std::memcpy(buf + 9, d.hash().data(), kHashLength);
    blake3_hasher h = context;
    blake3_hasher_update(&h, buf, sizeof buf);
    engine::Key k;
    blake3_hasher_finalize(&h, k.bytes.data(), k.bytes.size());
    benchmark::DoNotOptimize(k);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

constexpr int64_t k4KiB = 4 << 10;
constexpr int64_t k16MiB = 16 << 20;

BENCHMARK_CAPTURE(BM_HashOf, sha256, DigestFunction::kSha256)->Arg(k4KiB)->Arg(k16MiB);
BENCHMARK_CAPTURE(BM_HashOf, blake3, DigestFunction::kBlake3)->Arg(k4KiB)->Arg(k16MiB);
BENCHMARK_CAPTURE(BM_Streaming64KiB, sha256, DigestFunction::kSha256)->Arg(k16MiB);
BENCHMARK_CAPTURE(BM_Streaming64KiB, blake3, DigestFunction::kBlake3)->Arg(k16MiB);
BENCHMARK(BM_EngineKeyForBlob);
BENCHMARK(BM_EngineKeyViaBlake3Hasher);

}  // namespace
}  // namespace cycas
