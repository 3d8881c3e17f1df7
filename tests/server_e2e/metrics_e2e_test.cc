// /metrics covers the gRPC front-ends too: the real server, called over
// loopback through REAPI (main listener) and zako (its Transport listener),
// then scraped over HTTP.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "client/zako_client.h"
#include "cycasd_process.h"
#include "digest/digest.h"
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
  }

  std::string after = scrape();
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

  // The upload spool's figures, from the REAPI front-end.
  EXPECT_EQ(Sample(after, "cycas_reapi_uploads_active"), 0) << after;
  EXPECT_EQ(Sample(after, "cycas_reapi_upload_memory_bytes"), 0) << after;
  EXPECT_EQ(Sample(after, "cycas_reapi_upload_memory_limit_bytes"), 256.0 * 1024 * 1024) << after;
  EXPECT_EQ(Sample(after, "cycas_reapi_kept_uploads"), 0) << after;
  EXPECT_EQ(Sample(after, "cycas_engine_copy_forward_queued"), 0) << after;

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
