#include "client/cli_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace cycas::client {
namespace {

TEST(CliUtilTest, DigestArgRoundTrips) {
  Digest d = Digest::Of(DigestFunction::kBlake3, "hello");
  auto back = ParseDigestArg(DigestArg(d));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, d);
  EXPECT_TRUE(ParseDigestArg("blake3:" + DigestArg(d)).ok());
}

TEST(CliUtilTest, BadDigestsAreRejectedWithTheArgument) {
  auto r = ParseDigestArg("abc/5");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("abc/5"), std::string::npos);
  Digest d = Digest::Of(DigestFunction::kSha256, "x");
  EXPECT_FALSE(ParseDigestArg(d.ToString()).ok());  // "sha256:..." is not a zako digest
}

TEST(CliUtilTest, RangeArgs) {
  auto a = ParseRangeArg("10");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->start, 10u);
  EXPECT_FALSE(a->length);
  auto b = ParseRangeArg("1KiB:4");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->start, 1024u);
  EXPECT_EQ(*b->length, 4u);
  EXPECT_FALSE(ParseRangeArg("5:0").ok());
  EXPECT_FALSE(ParseRangeArg("x").ok());
  EXPECT_FALSE(ParseRangeArg("1:y").ok());
}

TEST(CliUtilTest, HashFileMatchesHashOfBytes) {
  std::string path = ::testing::TempDir() + "/cycas_hashfile_" + std::to_string(getpid());
  std::string content(3 << 20, 'q');
  content[12345] = 'x';
  std::ofstream(path, std::ios::binary) << content;
  auto d = HashFile(path);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, Digest::Of(DigestFunction::kBlake3, content));
  unlink(path.c_str());
  EXPECT_FALSE(HashFile(path).ok());
}

TEST(CliUtilTest, FormatsBytes) {
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(4096), "4.0 KiB");
  EXPECT_EQ(FormatBytes(64.0 * (1 << 20)), "64.0 MiB");
}

}  // namespace
}  // namespace cycas::client
