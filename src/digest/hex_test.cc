#include "digest/hex.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

namespace cycas {
namespace {

using ::testing::HasSubstr;

TEST(HexTest, EncodesLowercaseTwoCharactersPerByte) {
  const std::vector<uint8_t> bytes = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  EXPECT_EQ(HexEncode(bytes), "00017f80abff");
  EXPECT_EQ(HexEncode({}), "");
}

TEST(HexTest, EncodeToWritesIntoCallerBuffer) {
  const std::array<uint8_t, 2> bytes = {0xde, 0xad};
  std::array<char, 4> out{};
  HexEncodeTo(bytes, out);
  EXPECT_EQ(std::string(out.data(), out.size()), "dead");
}

TEST(HexTest, DecodeRoundTripsEveryByteValue) {
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  auto decoded = HexDecode(HexEncode(all));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, all);
}

// Decoding takes 16 characters at a time, with a tail done one pair at a
// time: every length from none to a group and a tail, round trip.
TEST(HexTest, DecodeRoundTripsEveryLengthAroundTheGroupSize) {
  for (size_t n = 0; n <= 21; ++n) {
    std::vector<uint8_t> bytes;
    for (size_t i = 0; i < n; ++i) bytes.push_back(static_cast<uint8_t>(0x9e * (i + 1)));
    auto decoded = HexDecode(HexEncode(bytes));
    ASSERT_TRUE(decoded.ok()) << n << ": " << decoded.status().ToString();
    EXPECT_EQ(*decoded, bytes) << n;
  }
}

// Every byte value at every position of a group and of the tail: accepted
// exactly when it is a lowercase hex digit, and then decoded to its value;
// otherwise the error names that position.
TEST(HexTest, DecodeChecksEveryCharacterInEveryPosition) {
  const std::string valid = "0123456789abcdef0123";  // a group of 16, a tail of 4
  for (size_t pos = 0; pos < valid.size(); ++pos) {
    for (int c = 0; c < 256; ++c) {
      std::string hex = valid;
      hex[pos] = static_cast<char>(c);
      std::vector<uint8_t> out(hex.size() / 2);
      Status st = HexDecodeTo(hex, out);
      const bool is_hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      ASSERT_EQ(st.ok(), is_hex) << "byte " << c << " at " << pos;
      if (is_hex) {
        const int v = c <= '9' ? c - '0' : c - 'a' + 10;
        const int shift = pos % 2 == 0 ? 4 : 0;
        EXPECT_EQ((out[pos / 2] >> shift) & 0xf, v) << "byte " << c << " at " << pos;
      } else {
        EXPECT_THAT(st.message(), HasSubstr("position " + std::to_string(pos) + ":"))
            << "byte " << c << " at " << pos;
      }
    }
  }
}

TEST(HexTest, DecodeAcceptsEmptyString) {
  auto decoded = HexDecode("");
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->empty());
}

TEST(HexTest, DecodeRejectsUppercaseNamingPositionAndCharacter) {
  auto decoded = HexDecode("00aB");
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(decoded.status().message(),
            "invalid hex at position 3: uppercase 'B' (hex must be lowercase)");
}

TEST(HexTest, DecodeRejectsOddLength) {
  auto decoded = HexDecode("abc");
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(decoded.status().message(), "invalid hex: odd length 3");
}

TEST(HexTest, DecodeRejectsNonHexLetterNamingPosition) {
  auto decoded = HexDecode("0g");
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().message(), "invalid hex at position 1: 'g' is not a hex digit");
}

TEST(HexTest, DecodeReportsFirstBadCharacterOfAPair) {
  auto decoded = HexDecode("aazz");
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(decoded.status().message(), HasSubstr("position 2: 'z'"));
}

TEST(HexTest, DecodeEscapesUnprintableBytesInMessage) {
  auto space = HexDecode("a ");
  ASSERT_FALSE(space.ok());
  EXPECT_EQ(space.status().message(), "invalid hex at position 1: byte 0x20 is not a hex digit");
  auto nul = HexDecode(std::string_view("\0a", 2));
  ASSERT_FALSE(nul.ok());
  EXPECT_THAT(nul.status().message(), HasSubstr("position 0: byte 0x00"));
  auto high = HexDecode("\xc3\xa9");
  ASSERT_FALSE(high.ok());
  EXPECT_THAT(high.status().message(), HasSubstr("byte 0xc3"));
}

TEST(HexTest, DecodeToRequiresExactLength) {
  std::array<uint8_t, 2> out{};
  Status s = HexDecodeTo("abcdef", out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "invalid hex: expected 4 characters, got 6");
  ASSERT_TRUE(HexDecodeTo("abcd", out).ok());
  EXPECT_EQ(out, (std::array<uint8_t, 2>{0xab, 0xcd}));
}

}  // namespace
}  // namespace cycas
