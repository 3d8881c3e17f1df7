// s3_bench: the S3 tier's throughput against a real gateway (Ceph RGW on
// loopback, started by scripts/ceph-rgw.sh), side by side with plain curl
// fetching the same objects in the same run.
//
//   1. reads of 4 KiB and 64 MiB blobs through the tier on a local miss
//      (GET, verify, store in the local engine, read back) vs `curl` GETs;
//   2. existence checks of 10k digests: all local, all remote, half/half;
//   3. the write-back queue's drain rate.
//
// Usage: s3_bench [--small N] [--large N] [--exists N] [--drain N] [--threads N]
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cas/engine_blob_store.h"
#include "cas/s3/backed_store.h"
#include "cas/s3/s3_blob_store.h"
#include "cas/s3/s3_client.h"
#include "ceph_gateway.h"
#include "engine/engine.h"

namespace {

using namespace cycas;
using namespace cycas::s3;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string Bytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(&s[i], &x, 8);
  }
  return s;
}

struct Rig {
  std::string dir;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<EngineBlobStore> local;
  std::unique_ptr<EngineRecordStore> local_records;
  std::unique_ptr<S3BlobStore> bucket;
  std::unique_ptr<S3RecordStore> bucket_records;
  std::unique_ptr<UploadQueue> queue;
  std::unique_ptr<Uploader> uploader;
  std::unique_ptr<BackedBlobStore> tier;
};

std::unique_ptr<Rig> MakeRig(S3Client* client, const std::string& name, int workers) {
  auto r = std::make_unique<Rig>();
  r->dir = "/tmp/s3-bench-" + name + "-" + std::to_string(getpid());
  std::filesystem::create_directories(r->dir);
  engine::EngineOptions eo;
  eo.path = r->dir + "/store.cyc";
  eo.size = 2ull << 30;
  eo.stripes = 2;
  auto e = engine::Engine::Open(eo);
  if (!e.ok()) {
    std::fprintf(stderr, "engine: %s\n", e.status().ToString().c_str());
    std::exit(1);
  }
  r->engine = std::move(*e);
  r->local = std::make_unique<EngineBlobStore>(r->engine.get());
  r->local_records = std::make_unique<EngineRecordStore>(r->engine.get());
  r->bucket = std::make_unique<S3BlobStore>(client, ObjectLayout("bench"));
  r->bucket_records = std::make_unique<S3RecordStore>(client, ObjectLayout("bench"));
  UploadQueue::Options qo;
  qo.dir = r->dir + "/queue";
  r->queue = std::move(*UploadQueue::Open(qo));
  Uploader::Options uo;
  uo.workers = workers;
  r->uploader = std::make_unique<Uploader>(r->queue.get(), r->local.get(), r->local_records.get(),
                                           r->bucket.get(), r->bucket_records.get(), uo, r->bucket.get());
  BackedBlobStore::Options bo;
  bo.existence_ttl = std::chrono::milliseconds(0);  // every remote check is a HEAD
  r->tier = std::make_unique<BackedBlobStore>(r->local.get(), r->bucket.get(), r->bucket.get(), r->queue.get(),
                                              r->uploader.get(), bo);
  return r;
}

void DestroyRig(std::unique_ptr<Rig> r) {
  std::string dir = r->dir;
  r->uploader->Stop();
  (void)r->engine->Close();
  r.reset();
  std::filesystem::remove_all(dir);
}

Status PutLocal(BlobStore& s, const Digest& d, const std::string& bytes) {
  ASSIGN_OR_RETURN(auto w, s.OpenWrite(d));
  RETURN_IF_ERROR(w->Append({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}));
  return w->Commit();
}

// Runs fn(i) for i in [0, n) on `threads` threads.
template <typename F>
void ParallelFor(size_t n, int threads, F fn) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++) {
    ts.emplace_back([&] {
      for (size_t i; (i = next++) < n;) fn(i);
    });
  }
  for (auto& t : ts) t.join();
}

