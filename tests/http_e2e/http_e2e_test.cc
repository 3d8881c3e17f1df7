// End-to-end tests of the HTTP cache interface: the real cycasd on loopback,
// talked to with curl, raw sockets and (when installed) ccache.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "cycasd_process.h"
#include "digest/digest.h"
#include "digest/hex.h"
#include "http_client.h"

namespace cycas {
namespace {

using testing::Curl;
using testing::CurlResponse;
using testing::CycasdProcess;
using testing::FirstStatus;
using testing::RawConnection;
using testing::TempFile;

// Compares byte strings without printing them (blobs are large and binary).
::testing::AssertionResult SameBytes(const std::string& got, const std::string& want) {
  if (got == want) return ::testing::AssertionSuccess();
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) i++;
  return ::testing::AssertionFailure()
         << "got " << got.size() << " bytes, want " << want.size() << "; first difference at " << i
         << "; got starts '" << got.substr(0, 200) << "'";
}

std::string Sha256Hex(std::string_view bytes) {
  return HexEncode(HashOf(DigestFunction::kSha256, bytes));
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string CompressibleText(size_t lines) {
  std::string s;
  for (size_t i = 0; i < lines; i++)
    s += "line " + std::to_string(i % 17) + ": the quick brown fox\n";
  return s;
}

// Files made for one test; removed when it ends.
class Files {
 public:
  ~Files() {
    for (const auto& p : paths_) unlink(p.c_str());
  }
  std::string Make(const std::string& bytes) {
    paths_.push_back(TempFile(bytes));
    return paths_.back();
  }

 private:
  std::vector<std::string> paths_;
};

class HttpE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new CycasdProcess();
    ASSERT_TRUE(server_->Start()) << server_->error();
    ASSERT_GT(server_->port("http"), 0);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  static std::string Url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(server_->port("http")) + path;
  }
  CurlResponse Put(const std::string& path, const std::string& bytes,
                   std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"-X", "PUT", "--data-binary", "@" + files_.Make(bytes)};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(Url(path));
    return Curl(args);
  }
  CurlResponse Get(const std::string& path, std::vector<std::string> extra = {}) {
    extra.push_back(Url(path));
    return Curl(extra);
  }

  static CycasdProcess* server_;
  Files files_;
};

CycasdProcess* HttpE2ETest::server_ = nullptr;

TEST_F(HttpE2ETest, PutThenGetAndHeadReturnTheBlob) {
  std::string blob = RandomBytes(100'000, 1);
  std::string path = "/cas/" + Sha256Hex(blob);
  CurlResponse put = Put(path, blob);
  ASSERT_EQ(put.exit_code, 0) << put.stderr_text;
  EXPECT_EQ(put.status, 201);
  CurlResponse get = Get(path);
  EXPECT_EQ(get.status, 200);
  EXPECT_TRUE(SameBytes(get.body, blob));
  EXPECT_EQ(get.header("etag"), "\"" + Sha256Hex(blob) + "\"");
  EXPECT_EQ(get.header("accept-ranges"), "bytes");
  EXPECT_EQ(get.header("vary"), "Accept-Encoding");
  CurlResponse head = Get(path, {"-I"});
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), "100000");
  EXPECT_LT(head.body.size(), 1000u);  // curl -I writes the headers there; no blob bytes follow
}

TEST_F(HttpE2ETest, MissingBlobIs404) {
  CurlResponse get = Get("/cas/" + Sha256Hex("never uploaded"));
  EXPECT_EQ(get.status, 404);
  EXPECT_NE(get.body.find(Sha256Hex("never uploaded")), std::string::npos) << get.body;
}

TEST_F(HttpE2ETest, EmptyBlobAlwaysExists) {
  CurlResponse get = Get("/cas/" + Sha256Hex(""));
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.header("content-length"), "0");
}

