#include "api/zako/wire.h"

#include <gtest/gtest.h>

namespace cycas::api::zako {
namespace {

TEST(WireTest, DigestRoundTripsThroughProto) {
  Digest d = Digest::Of(DigestFunction::kBlake3, "hello");
  auto back = DigestFromProto(DigestToProto(d), "digest");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, d);
}

TEST(WireTest, ShortHashIsInvalidArgumentNamingTheField) {
  zpb::digest::Digest p;
  p.set_size_bytes(5);
  p.set_blake3(std::string(31, 'x'));
  auto d = DigestFromProto(p, "blob_digests[7]");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(d.status().message().find("blob_digests[7].blake3"), std::string::npos)
      << d.status().message();
  EXPECT_NE(d.status().message().find("got 31"), std::string::npos);
}

TEST(WireTest, MissingHashIsInvalid) {
  zpb::digest::Digest p;
  EXPECT_EQ(DigestFromProto(p, "metadata.digest").status().code(), StatusCode::kInvalidArgument);
}

// Range math: every boundary of a 10-byte blob.
TEST(RangeTest, MissingLengthMeansToTheEnd) {
  EXPECT_EQ(*ResolveRange(0, std::nullopt, 10, "b"), (ResolvedRange{0, 10}));
  EXPECT_EQ(*ResolveRange(9, std::nullopt, 10, "b"), (ResolvedRange{9, 1}));
}

TEST(RangeTest, ExactRangesAtEveryBoundary) {
  EXPECT_EQ(*ResolveRange(0, 10, 10, "b"), (ResolvedRange{0, 10}));
  EXPECT_EQ(*ResolveRange(0, 1, 10, "b"), (ResolvedRange{0, 1}));
  EXPECT_EQ(*ResolveRange(9, 1, 10, "b"), (ResolvedRange{9, 1}));
  EXPECT_EQ(*ResolveRange(3, 7, 10, "b"), (ResolvedRange{3, 7}));
}

TEST(RangeTest, ZeroLengthIsInvalid) {
  auto r = ResolveRange(0, 0, 10, "b");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("length 0"), std::string::npos);
}

TEST(RangeTest, PastTheEndIsInvalidAndStatesTheBlobLength) {
  for (auto [start, len] : std::vector<std::pair<uint64_t, std::optional<uint64_t>>>{
           {10, std::nullopt}, {11, std::nullopt}, {10, 1}, {9, 2}, {0, 11},
           {UINT64_MAX, 1}, {1, UINT64_MAX}}) {
    auto r = ResolveRange(start, len, 10, "blobname");
    ASSERT_FALSE(r.ok()) << start;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("10 bytes long"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("blobname"), std::string::npos);
  }
}

TEST(RangeTest, EmptyBlobHasOnlyTheWholeRange) {
  EXPECT_EQ(*ResolveRange(0, std::nullopt, 0, "e"), (ResolvedRange{0, 0}));
  EXPECT_FALSE(ResolveRange(0, 1, 0, "e").ok());
  EXPECT_FALSE(ResolveRange(1, std::nullopt, 0, "e").ok());
}

TEST(RangeTest, UnsetProtoRangeIsTheWholeBlob) {
  EXPECT_EQ(*ResolveRange(nullptr, 42, "b"), (ResolvedRange{0, 42}));
  zpb::range::BlobRange r;
  r.set_start(2);
  EXPECT_EQ(*ResolveRange(&r, 42, "b"), (ResolvedRange{2, 40}));
  r.set_length(0);
  EXPECT_FALSE(ResolveRange(&r, 42, "b").ok());
}

TEST(AddressTest, SplitsHostsAndPorts) {
  auto a = SplitHostPort("127.0.0.1:9093");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9093);
  auto b = SplitHostPort("[::1]:0");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  EXPECT_FALSE(SplitHostPort("::1:80").ok());
  EXPECT_FALSE(SplitHostPort("host").ok());
  EXPECT_FALSE(SplitHostPort("host:70000").ok());
  EXPECT_FALSE(SplitHostPort(":80").ok());
  EXPECT_EQ(JoinHostPort("::1", 5), "[::1]:5");
  EXPECT_EQ(JoinHostPort("10.0.0.2", 5), "10.0.0.2:5");
}

TEST(AddressTest, Ipv4IsTheBigEndianValue) {
  zpb::net::SocketAddress p;
  ASSERT_TRUE(SocketAddressToProto("127.0.0.1", 9093, &p).ok());
  EXPECT_EQ(p.ip().v4(), 0x7f000001u);
  EXPECT_EQ(p.port(), 9093u);
  ASSERT_TRUE(SocketAddressToProto("10.0.0.2", 1, &p).ok());
  EXPECT_EQ(p.ip().v4(), 0x0a000002u);
  EXPECT_EQ(*SocketAddressFromProto(p), "10.0.0.2:1");
}

TEST(AddressTest, Ipv6IsSixteenBytesInNetworkOrder) {
  zpb::net::SocketAddress p;
  ASSERT_TRUE(SocketAddressToProto("::1", 443, &p).ok());
  ASSERT_EQ(p.ip().v6().size(), 16u);
  EXPECT_EQ(p.ip().v6()[15], 1);
  EXPECT_EQ(p.ip().v6()[0], 0);
  EXPECT_EQ(*SocketAddressFromProto(p), "[::1]:443");
}

TEST(AddressTest, RejectsNonAddresses) {
  zpb::net::SocketAddress p;
  EXPECT_FALSE(SocketAddressToProto("localhost", 1, &p).ok());
  EXPECT_FALSE(SocketAddressToProto("127.0.0.1", 0, &p).ok());
  zpb::net::SocketAddress empty;
  empty.set_port(5);
  EXPECT_FALSE(SocketAddressFromProto(empty).ok());
  EXPECT_TRUE(IsWildcardIp("0.0.0.0"));
  EXPECT_TRUE(IsWildcardIp("::"));
  EXPECT_FALSE(IsWildcardIp("127.0.0.1"));
}

TEST(BearerTest, ParsesTheSchemeCaseInsensitively) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer abc"), "abc");
  EXPECT_FALSE(BearerToken("Basic abc"));
  EXPECT_FALSE(BearerToken("Bearer "));
  EXPECT_FALSE(BearerToken("abc"));
}

}  // namespace
}  // namespace cycas::api::zako
