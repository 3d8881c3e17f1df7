#include "api/http/content_negotiation.h"

#include <gtest/gtest.h>

namespace cycas::api::http {
namespace {

TEST(AcceptEncodingTest, MissingHeaderMeansIdentityOnly) {
  AcceptEncoding a = ParseAcceptEncoding("");
  EXPECT_EQ(a.zstd_q, 0);
  EXPECT_EQ(a.identity_q, 1000);
  EXPECT_FALSE(PrefersZstd(a));
}

TEST(AcceptEncodingTest, PlainZstd) {
  AcceptEncoding a = ParseAcceptEncoding("gzip, zstd");
  EXPECT_EQ(a.zstd_q, 1000);
  EXPECT_TRUE(PrefersZstd(a));
}

TEST(AcceptEncodingTest, QValuesAreHonoured) {
  EXPECT_FALSE(PrefersZstd(ParseAcceptEncoding("zstd;q=0.5, identity")));
  EXPECT_TRUE(PrefersZstd(ParseAcceptEncoding("zstd;q=0.5, identity;q=0.4")));
  EXPECT_FALSE(PrefersZstd(ParseAcceptEncoding("zstd;q=0")));
  EXPECT_EQ(ParseAcceptEncoding("zstd; q=0.125").zstd_q, 125);
  EXPECT_EQ(ParseAcceptEncoding("ZSTD;Q=1.000").zstd_q, 1000);
}

TEST(AcceptEncodingTest, IdentityRefusal) {
  EXPECT_EQ(ParseAcceptEncoding("zstd, identity;q=0").identity_q, 0);
  EXPECT_EQ(ParseAcceptEncoding("zstd, *;q=0").identity_q, 0);
  EXPECT_EQ(ParseAcceptEncoding("*;q=0, identity").identity_q, 1000);
  EXPECT_EQ(ParseAcceptEncoding("gzip").identity_q, 1000);
}

TEST(AcceptEncodingTest, WildcardCoversZstd) {
  EXPECT_EQ(ParseAcceptEncoding("*").zstd_q, 1000);
  EXPECT_EQ(ParseAcceptEncoding("*;q=0.3, zstd;q=0.2").zstd_q, 200);
}

TEST(AcceptEncodingTest, MalformedElementsAreSkipped) {
  EXPECT_EQ(ParseAcceptEncoding("zstd;q=2").zstd_q, 0);
  EXPECT_EQ(ParseAcceptEncoding("zstd;q=1.5").zstd_q, 0);
  EXPECT_EQ(ParseAcceptEncoding("zstd;q=0.1234").zstd_q, 0);
  EXPECT_EQ(ParseAcceptEncoding("zstd;level=3").zstd_q, 0);
  EXPECT_EQ(ParseAcceptEncoding(",,, zstd ,,").zstd_q, 1000);
}

TEST(EtagTest, IfNoneMatch) {
  std::string etag = QuoteEtag("abc");
  EXPECT_EQ(etag, "\"abc\"");
  EXPECT_TRUE(IfNoneMatchMatches("\"abc\"", etag));
  EXPECT_TRUE(IfNoneMatchMatches("W/\"abc\"", etag));
  EXPECT_TRUE(IfNoneMatchMatches("\"x\", \"abc\"", etag));
  EXPECT_TRUE(IfNoneMatchMatches(" * ", etag));
  EXPECT_FALSE(IfNoneMatchMatches("\"abcd\"", etag));
  EXPECT_FALSE(IfNoneMatchMatches("abc", etag));
  EXPECT_FALSE(IfNoneMatchMatches("", etag));
}

TEST(EtagTest, IfRangeIsStrong) {
  std::string etag = QuoteEtag("abc");
  EXPECT_TRUE(IfRangeMatches("\"abc\"", etag));
  EXPECT_FALSE(IfRangeMatches("W/\"abc\"", etag));
  EXPECT_FALSE(IfRangeMatches("Wed, 21 Oct 2015 07:28:00 GMT", etag));
}

}  // namespace
}  // namespace cycas::api::http