// The value of an unlabelled counter or gauge in /metrics text (-1 if absent).
double MetricValue(const std::string& text, const std::string& name) {
  size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

TEST_F(HttpE2ETest, HashMismatchIs400NamingExpectedAndActual) {
  std::string claimed = Sha256Hex("what the client claims");
  const double docs_before = MetricValue(Get("/metrics").body, "cycas_engine_docs_written_total");
  ASSERT_GE(docs_before, 0);
  CurlResponse put = Put("/cas/" + claimed, "what the client sends");
  EXPECT_EQ(put.status, 400);
  EXPECT_NE(put.body.find(claimed), std::string::npos) << put.body;
  EXPECT_NE(put.body.find(Sha256Hex("what the client sends")), std::string::npos) << put.body;
  EXPECT_EQ(Get("/cas/" + claimed).status, 404);
  // Nothing was written for the rejected bytes: no blob, and no size record
  // (which is queued beside the blob's commit only once the bytes verified).
  EXPECT_EQ(MetricValue(Get("/metrics").body, "cycas_engine_docs_written_total"), docs_before);
}

TEST_F(HttpE2ETest, ChunkedUploadIsVerifiedAndStored) {
  std::string blob = RandomBytes(700'000, 2);  // past the in-memory spool: goes through a file
  std::string path = "/cas/" + Sha256Hex(blob);
  CurlResponse put = Put(path, blob, {"-H", "Transfer-Encoding: chunked"});
  EXPECT_EQ(put.status, 201) << put.body;
  EXPECT_TRUE(SameBytes(Get(path).body, blob));
  CurlResponse bad = Put("/cas/" + Sha256Hex("x"), blob, {"-H", "Transfer-Encoding: chunked"});
  EXPECT_EQ(bad.status, 400);
}

TEST_F(HttpE2ETest, ExistingBlobWithExpectContinueIsAnsweredBeforeTheBody) {
  std::string blob = RandomBytes(5000, 3);
  std::string hex = Sha256Hex(blob);
  ASSERT_EQ(Put("/cas/" + hex, blob).status, 201);
  RawConnection c(server_->port("http"));
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send("PUT /cas/" + hex +
                     " HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                     "Expect: 100-continue\r\n\r\n"));
  std::string got = c.ReadResponses(1, 5000);
  EXPECT_EQ(FirstStatus(got), 204) << got;  // no "100 Continue": the body is never sent
}

TEST_F(HttpE2ETest, NewBlobWithExpectContinueGets100ThenStores) {
  std::string blob = RandomBytes(3000, 4);
  std::string hex = Sha256Hex(blob);
  RawConnection c(server_->port("http"));
  ASSERT_TRUE(c.Send("PUT /cas/" + hex +
                     " HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n"
                     "Expect: 100-continue\r\n\r\n"));
  std::string interim = c.ReadResponses(0, 2000);
  // ReadResponses(0) returns at once; wait for the interim response explicitly.
  for (int i = 0; i < 50 && interim.find("\r\n\r\n") == std::string::npos; i++) {
    interim += c.ReadResponses(1, 100);
  }
  EXPECT_EQ(FirstStatus(interim), 100) << interim;
  ASSERT_TRUE(c.Send(blob));
  std::string final_response = c.ReadResponses(1, 5000);
  EXPECT_NE(final_response.find("HTTP/1.1 201"), std::string::npos) << final_response;
  EXPECT_TRUE(SameBytes(Get("/cas/" + hex).body, blob));
}

TEST_F(HttpE2ETest, ExistingBlobWithoutExpectIsDrainedAndConnectionReused) {
  std::string blob = RandomBytes(20'000, 5);
  std::string hex = Sha256Hex(blob);
  ASSERT_EQ(Put("/cas/" + hex, blob).status, 201);
  RawConnection c(server_->port("http"));
  ASSERT_TRUE(c.Send("PUT /cas/" + hex + " HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n" +
                     blob + "GET /cas/" + hex + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string got = c.ReadResponses(2, 5000);
  EXPECT_EQ(FirstStatus(got), 204);
  size_t second = got.find("HTTP/1.1 200");
  ASSERT_NE(second, std::string::npos) << got.substr(0, 300);
  EXPECT_TRUE(SameBytes(got.substr(got.size() - blob.size()), blob));
}

TEST_F(HttpE2ETest, PipelinedRequestsAreAnsweredInOrder) {
  std::string a = "pipelined a", b = "pipelined bb";
  ASSERT_EQ(Put("/cas/" + Sha256Hex(a), a).status, 201);
  ASSERT_EQ(Put("/cas/" + Sha256Hex(b), b).status, 201);
  RawConnection c(server_->port("http"));
  ASSERT_TRUE(c.Send("GET /cas/" + Sha256Hex(a) + " HTTP/1.1\r\nHost: x\r\n\r\nGET /cas/" +
                     Sha256Hex(b) + " HTTP/1.1\r\nHost: x\r\n\r\nGET /cas/" + Sha256Hex("nope") +
                     " HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string got = c.ReadResponses(3, 5000);
  size_t pa = got.find(a), pb = got.find(b), p404 = got.find("HTTP/1.1 404");
  ASSERT_NE(pa, std::string::npos) << got;
  ASSERT_NE(pb, std::string::npos) << got;
  ASSERT_NE(p404, std::string::npos) << got;
  EXPECT_LT(pa, pb);
  EXPECT_LT(pb, p404);
}

TEST_F(HttpE2ETest, ByteRanges) {
  std::string blob = RandomBytes(1000, 6);
  std::string path = "/cas/" + Sha256Hex(blob);
  ASSERT_EQ(Put(path, blob).status, 201);
  CurlResponse r = Get(path, {"-H", "Range: bytes=10-19"});
  EXPECT_EQ(r.status, 206);
  EXPECT_TRUE(SameBytes(r.body, blob.substr(10, 10)));
  EXPECT_EQ(r.header("content-range"), "bytes 10-19/1000");
  r = Get(path, {"-H", "Range: bytes=-5"});
  EXPECT_EQ(r.status, 206);
  EXPECT_TRUE(SameBytes(r.body, blob.substr(995)));
  r = Get(path, {"-H", "Range: bytes=990-"});
  EXPECT_EQ(r.status, 206);
  EXPECT_TRUE(SameBytes(r.body, blob.substr(990)));
  r = Get(path, {"-H", "Range: bytes=1000-"});
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.header("content-range"), "bytes */1000");
  r = Get(path, {"-H", "Range: bytes=0-1,5-6"});  // multiple ranges: whole blob
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(SameBytes(r.body, blob));
  std::string etag = "\"" + Sha256Hex(blob) + "\"";
  r = Get(path, {"-H", "Range: bytes=0-0", "-H", "If-Range: " + etag});
  EXPECT_EQ(r.status, 206);
  r = Get(path, {"-H", "Range: bytes=0-0", "-H", "If-Range: \"other\""});
  EXPECT_EQ(r.status, 200);
}

TEST_F(HttpE2ETest, IfNoneMatchGives304) {
  std::string blob = "etag me";
  std::string path = "/cas/" + Sha256Hex(blob);
  ASSERT_EQ(Put(path, blob).status, 201);
  CurlResponse r = Get(path, {"-H", "If-None-Match: \"" + Sha256Hex(blob) + "\""});
  EXPECT_EQ(r.status, 304);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.header("etag"), "\"" + Sha256Hex(blob) + "\"");
  r = Get(path, {"-H", "If-None-Match: \"something-else\""});
  EXPECT_EQ(r.status, 200);
}

TEST_F(HttpE2ETest, ZstdAlternateIsServedWhenAccepted) {
  std::string blob = CompressibleText(5000);
  std::string path = "/cas/" + Sha256Hex(blob);
  ASSERT_EQ(Put(path, blob).status, 201);
  for (int round = 0; round < 2; round++) {  // first creates the alternate, second reuses it
    CurlResponse r = Get(path, {"-H", "Accept-Encoding: zstd"});
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.header("content-encoding"), "zstd");
    EXPECT_EQ(r.header("vary"), "Accept-Encoding");
    EXPECT_LT(r.body.size(), blob.size() / 4);
    std::string out(blob.size(), '\0');
    size_t n = ZSTD_decompress(out.data(), out.size(), r.body.data(), r.body.size());
    ASSERT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
    out.resize(n);
    EXPECT_TRUE(SameBytes(out, blob));
  }
  // curl decodes it itself with --compressed.
  CurlResponse c = Get(path, {"--compressed"});
  EXPECT_TRUE(SameBytes(c.body, blob));
  CurlResponse low = Get(path, {"-H", "Accept-Encoding: zstd;q=0.1, identity"});
  EXPECT_EQ(low.header("content-encoding"), "");
  EXPECT_TRUE(SameBytes(low.body, blob));
  std::string noise = RandomBytes(4000, 7);
  ASSERT_EQ(Put("/cas/" + Sha256Hex(noise), noise).status, 201);
  CurlResponse refused =
      Get("/cas/" + Sha256Hex(noise), {"-H", "Accept-Encoding: zstd, identity;q=0"});
  EXPECT_EQ(refused.status, 406);
  CurlResponse plain = Get("/cas/" + Sha256Hex(noise), {"-H", "Accept-Encoding: zstd"});
  EXPECT_EQ(plain.header("content-encoding"), "");
  EXPECT_TRUE(SameBytes(plain.body, noise));
}

TEST_F(HttpE2ETest, ZstdEncodedPutIsDecodedAndVerified) {
  std::string blob = CompressibleText(3000);
  std::string z(ZSTD_compressBound(blob.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), blob.data(), blob.size(), 3));
  std::string path = "/cas/" + Sha256Hex(blob);
  CurlResponse put = Put(path, z, {"-H", "Content-Encoding: zstd"});
  EXPECT_EQ(put.status, 201) << put.body;
  EXPECT_TRUE(SameBytes(Get(path).body, blob));
  CurlResponse bad = Put("/cas/" + Sha256Hex("other"), z, {"-H", "Content-Encoding: zstd"});
  EXPECT_EQ(bad.status, 400);
  CurlResponse truncated = Put("/cas/" + Sha256Hex(blob + "x"), z.substr(0, z.size() / 2),
                               {"-H", "Content-Encoding: zstd"});
  EXPECT_EQ(truncated.status, 400);
  CurlResponse gzip = Put(path, blob, {"-H", "Content-Encoding: gzip"});
  EXPECT_EQ(gzip.status, 415);
}

TEST_F(HttpE2ETest, InstancePrefixAndBlake3Namespace) {
  std::string blob = "namespaced blob";
  std::string b3 = HexEncode(HashOf(DigestFunction::kBlake3, blob));
  EXPECT_EQ(Put("/blake3/cas/" + b3, blob).status, 201);
  EXPECT_TRUE(SameBytes(Get("/blake3/cas/" + b3).body, blob));
  EXPECT_EQ(Get("/cas/" + b3).status, 404);  // a different namespace
  EXPECT_EQ(Put("/blake3/cas/" + Sha256Hex(blob), blob).status,
            400);  // sha256 hash in blake3 namespace
  EXPECT_EQ(Put("/my/instance/cas/" + Sha256Hex(blob), blob).status, 201);
  EXPECT_TRUE(
      SameBytes(Get("/cas/" + Sha256Hex(blob)).body, blob));  // the CAS is shared by instances
}

TEST_F(HttpE2ETest, AcStoresOpaqueValuesLikeCcache) {
  std::string key = Sha256Hex("ccache manifest key");
  std::string value = RandomBytes(3000, 8);
  EXPECT_EQ(Put("/ccache/ac/" + key, value).status, 201);
  CurlResponse r = Get("/ccache/ac/" + key);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(SameBytes(r.body, value));
  EXPECT_EQ(Get("/other/ac/" + key).status, 404);  // instances are separate
  // A newer PUT wins.
  EXPECT_EQ(Put("/ccache/ac/" + key, "v2").status, 201);
  EXPECT_EQ(Get("/ccache/ac/" + key).body, "v2");
  // Large values (ccache results of big objects) are stored too.
  std::string big = RandomBytes(3'000'000, 9);
  EXPECT_EQ(Put("/ccache/ac/" + key, big).status, 201);
  EXPECT_TRUE(SameBytes(Get("/ccache/ac/" + key).body, big));
}

// Builds a serialized ActionResult with one output file (hand-encoded protobuf,
// so the test needs no generated code): field 2 = OutputFile{1: path, 2: Digest{1: hash, 2: size}}.
std::string ActionResultWithOutput(const std::string& hex, uint64_t size) {
  auto varint = [](uint64_t v) {
    std::string s;
    while (v >= 0x80) {
      s += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    s += static_cast<char>(v);
    return s;
  };
  auto field = [&](int number, const std::string& bytes) {
    return varint(static_cast<uint64_t>(number) << 3 | 2) + varint(bytes.size()) + bytes;
  };
  std::string digest = field(1, hex) + varint(2 << 3) + varint(size);
  std::string file = field(1, "out/a.o") + field(2, digest);
  return field(2, file);
}

TEST_F(HttpE2ETest, AcActionResultWithMissingOutputIs404UntilUploaded) {
  std::string output = RandomBytes(1234, 10);
  std::string ar = ActionResultWithOutput(Sha256Hex(output), output.size());
  std::string key = Sha256Hex("action 1");
  EXPECT_EQ(Put("/ac/" + key, ar).status, 201);
  CurlResponse miss = Get("/ac/" + key);
  EXPECT_EQ(miss.status, 404);
  EXPECT_NE(miss.body.find(Sha256Hex(output)), std::string::npos) << miss.body;
  ASSERT_EQ(Put("/cas/" + Sha256Hex(output), output).status, 201);
  CurlResponse hit = Get("/ac/" + key);
  EXPECT_EQ(hit.status, 200);
  EXPECT_TRUE(SameBytes(hit.body, ar));
}

TEST_F(HttpE2ETest, MalformedRequestsGetClearErrors) {
  EXPECT_EQ(Get("/cas/" + std::string(63, 'a') + "A").status, 400);
  EXPECT_EQ(Get("/cas/abc").status, 400);
  EXPECT_EQ(Get("/nothing/here").status, 404);
  EXPECT_EQ(Curl({"-X", "DELETE", Url("/cas/" + Sha256Hex("x"))}).status, 405);
  EXPECT_EQ(Curl({"-X", "PUT", "--data-binary", "x", Url("/metrics")}).status, 405);
  {
    RawConnection c(server_->port("http"));
    ASSERT_TRUE(c.Send("GET /cas/../x HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_EQ(FirstStatus(c.ReadResponses(1)), 400);
  }
  {
    RawConnection c(server_->port("http"));
    ASSERT_TRUE(c.Send("THIS IS NOT HTTP\r\n\r\n"));
    std::string got;
    c.WaitClosed(5000, &got);
    EXPECT_EQ(FirstStatus(got), 400) << got;
  }
  {
    RawConnection c(server_->port("http"));
    ASSERT_TRUE(c.Send("GET /cas/x HTTP/1.1\r\nBad Header\r\n\r\n"));
    std::string got;
    c.WaitClosed(5000, &got);
    EXPECT_EQ(FirstStatus(got), 400) << got;
  }
  {
    // A body cut short by the client: nothing is stored.
    std::string blob = RandomBytes(1000, 11);
    RawConnection c(server_->port("http"));
    ASSERT_TRUE(c.Send("PUT /cas/" + Sha256Hex(blob) +
                       " HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" +
                       blob.substr(0, 500)));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(Get("/cas/" + Sha256Hex(RandomBytes(1000, 11))).status, 404);
}

TEST_F(HttpE2ETest, KeyValueNamespaceStoresOpaqueValues) {
  std::string value = RandomBytes(2000, 14);
  EXPECT_EQ(Put("/ccache/ab/cdef0123456789", value).status, 201);
  CurlResponse r = Get("/ccache/ab/cdef0123456789");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(SameBytes(r.body, value));
  EXPECT_EQ(Get("/ccache/ab/other").status, 404);
  EXPECT_EQ(Get("/sccache/ab/cdef0123456789").status, 404);  // namespaces are separate
  EXPECT_EQ(Get("/ccache/ab/../x", {"--path-as-is"}).status, 400);
  std::string big = RandomBytes(1'500'000, 15);
  EXPECT_EQ(Put("/ccache/big", big, {"-H", "Transfer-Encoding: chunked"}).status, 201);
  EXPECT_TRUE(SameBytes(Get("/ccache/big").body, big));
  EXPECT_EQ(Get("/ccache/big", {"-H", "Range: bytes=-10"}).body, big.substr(big.size() - 10));
  EXPECT_EQ(Curl({"-X", "DELETE", Url("/ccache/big")}).status, 204);
  EXPECT_EQ(Get("/ccache/big").status, 404);
}

TEST_F(HttpE2ETest, WebDavMethodsForSccache) {
  CurlResponse options = Curl({"-X", "OPTIONS", Url("/sccache/")});
  EXPECT_EQ(options.status, 200);
  EXPECT_EQ(options.header("dav"), "1");
  EXPECT_EQ(Curl({"-X", "MKCOL", Url("/sccache/a/")}).status, 201);
  EXPECT_EQ(Curl({"-X", "MKCOL", Url("/sccache/a/b/")}).status, 201);
  CurlResponse dir = Curl({"-X", "PROPFIND", "-H", "Depth: 0", Url("/sccache/a/")});
  EXPECT_EQ(dir.status, 207);
  EXPECT_NE(dir.body.find("<D:collection/>"), std::string::npos) << dir.body;
  EXPECT_EQ(Curl({"-X", "PROPFIND", "-H", "Depth: 0", Url("/sccache/.sccache_check")}).status, 404);
  EXPECT_EQ(Put("/sccache/.sccache_check", "Hello, World!").status, 201);
  CurlResponse file = Curl({"-X", "PROPFIND", "-H", "Depth: 0", Url("/sccache/.sccache_check")});
  EXPECT_EQ(file.status, 207);
  EXPECT_NE(file.body.find("<D:getcontentlength>13</D:getcontentlength>"), std::string::npos)
      << file.body;
  EXPECT_EQ(Get("/sccache/.sccache_check").body, "Hello, World!");
  EXPECT_EQ(Curl({"-X", "PATCH", Url("/sccache/x")}).status, 405);
}

bool LooksLikePrometheusText(const std::string& text, std::string* bad_line) {
  static const std::regex sample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? [-+0-9.eEInfa]+$)");
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    if (!std::regex_match(line, sample)) {
      *bad_line = line;
      return false;
    }
  }
  return true;
}

TEST_F(HttpE2ETest, MetricsAreValidPrometheusText) {
  Get("/cas/" + Sha256Hex("metrics miss"));
  CurlResponse m = Get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.header("content-type").find("text/plain"), std::string::npos);
  std::string bad;
  EXPECT_TRUE(LooksLikePrometheusText(m.body, &bad)) << bad;
  for (const char* name :
       {"cycas_http_requests_total{endpoint=\"cas\",method=\"GET\",code=\"404\"}",
        "cycas_http_request_duration_seconds_bucket", "cycas_http_cache_misses_total",
        "cycas_http_received_bytes_total", "cycas_engine_objects", "cycas_stripe_cursor_sectors",
        "cycas_tier_hits_total{tier=\"ram\"}", "cycas_engine_validation_failures_total",
        "cycas_engine_converted_bytes_total", "cycas_engine_convert_seconds_total"}) {
    EXPECT_NE(m.body.find(name), std::string::npos) << name;
  }
}

TEST_F(HttpE2ETest, StatusPageAndJson) {
  CurlResponse html = Get("/status");
  ASSERT_EQ(html.status, 200);
  EXPECT_NE(html.header("content-type").find("text/html"), std::string::npos);
  EXPECT_NE(html.body.find("<html"), std::string::npos);
  EXPECT_NE(html.body.find("status.json"), std::string::npos);
  EXPECT_EQ(html.body.find("src=\"http"), std::string::npos);  // no external assets
  EXPECT_EQ(html.body.find("href=\"http"), std::string::npos);
  CurlResponse json = Get("/status.json");
  ASSERT_EQ(json.status, 200);
  for (const char* key : {"\"uptime_seconds\"", "\"hit_ratio\"", "\"stripes\"", "\"cursor\"",
                          "\"history\"", "\"ram\"", "\"codes\""}) {
    EXPECT_NE(json.body.find(key), std::string::npos) << key << " in " << json.body;
  }
}

// Servers with their own configuration.

TEST(HttpE2EConfigTest, StrictModeRefusesOpaqueAcValues) {
  CycasdProcess server({"http.ac_strict=true"});
  ASSERT_TRUE(server.Start()) << server.error();
  std::string url =
      "http://127.0.0.1:" + std::to_string(server.port("http")) + "/ac/" + Sha256Hex("k");
  Files files;
  CurlResponse r =
      Curl({"-X", "PUT", "--data-binary", "@" + files.Make("\xff\xff\xff not a proto"), url});
  EXPECT_EQ(r.status, 400) << r.body;
  r = Curl({"-X", "PUT", "--data-binary",
            "@" + files.Make(ActionResultWithOutput(Sha256Hex(""), 0)), url});
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST(HttpE2EConfigTest, LimitsAnswer413And431And408) {
  CycasdProcess server({"http.max_header_size=1KiB", "http.max_body_size=4KiB",
                        "http.idle_timeout=400ms", "http.slow_client_timeout=400ms"});
  ASSERT_TRUE(server.Start()) << server.error();
  int port = server.port("http");
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  Files files;
  std::string big = RandomBytes(5000, 12);
  // Content-Length over the limit: refused before the body.
  CurlResponse r =
      Curl({"-X", "PUT", "--data-binary", "@" + files.Make(big), base + "/cas/" + Sha256Hex(big)});
  EXPECT_EQ(r.status, 413);
  // Chunked body over the limit: refused when it passes the limit.
  r = Curl({"-X", "PUT", "-H", "Transfer-Encoding: chunked", "--data-binary", "@" + files.Make(big),
            base + "/cas/" + Sha256Hex(big)});
  EXPECT_EQ(r.status, 413);
  r = Curl({"-H", "X-Big: " + std::string(2000, 'h'), base + "/cas/" + Sha256Hex("x")});
  EXPECT_EQ(r.status, 431);
  {
    // A header that never finishes.
    RawConnection c(port);
    ASSERT_TRUE(c.Send("GET /cas/" + Sha256Hex("x") + " HTTP/1.1\r\nHost: x\r\n"));
    std::string got;
    EXPECT_TRUE(c.WaitClosed(5000, &got));
    EXPECT_EQ(FirstStatus(got), 408) << got;
  }
  {
    // A body that stalls.
    RawConnection c(port);
    ASSERT_TRUE(c.Send("PUT /cas/" + Sha256Hex("x") +
                       " HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123"));
    std::string got;
    EXPECT_TRUE(c.WaitClosed(5000, &got));
    EXPECT_EQ(FirstStatus(got), 408) << got;
  }
  {
    // An idle keep-alive connection is closed without a response.
    RawConnection c(port);
    std::string got;
    EXPECT_TRUE(c.WaitClosed(5000, &got));
    EXPECT_TRUE(got.empty()) << got;
  }
}

// Many connections upload one blob at once, each pausing mid-body, on a server
// with fewer threads than uploads: none may block a thread on another's
// unfinished upload (which would starve it), and all succeed.
TEST(HttpE2EConfigTest, ConcurrentUploadsOfOneBlobDoNotStarveEachOther) {
  CycasdProcess server({"http.threads=2", "cas.single_flight_wait=20s"});
  ASSERT_TRUE(server.Start()) << server.error();
  std::string blob = RandomBytes(10'000, 30);
  std::string head =
      "PUT /cas/" + Sha256Hex(blob) + " HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n";
  std::vector<std::unique_ptr<RawConnection>> conns;
  for (int i = 0; i < 8; i++) {
    conns.push_back(std::make_unique<RawConnection>(server.port("http")));
    ASSERT_TRUE(conns.back()->Send(head + blob.substr(0, 5000)));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto start = std::chrono::steady_clock::now();
  for (auto& c : conns) ASSERT_TRUE(c->Send(blob.substr(5000)));
  int created = 0;
  for (auto& c : conns) {
    int code = FirstStatus(c->ReadResponses(1, 10'000));
    EXPECT_TRUE(code == 201 || code == 204) << code;
    created += code == 201;
  }
  EXPECT_EQ(created, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(SameBytes(
      Curl({"http://127.0.0.1:" + std::to_string(server.port("http")) + "/cas/" + Sha256Hex(blob)})
          .body,
      blob));
}

TEST(HttpE2EConfigTest, EmptyListenDisablesHttp) {
  CycasdProcess server({"http.listen="});
  ASSERT_TRUE(server.Start()) << server.error();
  EXPECT_EQ(server.port("http"), 0);
  EXPECT_GT(server.port("grpc"), 0);
}

TEST(HttpE2EConfigTest, BlobsSurviveARestart) {
  CycasdProcess server;
  ASSERT_TRUE(server.Start()) << server.error();
  Files files;
  std::string blob = RandomBytes(50'000, 13);
  auto url = [&] {
    return "http://127.0.0.1:" + std::to_string(server.port("http")) + "/cas/" + Sha256Hex(blob);
  };
  ASSERT_EQ(Curl({"-X", "PUT", "--data-binary", "@" + files.Make(blob), url()}).status, 201);
  ASSERT_EQ(server.Stop(), 0) << server.log();
  ASSERT_TRUE(server.Start()) << server.error();
  CurlResponse r = Curl({url()});
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(SameBytes(r.body, blob));
}

// A blob that stays in use over HTTP is copied forward as the ring wraps, and
// so is its size record (which the protocol needs to name it): after several
// wraps and a restart, which empties the in-memory size cache, it is still
// served. Before HttpCache::KeepSize the record was overwritten while the size
// was served from memory, and this GET answered 404.
TEST(HttpE2EConfigTest, BlobReadThroughWrapsIsStillServedAfterARestart) {
  CycasdProcess server(
      {"engine.size=32MiB", "engine.stripes=1", "engine.copy_forward_fraction=25"});
  ASSERT_TRUE(server.Start()) << server.error();
  Files files;
  auto url_of = [&](const std::string& blob) {
    std::string url = "http://127.0.0.1:";
    url.append(std::to_string(server.port("http"))).append("/cas/").append(Sha256Hex(blob));
    return url;
  };
  std::string hot = RandomBytes(50'000, 31);
  ASSERT_EQ(Curl({"-X", "PUT", "--data-binary", "@" + files.Make(hot), url_of(hot)}).status, 201);
  // ~96 MiB of other blobs through a ~28 MiB ring, reading the hot one between.
  for (int i = 0; i < 48; i++) {
    std::string filler = RandomBytes(2'000'000, 1000 + i);
    std::string file = files.Make(filler);
    ASSERT_EQ(Curl({"-X", "PUT", "--data-binary", "@" + file, url_of(filler)}).status, 201) << i;
    ASSERT_EQ(Curl({url_of(hot)}).status, 200) << i;
  }
  std::string first_filler = RandomBytes(2'000'000, 1000);
  EXPECT_EQ(Curl({url_of(first_filler)}).status, 404);  // the ring did wrap
  ASSERT_EQ(server.Stop(), 0) << server.log();
  ASSERT_TRUE(server.Start()) << server.error();
  CurlResponse r = Curl({url_of(hot)});
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(SameBytes(r.body, hot));
}

// The status page rendered by a real browser (headless Chromium) shows the
// figures /status.json reports; a screenshot is kept as a test artifact
// (status_page.png in the test's working directory).
TEST(HttpE2EBrowserTest, StatusPageShowsTheFiguresOfStatusJson) {
  std::string out;
  std::string browser;
  for (const char* b : {"chromium", "chromium-browser"}) {
    if (testing::RunCommand({b, "--version"}, {}, &out) == 0) {
      browser = b;
      break;
    }
  }
  if (browser.empty()) GTEST_SKIP() << "chromium not installed";
  CycasdProcess server;
  ASSERT_TRUE(server.Start()) << server.error();
  std::string base = "http://127.0.0.1:" + std::to_string(server.port("http"));
  Files files;
  for (int i = 0; i < 3; i++) {
    std::string blob = RandomBytes(3000 + i, 20 + i);
    ASSERT_EQ(Curl({"-X", "PUT", "--data-binary", "@" + files.Make(blob),
                    base + "/cas/" + Sha256Hex(blob)})
                  .status,
              201);
    ASSERT_EQ(Curl({base + "/cas/" + Sha256Hex(blob)}).status, 200);
  }
  ASSERT_EQ(Curl({base + "/cas/" + Sha256Hex("absent")}).status, 404);  // hit ratio 3/4
  CurlResponse json = Curl({base + "/status.json"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(json.body, m, std::regex(R"re("objects":(\d+))re"))) << json.body;
  std::string objects = m[1];
  EXPECT_NE(json.body.find("\"hit_ratio\":0.7500"), std::string::npos) << json.body;

  std::vector<std::string> flags = {browser,
                                    "--headless",
                                    "--no-sandbox",
                                    "--disable-gpu",
                                    "--disable-background-networking",
                                    "--window-size=1280,900",
                                    "--virtual-time-budget=3000"};
  std::vector<std::string> env = {"HOME=" + server.data_dir()};
  std::vector<std::string> dump = flags;
  dump.push_back("--dump-dom");
  dump.push_back(base + "/status");
  ASSERT_EQ(testing::RunCommand(dump, env, &out), 0) << out;
  EXPECT_NE(out.find("id=\"hitratio\">75.0%<"), std::string::npos) << out;
  EXPECT_NE(out.find("<span>objects</span><span>" + objects + "</span>"), std::string::npos) << out;
  EXPECT_NE(out.find(" HTTP requests \u00b7 0 gRPC calls"), std::string::npos) << out;
  EXPECT_NE(out.find("stripe 0 "), std::string::npos) << out;
  EXPECT_NE(out.find("stripe 1 "), std::string::npos) << out;
  EXPECT_EQ(out.find("stripe 2 "), std::string::npos) << out;  // the test server has two stripes

  std::string png = std::filesystem::absolute("status_page.png").string();
  std::filesystem::remove(png);
  std::vector<std::string> shot = flags;
  shot.push_back("--screenshot=" + png);
  shot.push_back(base + "/status");
  ASSERT_EQ(testing::RunCommand(shot, env, &out), 0) << out;
  ASSERT_TRUE(std::filesystem::exists(png)) << out;
  EXPECT_GT(std::filesystem::file_size(png), 10'000u);
}

// ccache 4.x with cycas as its only (remote) storage, in each of its HTTP
// layouts: the second compile of a set of files from an empty local cache is
// all remote hits.
class HttpE2ECcacheTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HttpE2ECcacheTest, SecondCompileIsAllRemoteHits) {
  std::string out;
  if (testing::RunCommand({"ccache", "--version"}, {}, &out) != 0)
    GTEST_SKIP() << "ccache not installed";
  if (testing::RunCommand({"cc", "--version"}, {}, &out) != 0) GTEST_SKIP() << "no C compiler";
  CycasdProcess server;
  ASSERT_TRUE(server.Start()) << server.error();
  std::string dir = server.data_dir() + "/ccache-work";
  std::filesystem::create_directories(dir);
  const int kFiles = 3;
  for (int i = 0; i < kFiles; i++) {
    std::ofstream src(dir + "/f" + std::to_string(i) + ".c");
    src << "int answer" << i << "(void) { return " << 40 + i << "; }\n";
  }
  std::string remote =
      "http://127.0.0.1:" + std::to_string(server.port("http")) + "/ccache" + GetParam();
  std::vector<std::string> env = {
      "CCACHE_DIR=" + dir + "/cache", "CCACHE_REMOTE_STORAGE=" + remote,
      "CCACHE_REMOTE_ONLY=1",         "CCACHE_CONFIGPATH=" + dir + "/ccache.conf",
      "CCACHE_NOHASHDIR=1",           "CCACHE_BASEDIR=" + dir};
  auto compile_all = [&] {
    for (int i = 0; i < kFiles; i++) {
      std::string f = dir + "/f" + std::to_string(i);
      if (testing::RunCommand({"ccache", "cc", "-c", f + ".c", "-o", f + ".o"}, env, &out) != 0)
        return false;
    }
    return true;
  };
  ASSERT_TRUE(compile_all()) << out;
  ASSERT_EQ(testing::RunCommand({"ccache", "--zero-stats"}, env, &out), 0) << out;
  std::filesystem::remove_all(dir +
                              "/cache");  // nothing local survives (remote_only keeps none anyway)
  for (int i = 0; i < kFiles; i++) std::filesystem::remove(dir + "/f" + std::to_string(i) + ".o");
  ASSERT_TRUE(compile_all()) << out;
  ASSERT_EQ(testing::RunCommand({"ccache", "--print-stats"}, env, &out), 0) << out;
  auto stat = [&](const std::string& name) {
    std::smatch m;
    std::regex re("(^|\\n)" + name + "\\s+(\\d+)");
    return std::regex_search(out, m, re) ? std::stoi(m[2]) : -1;
  };
  EXPECT_EQ(stat("remote_storage_hit"), kFiles) << out;
  EXPECT_EQ(stat("remote_storage_error"), 0) << out;
  EXPECT_EQ(stat("cache_miss"), 0) << out;
  for (int i = 0; i < kFiles; i++)
    EXPECT_TRUE(std::filesystem::exists(dir + "/f" + std::to_string(i) + ".o"));
}

INSTANTIATE_TEST_SUITE_P(Layouts, HttpE2ECcacheTest,
                         ::testing::Values("|layout=bazel", "", "|layout=flat"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           if (info.param.empty()) return std::string("subdirs");
                           return info.param.substr(info.param.find('=') + 1);
                         });

}  // namespace
}  // namespace cycas
