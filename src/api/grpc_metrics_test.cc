#include "api/grpc_metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace cycas::api {
namespace {

using grpc::StatusCode;
using std::chrono::microseconds;

std::string Render(const GrpcMetrics& m) {
  std::string out;
  m.RenderPrometheus(out);
  return out;
}

bool Has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(GrpcMetricsTest, CountsCallsByMethodAndCodeWithTheirLatency) {
  GrpcMetrics m;
  // Distinct arrays: a name is found by its text, not only by its pointer.
  static const char kRead[] = "/google.bytestream.ByteStream/Read";
  static const char kReadCopy[] = "/google.bytestream.ByteStream/Read";
  m.Record(kRead, StatusCode::OK, microseconds(50));
  m.Record(kReadCopy, StatusCode::OK, microseconds(2000));
  m.Record(kRead, StatusCode::NOT_FOUND, std::chrono::seconds(60));
  EXPECT_EQ(m.Calls(kRead, StatusCode::OK), 2u);
  EXPECT_EQ(m.Calls(kRead, StatusCode::NOT_FOUND), 1u);
  EXPECT_EQ(m.Calls(kRead, StatusCode::INTERNAL), 0u);

  std::string text = Render(m);
  EXPECT_TRUE(Has(text,
                  "cycas_grpc_requests_total{method=\"/google.bytestream.ByteStream/"
                  "Read\",code=\"OK\"} 2"))
      << text;
  EXPECT_TRUE(Has(text,
                  "cycas_grpc_requests_total{method=\"/google.bytestream.ByteStream/"
                  "Read\",code=\"NOT_FOUND\"} 1"))
      << text;
  // 50 µs falls in the first bucket, 2 ms in the 2.5 ms one, 60 s only in +Inf.
  const std::string h = "cycas_grpc_request_duration_seconds";
  const std::string l = "method=\"/google.bytestream.ByteStream/Read\"";
  EXPECT_TRUE(Has(text, h + "_bucket{" + l + ",le=\"0.0001\"} 1")) << text;
  EXPECT_TRUE(Has(text, h + "_bucket{" + l + ",le=\"0.001\"} 1")) << text;
  EXPECT_TRUE(Has(text, h + "_bucket{" + l + ",le=\"0.0025\"} 2")) << text;
  EXPECT_TRUE(Has(text, h + "_bucket{" + l + ",le=\"30\"} 2")) << text;
  EXPECT_TRUE(Has(text, h + "_bucket{" + l + ",le=\"+Inf\"} 3")) << text;
  EXPECT_TRUE(Has(text, h + "_count{" + l + "} 3")) << text;
  EXPECT_TRUE(Has(text, h + "_sum{" + l + "} 60.002050000")) << text;
  EXPECT_NE(text.find("# TYPE cycas_grpc_requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE " + h + " histogram\n"), std::string::npos);
}

TEST(GrpcMetricsTest, ClientChosenNamesCannotBreakTheTextOrGrowWithoutBound) {
  GrpcMetrics m;
  // A quote, a newline and a space would end the label or the line: they
  // become '_', and names that then look alike are one series.
  m.Record("/evil\"}\n x", StatusCode::UNIMPLEMENTED, microseconds(1));
  m.Record("/a b", StatusCode::UNIMPLEMENTED, microseconds(1));
  m.Record("/a_b", StatusCode::UNIMPLEMENTED, microseconds(1));
  m.Record(nullptr, StatusCode::UNKNOWN, microseconds(1));
  m.Record("other", StatusCode::UNIMPLEMENTED, microseconds(1));  // not the overflow's label
  std::string text = Render(m);
  EXPECT_TRUE(Has(text, "cycas_grpc_requests_total{method=\"_other\",code=\"UNIMPLEMENTED\"} 1"))
      << text;
  EXPECT_TRUE(
      Has(text, "cycas_grpc_requests_total{method=\"/evil____x\",code=\"UNIMPLEMENTED\"} 1"))
      << text;
  EXPECT_TRUE(Has(text, "cycas_grpc_requests_total{method=\"/a_b\",code=\"UNIMPLEMENTED\"} 2"))
      << text;

  // Past kMaxMethods distinct names, calls go to "other".
  std::vector<std::string> names;
  for (size_t i = 0; i < GrpcMetrics::kMaxMethods + 10; i++)
    names.push_back("/m" + std::to_string(i));
  for (const auto& n : names) m.Record(n.c_str(), StatusCode::OK, microseconds(1));
  text = Render(m);
  size_t series = 0;
  for (size_t p = 0; (p = text.find("\ncycas_grpc_requests_total{", p)) != std::string::npos; p++)
    series++;
  EXPECT_LE(series, GrpcMetrics::kMaxMethods + 2);  // + "other" with two codes
  EXPECT_TRUE(Has(text, "cycas_grpc_requests_total{method=\"other\",code=\"OK\"} 13")) << text;
  EXPECT_TRUE(Has(text, "cycas_grpc_requests_total{method=\"other\",code=\"UNKNOWN\"} 1")) << text;
}

TEST(GrpcMetricsTest, PayloadBytesAreRenderedPerFrontEnd) {
  GrpcMetrics m;
  m.payload(GrpcMetrics::FrontEnd::kReapi).AddReceived(100);
  m.payload(GrpcMetrics::FrontEnd::kReapi).AddSent(7);
  m.payload(GrpcMetrics::FrontEnd::kZako).AddSent(5);
  std::string text = Render(m);
  EXPECT_TRUE(Has(text, "cycas_grpc_received_bytes_total{service=\"reapi\"} 100")) << text;
  EXPECT_TRUE(Has(text, "cycas_grpc_received_bytes_total{service=\"zako\"} 0")) << text;
  EXPECT_TRUE(Has(text, "cycas_grpc_sent_bytes_total{service=\"reapi\"} 7")) << text;
  EXPECT_TRUE(Has(text, "cycas_grpc_sent_bytes_total{service=\"zako\"} 5")) << text;
  EXPECT_NE(text.find("# TYPE cycas_grpc_sent_bytes_total counter\n"), std::string::npos);
}

TEST(GrpcMetricsTest, ConcurrentCallsAreAllCounted) {
  GrpcMetrics m;
  static const char* const kMethods[] = {"/a.S/One", "/a.S/Two", "/a.S/Three"};
  constexpr int kThreads = 4, kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; i++)
        m.Record(kMethods[i % 3], i % 2 ? StatusCode::OK : StatusCode::CANCELLED, microseconds(i));
    });
  }
  for (auto& t : threads) t.join();
  uint64_t total = 0;
  for (const char* method : kMethods)
    total += m.Calls(method, StatusCode::OK) + m.Calls(method, StatusCode::CANCELLED);
  EXPECT_EQ(total, static_cast<uint64_t>(kThreads) * kPerThread);
}

}  // namespace
}  // namespace cycas::api
