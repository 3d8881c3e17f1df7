// `cycas bench`: negotiation and transfer throughput against a running server,
// optionally beside the engine's own in-process figures measured in the same
// run (--engine-baseline DIR), so the network front-end's cost is a ratio.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <random>
#include <thread>

#include "cas/engine_blob_store.h"
#include "client/cli_util.h"
#include "client/commands.h"
#include "engine/engine.h"
#include "util/config.h"

namespace cycas::client {

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Fills `out` with pseudo-random bytes (splitmix64), fast enough not to matter.
void FillRandom(std::string& out, uint64_t seed) {
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < out.size(); i += 8) {
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    std::memcpy(out.data() + i, &z, std::min<size_t>(8, out.size() - i));
  }
}

struct Blobs {
  std::vector<std::string> bytes;
  std::vector<Digest> digests;
};

Blobs MakeBlobs(size_t count, uint64_t size, uint64_t seed) {
  Blobs b;
  b.bytes.resize(count);
  for (size_t i = 0; i < count; ++i) {
    b.bytes[i].resize(size);
    FillRandom(b.bytes[i], seed + i);
    b.digests.push_back(Digest::Of(DigestFunction::kBlake3, b.bytes[i]));
  }
  return b;
}

// Runs fn(i) for i in [0, n) on `threads` threads; the first error wins.
Status ParallelEach(size_t n, uint32_t threads, const std::function<Status(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status first;
  std::vector<std::thread> ts;
  for (uint32_t t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      for (size_t i; (i = next++) < n;) {
        Status st = fn(i);
        if (!st.ok()) {
          std::lock_guard lk(mu);
          if (first.ok()) first = st;
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  return first;
}

struct Rates {
  double blobs_per_s = 0, mib_per_s = 0;
};

Rates RateOf(size_t count, uint64_t size, double secs) {
  return {count / secs, count * static_cast<double>(size) / (1 << 20) / secs};
}

void PrintRate(const std::string& what, const Rates& r) {
  std::printf("  %-40s %10.0f blobs/s %10.1f MiB/s\n", what.c_str(), r.blobs_per_s, r.mib_per_s);
}

Result<Rates> ServerUpload(ZakoClient& c, const Blobs& b, uint32_t conc) {
  auto t0 = Clock::now();
  RETURN_IF_ERROR(ParallelEach(b.digests.size(), conc, [&](size_t i) -> Status {
    const std::string& data = b.bytes[i];
    auto r = c.Upload(b.digests[i], [&](uint64_t off, std::span<uint8_t> out) -> Result<size_t> {
      size_t n = std::min<size_t>(out.size(), data.size() - off);
      std::memcpy(out.data(), data.data() + off, n);
      return n;
    });
    return r.status();
  }));
  return RateOf(b.digests.size(), b.bytes.empty() ? 0 : b.bytes[0].size(), Seconds(t0));
}

Result<Rates> ServerDownload(ZakoClient& c, const Blobs& b, uint32_t conc) {
  auto t0 = Clock::now();
  RETURN_IF_ERROR(ParallelEach(b.digests.size(), conc, [&](size_t i) -> Status {
    uint64_t got = 0;
    RETURN_IF_ERROR(c.Download(b.digests[i], 0, std::nullopt, [&](std::span<const uint8_t> d) {
      got += d.size();
      return Status::Ok();
    }));
    if (got != b.digests[i].size_bytes()) return Status::DataLoss("short download");
    return Status::Ok();
  }));
  return RateOf(b.digests.size(), b.bytes.empty() ? 0 : b.bytes[0].size(), Seconds(t0));
}

Result<Rates> EngineUpload(EngineBlobStore& store, const Blobs& b, uint32_t conc) {
  auto t0 = Clock::now();
  RETURN_IF_ERROR(ParallelEach(b.digests.size(), conc, [&](size_t i) -> Status {
    ASSIGN_OR_RETURN(auto w, store.OpenWrite(b.digests[i]));
    const std::string& data = b.bytes[i];
    for (size_t off = 0; off < data.size(); off += 1 << 20) {
      size_t n = std::min<size_t>(1 << 20, data.size() - off);
      RETURN_IF_ERROR(w->Append({reinterpret_cast<const uint8_t*>(data.data()) + off, n}));
    }
    return w->Commit();
  }));
  return RateOf(b.digests.size(), b.bytes.empty() ? 0 : b.bytes[0].size(), Seconds(t0));
}

Result<Rates> EngineDownload(EngineBlobStore& store, const Blobs& b, uint32_t conc) {
  auto t0 = Clock::now();
  RETURN_IF_ERROR(ParallelEach(b.digests.size(), conc, [&](size_t i) -> Status {
    ASSIGN_OR_RETURN(auto r, store.OpenRead(b.digests[i]));
    std::vector<uint8_t> buf(1 << 20);
    uint64_t off = 0;
    while (off < r->size()) {
      ASSIGN_OR_RETURN(size_t n, r->Read(off, buf));
      if (n == 0) return Status::DataLoss("short read");
      off += n;
    }
    return Status::Ok();
  }));
  return RateOf(b.digests.size(), b.bytes.empty() ? 0 : b.bytes[0].size(), Seconds(t0));
}

Result<uint64_t> BytesFlag(const Args& a, const char* name, uint64_t def) {
  if (!a.Has(name)) return def;
  auto v = ParseBytes(a.Get(name));
  if (!v.ok()) return v.status().WithContext(std::string("--") + name);
  return v;
}

}  // namespace

void PrintBenchUsage() {
  std::cout << R"(Usage: cycas [--server HOST:PORT] bench [OPTIONS]

Measures, against a running server (use a scratch server: it uploads data):
  * NegotiateBlobs throughput with requests of --digests digests (all absent,
    then all present), --rounds times each;
  * upload and download throughput of --small-count blobs of --small-size and
    --large-count blobs of --large-size, at --concurrency parallel transfers
    (default: the server's recommended_concurrency).
With --engine-baseline DIR it also runs the same uploads and downloads
in-process on a cyclone engine in DIR (same durability as the server default)
and prints the server's figures as ratios to the engine's.

Options (defaults): --digests 100000 --rounds 5 --small-count 4096
  --small-size 4KiB --large-count 4 --large-size 64MiB --engine-size 2GiB
The server must accept NegotiateBlobs messages of ~40 bytes per digest
(server.grpc_max_message; 100000 digests fit in the default 4MiB).
)";
}

int CmdBench(ZakoClient& client, const Args& args) {
  auto fail = [](const Status& st) {
    std::cerr << "cycas bench: " << st.ToString() << "\n";
    return 1;
  };
  auto digests = BytesFlag(args, "digests", 100'000);
  auto rounds = BytesFlag(args, "rounds", 5);
  auto small_count = BytesFlag(args, "small-count", 4096);
  auto small_size = BytesFlag(args, "small-size", 4096);
  auto large_count = BytesFlag(args, "large-count", 4);
  auto large_size = BytesFlag(args, "large-size", 64 << 20);
  auto engine_size = BytesFlag(args, "engine-size", uint64_t{2} << 30);
  for (auto* r : {&digests, &rounds, &small_count, &small_size, &large_count, &large_size, &engine_size}) {
    if (!r->ok()) {
      std::cerr << "cycas bench: " << r->status().message() << "\n";
      return 2;
    }
  }
  uint32_t conc;
  if (args.Has("concurrency")) {
    auto c = ParseInt(args.Get("concurrency"));
    if (!c.ok() || *c < 1) {
      std::cerr << "cycas bench: --concurrency must be a positive number\n";
      return 2;
    }
    conc = static_cast<uint32_t>(*c);
  } else {
    auto c = client.RecommendedConcurrency();
    if (!c.ok()) return fail(c.status());
    conc = *c;
  }
  const uint64_t seed = static_cast<uint64_t>(getpid()) << 32 ^
                        static_cast<uint64_t>(Clock::now().time_since_epoch().count());
  std::printf("cycas bench against %s, concurrency %u, %u CPU cores\n",
              client.options().server.c_str(), conc, std::thread::hardware_concurrency());

  // 1. Negotiation of absent digests: every digest comes back in the response.
  std::vector<Digest> absent;
  std::mt19937_64 rng(seed);
  for (uint64_t i = 0; i < *digests; ++i) {
    HashBytes h;
    for (size_t j = 0; j < h.size(); j += 8) {
      uint64_t v = rng();
      std::memcpy(h.data() + j, &v, 8);
    }
    absent.emplace_back(DigestFunction::kBlake3, h, 4096);
  }
  ClientOptions nopts = client.options();
  nopts.negotiate_batch = *digests;  // one request message per round
  auto nclient = ZakoClient::Connect(nopts);
  if (!nclient.ok()) return fail(nclient.status());
  std::printf("negotiation (%llu digests per request message):\n",
              static_cast<unsigned long long>(*digests));
  {
    auto t0 = Clock::now();
    for (uint64_t r = 0; r < *rounds; ++r) {
      auto m = (*nclient)->FindMissing(absent);
      if (!m.ok()) return fail(m.status());
      if (m->size() != absent.size()) return fail(Status::Internal("absent digests reported present"));
    }
    double s = Seconds(t0);
    std::printf("  %-40s %10.0f digests/s (%.1f ms per request)\n", "all absent",
                *digests * *rounds / s, 1000 * s / *rounds);
  }

  // 2. Small and large blobs.
  Blobs small = MakeBlobs(*small_count, *small_size, seed + 1'000'000);
  Blobs large = MakeBlobs(*large_count, *large_size, seed + 2'000'000);
  std::printf("transfers (server, over gRPC):\n");
  std::string sl = FormatBytes(static_cast<double>(*small_size));
  std::string ll = FormatBytes(static_cast<double>(*large_size));
  auto su = ServerUpload(client, small, conc);
  if (!su.ok()) return fail(su.status());
  PrintRate("upload " + sl, *su);
  auto sd = ServerDownload(client, small, conc);
  if (!sd.ok()) return fail(sd.status());
  PrintRate("download " + sl, *sd);
  auto lu = ServerUpload(client, large, conc);
  if (!lu.ok()) return fail(lu.status());
  PrintRate("upload " + ll, *lu);
  auto ld = ServerDownload(client, large, conc);
  if (!ld.ok()) return fail(ld.status());
  PrintRate("download " + ll, *ld);

  // 3. Negotiation of present digests (the small blobs, repeated to size).
  if (!small.digests.empty()) {
    std::vector<Digest> present;
    while (present.size() < *digests) {
      present.push_back(small.digests[present.size() % small.digests.size()]);
    }
    auto t0 = Clock::now();
    for (uint64_t r = 0; r < *rounds; ++r) {
      auto m = (*nclient)->FindMissing(present);
      if (!m.ok()) return fail(m.status());
      if (!m->empty()) return fail(Status::Internal("uploaded digests reported missing"));
    }
    double s = Seconds(t0);
    std::printf("  %-40s %10.0f digests/s (%.1f ms per request)\n", "negotiation, all present",
                *digests * *rounds / s, 1000 * s / *rounds);
  }

  if (!args.Has("engine-baseline")) return 0;
  // 4. The engine in-process, same blobs (fresh store), same concurrency.
  std::string dir = args.Get("engine-baseline");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::string path = dir + "/cycas-bench-engine-" + std::to_string(getpid()) + ".cyc";
  engine::EngineOptions eo;
  eo.path = path;
  eo.size = *engine_size;
  eo.average_object_size = 64 << 10;
  auto eng = engine::Engine::Open(eo);
  if (!eng.ok()) return fail(eng.status());
  EngineBlobStore store(eng->get());
  std::printf("engine in-process (%s, %u stripes, durable):\n", path.c_str(), (*eng)->stripe_count());
  auto eu = EngineUpload(store, small, conc);
  auto ed = eu.ok() ? EngineDownload(store, small, conc) : eu;
  auto elu = ed.ok() ? EngineUpload(store, large, conc) : ed;
  auto eld = elu.ok() ? EngineDownload(store, large, conc) : elu;
  (void)(*eng)->Close();
  eng->reset();
  std::filesystem::remove(path, ec);
  if (!eld.ok()) return fail(eld.status());
  PrintRate("upload " + sl, *eu);
  PrintRate("download " + sl, *ed);
  PrintRate("upload " + ll, *elu);
  PrintRate("download " + ll, *eld);
  std::printf("server / engine throughput ratio:\n");
  std::printf("  upload %s %.2f, download %s %.2f, upload %s %.2f, download %s %.2f\n", sl.c_str(),
              su->mib_per_s / eu->mib_per_s, sl.c_str(), sd->mib_per_s / ed->mib_per_s, ll.c_str(),
              lu->mib_per_s / elu->mib_per_s, ll.c_str(), ld->mib_per_s / eld->mib_per_s);
  return 0;
}

}  // namespace cycas::client
