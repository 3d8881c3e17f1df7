// /metrics covers the gRPC front-ends too: the real server, called over
// loopback through REAPI (main listener) and zako (its Transport listener),
// then scraped over HTTP.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <thread>

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "client/zako_client.h"
#include "cycasd_process.h"
#include "digest/digest.h"
#include "google/bytestream/bytestream.grpc.pb.h"
#include "http_conn.h"
#include "raw_grpc.h"

namespace cycas {
namespace {

namespace v2 = build::bazel::remote::execution::v2;

// The value of the sample whose name and labels are exactly `series`; -1 if absent.
double Sample(const std::string& metrics, const std::string& series) {
  std::string key = "\n" + series + " ";
  size_t p = metrics.find(key);
  if (p == std::string::npos) return -1;
  return std::strtod(metrics.c_str() + p + key.size(), nullptr);
}

std::string Calls(const std::string& method, const std::string& code) {
  return "cycas_grpc_requests_total{method=\"" + method + "\",code=\"" + code + "\"}";
}

TEST(MetricsE2ETest, GrpcCallsOfEveryListenerAreCountedByMethodAndCode) {
  testing::CycasdProcess server;
  ASSERT_TRUE(server.Start()) << server.error();
  testing::HttpConn http(server.port("http"));
  auto scrape = [&] {
    auto r = http.Request("GET", "/metrics");
    EXPECT_EQ(r.status, 200) << r.error;
    return "\n" + r.body;
  };
  const std::string caps = "/build.bazel.remote.execution.v2.Capabilities/GetCapabilities";
  const std::string get_ac = "/build.bazel.remote.execution.v2.ActionCache/GetActionResult";
  const std::string write = "/google.bytestream.ByteStream/Write";
  const std::string upload = "/zako.v1.transport.Transport/Upload";
  // Whatever the harness sent while waiting for readiness is the baseline.
  std::string before = scrape();
  auto count = [](const std::string& text, const std::string& series) {
    double v = Sample(text, series);
    return v < 0 ? 0.0 : v;
  };

  auto channel = grpc::CreateChannel(server.address("grpc"), grpc::InsecureChannelCredentials());
  for (int i = 0; i < 2; i++) {
    grpc::ClientContext ctx;
    v2::ServerCapabilities out;
    ASSERT_TRUE(v2::Capabilities::NewStub(channel)
                    ->GetCapabilities(&ctx, v2::GetCapabilitiesRequest(), &out)
                    .ok());
  }
  {
    grpc::ClientContext ctx;
    v2::GetActionResultRequest req;
    req.mutable_action_digest()->set_hash(std::string(64, 'a'));
    req.mutable_action_digest()->set_size_bytes(10);
    v2::ActionResult out;
    EXPECT_EQ(v2::ActionCache::NewStub(channel)->GetActionResult(&ctx, req, &out).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  {
    // Not a WriteRequest: field 1 announced with a length past the end.
    grpc::ClientContext ctx;
    EXPECT_EQ(testing::RawClientStreamingCall(channel, &ctx, write, {std::string("\x0a\x7f", 2)})
                  .error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    client::ClientOptions o;
    o.server = server.address("grpc");
    auto zako = client::ZakoClient::Connect(o);
    ASSERT_TRUE(zako.ok()) << zako.status().message();
    std::string data(5000, 'z');
    Digest d = Digest::Of(DigestFunction::kBlake3, data);
    auto r = (*zako)->Upload(d, [&](uint64_t off, std::span<uint8_t> out) -> Result<size_t> {
      size_t n = std::min<size_t>(out.size(), data.size() - off);
      std::memcpy(out.data(), data.data() + off, n);
      return n;
    });
    ASSERT_TRUE(r.ok()) << r.status().message();
    std::string back;
    ASSERT_TRUE((*zako)
                    ->Download(d, 0, std::nullopt,
                               [&](std::span<const uint8_t> b) {
                                 back.append(reinterpret_cast<const char*>(b.data()), b.size());
                                 return Status();
                               })
                    .ok());
    EXPECT_EQ(back, data);
  }
  {
    // 7 blob bytes in through BatchUpdateBlobs, out through BatchReadBlobs
    // and ByteStream Read.
    auto cas = v2::ContentAddressableStorage::NewStub(channel);
    const std::string blob = "payload";
    v2::Digest d;
    d.set_hash(Digest::Of(DigestFunction::kSha256, blob).hex());
    d.set_size_bytes(static_cast<int64_t>(blob.size()));
    v2::BatchUpdateBlobsRequest up;
    auto* one = up.add_requests();
    *one->mutable_digest() = d;
    one->set_data(blob);
    v2::BatchUpdateBlobsResponse upr;
    grpc::ClientContext c1;
    ASSERT_TRUE(cas->BatchUpdateBlobs(&c1, up, &upr).ok());
    v2::BatchReadBlobsRequest rd;
    *rd.add_digests() = d;
    v2::BatchReadBlobsResponse rdr;
    grpc::ClientContext c2;
    ASSERT_TRUE(cas->BatchReadBlobs(&c2, rd, &rdr).ok());
    ASSERT_EQ(rdr.responses_size(), 1);
    EXPECT_EQ(rdr.responses(0).data(), blob);
    grpc::ClientContext c3;
    google::bytestream::ReadRequest bsr;
    bsr.set_resource_name("blobs/" + d.hash() + "/7");
    auto reader = google::bytestream::ByteStream::NewStub(channel)->Read(&c3, bsr);
    google::bytestream::ReadResponse part;
    std::string got;
    while (reader->Read(&part)) got += part.data();
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(got, blob);
  }

  // Methods nobody registered: one series, whatever names clients invent.
  for (const char* invented : {"/no.Such/Method", "/no.Such/Other", "other"}) {
    grpc::ClientContext ctx;
    EXPECT_EQ(testing::RawUnaryCall(channel, &ctx, invented, "").error_code(),
              grpc::StatusCode::UNIMPLEMENTED);
  }
  {
    // A Write the client gives up on: its deadline passes mid-stream. The
    // handler still ends with a status of its own; the client saw
    // DEADLINE_EXCEEDED, and that is what is counted.
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
    google::bytestream::WriteResponse resp;
    auto w = google::bytestream::ByteStream::NewStub(channel)->Write(&ctx, &resp);
    google::bytestream::WriteRequest req;
    req.set_resource_name("uploads/5b1e3a8c-0000-4000-8000-000000000001/blobs/" +
                          std::string(64, 'b') + "/100");
    req.set_data(std::string(10, 'x'));
    w->Write(req);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    EXPECT_EQ(w->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }

  // The server records a call as its status goes out, which for the abandoned
  // Write may come after the client has given up.
  std::string after;
  for (int i = 0; i < 100; i++) {
    after = scrape();
    if (Sample(after, Calls(write, "DEADLINE_EXCEEDED")) >= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(count(after, Calls(write, "DEADLINE_EXCEEDED")), 1) << after;
  EXPECT_EQ(count(after, Calls(write, "OK")), 0) << after;
  EXPECT_EQ(count(after, Calls("unimplemented", "UNIMPLEMENTED")), 3) << after;
  EXPECT_EQ(after.find("no.Such"), std::string::npos) << after;
  EXPECT_EQ(after.find("method=\"other\""), std::string::npos) << after;
  EXPECT_EQ(count(after, Calls(caps, "OK")) - count(before, Calls(caps, "OK")), 2) << after;
  EXPECT_EQ(count(after, Calls(get_ac, "NOT_FOUND")) - count(before, Calls(get_ac, "NOT_FOUND")), 1)
      << after;
  EXPECT_EQ(count(after, Calls(write, "INVALID_ARGUMENT")), 1) << after;
  // Transport runs on a listener of its own (zako.transport_listen).
  EXPECT_NE(server.port("transport"), server.port("grpc"));
  EXPECT_EQ(count(after, Calls(upload, "OK")), 1) << after;
  const std::string hist = "cycas_grpc_request_duration_seconds";
  EXPECT_EQ(count(after, hist + "_count{method=\"" + caps + "\"}") -
                count(before, hist + "_count{method=\"" + caps + "\"}"),
            2)
      << after;
  EXPECT_EQ(Sample(after, hist + "_bucket{method=\"" + upload + "\",le=\"+Inf\"}"), 1) << after;

  // Blob bytes by front-end: REAPI received the batch's 7 and the abandoned
  // Write's 10, and sent 7 twice; zako moved 5,000 each way.
  EXPECT_EQ(Sample(after, "cycas_grpc_received_bytes_total{service=\"reapi\"}"), 17) << after;
  EXPECT_EQ(Sample(after, "cycas_grpc_sent_bytes_total{service=\"reapi\"}"), 14) << after;
  EXPECT_EQ(Sample(after, "cycas_grpc_received_bytes_total{service=\"zako\"}"), 5000) << after;
  EXPECT_EQ(Sample(after, "cycas_grpc_sent_bytes_total{service=\"zako\"}"), 5000) << after;

  // The upload spool's figures, from the REAPI front-end.
  EXPECT_EQ(Sample(after, "cycas_reapi_uploads_active"), 0) << after;
  EXPECT_EQ(Sample(after, "cycas_reapi_upload_memory_bytes"), 0) << after;
  EXPECT_EQ(Sample(after, "cycas_reapi_upload_memory_limit_bytes"), 256.0 * 1024 * 1024) << after;
  // The abandoned Write's 10 bytes are kept, so that the client can resume.
  EXPECT_EQ(Sample(after, "cycas_reapi_kept_uploads"), 1) << after;
  EXPECT_EQ(Sample(after, "cycas_reapi_kept_upload_bytes"), 10) << after;
  EXPECT_EQ(Sample(after, "cycas_engine_copy_forward_queued"), 0) << after;
  // The page cache served what it held correctly: nothing had to be re-read.
  EXPECT_EQ(Sample(after, "cycas_engine_page_cache_stale_total"), 0) << after;
  EXPECT_GE(Sample(after, "cycas_engine_page_cache_rereads_total"), 0) << after;

  // The status page's rates count the gRPC calls too.
  auto status = http.Request("GET", "/status.json");
  ASSERT_EQ(status.status, 200) << status.error;
  const std::string key = "\"grpc\":{\"calls\":";
  size_t p = status.body.find(key);
  ASSERT_NE(p, std::string::npos) << status.body;
  EXPECT_GE(std::strtoull(status.body.c_str() + p + key.size(), nullptr, 10), 5u) << status.body;
  EXPECT_NE(status.body.find("\"grpc_calls\":"), std::string::npos) << status.body;
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

}  // namespace
}  // namespace cycas
