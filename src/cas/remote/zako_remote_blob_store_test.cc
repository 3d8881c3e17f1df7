// The remote tier against an in-process zako server (both services on one
// loopback port, over a RAM-backed CAS).
#include "cas/remote/zako_remote_blob_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "api/zako/cas_service.h"
#include "api/zako/parked_uploads.h"
#include "api/zako/token_table.h"
#include "api/zako/transport_service.h"
#include "api/zako/wire.h"
#include "cas/cas_store.h"
#include "cas/check_pool.h"
#include "cas/memory_blob_store.h"
#include "cas/tiered_blob_store.h"

namespace cycas {
namespace {

using namespace std::chrono_literals;
namespace zako = api::zako;

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string Pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 31 + (i >> 10));
  return s;
}

class RemoteStoreTest : public ::testing::Test {
 protected:
  void StartServer(std::chrono::milliseconds token_ttl = 1h) {
    store_ = std::make_unique<MemoryBlobStore>(256 << 20, 256 << 20);
    cas_ = std::make_unique<CasStore>(store_.get(), nullptr);
    tokens_ = std::make_unique<zako::TokenTable>(zako::TokenTableOptions{token_ttl, 100});
    pool_ = std::make_unique<CheckPool>(2);
    parked_ = std::make_unique<zako::ParkedUploads>(zako::ParkedUploadsOptions{1min, 8});
    cas_service_ = std::make_unique<zako::CasService>(cas_.get(), pool_.get(), tokens_.get(), 2);
    transport_ = std::make_unique<zako::TransportService>(cas_.get(), tokens_.get(), parked_.get(),
                                                          zako::TransportOptions{64 << 10});
    grpc::ServerBuilder b;
    b.RegisterService(cas_service_.get());
    b.RegisterService(transport_.get());
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_);
    ::zako::v1::net::SocketAddress addr;
    ASSERT_TRUE(zako::SocketAddressToProto("127.0.0.1", port_, &addr).ok());
    cas_service_->SetTransportAddress(addr);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 1s);
    parked_.reset();
  }
  std::unique_ptr<ZakoRemoteBlobStore> Remote(client::ClientOptions o = {}) {
    o.server = "127.0.0.1:" + std::to_string(port_);
    o.chunk_size = 100'000;
    auto r = ZakoRemoteBlobStore::Create(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::move(*r);
  }
  Status Put(BlobStore& s, std::string_view bytes) {
    Digest d = Digest::Of(DigestFunction::kBlake3, bytes);
    ASSIGN_OR_RETURN(auto w, s.OpenWrite(d));
    for (size_t off = 0; off < bytes.size(); off += 70'000) {
      RETURN_IF_ERROR(w->Append(AsBytes(bytes.substr(off, 70'000))));
    }
    return w->Commit();
  }

  std::unique_ptr<MemoryBlobStore> store_;
  std::unique_ptr<CasStore> cas_;
  std::unique_ptr<zako::TokenTable> tokens_;
  std::unique_ptr<CheckPool> pool_;
  std::unique_ptr<zako::ParkedUploads> parked_;
  std::unique_ptr<zako::CasService> cas_service_;
  std::unique_ptr<zako::TransportService> transport_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(RemoteStoreTest, WriteThenContainsThenReadBack) {
  StartServer();
  auto remote = Remote();
  std::string data = Pattern(1'000'003, 'a');
  Digest d = Digest::Of(DigestFunction::kBlake3, data);
  EXPECT_FALSE(*remote->Contains(d));
  ASSERT_TRUE(Put(*remote, data).ok());
  EXPECT_TRUE(*remote->Contains(d));
  EXPECT_TRUE(*store_->Contains(d));
  auto r = remote->OpenRead(d);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->size(), data.size());
  auto all = ReadWholeBlob(**r);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(*all, data);
}

TEST_F(RemoteStoreTest, ReadsAtArbitraryOffsets) {
  StartServer();
  auto remote = Remote();
  std::string data = Pattern(300'000, 'b');
  ASSERT_TRUE(Put(*remote, data).ok());
  auto r = *remote->OpenRead(Digest::Of(DigestFunction::kBlake3, data));
  for (uint64_t off : {299'999ul, 0ul, 150'000ul, 65'535ul, 65'536ul}) {
    std::vector<uint8_t> buf(10);
    auto n = r->Read(off, buf);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    ASSERT_GE(*n, 1u);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(buf.data()), *n), data.substr(off, *n)) << off;
  }
  std::vector<uint8_t> buf(10);
  EXPECT_EQ(*r->Read(300'000, buf), 0u);
}

TEST_F(RemoteStoreTest, UnknownBlobIsNotFoundAtOpen) {
  StartServer();
  auto remote = Remote();
  auto r = remote->OpenRead(Digest::Of(DigestFunction::kBlake3, "nope"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST_F(RemoteStoreTest, PresentBlobIsAlreadyExistsAtOpenWrite) {
  StartServer();
  auto remote = Remote();
  ASSERT_TRUE(Put(*remote, "x").ok());
  auto w = remote->OpenWrite(Digest::Of(DigestFunction::kBlake3, "x"));
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kAlreadyExists);
}

TEST_F(RemoteStoreTest, WrongBytesAreRejectedByTheServer) {
  StartServer();
  auto remote = Remote();
  Digest d = Digest::Of(DigestFunction::kBlake3, "right");
  auto w = remote->OpenWrite(d);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append(AsBytes("wrong")).ok());
  Status st = (*w)->Commit();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_FALSE(*store_->Contains(d));
}

TEST_F(RemoteStoreTest, AbortedWriteStoresNothing) {
  StartServer();
  auto remote = Remote();
  std::string data = Pattern(500'000, 'c');
  Digest d = Digest::Of(DigestFunction::kBlake3, data);
  {
    auto w = remote->OpenWrite(d);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(AsBytes(data.substr(0, 200'000))).ok());
    (*w)->Abort();
  }
  EXPECT_FALSE(*remote->Contains(d));
  // The interrupted upload does not block a fresh one of the same blob.
  ASSERT_TRUE(Put(*remote, data).ok());
  EXPECT_TRUE(*remote->Contains(d));
}

TEST_F(RemoteStoreTest, ExpiredTokenIsRefreshedTransparently) {
  StartServer(/*token_ttl=*/300ms);
  auto remote = Remote();
  std::string data = Pattern(10'000, 'd');
  ASSERT_TRUE(Put(*remote, data).ok());
  std::this_thread::sleep_for(400ms);
  auto r = remote->OpenRead(Digest::Of(DigestFunction::kBlake3, data));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*ReadWholeBlob(**r), data);
  std::this_thread::sleep_for(400ms);
  std::string data2 = Pattern(10'000, 'e');
  Digest d2 = Digest::Of(DigestFunction::kBlake3, data2);
  auto up =
      remote->client()->Upload(d2, [&](uint64_t off, std::span<uint8_t> out) -> Result<size_t> {
        size_t n = std::min(out.size(), data2.size() - off);
        std::memcpy(out.data(), data2.data() + off, n);
        return n;
      });
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_TRUE(*store_->Contains(d2));
}

TEST_F(RemoteStoreTest, TieredStoreFetchesFromTheRemoteAndKeepsItLocally) {
  StartServer();
  auto remote = Remote();
  std::string data = Pattern(123'456, 'f');
  ASSERT_TRUE(Put(*remote, data).ok());
  MemoryBlobStore local(64 << 20, 64 << 20);
  TieredBlobStore tiers(nullptr, &local, remote.get(), {});
  CasStore cas(&tiers, nullptr);
  Digest d = Digest::Of(DigestFunction::kBlake3, data);
  EXPECT_TRUE(*cas.Contains(d));
  EXPECT_FALSE(*local.Contains(d));
  EXPECT_EQ(*cas.ReadAll(d, 1 << 20), data);
  EXPECT_TRUE(*local.Contains(d));
  EXPECT_EQ(tiers.remote_fetches(), 1u);
}

TEST_F(RemoteStoreTest, Sha256DigestsAreNeverRemote) {
  StartServer();
  auto remote = Remote();
  EXPECT_FALSE(*remote->Contains(Digest::Of(DigestFunction::kSha256, "x")));
}

}  // namespace
}  // namespace cycas
