#include "api/reapi/digest_functions.h"

#include <gtest/gtest.h>

namespace cycas::api::reapi {
namespace {

const std::string kHash64(64, 'a');

TEST(DigestFunctionsTest, ReapiNumbersMapToOurEnum) {
  // REAPI's numbers are not ours: SHA256 = 1, BLAKE3 = 9 on the wire.
  EXPECT_EQ(static_cast<int>(v2::DigestFunction::SHA256), 1);
  EXPECT_EQ(static_cast<int>(v2::DigestFunction::BLAKE3), 9);
  EXPECT_EQ(*FromReapiDigestFunction(v2::DigestFunction::SHA256), DigestFunction::kSha256);
  EXPECT_EQ(*FromReapiDigestFunction(v2::DigestFunction::BLAKE3), DigestFunction::kBlake3);
  EXPECT_EQ(ToReapiDigestFunction(DigestFunction::kSha256), v2::DigestFunction::SHA256);
  EXPECT_EQ(ToReapiDigestFunction(DigestFunction::kBlake3), v2::DigestFunction::BLAKE3);
}

TEST(DigestFunctionsTest, UnsupportedFunctionsAreNamed) {
  for (auto v : {v2::DigestFunction::SHA1, v2::DigestFunction::MD5, v2::DigestFunction::SHA512,
                 v2::DigestFunction::SHA256TREE, v2::DigestFunction::UNKNOWN}) {
    auto r = FromReapiDigestFunction(v);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(v2::DigestFunction::Value_Name(v)), std::string::npos)
        << r.status().message();
  }
  auto odd = FromReapiDigestFunction(static_cast<v2::DigestFunction::Value>(77));
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.status().message().find("77"), std::string::npos);
}

TEST(DigestFunctionsTest, UnsetWith64HexCharsInfersSha256NotBlake3) {
  // BLAKE3 is not among the functions the spec lets a server infer.
  EXPECT_EQ(*ResolveDigestFunction(v2::DigestFunction::UNKNOWN, kHash64), DigestFunction::kSha256);
}

TEST(DigestFunctionsTest, ExplicitFunctionWins) {
  EXPECT_EQ(*ResolveDigestFunction(v2::DigestFunction::BLAKE3, kHash64), DigestFunction::kBlake3);
  EXPECT_EQ(*ResolveDigestFunction(v2::DigestFunction::SHA256, kHash64), DigestFunction::kSha256);
}

TEST(DigestFunctionsTest, UnsetWithOtherLengthsIsAnError) {
  auto sha1 = ResolveDigestFunction(v2::DigestFunction::UNKNOWN, std::string(40, 'a'));
  ASSERT_FALSE(sha1.ok());
  EXPECT_EQ(sha1.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(sha1.status().message().find("SHA-1"), std::string::npos) << sha1.status().message();
  EXPECT_NE(sha1.status().message().find("digest_function"), std::string::npos);
  EXPECT_FALSE(ResolveDigestFunction(v2::DigestFunction::UNKNOWN, std::string(63, 'a')).ok());
  EXPECT_FALSE(ResolveDigestFunction(v2::DigestFunction::UNKNOWN, std::string(128, 'a')).ok());
}

TEST(DigestFunctionsTest, UnsetWithoutDigestsDefaultsToSha256) {
  EXPECT_EQ(*ResolveDigestFunction(v2::DigestFunction::UNKNOWN, ""), DigestFunction::kSha256);
}

}  // namespace
}  // namespace cycas::api::reapi
