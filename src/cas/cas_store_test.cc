#include "cas/cas_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "cas/memory_blob_store.h"
#include "cas/tiered_blob_store.h"

namespace cycas {
namespace {

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class CasStoreTest : public ::testing::Test {
 protected:
  MemoryBlobStore mem_{1 << 20, 1 << 20};
  CasStore cas_{&mem_, nullptr};
};

TEST_F(CasStoreTest, VerifiedUploadIsStored) {
  Digest d = Digest::Of(DigestFunction::kBlake3, "hello");
  ASSERT_TRUE(cas_.Put(d, "hello").ok());
  EXPECT_TRUE(*cas_.Contains(d));
  EXPECT_EQ(*cas_.ReadAll(d, 100), "hello");
}

TEST_F(CasStoreTest, WrongContentIsRejectedWithExpectedAndActual) {
  Digest d = Digest::Of(DigestFunction::kSha256, "hello");
  auto w = cas_.OpenWrite(d);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append(AsBytes("jello")).ok());
  Status st = (*w)->Commit();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find(d.hex()), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(Digest::Of(DigestFunction::kSha256, "jello").hex()), std::string::npos);
  EXPECT_FALSE(*cas_.Contains(d));
}

TEST_F(CasStoreTest, ShortAndLongUploadsAreRejected) {
  Digest d = Digest::Of(DigestFunction::kBlake3, "hello");
  {
    auto w = cas_.OpenWrite(d);
    ASSERT_TRUE((*w)->Append(AsBytes("hell")).ok());
    EXPECT_EQ((*w)->Commit().code(), StatusCode::kInvalidArgument);
  }
  {
    auto w = cas_.OpenWrite(d);
    EXPECT_EQ((*w)->Append(AsBytes("hello!")).code(), StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(*cas_.Contains(d));
}

TEST_F(CasStoreTest, EmptyBlobAlwaysExists) {
  Digest e = EmptyDigest(DigestFunction::kSha256);
  EXPECT_TRUE(*cas_.Contains(e));
  EXPECT_EQ(*cas_.ReadAll(e, 0), "");
  EXPECT_EQ(cas_.OpenWrite(e).status().code(), StatusCode::kAlreadyExists);
}

TEST_F(CasStoreTest, ImplausibleSizeIsInvalidArgumentNamingTheDigest) {
  CasOptions o;
  o.max_blob_size = 1000;
  CasStore small(&mem_, nullptr, o);
  auto d = Digest::FromHex(DigestFunction::kBlake3, std::string(64, 'a'), 5000);
  ASSERT_TRUE(d.ok());
  Status st = small.Contains(*d).status();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find(d->hex()), std::string::npos);
}

TEST_F(CasStoreTest, ConcurrentUploadsOfOneDigestStoreOnce) {
  std::string data(100'000, 'x');
  Digest d = Digest::Of(DigestFunction::kBlake3, data);
  std::atomic<int> stored{0}, existed{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 6; i++) {
    ts.emplace_back([&] {
      auto w = cas_.OpenWrite(d);
      if (!w.ok()) {
        if (w.status().code() == StatusCode::kAlreadyExists) existed++;
        return;
      }
      for (size_t off = 0; off < data.size(); off += 1000) {
        ASSERT_TRUE((*w)->Append(AsBytes(std::string_view(data).substr(off, 1000))).ok());
      }
      if ((*w)->Commit().ok()) stored++;
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(stored.load(), 1);
  EXPECT_EQ(existed.load(), 5);
}

TEST_F(CasStoreTest, AbandonedWriterReleasesTheDigest) {
  Digest d = Digest::Of(DigestFunction::kBlake3, "abc");
  {
    auto w = cas_.OpenWrite(d);
    ASSERT_TRUE((*w)->Append(AsBytes("ab")).ok());
  }  // client went away
  EXPECT_FALSE(*cas_.Contains(d));
  EXPECT_TRUE(cas_.Put(d, "abc").ok());
}

}  // namespace
}  // namespace cycas
