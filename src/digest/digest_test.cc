#include "digest/digest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <type_traits>
#include <unordered_set>

namespace cycas {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kAbcBlake3 =
    "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";
constexpr std::string_view kAbcSha256 =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static_assert(std::is_trivially_copyable_v<Digest>);
static_assert(sizeof(Digest) <= 48);

TEST(DigestTest, OfComputesHashAndSize) {
  Digest d = Digest::Of(DigestFunction::kBlake3, "abc");
  EXPECT_EQ(d.function(), DigestFunction::kBlake3);
  EXPECT_EQ(d.hex(), kAbcBlake3);
  EXPECT_EQ(d.size_bytes(), 3u);
  EXPECT_EQ(Digest::Of(DigestFunction::kSha256, "abc").hex(), kAbcSha256);
}

TEST(DigestTest, FromHexAcceptsWireForm) {
  auto d = Digest::FromHex(DigestFunction::kBlake3, kAbcBlake3, 3);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, Digest::Of(DigestFunction::kBlake3, "abc"));
}

TEST(DigestTest, FromHexRejectsWrongLengthSayingItIsTheHash) {
  for (std::string_view hex : {kAbcBlake3.substr(0, 63), std::string_view("")}) {
    auto d = Digest::FromHex(DigestFunction::kBlake3, hex, 3);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(d.status().message(),
                HasSubstr("hash must be 64 lowercase hex characters, got " +
                          std::to_string(hex.size())));
  }
  const std::string too_long = std::string(kAbcBlake3) + "0";
  auto d = Digest::FromHex(DigestFunction::kBlake3, too_long, 3);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), HasSubstr("got 65"));
}

TEST(DigestTest, FromHexRejectsUppercaseAndNonHex) {
  std::string upper(kAbcBlake3);
  upper[10] = 'A';
  auto d = Digest::FromHex(DigestFunction::kBlake3, upper, 3);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(d.status().message(),
              HasSubstr("hash: invalid hex at position 10: uppercase 'A'"));

  std::string bad(kAbcBlake3);
  bad[63] = 'g';
  d = Digest::FromHex(DigestFunction::kBlake3, bad, 3);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), HasSubstr("position 63: 'g' is not a hex digit"));
}

TEST(DigestTest, FromHexRejectsNegativeSizeNamingIt) {
  auto d = Digest::FromHex(DigestFunction::kSha256, kAbcSha256, -5);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(d.status().message(), HasSubstr("size must be >= 0, got -5"));
  // The message names the digest too, so a client can find it in its request.
  EXPECT_THAT(d.status().message(), HasSubstr(kAbcSha256));
}

TEST(DigestTest, FromHexAcceptsZeroAndLargestSize) {
  EXPECT_TRUE(Digest::FromHex(DigestFunction::kSha256, kAbcSha256, 0).ok());
  auto d = Digest::FromHex(DigestFunction::kSha256, kAbcSha256, INT64_MAX);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->size_bytes(), static_cast<uint64_t>(INT64_MAX));
}

TEST(DigestTest, FromHexRejectsUnknownFunction) {
  auto d = Digest::FromHex(static_cast<DigestFunction>(7), kAbcSha256, 3);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), HasSubstr("unknown digest function value 7"));
}

TEST(DigestTest, FromBytesRequires32Bytes) {
  const Digest want = Digest::Of(DigestFunction::kBlake3, "abc");
  auto d = Digest::FromBytes(DigestFunction::kBlake3, want.hash(), 3);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, want);

  std::vector<uint8_t> short_hash(31);
  auto bad = Digest::FromBytes(DigestFunction::kBlake3, short_hash, 3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "hash must be 32 bytes, got 31");
  std::vector<uint8_t> long_hash(33);
  EXPECT_EQ(Digest::FromBytes(DigestFunction::kBlake3, long_hash, 3).status().message(),
            "hash must be 32 bytes, got 33");
}

TEST(DigestTest, ToStringNamesFunctionHashAndSize) {
  EXPECT_EQ(Digest::Of(DigestFunction::kBlake3, "abc").ToString(),
            "blake3:" + std::string(kAbcBlake3) + "/3");
  EXPECT_EQ(Digest::Of(DigestFunction::kSha256, "abc").ToString(),
            "sha256:" + std::string(kAbcSha256) + "/3");
  std::ostringstream os;
  os << Digest::Of(DigestFunction::kSha256, "abc");
  EXPECT_EQ(os.str(), "sha256:" + std::string(kAbcSha256) + "/3");
}

TEST(DigestTest, ParseRoundTripsToString) {
  for (DigestFunction fn : {DigestFunction::kSha256, DigestFunction::kBlake3}) {
    for (std::string_view content : {"", "abc", "a longer blob of content"}) {
      const Digest d = Digest::Of(fn, content);
      auto parsed = Digest::Parse(d.ToString());
      ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
      EXPECT_EQ(*parsed, d);
    }
  }
  // The largest size survives the text form.
  const Digest huge(DigestFunction::kBlake3, Digest::Of(DigestFunction::kBlake3, "x").hash(),
                    UINT64_MAX);
  auto parsed = Digest::Parse(huge.ToString());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, huge);
}

TEST(DigestTest, ParseWithoutPrefixUsesDefaultFunction) {
  const std::string text = std::string(kAbcSha256) + "/3";
  auto d = Digest::Parse(text, DigestFunction::kSha256);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, Digest::Of(DigestFunction::kSha256, "abc"));

  auto no_default = Digest::Parse(text);
  ASSERT_FALSE(no_default.ok());
  EXPECT_THAT(no_default.status().message(), HasSubstr("no default function"));
}

