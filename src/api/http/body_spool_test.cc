#include "api/http/body_spool.h"

#include <gtest/gtest.h>

namespace cycas::api::http {
namespace {

class StringWriter final : public BlobWriter {
 public:
  Status Append(std::span<const uint8_t> d) override {
    out.append(reinterpret_cast<const char*>(d.data()), d.size());
    return Status::Ok();
  }
  Status Commit() override { return Status::Ok(); }
  void Abort() override {}
  std::string out;
};

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(BodySpoolTest, SmallBodyStaysInMemory) {
  BodySpool s("/tmp", 1024, DigestFunction::kSha256);
  ASSERT_TRUE(s.Append(Bytes("hello ")).ok());
  ASSERT_TRUE(s.Append(Bytes("world")).ok());
  EXPECT_TRUE(s.in_memory());
  EXPECT_EQ(s.Finish(), Digest::Of(DigestFunction::kSha256, std::string_view("hello world")));
  EXPECT_EQ(*s.ReadAll(100), "hello world");
}

TEST(BodySpoolTest, LargeBodyMovesToFileAndReadsBack) {
  BodySpool s("/tmp", 100, DigestFunction::kBlake3);
  std::string all;
  for (int i = 0; i < 50; i++) {
    std::string piece(37, static_cast<char>('a' + i % 26));
    all += piece;
    ASSERT_TRUE(s.Append(Bytes(piece)).ok());
  }
  EXPECT_FALSE(s.in_memory());
  EXPECT_EQ(s.size(), all.size());
  EXPECT_EQ(s.Finish(), Digest::Of(DigestFunction::kBlake3, all));
  EXPECT_EQ(*s.ReadAll(all.size()), all);
  EXPECT_FALSE(s.ReadAll(all.size() - 1).ok());
  StringWriter w;
  ASSERT_TRUE(s.CopyTo(w).ok());
  EXPECT_EQ(w.out, all);
}

}  // namespace
}  // namespace cycas::api::http
