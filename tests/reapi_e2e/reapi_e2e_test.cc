// End-to-end tests of the REAPI front-end: the real cycasd on loopback, driven
// by a real gRPC client through every RPC of Capabilities,
// ContentAddressableStorage, ActionCache and ByteStream, their error paths,
// zstd-compressed transfers, GetTree paging, and resumable ByteStream uploads
// (within one server run and across a restart).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <zstd.h>

#include <random>
#include <thread>

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "cycasd_process.h"
#include "digest/digest.h"
#include "google/bytestream/bytestream.grpc.pb.h"
#include "http_client.h"
#include "raw_grpc.h"

namespace cycas {
namespace {

namespace v2 = build::bazel::remote::execution::v2;
namespace bs = google::bytestream;

const std::string kUuid = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";
const std::string kUuid2 = "6ba7b811-9dad-41d1-80b4-00c04fd430c8";

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string TextBytes(size_t n) {
  std::string s;
  while (s.size() < n)
    s += "line " + std::to_string(s.size() % 97) + " of a very compressible file\n";
  s.resize(n);
  return s;
}

v2::Digest ProtoDigest(const std::string& bytes, DigestFunction fn = DigestFunction::kSha256) {
  Digest d = Digest::Of(fn, bytes);
  v2::Digest p;
  p.set_hash(d.hex());
  p.set_size_bytes(static_cast<int64_t>(d.size_bytes()));
  return p;
}

std::string DigestPath(const v2::Digest& d) {
  return d.hash() + "/" + std::to_string(d.size_bytes());
}

std::string Zstd(const std::string& in, int level = 3) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

std::string Unzstd(const std::string& in) {
  ZSTD_DCtx* d = ZSTD_createDCtx();
  std::string out;
  std::string buf(ZSTD_DStreamOutSize(), '\0');
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  while (ib.pos < ib.size) {
    ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
    size_t r = ZSTD_decompressStream(d, &ob, &ib);
    if (ZSTD_isError(r)) {
      ADD_FAILURE() << ZSTD_getErrorName(r);
      break;
    }
    out.append(buf.data(), ob.pos);
  }
  ZSTD_freeDCtx(d);
  return out;
}

// A connected client: one channel, stubs for every service.
class Client {
 public:
  explicit Client(const std::string& address) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(8 << 20);
    args.SetMaxSendMessageSize(8 << 20);
    channel_ = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    caps = v2::Capabilities::NewStub(channel_);
    cas = v2::ContentAddressableStorage::NewStub(channel_);
    ac = v2::ActionCache::NewStub(channel_);
    bytestream = bs::ByteStream::NewStub(channel_);
  }

  static std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ctx;
  }

