// The S3 tier against a real S3 implementation: Debian's Ceph RADOS Gateway,
// bootstrapped on loopback by scripts/ceph-rgw.sh for each test.
//
//  * the bucket as a BlobStore/RecordStore: layout, ranges, multipart, errors;
//  * two cycasd nodes with separate local stores sharing one bucket: what one
//    node stores (zako, REAPI, HTTP) the other serves;
//  * a node killed before its upload queue drained drains it after a restart;
//  * the gateway stopped: local hits work, writes are acknowledged and queued,
//    misses are UNAVAILABLE (never NOT_FOUND); the gateway back: service resumes.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <thread>

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "cas/s3/http_transport.h"
#include "cas/s3/s3_blob_store.h"
#include "cas/s3/s3_client.h"
#include "cas/tiered_blob_store.h"
#include "ceph_gateway.h"
#include "client/zako_client.h"
#include "cycasd_process.h"

namespace cycas::s3 {
namespace {

namespace v2 = build::bazel::remote::execution::v2;
using Clock = std::chrono::steady_clock;
using cycas::testing::CephGateway;
using cycas::testing::CycasdProcess;

constexpr char kBucket[] = "cycas-test";

std::string Bytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

Digest Sha(const std::string& bytes) { return Digest::Of(DigestFunction::kSha256, bytes); }
Digest Blake(const std::string& bytes) { return Digest::Of(DigestFunction::kBlake3, bytes); }

class S3IntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CephGateway::Available()) GTEST_SKIP() << CephGateway::MissingMessage();
    ceph_ = std::make_unique<CephGateway>();
    ASSERT_TRUE(ceph_->Start(kBucket)) << ceph_->error();
    options_.endpoint = ceph_->endpoint();
    options_.region = ceph_->region();
    options_.bucket = kBucket;
    options_.prefix = "t";
    options_.credentials = {ceph_->access_key(), ceph_->secret_key(), "", "test"};
    options_.retries = 1;
    options_.retry_backoff = std::chrono::milliseconds(50);
    options_.retry_backoff_max = std::chrono::milliseconds(500);
    options_.connect_timeout = std::chrono::milliseconds(1000);
    options_.request_timeout = std::chrono::milliseconds(10000);
    options_.stall_timeout = std::chrono::milliseconds(10000);
    options_.multipart_threshold = 8 << 20;
    options_.part_size = 5 << 20;
    auto c = S3Client::Create(options_);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
    http_ = std::move(*HttpTransport::Create({}));
  }

  std::vector<std::string> NodeOptions() const {
    return {"s3.endpoint=" + ceph_->endpoint(), "s3.bucket=" + std::string(kBucket), "s3.prefix=" + options_.prefix,
            "s3.access_key=" + ceph_->access_key(), "s3.secret_key=" + ceph_->secret_key(),
            "s3.retries=1", "s3.retry_backoff=50ms", "s3.retry_backoff_max=500ms", "s3.connect_timeout=1s",
            "s3.request_timeout=10s", "s3.stall_timeout=10s", "s3.existence_cache_ttl=0s"};
  }

  // Waits until the bucket holds `key` (a node's queue drained it).
  bool WaitForObject(const std::string& key, std::chrono::seconds limit = std::chrono::seconds(30)) {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      auto r = client_->Head(key);
      if (r.ok() && r->has_value()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  std::string Key(const Digest& d) const { return ObjectLayout(options_.prefix).BlobKey(d); }

  HttpResponse HttpCall(const std::string& method, const CycasdProcess& node, const std::string& path,
                        std::string_view body = {}) {
    HttpRequest rq;
    rq.method = method;
    rq.url = "http://" + node.address("http") + path;
    rq.body = body;
    rq.timeout = std::chrono::seconds(30);
    return http_->Perform(rq);
  }

  static std::unique_ptr<v2::ContentAddressableStorage::Stub> Cas(const CycasdProcess& node) {
    return v2::ContentAddressableStorage::NewStub(
        grpc::CreateChannel(node.address("grpc"), grpc::InsecureChannelCredentials()));
  }
  static std::unique_ptr<v2::ActionCache::Stub> Ac(const CycasdProcess& node) {
    return v2::ActionCache::NewStub(grpc::CreateChannel(node.address("grpc"), grpc::InsecureChannelCredentials()));
  }
  static v2::Digest Proto(const Digest& d) {
    v2::Digest p;
    p.set_hash(d.hex());
    p.set_size_bytes(static_cast<int64_t>(d.size_bytes()));
    return p;
  }
  // BatchReadBlobs of one blob: the per-blob gRPC code, and the bytes when OK.
  static int BatchRead(const CycasdProcess& node, const Digest& d, std::string* data) {
    v2::BatchReadBlobsRequest rq;
    *rq.add_digests() = Proto(d);
    v2::BatchReadBlobsResponse rs;
    grpc::ClientContext ctx;
    grpc::Status st = Cas(node)->BatchReadBlobs(&ctx, rq, &rs);
    if (!st.ok()) return st.error_code();
    if (rs.responses_size() != 1) return -1;
    if (data) *data = rs.responses(0).data();
    return rs.responses(0).status().code();
  }
  static int BatchUpdate(const CycasdProcess& node, const std::string& bytes) {
    v2::BatchUpdateBlobsRequest rq;
    auto* r = rq.add_requests();
    *r->mutable_digest() = Proto(Sha(bytes));
    r->set_data(bytes);
    v2::BatchUpdateBlobsResponse rs;
    grpc::ClientContext ctx;
    grpc::Status st = Cas(node)->BatchUpdateBlobs(&ctx, rq, &rs);
    if (!st.ok()) return st.error_code();
    return rs.responses_size() == 1 ? rs.responses(0).status().code() : -1;
  }

  std::unique_ptr<CephGateway> ceph_;
  S3Options options_;
  std::unique_ptr<S3Client> client_;
  std::unique_ptr<HttpTransport> http_;
};

TEST_F(S3IntegrationTest, BucketAsBlobStoreRoundTripsRangesAndMultipart) {
  S3BlobStore store(client_.get(), ObjectLayout(options_.prefix), 256 << 10);
  // Small: one PUT; large: a multipart upload of 5 MiB parts.
  for (size_t size : {size_t{0}, size_t{1}, size_t{4096}, size_t{(12 << 20) + 12345}}) {
    std::string bytes = Bytes(size, size);
    Digest d = Sha(bytes);
    EXPECT_FALSE(*store.Contains(d)) << size;
    auto w = store.OpenWrite(d);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    for (size_t off = 0; off < bytes.size(); off += 1 << 20) {
      size_t n = std::min<size_t>(1 << 20, bytes.size() - off);
      ASSERT_TRUE((*w)->Append({reinterpret_cast<const uint8_t*>(bytes.data()) + off, n}).ok());
    }
    ASSERT_TRUE((*w)->Commit().ok()) << size;
    EXPECT_TRUE(*store.Contains(d)) << size;
    EXPECT_EQ(store.OpenWrite(d).status().code(), StatusCode::kAlreadyExists);
    auto r = store.OpenRead(d);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    auto all = ReadWholeBlob(**r);
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    EXPECT_TRUE(*all == bytes) << size;
    if (size > 100) {
      // A read elsewhere continues with a ranged GET.
      std::vector<uint8_t> buf(50);
      auto n = (*r)->Read(size - 60, buf);
      ASSERT_TRUE(n.ok());
      EXPECT_EQ(std::string(reinterpret_cast<char*>(buf.data()), *n), bytes.substr(size - 60, 50));
    }
  }
  // Identity bytes under the documented key, readable by any S3 client.
  std::string plain = "readable by other tools";
  ASSERT_TRUE(client_->Put(Key(Sha(plain)), plain).ok());
  auto got = client_->Get("t/cas/sha256/" + Sha(plain).hex(), 1024);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, plain);
}

