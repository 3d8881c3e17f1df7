// The bucket layout of docs/s3-tier.md, and URLs in SigV4's canonical form.
#include "cas/s3/object_layout.h"

#include <gtest/gtest.h>

#include "cas/action_cache.h"

namespace cycas::s3 {
namespace {

Digest D(std::string_view bytes, DigestFunction fn = DigestFunction::kSha256) { return Digest::Of(fn, bytes); }

TEST(ObjectLayoutTest, BlobKeyIsPrefixCasFunctionHash) {
  Digest d = D("hello");
  EXPECT_EQ(ObjectLayout("team/cache").BlobKey(d), "team/cache/cas/sha256/" + d.hex());
  EXPECT_EQ(ObjectLayout("").BlobKey(d), "cas/sha256/" + d.hex());
  Digest b = D("hello", DigestFunction::kBlake3);
  EXPECT_EQ(ObjectLayout("p").BlobKey(b), "p/cas/blake3/" + b.hex());
}

TEST(ObjectLayoutTest, PrefixSlashesAreNormalized) {
  Digest d = D("x");
  EXPECT_EQ(ObjectLayout("/a/b/").BlobKey(d), "a/b/cas/sha256/" + d.hex());
  EXPECT_EQ(ObjectLayout("///").BlobKey(d), "cas/sha256/" + d.hex());
}

TEST(ObjectLayoutTest, ActionCacheRecordNamesMapToInstanceThenFunctionThenHash) {
  Digest a = D("action");
  ObjectLayout l("p");
  EXPECT_EQ(l.RecordKey(ActionCache::RecordName("main", a)), "p/ac/main/sha256/" + a.hex());
  EXPECT_EQ(l.RecordKey(ActionCache::RecordName("ci/linux/x86", a)), "p/ac/ci/linux/x86/sha256/" + a.hex());
  // The empty instance has no instance segment.
  EXPECT_EQ(l.RecordKey(ActionCache::RecordName("", a)), "p/ac/sha256/" + a.hex());
}

TEST(ObjectLayoutTest, InstancesNamedLikeFunctionsStayDistinct) {
  Digest a = D("action");
  ObjectLayout l("");
  EXPECT_NE(l.RecordKey(ActionCache::RecordName("sha256", a)), l.RecordKey(ActionCache::RecordName("", a)));
}

TEST(ObjectLayoutTest, OtherRecordsGoUnderKv) {
  ObjectLayout l("p");
  EXPECT_EQ(l.RecordKey("alternates/xyz"), "p/kv/alternates/xyz");
  EXPECT_EQ(l.RecordKey("ac/notafunction/abc/1/x"), "p/kv/ac/notafunction/abc/1/x");
  EXPECT_EQ(ObjectLayout("").RecordKey("k"), "kv/k");
}

TEST(ObjectLayoutTest, ParseAcRecordNameRejectsMalformedNames) {
  Digest a = D("action");
  auto ok = ParseAcRecordName(ActionCache::RecordName("i/j", a));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->function, "sha256");
  EXPECT_EQ(ok->hex, a.hex());
  EXPECT_EQ(ok->instance, "i/j");
  EXPECT_FALSE(ParseAcRecordName("ac/sha256/" + a.hex()).has_value());          // no size
  EXPECT_FALSE(ParseAcRecordName("ac/sha256/" + a.hex() + "/x/").has_value());  // bad size
  EXPECT_FALSE(ParseAcRecordName("ac/sha256/ABC/1/").has_value());              // bad hash
  EXPECT_FALSE(ParseAcRecordName("cas/sha256/" + a.hex() + "/1/").has_value());
}

TEST(UriEncodeTest, EncodesEverythingButUnreservedAndOptionallySlash) {
  EXPECT_EQ(UriEncode("a-b_c.d~e/f", true), "a-b_c.d~e/f");
  EXPECT_EQ(UriEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(UriEncode("a b+c:d=e&f", true), "a%20b%2Bc%3Ad%3De%26f");
  EXPECT_EQ(UriEncode("\xc3\xa9", true), "%C3%A9");
}

TEST(ObjectUrlTest, PathStyleAndVirtualHostStyle) {
  S3Options o;
  o.endpoint = "http://127.0.0.1:7480";
  o.bucket = "cache";
  EXPECT_EQ(ObjectUrl(o, "p/cas/sha256/ab"), "http://127.0.0.1:7480/cache/p/cas/sha256/ab");
  EXPECT_EQ(ObjectUrl(o, ""), "http://127.0.0.1:7480/cache");
  EXPECT_EQ(ObjectUrl(o, "k", "uploads="), "http://127.0.0.1:7480/cache/k?uploads=");
  o.endpoint = "https://s3.eu-west-1.amazonaws.com";
  o.addressing = Addressing::kVirtualHost;
  EXPECT_EQ(ObjectUrl(o, "p/ac/my inst/sha256/ab"),
            "https://cache.s3.eu-west-1.amazonaws.com/p/ac/my%20inst/sha256/ab");
  EXPECT_EQ(ObjectUrl(o, ""), "https://cache.s3.eu-west-1.amazonaws.com/");
}

}  // namespace
}  // namespace cycas::s3