  v2::ServerCapabilities Capabilities() {
    v2::ServerCapabilities out;
    grpc::Status st = caps->GetCapabilities(Ctx().get(), v2::GetCapabilitiesRequest(), &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }

  grpc::Status Upload(const std::vector<std::string>& blobs, const std::string& instance = "",
                      DigestFunction fn = DigestFunction::kSha256,
                      v2::BatchUpdateBlobsResponse* response = nullptr) {
    v2::BatchUpdateBlobsRequest req;
    req.set_instance_name(instance);
    if (fn == DigestFunction::kBlake3) req.set_digest_function(v2::DigestFunction::BLAKE3);
    for (const auto& b : blobs) {
      auto* r = req.add_requests();
      *r->mutable_digest() = ProtoDigest(b, fn);
      r->set_data(b);
    }
    v2::BatchUpdateBlobsResponse local;
    if (!response) response = &local;
    grpc::Status st = cas->BatchUpdateBlobs(Ctx().get(), req, response);
    if (st.ok()) {
      for (const auto& r : response->responses()) {
        EXPECT_EQ(r.status().code(), 0) << r.status().message();
      }
    }
    return st;
  }

  // The digests of `blobs` the server reports missing, as indices.
  std::vector<int> Missing(const std::vector<std::string>& blobs,
                           DigestFunction fn = DigestFunction::kSha256) {
    v2::FindMissingBlobsRequest req;
    if (fn == DigestFunction::kBlake3) req.set_digest_function(v2::DigestFunction::BLAKE3);
    for (const auto& b : blobs) *req.add_blob_digests() = ProtoDigest(b, fn);
    v2::FindMissingBlobsResponse resp;
    grpc::Status st = cas->FindMissingBlobs(Ctx().get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    std::vector<int> out;
    for (const auto& m : resp.missing_blob_digests()) {
      for (size_t i = 0; i < blobs.size(); i++) {
        if (ProtoDigest(blobs[i], fn).hash() == m.hash()) out.push_back(static_cast<int>(i));
      }
    }
    return out;
  }

  // Reads a whole resource with ByteStream.
  grpc::Status Read(const std::string& resource, std::string* out, int64_t offset = 0,
                    int64_t limit = 0) {
    bs::ReadRequest req;
    req.set_resource_name(resource);
    req.set_read_offset(offset);
    req.set_read_limit(limit);
    auto ctx = Ctx();
    auto reader = bytestream->Read(ctx.get(), req);
    bs::ReadResponse resp;
    out->clear();
    while (reader->Read(&resp)) {
      EXPECT_LE(resp.data().size(), size_t{4} << 20);
      out->append(resp.data());
    }
    return reader->Finish();
  }

  // Writes `data` in `chunk`-byte messages starting at `offset`; finishes when `finish`.
  grpc::Status Write(const std::string& resource, const std::string& data, int64_t offset,
                     bool finish, bs::WriteResponse* resp, size_t chunk = 64 << 10,
                     grpc_compression_algorithm compression = GRPC_COMPRESS_NONE) {
    auto ctx = Ctx();
    ctx->set_compression_algorithm(compression);
    auto writer = bytestream->Write(ctx.get(), resp);
    size_t pos = 0;
    bool first = true;
    do {
      bs::WriteRequest req;
      if (first) req.set_resource_name(resource);
      first = false;
      size_t n = std::min(chunk, data.size() - pos);
      req.set_data(data.substr(pos, n));
      req.set_write_offset(offset + static_cast<int64_t>(pos));
      pos += n;
      req.set_finish_write(finish && pos == data.size());
      if (!writer->Write(req)) break;  // the server answered early
    } while (pos < data.size());
    writer->WritesDone();
    return writer->Finish();
  }

  bs::QueryWriteStatusResponse Query(const std::string& resource, grpc::Status* st = nullptr) {
    bs::QueryWriteStatusRequest req;
    req.set_resource_name(resource);
    bs::QueryWriteStatusResponse resp;
    grpc::Status s = bytestream->QueryWriteStatus(Ctx().get(), req, &resp);
    if (st)
      *st = s;
    else
      EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  std::unique_ptr<v2::Capabilities::Stub> caps;
  std::unique_ptr<v2::ContentAddressableStorage::Stub> cas;
  std::unique_ptr<v2::ActionCache::Stub> ac;
  std::unique_ptr<bs::ByteStream::Stub> bytestream;

 private:
  std::shared_ptr<grpc::Channel> channel_;
};

class ReapiE2ETest : public ::testing::Test {
 protected:
  void StartServer(std::vector<std::string> overrides = {}) {
    server_ = std::make_unique<testing::CycasdProcess>(std::move(overrides));
    ASSERT_TRUE(server_->Start()) << server_->error();
    client_ = std::make_unique<Client>(server_->address("grpc"));
  }
  void SetUp() override { StartServer(); }
  // Stops the server cleanly and fails the test on any sanitizer report in its
  // log (in sanitizer builds; leaks are reported at exit, hence after Stop).
  void TearDown() override {
    if (!server_) return;
    client_.reset();
    int rc = server_->Stop();
    std::string log = server_->log();
    bool sanitizer = log.find("Sanitizer") != std::string::npos ||
                     log.find("runtime error:") != std::string::npos;
    EXPECT_FALSE(sanitizer) << "sanitizer report in the cycasd log";
    EXPECT_EQ(rc, 0) << "cycasd did not shut down cleanly";
    if (HasFailure()) std::cerr << "--- cycasd log ---\n" << log;
  }
  void Restart() {
    client_.reset();
    ASSERT_EQ(server_->Stop(), 0) << server_->log();
    ASSERT_TRUE(server_->Start()) << server_->error();
    client_ = std::make_unique<Client>(server_->address("grpc"));
  }

  std::unique_ptr<testing::CycasdProcess> server_;
  std::unique_ptr<Client> client_;
};

#define EXPECT_CODE(st, code) \
  EXPECT_EQ((st).error_code(), grpc::StatusCode::code) << (st).error_message()

// ---- Capabilities -----------------------------------------------------------

TEST_F(ReapiE2ETest, CapabilitiesAnnounceWhatIsServed) {
  auto caps = client_->Capabilities();
  const auto& cache = caps.cache_capabilities();
  std::vector<int> fns(cache.digest_functions().begin(), cache.digest_functions().end());
  EXPECT_NE(std::find(fns.begin(), fns.end(), v2::DigestFunction::SHA256), fns.end());
  EXPECT_NE(std::find(fns.begin(), fns.end(), v2::DigestFunction::BLAKE3), fns.end());
  EXPECT_TRUE(cache.action_cache_update_capabilities().update_enabled());
  // Honest: positive and within the default 4 MiB gRPC message.
  EXPECT_GT(cache.max_batch_total_size_bytes(), 0);
  EXPECT_LT(cache.max_batch_total_size_bytes(), 4 << 20);
  ASSERT_EQ(cache.supported_compressors_size(), 1);
  EXPECT_EQ(cache.supported_compressors(0), v2::Compressor::ZSTD);
  ASSERT_EQ(cache.supported_batch_update_compressors_size(), 1);
  EXPECT_EQ(cache.supported_batch_update_compressors(0), v2::Compressor::ZSTD);
  EXPECT_EQ(cache.max_cas_blob_size_bytes(), int64_t{1} << 40);
  EXPECT_FALSE(caps.has_execution_capabilities());
  EXPECT_EQ(caps.low_api_version().major(), 2);
  EXPECT_EQ(caps.low_api_version().minor(), 0);
  EXPECT_EQ(caps.high_api_version().major(), 2);
  EXPECT_EQ(caps.high_api_version().minor(), 3);
}

// ---- FindMissingBlobs / BatchUpdateBlobs / BatchReadBlobs -------------------

TEST_F(ReapiE2ETest, FindMissingIsExactAndTheEmptyBlobAlwaysExists) {
  std::vector<std::string> blobs = {"alpha", "beta", "gamma", ""};
  EXPECT_EQ(client_->Missing(blobs), (std::vector<int>{0, 1, 2}));
  ASSERT_TRUE(client_->Upload({"beta"}).ok());
  EXPECT_EQ(client_->Missing(blobs), (std::vector<int>{0, 2}));
}

TEST_F(ReapiE2ETest, FindMissingNamesAMalformedDigest) {
  v2::FindMissingBlobsRequest req;
  *req.add_blob_digests() = ProtoDigest("ok");
  auto* bad = req.add_blob_digests();
  bad->set_hash(std::string(64, 'Z'));
  bad->set_size_bytes(1);
  v2::FindMissingBlobsResponse resp;
  grpc::Status st = client_->cas->FindMissingBlobs(Client::Ctx().get(), req, &resp);
  EXPECT_CODE(st, INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("blob_digests[1]"), std::string::npos) << st.error_message();
}

TEST_F(ReapiE2ETest, FindMissingRefusesANegativeSize) {
  v2::FindMissingBlobsRequest req;
  *req.add_blob_digests() = ProtoDigest("ok");
  auto* bad = req.add_blob_digests();
  *bad = ProtoDigest("negative");
  bad->set_size_bytes(-1);
  v2::FindMissingBlobsResponse resp;
  grpc::Status st = client_->cas->FindMissingBlobs(Client::Ctx().get(), req, &resp);
  EXPECT_CODE(st, INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("blob_digests[1]"), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("size must be >= 0"), std::string::npos) << st.error_message();
}

// The answer is the missing digests in request order (duplicates included),
// however the request is split into ranges for checking.
TEST_F(ReapiE2ETest, FindMissingAnswersInRequestOrderAcrossCheckRanges) {
  std::vector<std::string> blobs, present;
  for (int i = 0; i < 1500; i++) {
    blobs.push_back("blob " + std::to_string(i));
    if (i % 7 < 3) present.push_back(blobs.back());
  }
  blobs.push_back(blobs[5]);  // missing, twice
  blobs.push_back(blobs[0]);  // present, twice
  ASSERT_TRUE(client_->Upload(present).ok());
  v2::FindMissingBlobsRequest req;
  for (const auto& b : blobs) *req.add_blob_digests() = ProtoDigest(b);
  v2::FindMissingBlobsResponse resp;
  grpc::Status st = client_->cas->FindMissingBlobs(Client::Ctx().get(), req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  std::vector<std::string> want, got;
  for (size_t i = 0; i < blobs.size(); i++) {
    if (i >= 1500 ? i == 1500 : i % 7 >= 3) want.push_back(DigestPath(ProtoDigest(blobs[i])));
  }
  for (const auto& m : resp.missing_blob_digests()) got.push_back(DigestPath(m));
  EXPECT_EQ(got, want);

  // The same request gzip-compressed by gRPC (the server reads the request's
  // bytes itself, which must be the decompressed ones): the same answer.
  auto ctx = Client::Ctx();
  ctx->set_compression_algorithm(GRPC_COMPRESS_GZIP);
  v2::FindMissingBlobsResponse again;
  st = client_->cas->FindMissingBlobs(ctx.get(), req, &again);
  ASSERT_TRUE(st.ok()) << st.error_message();
  got.clear();
  for (const auto& m : again.missing_blob_digests()) got.push_back(DigestPath(m));
  EXPECT_EQ(got, want);
}

// A request of no digests is zero bytes on the wire: an empty answer. One of
// 40,000 digests (2.7 MiB, many HTTP/2 frames) is read whole.
TEST_F(ReapiE2ETest, FindMissingOfNothingAndOfAMessageInManyFrames) {
  v2::FindMissingBlobsRequest req;
  ASSERT_EQ(req.ByteSizeLong(), 0u);
  v2::FindMissingBlobsResponse resp;
  grpc::Status st = client_->cas->FindMissingBlobs(Client::Ctx().get(), req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.missing_blob_digests_size(), 0);

  ASSERT_TRUE(client_->Upload({"blob 39999"}).ok());
  for (int i = 0; i < 40000; i++)
    *req.add_blob_digests() = ProtoDigest("blob " + std::to_string(i));
  ASSERT_GT(req.ByteSizeLong(), size_t{2} << 20);
  st = client_->cas->FindMissingBlobs(Client::Ctx().get(), req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.missing_blob_digests_size(), 39999);
  EXPECT_EQ(DigestPath(resp.missing_blob_digests(0)), DigestPath(ProtoDigest("blob 0")));
  EXPECT_EQ(DigestPath(resp.missing_blob_digests(39998)), DigestPath(ProtoDigest("blob 39998")));
}

// Bytes that are not a FindMissingBlobsRequest are INVALID_ARGUMENT: the
// server reads the request's wire bytes itself and says what is malformed.
TEST_F(ReapiE2ETest, FindMissingRefusesBytesThatAreNotARequest) {
  auto channel = grpc::CreateChannel(server_->address("grpc"), grpc::InsecureChannelCredentials());
  auto ctx = Client::Ctx();
  // Field 1 with wire type 7, which does not exist.
  grpc::Status st = testing::RawUnaryCall(
      channel, ctx.get(),
      "/build.bazel.remote.execution.v2.ContentAddressableStorage/FindMissingBlobs", "\x0f");
  EXPECT_CODE(st, INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("not valid protobuf"), std::string::npos) << st.error_message();
}

TEST_F(ReapiE2ETest, UnsupportedDigestFunctionIsRefused) {
  v2::FindMissingBlobsRequest req;
  req.set_digest_function(v2::DigestFunction::SHA1);
  *req.add_blob_digests() = ProtoDigest("x");
  v2::FindMissingBlobsResponse resp;
  grpc::Status st = client_->cas->FindMissingBlobs(Client::Ctx().get(), req, &resp);
  EXPECT_CODE(st, INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("SHA1"), std::string::npos) << st.error_message();
  // Unset with a 40-character (SHA-1 sized) hash: nothing to infer.
  v2::FindMissingBlobsRequest req2;
  auto* d = req2.add_blob_digests();
  d->set_hash(std::string(40, 'a'));
  d->set_size_bytes(1);
  st = client_->cas->FindMissingBlobs(Client::Ctx().get(), req2, &resp);
  EXPECT_CODE(st, INVALID_ARGUMENT);
}

TEST_F(ReapiE2ETest, Blake3AndSha256AreSeparateNamespaces) {
  ASSERT_TRUE(client_->Upload({"hashed with blake3"}, "", DigestFunction::kBlake3).ok());
  EXPECT_TRUE(client_->Missing({"hashed with blake3"}, DigestFunction::kBlake3).empty());
  EXPECT_EQ(client_->Missing({"hashed with blake3"}, DigestFunction::kSha256),
            (std::vector<int>{0}));
}

TEST_F(ReapiE2ETest, BatchUpdateVerifiesEachBlobAndStoresOnlyGoodOnes) {
  v2::BatchUpdateBlobsRequest req;
  auto* good = req.add_requests();
  *good->mutable_digest() = ProtoDigest("good content");
  good->set_data("good content");
  auto* wrong = req.add_requests();  // right size, wrong bytes
  *wrong->mutable_digest() = ProtoDigest("claimed bytes");
  wrong->set_data("actual bytes!");
  auto* short_one = req.add_requests();
  *short_one->mutable_digest() = ProtoDigest("twelve bytes");
  short_one->set_data("eleven byte");
  auto* malformed = req.add_requests();
  malformed->mutable_digest()->set_hash("abc");
  malformed->mutable_digest()->set_size_bytes(3);
  malformed->set_data("abc");
  v2::BatchUpdateBlobsResponse resp;
  grpc::Status st = client_->cas->BatchUpdateBlobs(Client::Ctx().get(), req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.responses_size(), 4);
  EXPECT_EQ(resp.responses(0).status().code(), 0);
  EXPECT_EQ(resp.responses(0).digest().hash(), ProtoDigest("good content").hash());
  EXPECT_EQ(resp.responses(1).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(resp.responses(1).status().message().find("does not match"), std::string::npos)
      << resp.responses(1).status().message();
  EXPECT_EQ(resp.responses(2).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(resp.responses(3).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(resp.responses(3).status().message().find("requests[3].digest"), std::string::npos);
  EXPECT_EQ(client_->Missing({"good content", "claimed bytes", "twelve bytes"}),
            (std::vector<int>{1, 2}));
}

TEST_F(ReapiE2ETest, BatchOverTheAnnouncedLimitIsInvalidArgument) {
  int64_t limit = client_->Capabilities().cache_capabilities().max_batch_total_size_bytes();
  // Two blobs that together exceed the limit but still fit in one gRPC message.
  std::string a = RandomBytes(static_cast<size_t>(limit / 2) + 1, 1);
  std::string b = RandomBytes(static_cast<size_t>(limit / 2) + 1, 2);
  grpc::Status st = client_->Upload({a, b});
  EXPECT_CODE(st, INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("limit"), std::string::npos) << st.error_message();
  EXPECT_EQ(client_->Missing({a, b}), (std::vector<int>{0, 1}));
  // Exactly at the limit is fine.
  std::string c = RandomBytes(static_cast<size_t>(limit), 3);
  EXPECT_TRUE(client_->Upload({c}).ok());

  v2::BatchReadBlobsRequest read;
  *read.add_digests() = ProtoDigest(a);
  *read.add_digests() = ProtoDigest(b);
  v2::BatchReadBlobsResponse resp;
  st = client_->cas->BatchReadBlobs(Client::Ctx().get(), read, &resp);
  EXPECT_CODE(st, INVALID_ARGUMENT);
}

TEST_F(ReapiE2ETest, ConfiguredBatchLimitIsAnnouncedAndEnforced) {
  StartServer({"reapi.max_batch_size=1MiB"});
  EXPECT_EQ(client_->Capabilities().cache_capabilities().max_batch_total_size_bytes(), 1 << 20);
  EXPECT_CODE(client_->Upload({RandomBytes((1 << 20) + 1, 4)}), INVALID_ARGUMENT);
  EXPECT_TRUE(client_->Upload({RandomBytes(1 << 20, 5)}).ok());
}

TEST_F(ReapiE2ETest, BatchReadReturnsPerBlobStatuses) {
  ASSERT_TRUE(client_->Upload({"present one", "present two"}).ok());
  v2::BatchReadBlobsRequest req;
  *req.add_digests() = ProtoDigest("present one");
  *req.add_digests() = ProtoDigest("absent");
  *req.add_digests() = ProtoDigest("");
  *req.add_digests() = ProtoDigest("present two");
  v2::BatchReadBlobsResponse resp;
  grpc::Status st = client_->cas->BatchReadBlobs(Client::Ctx().get(), req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.responses_size(), 4);
  EXPECT_EQ(resp.responses(0).status().code(), 0);
  EXPECT_EQ(resp.responses(0).data(), "present one");
  EXPECT_EQ(resp.responses(1).status().code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(resp.responses(2).status().code(), 0);
  EXPECT_EQ(resp.responses(2).data(), "");
  EXPECT_EQ(resp.responses(3).data(), "present two");
  EXPECT_EQ(resp.responses(3).digest().hash(), ProtoDigest("present two").hash());
}

TEST_F(ReapiE2ETest, ZstdBatchRoundTrip) {
  std::string text = TextBytes(200000);
  v2::BatchUpdateBlobsRequest up;
  auto* r = up.add_requests();
  *r->mutable_digest() = ProtoDigest(text);
  r->set_data(Zstd(text));
  r->set_compressor(v2::Compressor::ZSTD);
  v2::BatchUpdateBlobsResponse up_resp;
  ASSERT_TRUE(client_->cas->BatchUpdateBlobs(Client::Ctx().get(), up, &up_resp).ok());
  ASSERT_EQ(up_resp.responses(0).status().code(), 0) << up_resp.responses(0).status().message();

  v2::BatchReadBlobsRequest req;
  *req.add_digests() = ProtoDigest(text);
  req.add_acceptable_compressors(v2::Compressor::ZSTD);
  v2::BatchReadBlobsResponse resp;
  ASSERT_TRUE(client_->cas->BatchReadBlobs(Client::Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.responses(0).compressor(), v2::Compressor::ZSTD);
  EXPECT_LT(resp.responses(0).data().size(), text.size() / 4);
  EXPECT_EQ(Unzstd(resp.responses(0).data()), text);

  // Without ZSTD among the acceptable compressors the data comes back plain.
  v2::BatchReadBlobsRequest plain_req;
  *plain_req.add_digests() = ProtoDigest(text);
  v2::BatchReadBlobsResponse plain;
  ASSERT_TRUE(client_->cas->BatchReadBlobs(Client::Ctx().get(), plain_req, &plain).ok());
  EXPECT_EQ(plain.responses(0).compressor(), v2::Compressor::IDENTITY);
  EXPECT_EQ(plain.responses(0).data(), text);
}

TEST_F(ReapiE2ETest, ZstdBombInABatchIsRefusedAndNotStored) {
  std::string zeros(32 << 20, '\0');
  std::string claimed = "only eleven";
  v2::BatchUpdateBlobsRequest up;
  auto* r = up.add_requests();
  *r->mutable_digest() = ProtoDigest(claimed);
  r->set_data(Zstd(zeros));
  r->set_compressor(v2::Compressor::ZSTD);
  v2::BatchUpdateBlobsResponse resp;
  ASSERT_TRUE(client_->cas->BatchUpdateBlobs(Client::Ctx().get(), up, &resp).ok());
  EXPECT_EQ(resp.responses(0).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(resp.responses(0).status().message().find("inflates past"), std::string::npos)
      << resp.responses(0).status().message();
  EXPECT_EQ(client_->Missing({claimed}), (std::vector<int>{0}));
}

// ---- GetTree ----------------------------------------------------------------

struct TestTree {
  std::map<std::string, std::string> dirs;  // name -> encoded Directory
  v2::Digest root;
};

// root -> {a, b, gone}; a -> {c}; b -> {c}; c -> {d}. "gone" is never uploaded.
TestTree MakeTree() {
  auto enc = [](const v2::Directory& d) { return d.SerializeAsString(); };
  TestTree t;
  v2::Directory d;
  auto* f = d.add_files();
  f->set_name("leaf.txt");
  *f->mutable_digest() = ProtoDigest("leaf");
  t.dirs["d"] = enc(d);
  v2::Directory c;
  auto* cn = c.add_directories();
  cn->set_name("d");
  *cn->mutable_digest() = ProtoDigest(t.dirs["d"]);
  t.dirs["c"] = enc(c);
  v2::Directory a, b;
  auto* an = a.add_directories();
  an->set_name("c");
  *an->mutable_digest() = ProtoDigest(t.dirs["c"]);
  auto* bf = b.add_files();
  bf->set_name("b.txt");
  *bf->mutable_digest() = ProtoDigest("b");
  auto* bn = b.add_directories();
  bn->set_name("c");
  *bn->mutable_digest() = ProtoDigest(t.dirs["c"]);
  t.dirs["a"] = enc(a);
  t.dirs["b"] = enc(b);
  v2::Directory gone;
  gone.add_files()->set_name("never uploaded");
  v2::Directory root;
  for (const char* name : {"a", "b"}) {
    auto* n = root.add_directories();
    n->set_name(name);
    *n->mutable_digest() = ProtoDigest(t.dirs[name]);
  }
  auto* g = root.add_directories();
  g->set_name("gone");
  *g->mutable_digest() = ProtoDigest(enc(gone));
  t.dirs["root"] = enc(root);
  t.root = ProtoDigest(t.dirs["root"]);
  return t;
}

std::vector<v2::GetTreeResponse> GetTree(Client& c, const v2::Digest& root, int page_size,
                                         const std::string& token, grpc::Status* st) {
  v2::GetTreeRequest req;
  *req.mutable_root_digest() = root;
  req.set_page_size(page_size);
  req.set_page_token(token);
  auto ctx = Client::Ctx();
  auto reader = c.cas->GetTree(ctx.get(), req);
  std::vector<v2::GetTreeResponse> pages;
  v2::GetTreeResponse page;
  while (reader->Read(&page)) pages.push_back(page);
  *st = reader->Finish();
  return pages;
}

TEST_F(ReapiE2ETest, GetTreeWalksPresentDirectoriesInPages) {
  TestTree t = MakeTree();
  std::vector<std::string> blobs;
  for (const auto& [name, bytes] : t.dirs) blobs.push_back(bytes);
  ASSERT_TRUE(client_->Upload(blobs).ok());

  grpc::Status st;
  auto pages = GetTree(*client_, t.root, 2, "", &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  // root, a, b, c (once, though two parents list it), d; "gone" omitted.
  ASSERT_EQ(pages.size(), 3u);
  std::vector<std::string> got;
  for (size_t i = 0; i < pages.size(); i++) {
    EXPECT_LE(pages[i].directories_size(), 2);
    EXPECT_EQ(pages[i].next_page_token().empty(), i + 1 == pages.size());
    for (const auto& d : pages[i].directories()) got.push_back(d.SerializeAsString());
  }
  std::vector<std::string> want = {t.dirs["root"], t.dirs["a"], t.dirs["b"], t.dirs["c"],
                                   t.dirs["d"]};
  EXPECT_EQ(got, want);

  // Resuming from the first page's token returns the rest.
  auto rest = GetTree(*client_, t.root, 0, pages[0].next_page_token(), &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(rest.size(), 1u);
  ASSERT_EQ(rest[0].directories_size(), 3);
  EXPECT_EQ(rest[0].directories(0).SerializeAsString(), t.dirs["b"]);
  EXPECT_TRUE(rest[0].next_page_token().empty());
}

TEST_F(ReapiE2ETest, GetTreeErrors) {
  TestTree t = MakeTree();
  grpc::Status st;
  GetTree(*client_, t.root, 0, "", &st);
  EXPECT_CODE(st, NOT_FOUND);
  ASSERT_TRUE(client_->Upload({t.dirs["root"], "not a directory \xff\xff"}).ok());
  GetTree(*client_, t.root, 0, "garbage", &st);
  EXPECT_CODE(st, INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("page_token"), std::string::npos);
  GetTree(*client_, t.root, -1, "", &st);
  EXPECT_CODE(st, INVALID_ARGUMENT);
  GetTree(*client_, t.root, 0, "7:" + std::string(64, 'a'), &st);
  EXPECT_CODE(st, INVALID_ARGUMENT);
  GetTree(*client_, ProtoDigest("not a directory \xff\xff"), 0, "", &st);
  EXPECT_CODE(st, INVALID_ARGUMENT);
}

// ---- ActionCache ------------------------------------------------------------

v2::ActionResult ResultWith(const std::string& out, const std::string& so) {
  v2::ActionResult r;
  auto* f = r.add_output_files();
  f->set_path("bazel-out/k8/bin/out.txt");
  *f->mutable_digest() = ProtoDigest(out);
  *r.mutable_stdout_digest() = ProtoDigest(so);
  r.set_exit_code(0);
  return r;
}

grpc::Status UpdateAc(Client& c, const std::string& instance, const v2::Digest& action,
                      const v2::ActionResult& result) {
  v2::UpdateActionResultRequest req;
  req.set_instance_name(instance);
  *req.mutable_action_digest() = action;
  *req.mutable_action_result() = result;
  v2::ActionResult resp;
  return c.ac->UpdateActionResult(Client::Ctx().get(), req, &resp);
}

grpc::Status GetAc(Client& c, const std::string& instance, const v2::Digest& action,
                   v2::ActionResult* out, bool inline_stdout = false,
                   std::vector<std::string> inline_files = {}) {
  v2::GetActionResultRequest req;
  req.set_instance_name(instance);
  *req.mutable_action_digest() = action;
  req.set_inline_stdout(inline_stdout);
  for (auto& f : inline_files) req.add_inline_output_files(f);
  return c.ac->GetActionResult(Client::Ctx().get(), req, out);
}

TEST_F(ReapiE2ETest, ActionCacheStoresServesAndInlines) {
  auto action = ProtoDigest("action 1");
  v2::ActionResult got;
  EXPECT_CODE(GetAc(*client_, "", action, &got), NOT_FOUND);
  ASSERT_TRUE(client_->Upload({"output bytes", "stdout text"}).ok());
  ASSERT_TRUE(UpdateAc(*client_, "", action, ResultWith("output bytes", "stdout text")).ok());

  ASSERT_TRUE(GetAc(*client_, "", action, &got).ok());
  EXPECT_EQ(got.output_files(0).digest().hash(), ProtoDigest("output bytes").hash());
  EXPECT_TRUE(got.stdout_raw().empty());
  EXPECT_TRUE(got.output_files(0).contents().empty());

  ASSERT_TRUE(GetAc(*client_, "", action, &got, true, {"bazel-out/k8/bin/out.txt"}).ok());
  EXPECT_EQ(got.stdout_raw(), "stdout text");
  EXPECT_EQ(got.output_files(0).contents(), "output bytes");
}

// Mixed clients: outputs uploaded through gRPC, an ActionResult stored over
// HTTP (/ac/). The HTTP cache names blobs by hash alone and gRPC records no
// hash -> size mapping, yet a result GET /ac/ calls complete must have
// outputs GET /cas/ can serve, or the client fails on a "hit".
TEST_F(ReapiE2ETest, OutputsOfAnHttpActionResultUploadedOverGrpcAreServedOverHttp) {
  ASSERT_TRUE(client_->Upload({"grpc output", "grpc stdout"}).ok());
  std::string base = "http://" + server_->address("http");
  std::string action_hash = ProtoDigest("action over both protocols").hash();
  std::string body = ResultWith("grpc output", "grpc stdout").SerializeAsString();
  auto put = testing::Curl(
      {"-X", "PUT", "--data-binary", "@" + testing::TempFile(body), base + "/ac/" + action_hash});
  ASSERT_EQ(put.status, 201) << put.body << put.stderr_text;
  auto ac = testing::Curl({base + "/ac/" + action_hash});
  ASSERT_EQ(ac.status, 200) << ac.body;
  v2::ActionResult result;
  ASSERT_TRUE(result.ParseFromString(ac.body));
  for (const auto& [digest, bytes] : {std::pair{result.output_files(0).digest(), "grpc output"},
                                      std::pair{result.stdout_digest(), "grpc stdout"}}) {
    auto blob = testing::Curl({base + "/cas/" + digest.hash()});
    EXPECT_EQ(blob.status, 200) << digest.hash();
    EXPECT_EQ(blob.body, bytes);
  }
}

// An HTTP PUT of a blob that a ByteStream upload is storing at that moment
// waits for it on the HTTP front-end's blocking pool, not on a connection
// thread: with one connection thread, other requests are still served.
TEST_F(ReapiE2ETest, HttpPutRacingAByteStreamUploadDoesNotStallOtherRequests) {
  server_.reset();
  StartServer({"http.threads=1"});
  const std::string blob = RandomBytes(200000, 4242);
  const v2::Digest d = ProtoDigest(blob);
  const std::string resource = "uploads/5b0e3c2a-1d2f-4c3b-9a8e-0f1e2d3c4b5a/blobs/" + d.hash() +
                               "/" + std::to_string(d.size_bytes());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  bs::WriteResponse response;
  auto stream = client_->bytestream->Write(&ctx, &response);
  bs::WriteRequest first;
  first.set_resource_name(resource);
  first.set_data(blob.substr(0, 100000));
  ASSERT_TRUE(stream->Write(first));
  // The server opens its writer on the first message; give it time to.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  const std::string base = "http://" + server_->address("http");
  testing::CurlResponse racing;
  std::thread put([&] {
    racing = testing::Curl({"-X", "PUT", "--max-time", "50", "--data-binary",
                            "@" + testing::TempFile(blob), base + "/cas/" + d.hash()});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Meanwhile the single connection thread keeps serving other uploads.
  for (int i = 0; i < 3; i++) {
    std::string other = "unrelated blob " + std::to_string(i);
    auto r =
        testing::Curl({"-X", "PUT", "--max-time", "5", "--data-binary",
                       "@" + testing::TempFile(other), base + "/cas/" + ProtoDigest(other).hash()});
    EXPECT_EQ(r.status, 201) << "request " << i << " not served: " << r.stderr_text;
  }

  bs::WriteRequest rest;
  rest.set_write_offset(100000);
  rest.set_data(blob.substr(100000));
  rest.set_finish_write(true);
  EXPECT_TRUE(stream->Write(rest));
  EXPECT_TRUE(stream->WritesDone());
  grpc::Status st = stream->Finish();
  put.join();
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(response.committed_size(), d.size_bytes());
  // The racing PUT ends once the blob is stored: as already there, or stored.
  EXPECT_TRUE(racing.status == 204 || racing.status == 201)
      << racing.status << " " << racing.body << racing.stderr_text;
  auto got = testing::Curl({base + "/cas/" + d.hash()});
  EXPECT_EQ(got.status, 200);
  EXPECT_TRUE(got.body == blob) << "GET returned " << got.body.size() << " bytes";
}

TEST_F(ReapiE2ETest, ActionCacheInstancesAreSeparate) {
  auto action = ProtoDigest("action 2");
  ASSERT_TRUE(client_->Upload({"o", "s"}).ok());
  ASSERT_TRUE(UpdateAc(*client_, "team/a", action, ResultWith("o", "s")).ok());
  v2::ActionResult got;
  EXPECT_TRUE(GetAc(*client_, "team/a", action, &got).ok());
  EXPECT_CODE(GetAc(*client_, "team/b", action, &got), NOT_FOUND);
  EXPECT_CODE(GetAc(*client_, "", action, &got), NOT_FOUND);
  EXPECT_CODE(GetAc(*client_, "team/blobs", action, &got), INVALID_ARGUMENT);
}

TEST_F(ReapiE2ETest, UpdateWithMissingBlobsIsRefusedListingThem) {
  auto action = ProtoDigest("action 3");
  ASSERT_TRUE(client_->Upload({"stdout only"}).ok());
  grpc::Status st = UpdateAc(*client_, "", action, ResultWith("never uploaded", "stdout only"));
  EXPECT_CODE(st, FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find(
                Digest::Of(DigestFunction::kSha256, std::string("never uploaded")).hex()),
            std::string::npos)
      << st.error_message();
  v2::ActionResult got;
  EXPECT_CODE(GetAc(*client_, "", action, &got), NOT_FOUND);
}

TEST_F(ReapiE2ETest, ResultWithAMissingOutputIsNotFound) {
  // A server that stores incomplete results (as one whose blobs were evicted
  // later would hold them) must still not serve them.
  StartServer({"reapi.action_cache_require_complete=false"});
  auto action = ProtoDigest("action 4");
  ASSERT_TRUE(client_->Upload({"stdout present"}).ok());
  ASSERT_TRUE(UpdateAc(*client_, "", action, ResultWith("output lost", "stdout present")).ok());
  v2::ActionResult got;
  grpc::Status st = GetAc(*client_, "", action, &got);
  EXPECT_CODE(st, NOT_FOUND);
  EXPECT_NE(st.error_message().find("missing blob"), std::string::npos) << st.error_message();
  // Once the output is uploaded the result is served.
  ASSERT_TRUE(client_->Upload({"output lost"}).ok());
  EXPECT_TRUE(GetAc(*client_, "", action, &got).ok());

  // A file inside an output directory's Tree counts too.
  v2::Tree tree;
  auto* f = tree.mutable_root()->add_files();
  f->set_name("inner");
  *f->mutable_digest() = ProtoDigest("inner file never uploaded");
  std::string tree_bytes = tree.SerializeAsString();
  ASSERT_TRUE(client_->Upload({tree_bytes}).ok());
  v2::ActionResult with_dir;
  auto* od = with_dir.add_output_directories();
  od->set_path("outdir");
  *od->mutable_tree_digest() = ProtoDigest(tree_bytes);
  auto action5 = ProtoDigest("action 5");
  ASSERT_TRUE(UpdateAc(*client_, "", action5, with_dir).ok());
  EXPECT_CODE(GetAc(*client_, "", action5, &got), NOT_FOUND);
}

TEST_F(ReapiE2ETest, ReadOnlyServerRefusesUpdates) {
  StartServer({"reapi.action_cache_update=false"});
  EXPECT_FALSE(client_->Capabilities()
                   .cache_capabilities()
                   .action_cache_update_capabilities()
                   .update_enabled());
  ASSERT_TRUE(client_->Upload({"o", "s"}).ok());
  EXPECT_CODE(UpdateAc(*client_, "", ProtoDigest("a"), ResultWith("o", "s")), PERMISSION_DENIED);
}

TEST_F(ReapiE2ETest, UpdateWithMalformedDigestsIsInvalidArgument) {
  v2::ActionResult r;
  r.add_output_files()->mutable_digest()->set_hash("short");
  EXPECT_CODE(UpdateAc(*client_, "", ProtoDigest("a"), r), INVALID_ARGUMENT);
  v2::Digest bad_action;
  bad_action.set_hash(std::string(64, 'a'));
  bad_action.set_size_bytes(-1);
  EXPECT_CODE(UpdateAc(*client_, "", bad_action, v2::ActionResult()), INVALID_ARGUMENT);
}

// ---- Instance names ---------------------------------------------------------

TEST_F(ReapiE2ETest, ConfiguredInstancesAreTheOnlyOnesServed) {
  StartServer({"reapi.instance_names=main"});
  v2::FindMissingBlobsRequest req;
  req.set_instance_name("main");
  v2::FindMissingBlobsResponse resp;
  EXPECT_TRUE(client_->cas->FindMissingBlobs(Client::Ctx().get(), req, &resp).ok());
  req.set_instance_name("other");
  grpc::Status st = client_->cas->FindMissingBlobs(Client::Ctx().get(), req, &resp);
  EXPECT_CODE(st, INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("'other'"), std::string::npos) << st.error_message();
  std::string out;
  st = client_->Read("other/blobs/" + DigestPath(ProtoDigest("x")), &out);
  EXPECT_CODE(st, INVALID_ARGUMENT);
  // A client configured with a wrong instance fails at its first call.
  v2::GetCapabilitiesRequest caps_req;
  caps_req.set_instance_name("other");
  v2::ServerCapabilities caps;
  EXPECT_CODE(client_->caps->GetCapabilities(Client::Ctx().get(), caps_req, &caps),
              INVALID_ARGUMENT);
  caps_req.set_instance_name("main");
  EXPECT_TRUE(client_->caps->GetCapabilities(Client::Ctx().get(), caps_req, &caps).ok());
}

// ---- ByteStream -------------------------------------------------------------

TEST_F(ReapiE2ETest, ByteStreamWriteThenReadWholeAndRanges) {
  std::string blob = RandomBytes(3 << 20, 11);
  auto d = ProtoDigest(blob);
  bs::WriteResponse w;
  grpc::Status st =
      client_->Write("main/uploads/" + kUuid + "/blobs/" + DigestPath(d) + "/some/file.o", blob, 0,
                     true, &w, 16 << 10);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(w.committed_size(), static_cast<int64_t>(blob.size()));

  std::string out;
  ASSERT_TRUE(client_->Read("blobs/" + DigestPath(d), &out).ok());
  EXPECT_TRUE(out == blob);
  ASSERT_TRUE(client_->Read("any/instance/blobs/" + DigestPath(d), &out, 1000, 5000).ok());
  EXPECT_TRUE(out == blob.substr(1000, 5000));
  ASSERT_TRUE(
      client_->Read("blobs/" + DigestPath(d), &out, static_cast<int64_t>(blob.size()) - 10).ok());
  EXPECT_TRUE(out == blob.substr(blob.size() - 10));
  ASSERT_TRUE(
      client_->Read("blobs/" + DigestPath(d), &out, static_cast<int64_t>(blob.size())).ok());
  EXPECT_TRUE(out.empty());
}

TEST_F(ReapiE2ETest, ByteStreamReadErrors) {
  ASSERT_TRUE(client_->Upload({"ten bytes!"}).ok());
  auto d = ProtoDigest("ten bytes!");
  std::string out;
  EXPECT_CODE(client_->Read("blobs/" + DigestPath(d), &out, 11), OUT_OF_RANGE);
  EXPECT_CODE(client_->Read("blobs/" + DigestPath(d), &out, -1), OUT_OF_RANGE);
  EXPECT_CODE(client_->Read("blobs/" + DigestPath(d), &out, 0, -1), INVALID_ARGUMENT);
  EXPECT_CODE(client_->Read("compressed-blobs/zstd/" + DigestPath(d), &out, 0, 5),
              INVALID_ARGUMENT);
  EXPECT_CODE(client_->Read("blobs/" + DigestPath(ProtoDigest("absent")), &out), NOT_FOUND);
  grpc::Status st = client_->Read("blobs/" + d.hash() + "/01", &out);
  EXPECT_CODE(st, INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("size"), std::string::npos) << st.error_message();
  st = client_->Read("compressed-blobs/brotli/" + DigestPath(d), &out);
  EXPECT_CODE(st, INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("brotli"), std::string::npos);
}

TEST_F(ReapiE2ETest, ByteStreamWrongContentIsRejectedAndNotStored) {
  std::string claimed = RandomBytes(100000, 12);
  std::string sent = RandomBytes(100000, 13);
  bs::WriteResponse w;
  grpc::Status st = client_->Write(
      "uploads/" + kUuid + "/blobs/" + DigestPath(ProtoDigest(claimed)), sent, 0, true, &w);
  EXPECT_CODE(st, INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("does not match"), std::string::npos) << st.error_message();
  EXPECT_EQ(client_->Missing({claimed, sent}), (std::vector<int>{0, 1}));
  // Nothing kept for a failed upload: it starts over.
  EXPECT_EQ(client_->Query("uploads/" + kUuid + "/blobs/" + DigestPath(ProtoDigest(claimed)))
                .committed_size(),
            0);
}

TEST_F(ReapiE2ETest, ByteStreamWriteErrors) {
  std::string blob = RandomBytes(1000, 14);
  std::string name = "uploads/" + kUuid + "/blobs/" + DigestPath(ProtoDigest(blob));
  bs::WriteResponse w;
  grpc::Status st = client_->Write("uploads/not-a-uuid/blobs/" + DigestPath(ProtoDigest(blob)),
                                   blob, 0, true, &w);
  EXPECT_CODE(st, INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("uuid"), std::string::npos) << st.error_message();
  EXPECT_CODE(client_->Write("blobs/" + DigestPath(ProtoDigest(blob)), blob, 0, true, &w),
              INVALID_ARGUMENT);
  // More bytes than the digest says.
  EXPECT_CODE(client_->Write(name, blob + "extra", 0, true, &w), INVALID_ARGUMENT);
  // A first write_offset past what the server holds.
  st = client_->Write(name, blob.substr(500), 500, true, &w);
  EXPECT_CODE(st, INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("write_offset"), std::string::npos) << st.error_message();
  // finish_write before all bytes arrived.
  EXPECT_CODE(client_->Write(name, blob.substr(0, 999), 0, true, &w), INVALID_ARGUMENT);
  EXPECT_EQ(client_->Missing({blob}), (std::vector<int>{0}));
  // Offsets that skip bytes within a stream.
  {
    auto ctx = Client::Ctx();
    auto writer = client_->bytestream->Write(ctx.get(), &w);
    bs::WriteRequest r1;
    r1.set_resource_name(name);
    r1.set_data(blob.substr(0, 100));
    writer->Write(r1);
    bs::WriteRequest r2;
    r2.set_write_offset(200);
    r2.set_data(blob.substr(200));
    r2.set_finish_write(true);
    writer->Write(r2);
    writer->WritesDone();
    st = writer->Finish();
    EXPECT_CODE(st, INVALID_ARGUMENT);
  }
}

TEST_F(ReapiE2ETest, ByteStreamWriteOfAStoredBlobEndsEarlyWithTheFullSize) {
  std::string blob = RandomBytes(2 << 20, 15);
  auto d = ProtoDigest(blob);
  bs::WriteResponse w;
  ASSERT_TRUE(
      client_->Write("uploads/" + kUuid + "/blobs/" + DigestPath(d), blob, 0, true, &w).ok());
  // Second upload: send only the first chunk, without finish_write.
  bs::WriteResponse again;
  grpc::Status st = client_->Write("uploads/" + kUuid2 + "/blobs/" + DigestPath(d),
                                   blob.substr(0, 16384), 0, false, &again);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(again.committed_size(), static_cast<int64_t>(blob.size()));
  // The empty blob always exists.
  st = client_->Write("uploads/" + kUuid + "/blobs/" + DigestPath(ProtoDigest("")), "", 0, true,
                      &again);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(again.committed_size(), 0);
  auto q = client_->Query("uploads/" + kUuid2 + "/blobs/" + DigestPath(d));
  EXPECT_TRUE(q.complete());
  EXPECT_EQ(q.committed_size(), static_cast<int64_t>(blob.size()));
}

TEST_F(ReapiE2ETest, ByteStreamCompressedRoundTrip) {
  std::string text = TextBytes(3 << 20);
  auto d = ProtoDigest(text);
  std::string packed = Zstd(text);
  bs::WriteResponse w;
  grpc::Status st = client_->Write("uploads/" + kUuid + "/compressed-blobs/zstd/" + DigestPath(d),
                                   packed, 0, true, &w, 16 << 10);
  ASSERT_TRUE(st.ok()) << st.error_message();
  // The end offset in the stream's offset space: first offset (0) + compressed bytes.
  EXPECT_EQ(w.committed_size(), static_cast<int64_t>(packed.size()));

  std::string out;
  ASSERT_TRUE(client_->Read("compressed-blobs/zstd/" + DigestPath(d), &out).ok());
  EXPECT_LT(out.size(), text.size() / 4);
  EXPECT_TRUE(Unzstd(out) == text);
  ASSERT_TRUE(client_->Read("compressed-blobs/zstd/" + DigestPath(d), &out, 1 << 20).ok());
  EXPECT_TRUE(Unzstd(out) == text.substr(1 << 20));
  ASSERT_TRUE(client_->Read("blobs/" + DigestPath(d), &out).ok());
  EXPECT_TRUE(out == text);

  // A compressed upload of a stored blob ends early with -1.
  bs::WriteResponse again;
  st = client_->Write("uploads/" + kUuid2 + "/compressed-blobs/zstd/" + DigestPath(d), packed, 0,
                      true, &again);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(again.committed_size(), -1);

  // Incompressible data and BLAKE3 through the compressed path.
  std::string noise = RandomBytes(1 << 20, 16);
  auto bd = ProtoDigest(noise, DigestFunction::kBlake3);
  st = client_->Write("uploads/" + kUuid + "/compressed-blobs/zstd/blake3/" + DigestPath(bd),
                      Zstd(noise), 0, true, &w);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_TRUE(client_->Read("compressed-blobs/zstd/blake3/" + DigestPath(bd), &out).ok());
  EXPECT_TRUE(Unzstd(out) == noise);
}

TEST_F(ReapiE2ETest, ByteStreamCompressedWrongContentIsRejected) {
  std::string text = TextBytes(100000);
  std::string other = TextBytes(99999) + "!";
  bs::WriteResponse w;
  grpc::Status st =
      client_->Write("uploads/" + kUuid + "/compressed-blobs/zstd/" + DigestPath(ProtoDigest(text)),
                     Zstd(other), 0, true, &w);
  EXPECT_CODE(st, INVALID_ARGUMENT);
  EXPECT_EQ(client_->Missing({text}), (std::vector<int>{0}));
}

TEST_F(ReapiE2ETest, ByteStreamResumesAPartialWrite) {
  std::string blob = RandomBytes(5 << 20, 17);
  std::string name = "ci/uploads/" + kUuid + "/blobs/" + DigestPath(ProtoDigest(blob));
  EXPECT_EQ(client_->Query(name).committed_size(), 0);

  const size_t part = 2 << 20;
  bs::WriteResponse w;
  ASSERT_TRUE(client_->Write(name, blob.substr(0, part), 0, false, &w).ok());
  EXPECT_EQ(w.committed_size(), static_cast<int64_t>(part));
  auto q = client_->Query(name);
  EXPECT_EQ(q.committed_size(), static_cast<int64_t>(part));
  EXPECT_FALSE(q.complete());
  EXPECT_EQ(client_->Missing({blob}), (std::vector<int>{0}));

  ASSERT_TRUE(client_->Write(name, blob.substr(part), static_cast<int64_t>(part), true, &w).ok());
  EXPECT_EQ(w.committed_size(), static_cast<int64_t>(blob.size()));
  q = client_->Query(name);
  EXPECT_TRUE(q.complete());
  std::string out;
  ASSERT_TRUE(client_->Read("blobs/" + DigestPath(ProtoDigest(blob)), &out).ok());
  EXPECT_TRUE(out == blob);
}

// Write reads its requests' bytes itself: bytes that are not a WriteRequest
// are INVALID_ARGUMENT saying so, first message or later. A bad later message
// keeps what the good ones before it delivered, so the upload resumes there.
TEST_F(ReapiE2ETest, ByteStreamWriteRefusesBytesThatAreNotARequest) {
  auto channel = grpc::CreateChannel(server_->address("grpc"), grpc::InsecureChannelCredentials());
  const std::string method = "/google.bytestream.ByteStream/Write";
  auto ctx = Client::Ctx();
  grpc::Status st = testing::RawClientStreamingCall(channel, ctx.get(), method, {"\x0f"});
  EXPECT_CODE(st, INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("WriteRequest is not valid protobuf"), std::string::npos)
      << st.error_message();

  std::string blob = RandomBytes(300000, 23);
  std::string name = "uploads/" + kUuid + "/blobs/" + DigestPath(ProtoDigest(blob));
  bs::WriteRequest first;
  first.set_resource_name(name);
  first.set_data(blob.substr(0, 100000));
  bs::WriteRequest second;
  second.set_write_offset(100000);
  second.set_data(blob.substr(100000, 50000));
  // A third message whose data field claims more bytes than the message holds.
  const std::string truncated = std::string("\x52\xff\xff\x03", 4) + "only a few bytes";
  ctx = Client::Ctx();
  st = testing::RawClientStreamingCall(
      channel, ctx.get(), method,
      {first.SerializeAsString(), second.SerializeAsString(), truncated});
  EXPECT_CODE(st, INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("malformed data"), std::string::npos) << st.error_message();
  EXPECT_EQ(client_->Query(name).committed_size(), 150000);
  EXPECT_EQ(client_->Missing({blob}), (std::vector<int>{0}));

  bs::WriteResponse w;
  ASSERT_TRUE(client_->Write(name, blob.substr(150000), 150000, true, &w).ok());
  EXPECT_EQ(w.committed_size(), static_cast<int64_t>(blob.size()));
  std::string out;
  ASSERT_TRUE(client_->Read("blobs/" + DigestPath(ProtoDigest(blob)), &out).ok());
  EXPECT_TRUE(out == blob);
}

// Fields in any order, repeated (the last one counts), and unknown ones: the
// server reads a WriteRequest as protobuf would.
TEST_F(ReapiE2ETest, ByteStreamWriteReadsFieldsAsProtobufDoes) {
  auto channel = grpc::CreateChannel(server_->address("grpc"), grpc::InsecureChannelCredentials());
  std::string blob = RandomBytes(70000, 24);
  std::string name = "uploads/" + kUuid + "/blobs/" + DigestPath(ProtoDigest(blob));
  bs::WriteRequest data_first;
  data_first.set_data("bytes that a later data field replaces");
  bs::WriteRequest rest;
  rest.set_data(blob);
  rest.set_finish_write(true);
  rest.set_resource_name(name);
  // data, then field 7 (unknown, fixed32), then the rest with the real data.
  const std::string message = data_first.SerializeAsString() +
                              std::string("\x3d\x01\x02\x03\x04", 5) + rest.SerializeAsString();
  auto ctx = Client::Ctx();
  grpc::Status st = testing::RawClientStreamingCall(
      channel, ctx.get(), "/google.bytestream.ByteStream/Write", {message});
  ASSERT_TRUE(st.ok()) << st.error_message();
  std::string out;
  ASSERT_TRUE(client_->Read("blobs/" + DigestPath(ProtoDigest(blob)), &out).ok());
  EXPECT_TRUE(out == blob);
}

TEST_F(ReapiE2ETest, ByteStreamResumeFromAnEarlierOffsetAndRestartFromZero) {
  std::string blob = RandomBytes(3 << 20, 18);
  std::string name = "uploads/" + kUuid + "/blobs/" + DigestPath(ProtoDigest(blob));
  bs::WriteResponse w;
  ASSERT_TRUE(client_->Write(name, blob.substr(0, 2 << 20), 0, false, &w).ok());
  // A client that lost track resumes earlier than the server's offset: fine.
  ASSERT_TRUE(client_->Write(name, blob.substr(1 << 20, 1 << 20), 1 << 20, false, &w).ok());
  EXPECT_EQ(client_->Query(name).committed_size(), 2 << 20);
  // Restarting from 0 discards the kept prefix.
  ASSERT_TRUE(client_->Write(name, blob.substr(0, 1000), 0, false, &w).ok());
  EXPECT_EQ(client_->Query(name).committed_size(), 1000);
  ASSERT_TRUE(client_->Write(name, blob.substr(1000), 1000, true, &w).ok());
  std::string out;
  ASSERT_TRUE(client_->Read("blobs/" + DigestPath(ProtoDigest(blob)), &out).ok());
  EXPECT_TRUE(out == blob);
}

TEST_F(ReapiE2ETest, ByteStreamCancelledWriteKeepsWhatArrived) {
  std::string blob = RandomBytes(4 << 20, 19);
  std::string name = "uploads/" + kUuid + "/blobs/" + DigestPath(ProtoDigest(blob));
  {
    bs::WriteResponse w;
    auto ctx = Client::Ctx();
    auto writer = client_->bytestream->Write(ctx.get(), &w);
    for (size_t off = 0; off < (1 << 20); off += 65536) {
      bs::WriteRequest r;
      if (off == 0) r.set_resource_name(name);
      r.set_write_offset(static_cast<int64_t>(off));
      r.set_data(blob.substr(off, 65536));
      ASSERT_TRUE(writer->Write(r));
    }
    // Wait until the server has taken all of it, then drop the call.
    for (int i = 0; i < 200 && client_->Query(name).committed_size() < (1 << 20); i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ctx->TryCancel();
    writer->Finish();
  }
  int64_t kept = 0;
  for (int i = 0; i < 200; i++) {  // the server notices the cancellation asynchronously
    grpc::Status st;
    auto q = client_->Query(name, &st);
    kept = q.committed_size();
    // Writing again succeeds only once the cancelled stream has released the upload.
    bs::WriteResponse probe;
    if (kept == (1 << 20) && client_->Write(name, "", kept, false, &probe).ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(kept, 1 << 20);
  bs::WriteResponse w;
  ASSERT_TRUE(client_->Write(name, blob.substr(1 << 20), 1 << 20, true, &w).ok());
  EXPECT_EQ(w.committed_size(), static_cast<int64_t>(blob.size()));
  EXPECT_TRUE(client_->Missing({blob}).empty());
}

TEST_F(ReapiE2ETest, ByteStreamResumesAfterAServerRestart) {
  std::string blob = RandomBytes(6 << 20, 20);
  std::string name = "uploads/" + kUuid + "/blobs/" + DigestPath(ProtoDigest(blob));
  bs::WriteResponse w;
  ASSERT_TRUE(client_->Write(name, blob.substr(0, 3 << 20), 0, false, &w).ok());
  ASSERT_EQ(w.committed_size(), 3 << 20);

  Restart();
  auto q = client_->Query(name);
  EXPECT_EQ(q.committed_size(), 3 << 20);
  EXPECT_FALSE(q.complete());
  ASSERT_TRUE(client_->Write(name, blob.substr(3 << 20, 1 << 20), 3 << 20, false, &w).ok());
  EXPECT_EQ(w.committed_size(), 4 << 20);

  // Also after kill -9: what was acknowledged is durable.
  server_->Kill();
  ASSERT_TRUE(server_->Start()) << server_->error();
  client_ = std::make_unique<Client>(server_->address("grpc"));
  EXPECT_EQ(client_->Query(name).committed_size(), 4 << 20);
  ASSERT_TRUE(client_->Write(name, blob.substr(4 << 20), 4 << 20, true, &w).ok());
  EXPECT_EQ(w.committed_size(), static_cast<int64_t>(blob.size()));
  std::string out;
  ASSERT_TRUE(client_->Read("blobs/" + DigestPath(ProtoDigest(blob)), &out).ok());
  EXPECT_TRUE(out == blob);
}

// The upload spool keeps references to received messages within its memory
// budget and copies the rest to files: with a budget smaller than the uploads,
// gzip-compressed messages (whose bytes the gRPC library decompressed) and
// concurrent uploads both resume and commit byte-exact.
TEST_F(ReapiE2ETest, ByteStreamUploadsBeyondTheSpoolMemoryBudget) {
  StartServer({"reapi.upload_memory=1MiB"});
  std::string text = TextBytes(4 << 20) + RandomBytes(2 << 20, 25);
  std::string name = "uploads/" + kUuid + "/blobs/" + DigestPath(ProtoDigest(text));
  bs::WriteResponse w;
  ASSERT_TRUE(
      client_->Write(name, text.substr(0, 4 << 20), 0, false, &w, 256 << 10, GRPC_COMPRESS_GZIP)
          .ok());
  ASSERT_EQ(w.committed_size(), 4 << 20);
  EXPECT_EQ(client_->Query(name).committed_size(), 4 << 20);
  ASSERT_TRUE(
      client_->Write(name, text.substr(4 << 20), 4 << 20, true, &w, 256 << 10, GRPC_COMPRESS_GZIP)
          .ok());
  EXPECT_EQ(w.committed_size(), static_cast<int64_t>(text.size()));
  std::string out;
  ASSERT_TRUE(client_->Read("blobs/" + DigestPath(ProtoDigest(text)), &out).ok());
  EXPECT_TRUE(out == text);

  std::vector<std::string> blobs;
  for (int i = 0; i < 4; i++) blobs.push_back(RandomBytes(3 << 20, 40 + i));
  std::vector<std::thread> writers;
  std::vector<grpc::Status> results(blobs.size());
  for (size_t i = 0; i < blobs.size(); i++) {
    writers.emplace_back([&, i] {
      bs::WriteResponse r;
      const std::string n = "uploads/" + kUuid.substr(0, 35) + std::to_string(i) + "/blobs/" +
                            DigestPath(ProtoDigest(blobs[i]));
      results[i] = client_->Write(n, blobs[i], 0, true, &r, 1 << 20);
    });
  }
  for (auto& t : writers) t.join();
  for (size_t i = 0; i < blobs.size(); i++) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].error_message();
    ASSERT_TRUE(client_->Read("blobs/" + DigestPath(ProtoDigest(blobs[i])), &out).ok());
    EXPECT_TRUE(out == blobs[i]) << i;
  }
}

TEST_F(ReapiE2ETest, ByteStreamCompressedUploadResumesAtAnUncompressedOffset) {
  std::string text = TextBytes(2 << 20) + RandomBytes(1 << 20, 21);
  auto d = ProtoDigest(text);
  std::string name = "uploads/" + kUuid + "/compressed-blobs/zstd/" + DigestPath(d);
  // First stream: a complete zstd frame of the first 1 MiB, then the stream breaks.
  std::string first = Zstd(text.substr(0, 1 << 20));
  bs::WriteResponse w;
  ASSERT_TRUE(client_->Write(name, first, 0, false, &w).ok());
  EXPECT_EQ(w.committed_size(), 1 << 20);  // uncompressed bytes received
  // The same upload queried by its uncompressed name reports the same progress.
  EXPECT_EQ(client_->Query("uploads/" + kUuid + "/blobs/" + DigestPath(d)).committed_size(),
            1 << 20);
  // Resume: a new zstd stream of the rest, starting at the uncompressed offset.
  std::string rest = Zstd(text.substr(1 << 20));
  ASSERT_TRUE(client_->Write(name, rest, 1 << 20, true, &w).ok());
  EXPECT_EQ(w.committed_size(), (1 << 20) + static_cast<int64_t>(rest.size()));
  std::string out;
  ASSERT_TRUE(client_->Read("blobs/" + DigestPath(d), &out).ok());
  EXPECT_TRUE(out == text);
}

TEST_F(ReapiE2ETest, ConcurrentWritesOfOneBlobBothSucceed) {
  std::string blob = RandomBytes(4 << 20, 22);
  auto d = ProtoDigest(blob);
  std::vector<std::thread> threads;
  std::vector<grpc::Status> results(4);
  std::vector<int64_t> committed(4);
  for (int i = 0; i < 4; i++) {
    threads.emplace_back([&, i] {
      Client c(server_->address("grpc"));
      std::string uuid = kUuid;
      uuid[0] = static_cast<char>('0' + i);
      bs::WriteResponse w;
      results[i] = c.Write("uploads/" + uuid + "/blobs/" + DigestPath(d), blob, 0, true, &w);
      committed[i] = w.committed_size();
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 4; i++) {
    EXPECT_TRUE(results[i].ok()) << results[i].error_message();
    EXPECT_EQ(committed[i], static_cast<int64_t>(blob.size()));
  }
  std::string out;
  ASSERT_TRUE(client_->Read("blobs/" + DigestPath(d), &out).ok());
  EXPECT_TRUE(out == blob);
}

}  // namespace
}  // namespace cycas