TEST_F(S3IntegrationTest, AbsentIsNotFoundAndWrongSizeIsAbsent) {
  S3BlobStore store(client_.get(), ObjectLayout(options_.prefix));
  Digest d = Sha("never stored");
  EXPECT_FALSE(*store.Contains(d));
  EXPECT_EQ(store.OpenRead(d).status().code(), StatusCode::kNotFound);
  // An object whose size differs from its digest's is not that blob.
  ASSERT_TRUE(client_->Put(Key(d), "short").ok());
  EXPECT_FALSE(*store.Contains(d));
  EXPECT_EQ(store.OpenRead(d).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store.Remove(d).ok());
  EXPECT_TRUE(store.Remove(d).ok());  // idempotent
  auto many = store.ContainsMany(std::vector<Digest>{d, Sha("x"), Sha("y")});
  for (auto& r : many) EXPECT_FALSE(*r);
}

TEST_F(S3IntegrationTest, AbortedMultipartLeavesNothing) {
  S3BlobStore store(client_.get(), ObjectLayout(options_.prefix));
  std::string bytes = Bytes(11 << 20, 7);
  Digest d = Sha(bytes);
  auto w = store.OpenWrite(d);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append({reinterpret_cast<const uint8_t*>(bytes.data()), 6 << 20}).ok());  // one part sent
  (*w)->Abort();
  EXPECT_FALSE(*store.Contains(d));
  EXPECT_EQ(client_->Stats().multipart_aborts, 1u);
}

