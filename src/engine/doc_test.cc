#include "engine/doc.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace cycas::engine {
namespace {

std::vector<uint8_t> MakeDoc(std::string_view payload) {
  DocHeader h{};
  h.type = static_cast<uint8_t>(DocType::kBlob);
  h.total_len = payload.size();
  h.serial = 42;
  h.cycle = 3;
  h.key.bytes[0] = 7;
  h.first_key = h.key;
  std::vector<uint8_t> out(DocSectors(payload.size()) * kSectorSize, 0xAA);
  EncodeDoc(h, {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()}, out.data());
  return out;
}

TEST(DocTest, EncodedDocVerifiesAndPadsWithZeros) {
  auto doc = MakeDoc("hello");
  EXPECT_EQ(doc.size(), 512u);
  EXPECT_TRUE(VerifyDoc(doc.data(), doc.size()).ok());
  for (size_t i = kDocHeaderSize + 5; i < doc.size(); i++) ASSERT_EQ(doc[i], 0) << i;
}

TEST(DocTest, EveryFlippedBitIsDetected) {
  auto doc = MakeDoc("some payload bytes that matter");
  size_t used = kDocHeaderSize + 30;
  for (size_t byte = 0; byte < used; byte++) {
    auto copy = doc;
    copy[byte] ^= 0x10;
    EXPECT_FALSE(VerifyDoc(copy.data(), copy.size()).ok()) << "byte " << byte;
  }
}

TEST(DocTest, VoidedDocKeepsItsLengthAndSerialButNoKey) {
  auto doc = MakeDoc(std::string(700, 'v'));
  VoidDoc(doc.data());
  ASSERT_TRUE(VerifyDoc(doc.data(), doc.size()).ok());
  DocHeader h;
  std::memcpy(&h, doc.data(), sizeof h);
  EXPECT_EQ(h.type, static_cast<uint8_t>(DocType::kVoid));
  EXPECT_EQ(h.data_len, 700u);  // the recovery scan steps over it by its length
  EXPECT_EQ(h.serial, 42u);     // and the serial chain stays unbroken
  EXPECT_EQ(h.cycle, 3u);
  EXPECT_EQ(h.key, Key());
  EXPECT_EQ(h.first_key, Key());
  auto again = doc;
  VoidDoc(again.data());
  EXPECT_EQ(again, doc);
}

TEST(DocTest, LengthBeyondAvailableBytesIsRejected) {
  auto doc = MakeDoc(std::string(1000, 'x'));
  EXPECT_FALSE(VerifyDoc(doc.data(), 600).ok());
  EXPECT_FALSE(VerifyDoc(doc.data(), 10).ok());
}

}  // namespace
}  // namespace cycas::engine