TEST(DigestTest, ParsePrefixOverridesDefault) {
  auto d = Digest::Parse("blake3:" + std::string(kAbcBlake3) + "/3", DigestFunction::kSha256);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->function(), DigestFunction::kBlake3);
}

TEST(DigestTest, ParseRejectsMalformedTextSayingWhichPart) {
  const std::string hex(kAbcBlake3);
  struct Case {
    std::string text;
    std::string want;
  };
  const Case cases[] = {
      {"md5:" + hex + "/3", "unknown digest function \"md5\""},
      {"BLAKE3:" + hex + "/3", "unknown digest function \"BLAKE3\""},
      {"blake3:" + hex, "missing \"/<size>\""},
      {"blake3:" + hex.substr(1) + "/3", "hash must be 64 lowercase hex characters, got 63"},
      {"blake3:" + hex + "0/3", "got 65"},
      {"blake3:" + hex.substr(0, 63) + "G/3", "position 63: 'G' is not a hex digit"},
      {"blake3:" + hex + "/", "size is empty"},
      {"blake3:" + hex + "/-3", "size \"-3\" is not a decimal number"},
      {"blake3:" + hex + "/+3", "is not a decimal number"},
      {"blake3:" + hex + "/3 ", "is not a decimal number"},
      {"blake3:" + hex + "/03", "size \"03\" has leading zeros"},
      {"blake3:" + hex + "/18446744073709551616", "is too large"},
      {"blake3:" + hex + "/3/4", "is not a decimal number"},
  };
  for (const auto& c : cases) {
    auto d = Digest::Parse(c.text);
    ASSERT_FALSE(d.ok()) << c.text;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(d.status().message(), HasSubstr(c.want)) << c.text;
    EXPECT_THAT(d.status().message(), HasSubstr("invalid digest \"")) << c.text;
  }
}

TEST(DigestTest, ParseErrorEscapesAndTruncatesUntrustedText) {
  auto d = Digest::Parse(std::string(1000, 'x') + "\n");
  ASSERT_FALSE(d.ok());
  EXPECT_LT(d.status().message().size(), 300u);
  auto ctl = Digest::Parse("blake3:\x01/3");
  ASSERT_FALSE(ctl.ok());
  EXPECT_THAT(ctl.status().message(), HasSubstr("\\x01"));
}

TEST(DigestTest, EmptyDigestIsTheHashOfNothing) {
  for (DigestFunction fn : {DigestFunction::kSha256, DigestFunction::kBlake3}) {
    const Digest empty = EmptyDigest(fn);
    EXPECT_EQ(empty, Digest::Of(fn, "")) << DigestFunctionName(fn);
    EXPECT_TRUE(empty.IsEmptyBlob());
    EXPECT_EQ(empty.size_bytes(), 0u);
  }
  EXPECT_EQ(EmptyDigest(DigestFunction::kSha256).hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(EmptyDigest(DigestFunction::kBlake3).hex(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
}

TEST(DigestTest, IsEmptyBlobNeedsBothZeroSizeAndEmptyHash) {
  EXPECT_FALSE(Digest::Of(DigestFunction::kBlake3, "abc").IsEmptyBlob());
  // Right hash, wrong size: a lie about the empty blob, not the empty blob.
  const Digest empty = EmptyDigest(DigestFunction::kBlake3);
  EXPECT_FALSE(Digest(DigestFunction::kBlake3, empty.hash(), 1).IsEmptyBlob());
  // Zero size with another hash is not empty either.
  const Digest abc = Digest::Of(DigestFunction::kBlake3, "abc");
  EXPECT_FALSE(Digest(DigestFunction::kBlake3, abc.hash(), 0).IsEmptyBlob());
  // The empty hash of the other function does not count.
  EXPECT_FALSE(
      Digest(DigestFunction::kSha256, EmptyDigest(DigestFunction::kBlake3).hash(), 0).IsEmptyBlob());
}

TEST(DigestTest, EqualityAndOrderingCoverAllFields) {
  const Digest a = Digest::Of(DigestFunction::kBlake3, "abc");
  const Digest same_hash_other_size(DigestFunction::kBlake3, a.hash(), 4);
  const Digest same_hash_other_fn(DigestFunction::kSha256, a.hash(), 3);
  EXPECT_EQ(a, Digest::Of(DigestFunction::kBlake3, "abc"));
  EXPECT_NE(a, same_hash_other_size);
  EXPECT_NE(a, same_hash_other_fn);
  EXPECT_LT(a, same_hash_other_size);
  EXPECT_LT(same_hash_other_fn, a);  // kSha256 (1) sorts before kBlake3 (2).

  std::set<Digest> ordered = {a, same_hash_other_size, same_hash_other_fn};
  EXPECT_EQ(ordered.size(), 3u);
}

TEST(DigestTest, WorksAsUnorderedSetKey) {
  std::unordered_set<Digest> set;
  for (int i = 0; i < 100; ++i) set.insert(Digest::Of(DigestFunction::kBlake3, std::to_string(i)));
  set.insert(Digest::Of(DigestFunction::kBlake3, "7"));
  EXPECT_EQ(set.size(), 100u);
  EXPECT_TRUE(set.contains(Digest::Of(DigestFunction::kBlake3, "42")));
  EXPECT_FALSE(set.contains(Digest::Of(DigestFunction::kSha256, "42")));
}

TEST(DigestTest, FinishDigestUsesBytesSeenAsSize) {
  Hasher hasher(DigestFunction::kSha256);
  hasher.Update("a");
  hasher.Update("bc");
  EXPECT_EQ(FinishDigest(hasher), Digest::Of(DigestFunction::kSha256, "abc"));
  EXPECT_EQ(FinishDigest(hasher), EmptyDigest(DigestFunction::kSha256));
}

}  // namespace
}  // namespace cycas