TEST_F(S3IntegrationTest, RecordsUseTheActionCacheLayout) {
  S3RecordStore records(client_.get(), ObjectLayout(options_.prefix));
  Digest action = Sha("action");
  std::string name = "ac/sha256/" + action.hex() + "/6/ci/linux";
  EXPECT_EQ(records.Get(name).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(records.Put(name, "result-bytes").ok());
  EXPECT_EQ(*records.Get(name), "result-bytes");
  EXPECT_EQ(*client_->Get("t/ac/ci/linux/sha256/" + action.hex(), 1024), "result-bytes");
  ASSERT_TRUE(records.Remove(name).ok());
  EXPECT_EQ(records.Get(name).status().code(), StatusCode::kNotFound);
}

TEST_F(S3IntegrationTest, TwoNodesShareOneBucket) {
  CycasdProcess a(NodeOptions()), b(NodeOptions());
  ASSERT_TRUE(a.Start()) << a.error();
  ASSERT_TRUE(b.Start()) << b.error();

  // HTTP (Bazel's layout): PUT on A.
  std::string via_http = Bytes(3000, 1);
  HttpResponse put = HttpCall("PUT", a, "/cas/" + Sha(via_http).hex(), via_http);
  ASSERT_TRUE(put.ok()) << put.status << " " << put.error_text << " " << put.body;
  // REAPI: BatchUpdateBlobs on A.
  std::string via_reapi = Bytes(70000, 2);
  ASSERT_EQ(BatchUpdate(a, via_reapi), 0);
  // zako: Upload (BLAKE3) on A, large enough for several chunks.
  std::string via_zako = Bytes(3 << 20, 3);
  client::ClientOptions zo;
  zo.server = a.address("grpc");
  auto zako = client::ZakoClient::Connect(zo);
  ASSERT_TRUE(zako.ok()) << zako.status().ToString();
  auto up = (*zako)->Upload(Blake(via_zako), [&](uint64_t off, std::span<uint8_t> out) -> Result<size_t> {
    size_t n = std::min<size_t>(out.size(), via_zako.size() - off);
    std::memcpy(out.data(), via_zako.data() + off, n);
    return n;
  });
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  // Action cache (REAPI) on A, referencing the REAPI blob.
  Digest action = Sha("the action");
  v2::UpdateActionResultRequest uar;
  *uar.mutable_action_digest() = Proto(action);
  auto* file = uar.mutable_action_result()->add_output_files();
  file->set_path("out/bin");
  *file->mutable_digest() = Proto(Sha(via_reapi));
  v2::ActionResult stored;
  {
    grpc::ClientContext ctx;
    grpc::Status st = Ac(a)->UpdateActionResult(&ctx, uar, &stored);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }

  // A's write-back queue drains into the bucket...
  ASSERT_TRUE(WaitForObject(Key(Sha(via_http))));
  ASSERT_TRUE(WaitForObject(Key(Sha(via_reapi))));
  ASSERT_TRUE(WaitForObject(Key(Blake(via_zako))));
  ASSERT_TRUE(WaitForObject("t/ac/sha256/" + action.hex()));

  // ... and B, which never saw them, serves them.
  HttpResponse get = HttpCall("GET", b, "/cas/" + Sha(via_http).hex());
  EXPECT_EQ(get.status, 200);
  EXPECT_TRUE(get.body == via_http);
  std::string data;
  EXPECT_EQ(BatchRead(b, Sha(via_reapi), &data), 0);
  EXPECT_TRUE(data == via_reapi);
  client::ClientOptions zb;
  zb.server = b.address("grpc");
  auto zako_b = client::ZakoClient::Connect(zb);
  ASSERT_TRUE(zako_b.ok());
  std::string downloaded;
  Status dl = (*zako_b)->Download(Blake(via_zako), 0, std::nullopt, [&](std::span<const uint8_t> chunk) {
    downloaded.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    return Status::Ok();
  });
  ASSERT_TRUE(dl.ok()) << dl.ToString();
  EXPECT_TRUE(downloaded == via_zako);
  // The action result written on A is visible on B, and complete (its output is in S3).
  v2::GetActionResultRequest gar;
  *gar.mutable_action_digest() = Proto(action);
  v2::ActionResult got;
  {
    grpc::ClientContext ctx;
    grpc::Status st = Ac(b)->GetActionResult(&ctx, gar, &got);
    ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
  }
  EXPECT_EQ(got.output_files(0).digest().hash(), Sha(via_reapi).hex());
  // Absent everywhere: NOT_FOUND / 404.
  EXPECT_EQ(HttpCall("GET", b, "/cas/" + Sha("absent").hex()).status, 404);
  EXPECT_EQ(BatchRead(b, Sha("absent"), nullptr), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(a.Stop(), 0) << a.log();
  EXPECT_EQ(b.Stop(), 0) << b.log();
}

TEST_F(S3IntegrationTest, KilledNodeDrainsItsQueueAfterRestart) {
  CycasdProcess a(NodeOptions());
  ASSERT_TRUE(a.Start()) << a.error();
  // S3 down: uploads are acknowledged locally and wait in the durable queue.
  ASSERT_TRUE(ceph_->StopGateway());
  std::vector<std::string> blobs;
  for (int i = 0; i < 20; i++) {
    blobs.push_back(Bytes(1000 + i * 5000, 100 + i));
    ASSERT_EQ(BatchUpdate(a, blobs.back()), 0) << i;
  }
  a.Kill();  // kill -9 before anything reached S3
  ASSERT_TRUE(ceph_->StartGateway()) << ceph_->error();
  for (const auto& b : blobs) {
    auto r = client_->Head(Key(Sha(b)));
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->has_value());
  }
  ASSERT_TRUE(a.Start()) << a.error();  // same data dir: the journal is replayed
  for (const auto& b : blobs) EXPECT_TRUE(WaitForObject(Key(Sha(b)))) << Sha(b);
  CycasdProcess b(NodeOptions());
  ASSERT_TRUE(b.Start()) << b.error();
  std::string data;
  EXPECT_EQ(BatchRead(b, Sha(blobs[7]), &data), 0);
  EXPECT_TRUE(data == blobs[7]);
  EXPECT_NE(a.log().find("S3 upload queue replayed"), std::string::npos) << a.log();
}

TEST_F(S3IntegrationTest, GatewayDownThenBack) {
  CycasdProcess a(NodeOptions()), b(NodeOptions());
  ASSERT_TRUE(a.Start()) << a.error();
  ASSERT_TRUE(b.Start()) << b.error();
  // Through HTTP (whose layout names blobs by hash only, so the node also
  // shares a hash -> size record) and REAPI.
  std::string cached = Bytes(5000, 11), only_in_s3 = Bytes(6000, 12), reapi_only_in_s3 = Bytes(6500, 15);
  ASSERT_TRUE(HttpCall("PUT", a, "/cas/" + Sha(cached).hex(), cached).ok());
  ASSERT_TRUE(HttpCall("PUT", a, "/cas/" + Sha(only_in_s3).hex(), only_in_s3).ok());
  ASSERT_EQ(BatchUpdate(a, reapi_only_in_s3), 0);
  ASSERT_TRUE(WaitForObject(Key(Sha(cached))));
  ASSERT_TRUE(WaitForObject(Key(Sha(only_in_s3))));
  ASSERT_TRUE(WaitForObject(Key(Sha(reapi_only_in_s3))));
  // B serves `cached` once (now local on B), the others never.
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (HttpCall("GET", b, "/cas/" + Sha(cached).hex()).status != 200 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // A's size record is still queued
  }
  ASSERT_EQ(HttpCall("GET", b, "/cas/" + Sha(cached).hex()).status, 200);

  ASSERT_TRUE(ceph_->StopGateway());
  // Local hits keep working.
  std::string data;
  EXPECT_EQ(BatchRead(b, Sha(cached), &data), 0);
  EXPECT_TRUE(data == cached);
  HttpResponse hit = HttpCall("GET", b, "/cas/" + Sha(cached).hex());
  EXPECT_EQ(hit.status, 200);
  EXPECT_TRUE(hit.body == cached);
  // Misses are "unavailable", never "absent": for blobs in S3 and for one nowhere.
  EXPECT_EQ(BatchRead(b, Sha(reapi_only_in_s3), nullptr), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(BatchRead(b, Sha(only_in_s3), nullptr), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(BatchRead(b, Sha("nowhere"), nullptr), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(HttpCall("GET", b, "/cas/" + Sha(only_in_s3).hex()).status, 503);
  v2::GetActionResultRequest gar;
  *gar.mutable_action_digest() = Proto(Sha("unknown action"));
  v2::ActionResult ar;
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(Ac(b)->GetActionResult(&ctx, gar, &ar).error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  // An update whose completeness cannot be checked is refused as UNAVAILABLE,
  // not FAILED_PRECONDITION "missing": the blob is in S3, S3 is just down.
  {
    v2::UpdateActionResultRequest uar;
    *uar.mutable_action_digest() = Proto(Sha("an action while S3 is down"));
    auto* out = uar.mutable_action_result()->add_output_files();
    out->set_path("out/x");
    *out->mutable_digest() = Proto(Sha(reapi_only_in_s3));
    grpc::ClientContext ctx;
    grpc::Status st = Ac(b)->UpdateActionResult(&ctx, uar, &ar);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  }
  // Writes are acknowledged locally and queued.
  std::string written_during = Bytes(7000, 13), http_during = Bytes(100, 14);
  EXPECT_EQ(BatchUpdate(b, written_during), 0);
  HttpResponse put = HttpCall("PUT", b, "/cas/" + Sha(http_during).hex(), http_during);
  EXPECT_TRUE(put.ok()) << put.status << " " << put.body;
  EXPECT_EQ(BatchRead(b, Sha(written_during), nullptr), 0);
  // Operators see it: /metrics and /status.json report the tier down and the queue.
  HttpResponse metrics = HttpCall("GET", b, "/metrics");
  EXPECT_NE(metrics.body.find("\ncycas_s3_up 0\n"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("\ncycas_s3_upload_queue_depth "), std::string::npos);
  HttpResponse status = HttpCall("GET", b, "/status.json");
  EXPECT_NE(status.body.find(R"("tier_reports":{"s3":{"state":"down")"), std::string::npos) << status.body;

  ASSERT_TRUE(ceph_->StartGateway()) << ceph_->error();
  // Service resumes: the queue drains, and the misses are served.
  EXPECT_TRUE(WaitForObject(Key(Sha(written_during))));
  EXPECT_TRUE(WaitForObject(Key(Sha(http_during))));
  EXPECT_EQ(BatchRead(b, Sha(reapi_only_in_s3), &data), 0);
  EXPECT_TRUE(data == reapi_only_in_s3);
  HttpResponse back = HttpCall("GET", b, "/cas/" + Sha(only_in_s3).hex());
  EXPECT_EQ(back.status, 200);
  EXPECT_TRUE(back.body == only_in_s3);
  EXPECT_EQ(BatchRead(a, Sha(written_during), nullptr), 0);
  EXPECT_EQ(BatchRead(b, Sha("nowhere"), nullptr), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(b.log().find("S3 is unavailable"), std::string::npos);
  metrics = HttpCall("GET", b, "/metrics");
  EXPECT_NE(metrics.body.find("\ncycas_s3_up 1\n"), std::string::npos) << metrics.body;
  status = HttpCall("GET", b, "/status.json");
  EXPECT_NE(status.body.find(R"("tier_reports":{"s3":{"state":"up")"), std::string::npos) << status.body;
}

TEST_F(S3IntegrationTest, NodeRefusesBothRemoteTiers) {
  auto opts = NodeOptions();
  opts.push_back("remote.address=127.0.0.1:1");
  CycasdProcess n(opts);
  EXPECT_FALSE(n.Start(10000));
  EXPECT_NE(n.error().find("remote.address and s3.endpoint"), std::string::npos) << n.error();
}

}  // namespace
}  // namespace cycas::s3
