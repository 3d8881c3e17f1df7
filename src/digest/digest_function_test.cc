#include "digest/digest_function.h"

#include <gtest/gtest.h>

namespace cycas {
namespace {

TEST(DigestFunctionTest, NamesRoundTrip) {
  for (DigestFunction fn : {DigestFunction::kSha256, DigestFunction::kBlake3}) {
    auto parsed = ParseDigestFunction(DigestFunctionName(fn));
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(*parsed, fn);
  }
  EXPECT_EQ(DigestFunctionName(DigestFunction::kSha256), "sha256");
  EXPECT_EQ(DigestFunctionName(DigestFunction::kBlake3), "blake3");
}

TEST(DigestFunctionTest, ParseIsExactAndNamesTheBadInput) {
  for (std::string_view bad : {"SHA256", "Blake3", "sha-256", "md5", "", " blake3"}) {
    auto parsed = ParseDigestFunction(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(ParseDigestFunction("md5").status().message(),
            "unknown digest function \"md5\" (want \"sha256\" or \"blake3\")");
}

TEST(DigestFunctionTest, PersistedValuesAreStable) {
  // These numbers may be on disk; changing them would misread old stores.
  EXPECT_EQ(static_cast<int>(DigestFunction::kSha256), 1);
  EXPECT_EQ(static_cast<int>(DigestFunction::kBlake3), 2);
  EXPECT_EQ(*DigestFunctionFromByte(1), DigestFunction::kSha256);
  EXPECT_EQ(*DigestFunctionFromByte(2), DigestFunction::kBlake3);
  for (int v : {0, 3, 255}) {
    auto fn = DigestFunctionFromByte(static_cast<uint8_t>(v));
    ASSERT_FALSE(fn.ok());
    EXPECT_EQ(fn.status().message(), "unknown digest function value " + std::to_string(v));
  }
}

TEST(DigestFunctionTest, BothFunctionsProduce32ByteHashes) {
  EXPECT_EQ(HashLength(DigestFunction::kSha256), 32u);
  EXPECT_EQ(HashLength(DigestFunction::kBlake3), 32u);
  EXPECT_EQ(sizeof(HashBytes), 32u);
}

}  // namespace
}  // namespace cycas
