#include "api/http/request_path.h"

#include <gtest/gtest.h>

#include <vector>

#include "digest/hex.h"

namespace cycas::api::http {
namespace {

const std::string kHex(64, 'a');

TEST(RequestPathTest, CasWithoutInstanceIsSha256) {
  auto p = ParseRequestTarget("/cas/" + kHex);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->endpoint, Endpoint::kCas);
  EXPECT_EQ(p->function, DigestFunction::kSha256);
  EXPECT_EQ(p->instance, "");
  EXPECT_EQ(HexEncode(p->hash), kHex);
}

TEST(RequestPathTest, AcWithMultiSegmentInstance) {
  auto p = ParseRequestTarget("/team-a/linux_x86/ac/" + kHex);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->endpoint, Endpoint::kAc);
  EXPECT_EQ(p->instance, "team-a/linux_x86");
}

TEST(RequestPathTest, Blake3NamespaceWithAndWithoutInstance) {
  auto p = ParseRequestTarget("/blake3/cas/" + kHex);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->function, DigestFunction::kBlake3);
  EXPECT_EQ(p->instance, "");
  auto q = ParseRequestTarget("/main/blake3/ac/" + kHex);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->function, DigestFunction::kBlake3);
  EXPECT_EQ(q->endpoint, Endpoint::kAc);
  EXPECT_EQ(q->instance, "main");
}

TEST(RequestPathTest, QueryStringIsIgnored) {
  auto p = ParseRequestTarget("/cas/" + kHex + "?x=1");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->endpoint, Endpoint::kCas);
}

TEST(RequestPathTest, FixedEndpoints) {
  EXPECT_EQ(ParseRequestTarget("/metrics")->endpoint, Endpoint::kMetrics);
  EXPECT_EQ(ParseRequestTarget("/status")->endpoint, Endpoint::kStatus);
  EXPECT_EQ(ParseRequestTarget("/")->endpoint, Endpoint::kStatus);
  EXPECT_EQ(ParseRequestTarget("/status.json")->endpoint, Endpoint::kStatusJson);
}

TEST(RequestPathTest, TraversalIsRefused) {
  for (const std::string& t : std::vector<std::string>{"/cas/../x", "/../cas/" + kHex,
                                                       "/./cas/" + kHex, "/a/../cas/" + kHex}) {
    auto p = ParseRequestTarget(t);
    ASSERT_FALSE(p.ok()) << t;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << t;
  }
}

TEST(RequestPathTest, BadHexNamesTheProblem) {
  auto upper = ParseRequestTarget("/cas/" + std::string(63, 'a') + "A");
  ASSERT_FALSE(upper.ok());
  EXPECT_EQ(upper.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(upper.status().message().find("position 63"), std::string::npos)
      << upper.status().message();
  auto short_hex = ParseRequestTarget("/cas/abc");
  ASSERT_FALSE(short_hex.ok());
  EXPECT_NE(short_hex.status().message().find("got 3"), std::string::npos);
}

TEST(RequestPathTest, MalformedSegmentsAreRefused) {
  for (const std::string& t :
       std::vector<std::string>{"cas/" + kHex, "", "/cas//" + kHex, "//cas/" + kHex,
                                "/cas/" + kHex + "/", "/a%2f/cas/" + kHex, "/a b/cas/" + kHex,
                                std::string("/a\x01/cas/") + kHex, "http://host/cas/" + kHex}) {
    auto p = ParseRequestTarget(t);
    ASSERT_FALSE(p.ok()) << t;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << t;
  }
}

TEST(RequestPathTest, UnknownPathsAreNotFound) {
  for (const std::string& t :
       std::vector<std::string>{"/favicon.ico", "/foo/bar", "/cass/" + kHex}) {
    auto p = ParseRequestTarget(t);
    ASSERT_FALSE(p.ok()) << t;
    EXPECT_EQ(p.status().code(), StatusCode::kNotFound) << t;
  }
}

TEST(RequestPathTest, OverlongInstanceIsRefused) {
  std::string inst(kMaxInstanceLength + 1, 'x');
  auto p = ParseRequestTarget("/" + inst + "/cas/" + kHex);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  std::string ok_inst(kMaxInstanceLength, 'x');
  EXPECT_TRUE(ParseRequestTarget("/" + ok_inst + "/cas/" + kHex).ok());
}

const std::vector<std::string> kKv = {"ccache", "sccache"};

TEST(RequestPathTest, KeyValueNamespaceKeys) {
  auto p = ParseRequestTarget("/ccache/ab/cdef0123", kKv);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->endpoint, Endpoint::kKv);
  EXPECT_EQ(p->instance, "ccache");
  EXPECT_EQ(p->key, "ab/cdef0123");
  EXPECT_FALSE(p->collection);
  auto check = ParseRequestTarget("/sccache/.sccache_check", kKv);
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->key, ".sccache_check");
}

TEST(RequestPathTest, KeyValueCollections) {
  for (const std::string& t : std::vector<std::string>{"/ccache", "/ccache/", "/ccache/a/b/"}) {
    auto p = ParseRequestTarget(t, kKv);
    ASSERT_TRUE(p.ok()) << t << ": " << p.status().ToString();
    EXPECT_EQ(p->endpoint, Endpoint::kKv) << t;
    EXPECT_TRUE(p->collection) << t;
  }
  EXPECT_EQ(ParseRequestTarget("/ccache/a/b/", kKv)->key, "a/b");
}

TEST(RequestPathTest, CachePathsInsideKeyValueNamespaceKeepTheirMeaning) {
  auto p = ParseRequestTarget("/ccache/ac/" + kHex, kKv);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->endpoint, Endpoint::kAc);
  EXPECT_EQ(p->instance, "ccache");
}

TEST(RequestPathTest, KeyValueKeysAreValidated) {
  for (const std::string& t : std::vector<std::string>{
           "/ccache/../x", "/ccache/a//b", "/ccache/a%2e%2e", "/ccache/./x",
           std::string("/ccache/a"), "/ccache/" + std::string(kMaxKvKeyLength + 1, 'k')}) {
    auto p = ParseRequestTarget(t, kKv);
    ASSERT_FALSE(p.ok()) << t;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << t;
  }
  // Not a configured namespace: a trailing slash is just malformed.
  EXPECT_FALSE(ParseRequestTarget("/other/a/", kKv).ok());
  EXPECT_EQ(ParseRequestTarget("/other/a", kKv).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace cycas::api::http