// Plain curl: one process fetching every URL (keep-alive, `parallel` at once).
double CurlGetAll(const cycas::testing::CephGateway& g, const std::vector<std::string>& keys, int parallel) {
  std::string cfg = "/tmp/s3-bench-curl-" + std::to_string(getpid()) + ".cfg";
  S3Options where;
  where.endpoint = g.endpoint();
  where.bucket = g.bucket();
  {
    std::ofstream f(cfg);
    for (const auto& k : keys) {
      f << "url = \"" << ObjectUrl(where, k) << "\"\n";
      f << "output = \"/dev/null\"\n";
    }
  }
  std::string cmd = "curl -sS --fail --aws-sigv4 aws:amz:" + g.region() + ":s3 --user " + g.access_key() + ":" +
                    g.secret_key() + " -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' " +
                    (parallel > 1 ? "--parallel --parallel-max " + std::to_string(parallel) + " " : "") + "-K " + cfg;
  auto t = Clock::now();
  int rc = std::system(cmd.c_str());
  double s = Since(t);
  std::filesystem::remove(cfg);
  if (rc != 0) std::fprintf(stderr, "curl failed: %d\n", rc);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  size_t small = 2000, large = 3, exists = 10000, drain = 2000;
  int threads = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    size_t v = std::stoull(argv[i + 1]);
    if (a == "--small") small = v;
    if (a == "--large") large = v;
    if (a == "--exists") exists = v;
    if (a == "--drain") drain = v;
    if (a == "--threads") threads = static_cast<int>(v);
  }
  if (!cycas::testing::CephGateway::Available()) {
    std::fprintf(stderr, "%s\n", cycas::testing::CephGateway::MissingMessage().c_str());
    return 2;
  }
  cycas::testing::CephGateway gw;
  auto t0 = Clock::now();
  if (!gw.Start("cycas-bench")) {
    std::fprintf(stderr, "%s\n", gw.error().c_str());
    return 1;
  }
  std::printf("gateway up in %.1f s at %s\n", Since(t0), gw.endpoint().c_str());
  S3Options o;
  o.endpoint = gw.endpoint();
  o.region = gw.region();
  o.bucket = gw.bucket();
  o.credentials = {gw.access_key(), gw.secret_key(), "", "bench"};
  o.concurrency = 32;
  o.multipart_threshold = 16 << 20;
  auto client = std::move(*S3Client::Create(o));
  ObjectLayout layout("bench");

  // Seed the bucket: small and large blobs, uploaded directly.
  std::vector<std::string> small_blobs;
  std::vector<Digest> small_digests;
  for (size_t i = 0; i < small; i++) {
    small_blobs.push_back(Bytes(4096, i));
    small_digests.push_back(Digest::Of(DigestFunction::kSha256, small_blobs.back()));
  }
  {
    S3BlobStore direct(client.get(), layout);
    auto t = Clock::now();
    ParallelFor(small, threads, [&](size_t i) { (void)PutLocal(direct, small_digests[i], small_blobs[i]); });
    std::printf("seed: %zu x 4 KiB PUTs in %.2f s (%.0f/s)\n", small, Since(t), small / Since(t));
  }
  std::vector<Digest> large_digests;
  {
    S3BlobStore direct(client.get(), layout);
    for (size_t i = 0; i < large; i++) {
      std::string b = Bytes(64 << 20, 1000 + i);
      large_digests.push_back(Digest::Of(DigestFunction::kSha256, b));
      auto t = Clock::now();
      Status st = PutLocal(direct, large_digests.back(), b);
      if (!st.ok()) std::fprintf(stderr, "large put: %s\n", st.ToString().c_str());
      std::printf("seed: 64 MiB multipart upload in %.2f s (%.0f MiB/s)\n", Since(t), 64 / Since(t));
    }
  }

  std::printf("\n== reads on a local miss (tier: GET + verify + local store + read back) vs curl ==\n");
  {
    std::vector<std::string> keys;
    for (auto& d : small_digests) keys.push_back(layout.BlobKey(d));
    double curl_s = CurlGetAll(gw, keys, threads);
    auto rig = MakeRig(client.get(), "read", 4);
    auto t = Clock::now();
    std::atomic<size_t> errors{0};
    ParallelFor(small, threads, [&](size_t i) {
      auto r = rig->tier->OpenRead(small_digests[i]);
      if (!r.ok()) {
        errors++;
        return;
      }
      std::vector<uint8_t> buf(4096);
      if (!(*r)->Read(0, buf).ok()) errors++;
    });
    double tier_s = Since(t);
    S3BlobStore direct(client.get(), layout);
    t = Clock::now();
    ParallelFor(small, threads, [&](size_t i) {
      auto r = direct.OpenRead(small_digests[i]);
      std::vector<uint8_t> buf(4096);
      if (r.ok()) (void)(*r)->Read(0, buf);
    });
    double direct_s = Since(t);
    std::printf("4 KiB x %zu, %d at a time: tier %.0f blobs/s (%.1f MiB/s), S3BlobStore alone %.0f/s, "
                "curl %.0f/s; tier/curl = %.2f (errors %zu)\n",
                small, threads, small / tier_s, small * 4096 / tier_s / 1048576, small / direct_s, small / curl_s,
                curl_s / tier_s, errors.load());
    for (const Digest& d : large_digests) {
      double curl_l = CurlGetAll(gw, {layout.BlobKey(d)}, 1);
      auto tl = Clock::now();
      auto r = rig->tier->OpenRead(d);
      double fetch = Since(tl);
      std::vector<uint8_t> buf(1 << 20);
      uint64_t off = 0;
      while (r.ok() && off < d.size_bytes()) {
        auto n = (*r)->Read(off, buf);
        if (!n.ok() || *n == 0) break;
        off += *n;
      }
      double tier_l = Since(tl);
      auto td = Clock::now();
      auto dr = direct.OpenRead(d);
      uint64_t doff = 0;
      while (dr.ok() && doff < d.size_bytes()) {
        auto n = (*dr)->Read(doff, buf);
        if (!n.ok() || *n == 0) break;
        doff += *n;
      }
      double direct_l = Since(td);
      std::printf("64 MiB: tier %.0f MiB/s (fetch+verify+store %.2f s, then local read), S3BlobStore alone "
                  "%.0f MiB/s, curl %.0f MiB/s; tier/curl = %.2f (read %llu bytes)\n",
                  64 / tier_l, fetch, 64 / direct_l, 64 / curl_l, curl_l / tier_l,
                  static_cast<unsigned long long>(off));
    }
    DestroyRig(std::move(rig));
  }

  std::printf("\n== existence checks of %zu digests (ContainsMany: local index, then HEADs) ==\n", exists);
  {
    auto rig = MakeRig(client.get(), "exists", 4);
    std::vector<Digest> local_d, remote_d;
    for (size_t i = 0; i < exists; i++) {
      std::string b = "local-" + std::to_string(i);
      local_d.push_back(Digest::Of(DigestFunction::kSha256, b));
      (void)PutLocal(*rig->local, local_d.back(), b);
    }
    S3BlobStore direct(client.get(), layout);
    std::vector<std::string> rb(exists);
    for (size_t i = 0; i < exists; i++) {
      rb[i] = "remote-" + std::to_string(i);
      remote_d.push_back(Digest::Of(DigestFunction::kSha256, rb[i]));
    }
    auto ts = Clock::now();
    ParallelFor(exists, threads, [&](size_t i) { (void)PutLocal(direct, remote_d[i], rb[i]); });
    std::printf("(seeded %zu remote objects in %.1f s)\n", exists, Since(ts));
    auto run = [&](const char* what, const std::vector<Digest>& ds) {
      auto t = Clock::now();
      auto res = rig->tier->ContainsMany(ds);
      double s = Since(t);
      size_t present = 0, errs = 0;
      for (auto& r : res) {
        if (!r.ok()) errs++;
        else present += *r;
      }
      std::printf("%-10s %8.0f digests/s (%.3f s, %zu present, %zu errors)\n", what, ds.size() / s, s, present, errs);
    };
    run("all local", local_d);
    run("all remote", remote_d);
    std::vector<Digest> half(local_d.begin(), local_d.begin() + exists / 2);
    half.insert(half.end(), remote_d.begin(), remote_d.begin() + exists / 2);
    run("half/half", half);
    DestroyRig(std::move(rig));
  }

  std::printf("\n== write-back drain rate ==\n");
  for (int workers : {4, 16}) {
    auto rig = MakeRig(client.get(), "drain" + std::to_string(workers), workers);
    uint64_t bytes = 0;
    auto tw = Clock::now();
    for (size_t i = 0; i < drain; i++) {
      std::string b = Bytes(4096, 50000 + i + workers * 100000);
      bytes += b.size();
      (void)PutLocal(*rig->tier, Digest::Of(DigestFunction::kSha256, b), b);
    }
    double write_s = Since(tw);
    uint64_t depth = rig->queue->depth();
    auto t = Clock::now();
    rig->uploader->Start();
    bool empty = rig->queue->WaitEmpty(Clock::now() + std::chrono::minutes(5));
    double s = Since(t);
    std::printf("%d workers: %llu queued 4 KiB blobs drained in %.2f s: %.0f blobs/s, %.1f MiB/s%s "
                "(acknowledged locally at %.0f/s)\n",
                workers, static_cast<unsigned long long>(depth), s, depth / s, bytes / s / 1048576,
                empty ? "" : " (NOT EMPTY)", drain / write_s);
    DestroyRig(std::move(rig));
  }
  {
    auto rig = MakeRig(client.get(), "drainlarge", 4);
    for (int i = 0; i < 4; i++) {
      std::string b = Bytes(32 << 20, 90000 + i);
      (void)PutLocal(*rig->tier, Digest::Of(DigestFunction::kSha256, b), b);
    }
    auto t = Clock::now();
    rig->uploader->Start();
    rig->queue->WaitEmpty(Clock::now() + std::chrono::minutes(5));
    std::printf("4 workers: 4 x 32 MiB blobs (multipart) drained at %.0f MiB/s\n", 128 / Since(t));
    DestroyRig(std::move(rig));
  }
  return 0;
}
