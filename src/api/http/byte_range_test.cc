#include "api/http/byte_range.h"

#include <gtest/gtest.h>

namespace cycas::api::http {
namespace {

using Kind = ByteRangeResult::Kind;

void ExpectRange(std::string_view header, uint64_t size, uint64_t offset, uint64_t length) {
  ByteRangeResult r = ParseByteRange(header, size);
  ASSERT_EQ(r.kind, Kind::kSatisfiable) << header;
  EXPECT_EQ(r.offset, offset) << header;
  EXPECT_EQ(r.length, length) << header;
}

TEST(ByteRangeTest, ClosedRange) {
  ExpectRange("bytes=0-99", 1000, 0, 100);
}
TEST(ByteRangeTest, ClosedRangeClampedToSize) {
  ExpectRange("bytes=900-5000", 1000, 900, 100);
}
TEST(ByteRangeTest, OpenRange) {
  ExpectRange("bytes=10-", 1000, 10, 990);
}
TEST(ByteRangeTest, SuffixRange) {
  ExpectRange("bytes=-100", 1000, 900, 100);
}
TEST(ByteRangeTest, SuffixLongerThanBlobIsWholeBlob) {
  ExpectRange("bytes=-5000", 1000, 0, 1000);
}
TEST(ByteRangeTest, LastByte) {
  ExpectRange("bytes=999-999", 1000, 999, 1);
}
TEST(ByteRangeTest, UnitIsCaseInsensitiveAndWhitespaceTolerated) {
  ExpectRange(" Bytes = 1 - 2 ", 10, 1, 2);
}

TEST(ByteRangeTest, StartAtOrPastEndIsUnsatisfiable) {
  EXPECT_EQ(ParseByteRange("bytes=1000-", 1000).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseByteRange("bytes=1000-2000", 1000).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseByteRange("bytes=0-", 0).kind, Kind::kUnsatisfiable);
}

TEST(ByteRangeTest, ZeroSuffixIsUnsatisfiable) {
  EXPECT_EQ(ParseByteRange("bytes=-0", 1000).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseByteRange("bytes=-5", 0).kind, Kind::kUnsatisfiable);
}

TEST(ByteRangeTest, InvalidHeadersAreIgnored) {
  for (std::string_view h : {"", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-1",
                             "items=0-1", "bytes=0-1,5-6", "bytes=0-1,", "bytes=+1-2", "bytes=1-+2",
                             "bytes=1", "bytes=99999999999999999999-", "bytes=--1"}) {
    EXPECT_EQ(ParseByteRange(h, 1000).kind, Kind::kIgnore) << h;
  }
}

TEST(ByteRangeTest, HugeValuesDoNotOverflow) {
  ExpectRange("bytes=0-9999999999999999999", 10, 0, 10);
  ExpectRange("bytes=-9999999999999999999", 10, 0, 10);
  EXPECT_EQ(ParseByteRange("bytes=9999999999999999999-", 10).kind, Kind::kUnsatisfiable);
}

TEST(ByteRangeTest, ContentRangeForms) {
  EXPECT_EQ(ContentRange(0, 100, 1000), "bytes 0-99/1000");
  EXPECT_EQ(UnsatisfiedContentRange(1000), "bytes */1000");
}

}  // namespace
}  // namespace cycas::api::http
