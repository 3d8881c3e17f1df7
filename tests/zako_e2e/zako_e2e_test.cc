// The zako protocol end to end: the real cycasd on loopback, raw gRPC calls.
// Every error path of NegotiateBlobs, GetTransportDetails and Transport is
// exercised here; the cycas binary is covered by cli_e2e_test.cc and wire
// compatibility with an independent client by python_compat_test.py.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "cycasd_process.h"
#include "zako_test_util.h"

namespace cycas::zako_e2e {
namespace {

using namespace std::chrono_literals;
using testing::CycasdProcess;

// A server plus a connection to it; extra options per test.
class Server {
 public:
  explicit Server(std::vector<std::string> overrides = {}) : proc_(WithDefaults(std::move(overrides))) {}
  bool Start() { return proc_.Start(); }
  CycasdProcess& proc() { return proc_; }
  ZakoConn& conn() {
    if (!conn_) conn_ = std::make_unique<ZakoConn>(proc_.address("grpc"), proc_.address("transport"));
    return *conn_;
  }

 private:
  static std::vector<std::string> WithDefaults(std::vector<std::string> o) {
    o.insert(o.begin(), {"zako.transport_listen=127.0.0.1:0", "http.listen=", "log.level=warn",
                         "server.shutdown_grace=2s"});
    return o;
  }
  CycasdProcess proc_;
  std::unique_ptr<ZakoConn> conn_;
};

#define START(server) ASSERT_TRUE((server).Start()) << (server).proc().error()

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---------------------------------------------------------------------------
// NegotiateBlobs

TEST(NegotiateTest, AnswersMissingInRequestOrderAndSkipsCompleteMessages) {
  Server s;
  START(s);
  auto& c = s.conn();
  std::string a = Bytes(1000, 1), b = Bytes(70'000, 2);
  ASSERT_TRUE(c.Upload(Blake3Of(a), a).status.ok());
  ASSERT_TRUE(c.Upload(Blake3Of(b), b).status.ok());
  Digest x = Blake3Of("x"), y = Blake3Of(Bytes(5, 9)), z = Blake3Of("z");
  auto n = c.Negotiate({{Blake3Of(a), x, Blake3Of(b), y},
                        {Blake3Of(a), Blake3Of(b), Blake3Of("")},  // nothing missing: no response
                        {},                                        // empty: no response
                        {z, z}});
  ASSERT_TRUE(n.status.ok()) << n.status.error_message();
  ASSERT_EQ(n.responses.size(), 2u);
  EXPECT_EQ(n.responses[0], (std::vector<Digest>{x, y}));
  EXPECT_EQ(n.responses[1], (std::vector<Digest>{z, z}));
}

TEST(NegotiateTest, MalformedDigestFailsTheStreamNamingIt) {
  Server s({"cas.max_blob_size=1GiB"});
  START(s);
  auto& c = s.conn();
  zpb::cas::NegotiateBlobsRequest ok, short_hash, no_hash, huge;
  *ok.add_blob_digests() = ToProto(Blake3Of("fine"));
  *short_hash.add_blob_digests() = ToProto(Blake3Of("fine"));
  auto* bad = short_hash.add_blob_digests();
  bad->set_size_bytes(4);
  bad->set_blake3(std::string(31, 'a'));
  no_hash.add_blob_digests()->set_size_bytes(1);
  auto* big = huge.add_blob_digests();
  *big = ToProto(Blake3Of("x"));
  big->set_size_bytes(uint64_t{1} << 40);

  auto n = c.NegotiateRaw({ok, short_hash});
  EXPECT_EQ(n.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(n.status.error_message(), "message 1")) << n.status.error_message();
  EXPECT_TRUE(Contains(n.status.error_message(), "blob_digests[1].blake3")) << n.status.error_message();
  EXPECT_TRUE(Contains(n.status.error_message(), "32 bytes, got 31")) << n.status.error_message();
  EXPECT_EQ(n.responses.size(), 1u);  // the first message was answered before the bad one

  n = c.NegotiateRaw({no_hash});
  EXPECT_EQ(n.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(n.status.error_message(), "blob_digests[0].blake3")) << n.status.error_message();

  n = c.NegotiateRaw({huge});
  EXPECT_EQ(n.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(n.status.error_message(), "blob_digests[0]")) << n.status.error_message();
  EXPECT_TRUE(Contains(n.status.error_message(), "size_bytes")) << n.status.error_message();
}

TEST(NegotiateTest, TwentyThousandDigestsInOneMessage) {
  Server s({"negotiate.io_parallelism=3"});
  START(s);
  auto& c = s.conn();
  std::vector<Digest> present;
  for (int i = 0; i < 50; ++i) {
    std::string b = Bytes(100 + i, 1000 + i);
    ASSERT_TRUE(c.Upload(Blake3Of(b), b).status.ok());
    present.push_back(Blake3Of(b));
  }
  std::vector<Digest> batch, expected;
  for (int i = 0; i < 20'000; ++i) {
    if (i % 7 == 0) {
      batch.push_back(present[i % present.size()]);
    } else {
      Digest d = Blake3Of("absent " + std::to_string(i));
      batch.push_back(d);
      expected.push_back(d);
    }
  }
  auto t0 = std::chrono::steady_clock::now();
  auto n = c.Negotiate({batch});
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(n.status.ok()) << n.status.error_message();
  ASSERT_EQ(n.responses.size(), 1u);
  EXPECT_EQ(n.responses[0], expected);
  EXPECT_LT(took, 20s);
}

TEST(NegotiateTest, ManyMessagesOnOneStream) {
  Server s;
  START(s);
  std::vector<std::vector<Digest>> msgs;
  for (int m = 0; m < 40; ++m) {
    std::vector<Digest> v;
    for (int i = 0; i < 1000; ++i) v.push_back(Blake3Of(std::to_string(m) + "/" + std::to_string(i)));
    msgs.push_back(v);
  }
  auto n = s.conn().Negotiate(msgs);
  ASSERT_TRUE(n.status.ok()) << n.status.error_message();
  ASSERT_EQ(n.responses.size(), msgs.size());
  for (size_t m = 0; m < msgs.size(); ++m) EXPECT_EQ(n.responses[m], msgs[m]);
}

// ---------------------------------------------------------------------------
// GetTransportDetails

grpc::Status Details(ZakoConn& c, const std::vector<int>& protocols, zpb::cas::TransportDetails* out) {
  grpc::ClientContext ctx;
  zpb::cas::GetTransportDetailsRequest req;
  for (int p : protocols) req.add_supported_protocols(static_cast<zpb::net::Protocol>(p));
  return c.cas().GetTransportDetails(&ctx, req, out);
}

TEST(TransportDetailsTest, GrpcClientGetsAddressTokenAndConcurrency) {
  Server s({"zako.recommended_concurrency=3"});
  START(s);
  zpb::cas::TransportDetails d1, d2;
  ASSERT_TRUE(Details(s.conn(), {zpb::net::grpc}, &d1).ok());
  EXPECT_EQ(d1.server_addr().ip().v4(), 0x7f000001u);
  EXPECT_EQ(static_cast<int>(d1.server_addr().port()), s.proc().port("transport"));
  EXPECT_EQ(d1.recommended_concurrency(), 3u);
  EXPECT_GE(d1.auth_token().size(), 32u);  // >= 128 bits in hex
  ASSERT_TRUE(Details(s.conn(), {zpb::net::grpc}, &d2).ok());
  EXPECT_NE(d1.auth_token(), d2.auth_token());
}

TEST(TransportDetailsTest, UnknownProtocolsAreIgnoredButNotEnough) {
  Server s;
  START(s);
  zpb::cas::TransportDetails d;
  EXPECT_TRUE(Details(s.conn(), {7, zpb::net::grpc, 99}, &d).ok());
  grpc::Status st = Details(s.conn(), {7}, &d);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(Contains(st.error_message(), "supports: grpc")) << st.error_message();
  st = Details(s.conn(), {}, &d);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST(TransportDetailsTest, AdvertisedAddressFromConfig) {
  Server s({"zako.advertise_address=10.1.2.3:999"});
  START(s);
  zpb::cas::TransportDetails d;
  ASSERT_TRUE(Details(s.conn(), {0}, &d).ok());
  EXPECT_EQ(d.server_addr().ip().v4(), 0x0a010203u);
  EXPECT_EQ(d.server_addr().port(), 999u);
}

TEST(TransportDetailsTest, Ipv6ListenerIsAdvertisedAsSixteenBytes) {
  Server s({"zako.transport_listen=[::1]:0"});
  if (!s.Start()) GTEST_SKIP() << "no IPv6 loopback here: " << s.proc().error();
  zpb::cas::TransportDetails d;
  ASSERT_TRUE(Details(s.conn(), {0}, &d).ok());
  ASSERT_EQ(d.server_addr().ip().v6().size(), 16u);
  in6_addr loop = IN6ADDR_LOOPBACK_INIT;
  EXPECT_EQ(d.server_addr().ip().v6(), std::string(reinterpret_cast<char*>(loop.s6_addr), 16));
}

TEST(TransportDetailsTest, TransportOnTheMainPortWhenConfiguredEmpty) {
  Server s({"zako.transport_listen="});
  START(s);
  EXPECT_EQ(s.proc().port("transport"), s.proc().port("grpc"));
  ZakoConn c(s.proc().address("grpc"), s.proc().address("grpc"));
  std::string data = Bytes(3000, 3);
  ASSERT_TRUE(c.Upload(Blake3Of(data), data).status.ok());
  EXPECT_EQ(c.Download(Blake3Of(data)).data, data);
}

TEST(TransportDetailsTest, WildcardListenerNeedsAnAdvertisedAddress) {
  Server s({"zako.transport_listen=0.0.0.0:0"});
  EXPECT_FALSE(s.Start());
  EXPECT_TRUE(Contains(s.proc().error(), "zako.advertise_address")) << s.proc().error();
}

// ---------------------------------------------------------------------------
// Transport: authorization

TEST(TransportAuthTest, EveryCallNeedsALiveBearerToken) {
  Server s;
  START(s);
  auto& c = s.conn();
  std::string data = Bytes(100, 4);
  Digest d = Blake3Of(data);
  for (std::optional<std::string> auth :
       {std::optional<std::string>(), std::optional<std::string>("Bearer nope"),
        std::optional<std::string>("Basic " + c.Token()), std::optional<std::string>(c.Token())}) {
    auto up = c.UploadRaw({MetadataMessage(d), ChunkMessage(data)}, auth);
    EXPECT_EQ(up.status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << auth.value_or("none");
    zpb::transport::DownloadRequest req;
    *req.mutable_metadata()->mutable_digest() = ToProto(d);
    auto down = c.DownloadRaw(req, auth);
    EXPECT_EQ(down.status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << auth.value_or("none");
  }
  // Lowercase scheme is fine; the blob was never stored by the refused calls.
  auto down = c.Download(d, std::nullopt, std::nullopt, "bearer " + c.Token());
  EXPECT_EQ(down.status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(TransportAuthTest, TokensExpire) {
  Server s({"zako.token_ttl=1s"});
  START(s);
  auto& c = s.conn();
  std::string bearer = "Bearer " + c.Token();
  std::string data = Bytes(10, 5);
  auto up = c.UploadRaw({MetadataMessage(Blake3Of(data)), ChunkMessage(data)}, bearer);
  ASSERT_TRUE(up.status.ok()) << up.status.error_message();
  std::this_thread::sleep_for(1500ms);
  auto down = c.Download(Blake3Of(data), std::nullopt, std::nullopt, bearer);
  EXPECT_EQ(down.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Contains(down.status.error_message(), "expired")) << down.status.error_message();
  down = c.Download(Blake3Of(data), std::nullopt, std::nullopt, "Bearer " + c.Token());
  EXPECT_TRUE(down.status.ok());
  EXPECT_EQ(down.data, data);
}

TEST(TransportAuthTest, OldestTokenIsEvictedWhenTheTableIsFull) {
  Server s({"zako.max_tokens=2"});
  START(s);
  auto& c = s.conn();
  std::string t1 = c.Token(), t2 = c.Token(), t3 = c.Token();
  auto down = c.Download(Blake3Of("q"), std::nullopt, std::nullopt, "Bearer " + t1);
  EXPECT_EQ(down.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  down = c.Download(Blake3Of("q"), std::nullopt, std::nullopt, "Bearer " + t3);
  EXPECT_EQ(down.status.error_code(), grpc::StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------
// Transport: Download

TEST(DownloadTest, ErrorPaths) {
  Server s;
  START(s);
  auto& c = s.conn();
  std::string data = Bytes(1000, 6);
  Digest d = Blake3Of(data);
  ASSERT_TRUE(c.Upload(d, data).status.ok());

  auto r = c.Download(Blake3Of("unknown"));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::NOT_FOUND);

  r = c.Download(d, 0, 0);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(r.status.error_message(), "length 0")) << r.status.error_message();

  for (auto [start, len] : std::vector<std::pair<std::optional<uint64_t>, std::optional<uint64_t>>>{
           {1000, std::nullopt}, {1001, std::nullopt}, {999, 2}, {0, 1001}}) {
    r = c.Download(d, start, len);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << *start;
    EXPECT_TRUE(Contains(r.status.error_message(), "1000 bytes long")) << r.status.error_message();
    EXPECT_TRUE(r.data.empty());
  }

  zpb::transport::DownloadRequest no_metadata;
  r = c.DownloadRaw(no_metadata, c.Bearer());
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  zpb::transport::DownloadRequest bad_digest;
  bad_digest.mutable_metadata()->mutable_digest()->set_blake3("short");
  r = c.DownloadRaw(bad_digest, c.Bearer());
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(r.status.error_message(), "metadata.digest.blake3")) << r.status.error_message();
}

TEST(DownloadTest, RangesAtEveryBoundary) {
  Server s({"zako.chunk_size=64KiB"});
  START(s);
  auto& c = s.conn();
  const uint64_t chunk = 64 << 10;
  const uint64_t size = 3 * chunk + 5;
  std::string data = Bytes(size, 7);
  Digest d = Blake3Of(data);
  ASSERT_TRUE(c.Upload(d, data).status.ok());
  auto whole = c.Download(d);
  ASSERT_TRUE(whole.status.ok());
  EXPECT_EQ(whole.data, data);
  EXPECT_EQ(whole.messages, 4u);
  EXPECT_EQ(whole.largest_message, chunk);
  std::vector<uint64_t> points = {0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 3 * chunk - 1,
                                  3 * chunk, size - 2, size - 1};
  for (uint64_t start : points) {
    auto r = c.Download(d, start);  // to the end
    ASSERT_TRUE(r.status.ok()) << start << ": " << r.status.error_message();
    EXPECT_EQ(r.data, data.substr(start)) << start;
    for (uint64_t end : points) {
      if (end <= start) continue;
      auto q = c.Download(d, start, end - start);
      ASSERT_TRUE(q.status.ok()) << start << "+" << end - start;
      EXPECT_EQ(q.data, data.substr(start, end - start)) << start << "+" << end - start;
      EXPECT_LE(q.largest_message, chunk);
    }
    auto last = c.Download(d, start, size - start);  // exactly to the end
    EXPECT_EQ(last.data, data.substr(start));
  }
}

TEST(DownloadTest, EmptyBlobAlwaysExistsAndHasNoBytes) {
  Server s;
  START(s);
  auto r = s.conn().Download(Blake3Of(""));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_TRUE(r.data.empty());
  EXPECT_EQ(s.conn().Download(Blake3Of(""), 0, 1).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// ---------------------------------------------------------------------------
// Transport: Upload

TEST(UploadTest, StoresVerifiedBytesAndReportsCommittedSize) {
  Server s;
  START(s);
  auto& c = s.conn();
  std::string data = Bytes(5 << 20, 8);
  Digest d = Blake3Of(data);
  auto up = c.Upload(d, data, 0, std::nullopt, 1 << 20);
  ASSERT_TRUE(up.status.ok()) << up.status.error_message();
  EXPECT_EQ(up.committed_size, data.size());
  EXPECT_EQ(c.Download(d).data, data);
}

TEST(UploadTest, ErrorPaths) {
  Server s;
  START(s);
  auto& c = s.conn();
  std::string data = Bytes(2000, 9);
  Digest d = Blake3Of(data);

  auto r = c.UploadRaw({ChunkMessage(data)}, c.Bearer());
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(r.status.error_message(), "metadata")) << r.status.error_message();

  r = c.UploadRaw({}, c.Bearer());
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  r = c.UploadRaw({MetadataMessage(d), ChunkMessage(data.substr(0, 10)), MetadataMessage(d)}, c.Bearer());
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  r = c.UploadRaw({MetadataMessage(d), ChunkMessage(data), ChunkMessage("x")}, c.Bearer());
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(r.status.error_message(), "more than")) << r.status.error_message();

  r = c.Upload(d, data, 0, 0);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  r = c.Upload(d, data, 2000);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  r = c.Upload(d, data, 0, 2001);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  zpb::transport::UploadRequest bad = MetadataMessage(d);
  bad.mutable_metadata()->mutable_digest()->set_blake3("xyz");
  r = c.UploadRaw({bad}, c.Bearer());
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(r.status.error_message(), "metadata.digest.blake3")) << r.status.error_message();

  // A resume with nothing held.
  r = c.Upload(d, data.substr(100), 100);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(r.resume_offset.value_or("?"), "0");

  // Nothing above stored the blob.
  EXPECT_EQ(c.Download(d).status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(UploadTest, WrongContentIsRejectedAndNothingIsStored) {
  Server s;
  START(s);
  auto& c = s.conn();
  std::string data = Bytes(300'000, 10);
  Digest d = Blake3Of(data);
  std::string wrong = data;
  wrong[123'456] ^= 1;
  auto r = c.Upload(d, wrong);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(r.status.error_message(), "does not match")) << r.status.error_message();
  EXPECT_EQ(c.Download(d).status.error_code(), grpc::StatusCode::NOT_FOUND);
  auto n = c.Negotiate({{d}});
  ASSERT_EQ(n.responses.size(), 1u);
  // A short upload is rejected too, and the right bytes still go in afterwards.
  r = c.Upload(d, data.substr(0, 1000));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  r = c.Upload(d, data);
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
}

TEST(UploadTest, PresentBlobIsAlreadyExistsAfterOnlyTheMetadata) {
  Server s;
  START(s);
  auto& c = s.conn();
  std::string data = Bytes(500, 11);
  ASSERT_TRUE(c.Upload(Blake3Of(data), data).status.ok());
  auto r = c.UploadRaw({MetadataMessage(Blake3Of(data))}, c.Bearer());
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  r = c.UploadRaw({MetadataMessage(Blake3Of(""))}, c.Bearer());
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

TEST(UploadTest, ConcurrentUploadsOfOneBlobStoreItOnce) {
  Server s;
  START(s);
  std::string data = Bytes(3 << 20, 12);
  Digest d = Blake3Of(data);
  std::atomic<int> stored{0}, existed{0}, other{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i) {
    ts.emplace_back([&] {
      ZakoConn c(s.proc().address("grpc"), s.proc().address("transport"));
      auto r = c.Upload(d, data, 0, std::nullopt, 256 << 10);
      if (r.status.ok()) {
        stored++;
      } else if (r.status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
        existed++;
      } else {
        other++;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(stored.load(), 1);
  EXPECT_EQ(existed.load(), 7);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(s.conn().Download(d).data, data);
}

TEST(UploadTest, CancelledUploadLeavesNothingBehind) {
  Server s;
  START(s);
  auto& c = s.conn();
  std::string data = Bytes(4 << 20, 13);
  Digest d = Blake3Of(data);
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", c.Bearer());
    zpb::transport::UploadResponse resp;
    auto w = c.transport().Upload(&ctx, &resp);
    ASSERT_TRUE(w->Write(MetadataMessage(d)));
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(w->Write(ChunkMessage(data.substr(i * 256 << 10, 256 << 10))));
    ctx.TryCancel();
    EXPECT_EQ(w->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(c.Download(d).status.error_code(), grpc::StatusCode::NOT_FOUND);
  auto n = c.Negotiate({{d}});
  ASSERT_EQ(n.responses.size(), 1u);
  // A fresh upload is not held up by the interrupted one.
  auto t0 = std::chrono::steady_clock::now();
  auto r = c.Upload(d, data, 0, std::nullopt, 1 << 20);
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

TEST(UploadTest, PartialRangesAreResumed) {
  Server s;
  START(s);
  auto& c = s.conn();
  std::string data = Bytes(1'500'000, 14);
  Digest d = Blake3Of(data);
  auto first = c.Upload(d, data.substr(0, 600'000), 0, 600'000);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_EQ(first.committed_size, 600'000u);
  EXPECT_EQ(first.resume_offset.value_or(""), "600000");
  EXPECT_EQ(c.Download(d).status.error_code(), grpc::StatusCode::NOT_FOUND);  // not yet stored
  // Resuming at the wrong offset says where to resume.
  auto wrong = c.Upload(d, data.substr(500'000), 500'000);
  EXPECT_EQ(wrong.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(wrong.resume_offset.value_or(""), "600000");
  auto second = c.Upload(d, data.substr(600'000, 400'000), 600'000, 400'000);
  ASSERT_TRUE(second.status.ok()) << second.status.error_message();
  EXPECT_EQ(second.committed_size, 1'000'000u);
  auto last = c.Upload(d, data.substr(1'000'000), 1'000'000);
  ASSERT_TRUE(last.status.ok()) << last.status.error_message();
  EXPECT_EQ(last.committed_size, data.size());
  EXPECT_EQ(c.Download(d).data, data);
}

TEST(UploadTest, InterruptedUploadIsResumedFromTheHeldPrefix) {
  Server s;
  START(s);
  auto& c = s.conn();
  std::string data = Bytes(2 << 20, 15);
  Digest d = Blake3Of(data);
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", c.Bearer());
    zpb::transport::UploadResponse resp;
    auto w = c.transport().Upload(&ctx, &resp);
    ASSERT_TRUE(w->Write(MetadataMessage(d)));
    ASSERT_TRUE(w->Write(ChunkMessage(data.substr(0, 700'000))));
    std::this_thread::sleep_for(300ms);  // let the server take it in
    ctx.TryCancel();
    (void)w->Finish();
  }
  // Ask where to resume (a probe at an offset the server cannot hold).
  std::optional<std::string> held;
  for (int i = 0; i < 50 && (!held || *held == "0"); ++i) {
    std::this_thread::sleep_for(50ms);
    held = c.Upload(d, "", 1, 1).resume_offset;
  }
  ASSERT_TRUE(held);
  EXPECT_EQ(*held, "700000");
  auto r = c.Upload(d, data.substr(700'000), 700'000);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(c.Download(d).data, data);
}

TEST(UploadTest, ResumeDisabledDiscardsInterruptedUploads) {
  Server s({"zako.resume_ttl=0s"});
  START(s);
  auto& c = s.conn();
  std::string data = Bytes(100'000, 16);
  Digest d = Blake3Of(data);
  auto r = c.Upload(d, data.substr(0, 50'000), 0, 50'000);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  r = c.Upload(d, data.substr(50'000), 50'000);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(c.Upload(d, data).status.ok());
}

// ---------------------------------------------------------------------------
// Server lifecycle and tiers

TEST(LifecycleTest, OpenStreamsEndPromptlyOnShutdown) {
  Server s({"server.shutdown_grace=1s"});
  START(s);
  auto& c = s.conn();
  std::string big = Bytes(8 << 20, 17);
  ASSERT_TRUE(c.Upload(Blake3Of(big), big, 0, std::nullopt, 1 << 20).status.ok());
  // An idle negotiation, a half-done upload and an unread download.
  grpc::ClientContext nctx, uctx, dctx;
  auto neg = c.cas().NegotiateBlobs(&nctx);
  uctx.AddMetadata("authorization", c.Bearer());
  zpb::transport::UploadResponse resp;
  auto up = c.transport().Upload(&uctx, &resp);
  std::string other = Bytes(4 << 20, 18);
  ASSERT_TRUE(up->Write(MetadataMessage(Blake3Of(other))));
  ASSERT_TRUE(up->Write(ChunkMessage(other.substr(0, 1 << 20))));
  dctx.AddMetadata("authorization", c.Bearer());
  zpb::transport::DownloadRequest dreq;
  *dreq.mutable_metadata()->mutable_digest() = ToProto(Blake3Of(big));
  auto down = c.transport().Download(&dctx, dreq);
  zpb::transport::DownloadResponse first;
  ASSERT_TRUE(down->Read(&first));
  std::this_thread::sleep_for(200ms);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(s.proc().Stop(), 0) << s.proc().log();
  // The grace period (1s), then the calls are cancelled; generous for a loaded machine.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s) << s.proc().log();
  nctx.TryCancel();
  uctx.TryCancel();
  dctx.TryCancel();
}

TEST(RemoteTierTest, ChainedServersFetchThroughAndWriteThrough) {
  Server upstream;
  START(upstream);
  Server reader({"remote.address=" + upstream.proc().address("grpc")});
  START(reader);

  // A blob only upstream has: the reader reports it present and serves it.
  std::string data = Bytes(3 << 20, 19);
  Digest d = Blake3Of(data);
  ASSERT_TRUE(upstream.conn().Upload(d, data, 0, std::nullopt, 1 << 20).status.ok());
  auto n = reader.conn().Negotiate({{d, Blake3Of("nowhere")}});
  ASSERT_TRUE(n.status.ok());
  ASSERT_EQ(n.responses.size(), 1u);
  EXPECT_EQ(n.responses[0], std::vector<Digest>{Blake3Of("nowhere")});
  auto got = reader.conn().Download(d, 1000, 5000);
  ASSERT_TRUE(got.status.ok()) << got.status.error_message();
  EXPECT_EQ(got.data, data.substr(1000, 5000));
  // Kept locally: still served with the upstream gone.
  EXPECT_EQ(upstream.proc().Stop(), 0);
  EXPECT_EQ(reader.conn().Download(d).data, data);
  ASSERT_TRUE(upstream.Start()) << upstream.proc().error();  // same data dir, new ports
  Server writer2({"remote.address=" + upstream.proc().address("grpc"), "remote.write_through=true"});
  START(writer2);
  ZakoConn up2(upstream.proc().address("grpc"), upstream.proc().address("transport"));
  EXPECT_EQ(up2.Download(d).data, data);  // durable upstream

  // Write-through: an upload to writer2 reaches upstream.
  std::string w = Bytes(200'000, 20);
  ASSERT_TRUE(writer2.conn().Upload(Blake3Of(w), w).status.ok());
  auto n2 = up2.Negotiate({{Blake3Of(w)}});
  ASSERT_TRUE(n2.status.ok());
  EXPECT_TRUE(n2.responses.empty()) << "write-through did not reach the remote";
  EXPECT_EQ(up2.Download(Blake3Of(w)).data, w);
}

}  // namespace
}  // namespace cycas::zako_e2e
