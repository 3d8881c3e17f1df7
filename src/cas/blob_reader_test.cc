#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "cas/blob_store.h"
#include "cas/memory_blob_store.h"

namespace cycas {
namespace {

// A reader that hands out at most `step` bytes per Read(), like a tier that
// returns what one network read delivered, and can end early or fail.
class SteppingReader final : public BlobReader {
 public:
  SteppingReader(std::string bytes, size_t step, uint64_t claimed_size)
      : bytes_(std::move(bytes)), step_(step), size_(claimed_size) {}
  uint64_t size() const override { return size_; }
  Result<size_t> Read(uint64_t offset, std::span<uint8_t> out) override {
    // Not DataLoss, the code of the default ReadView's own "ended early".
    if (fail_at_ && offset >= *fail_at_) return Status::Unavailable("bad sector");
    if (offset >= bytes_.size()) return size_t{0};
    size_t n = std::min({out.size(), step_, static_cast<size_t>(bytes_.size() - offset)});
    std::memcpy(out.data(), bytes_.data() + offset, n);
    return n;
  }
  std::optional<uint64_t> fail_at_;

 private:
  std::string bytes_;
  size_t step_;
  uint64_t size_;
};

std::string AsString(std::span<const uint8_t> v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

TEST(BlobReaderViewTest, DefaultViewGathersShortReadsUpToMax) {
  SteppingReader r("0123456789abcdef", 3, 16);
  auto v = r.ReadView(2, 10);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(AsString(*v), "23456789ab");
  v = r.ReadView(12, 100);  // clipped at the end
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(AsString(*v), "cdef");
  EXPECT_TRUE(r.ReadView(16, 4)->empty());
  EXPECT_TRUE(r.ReadView(3, 0)->empty());
}

TEST(BlobReaderViewTest, DefaultViewReportsReadErrorsAndEarlyEnds) {
  SteppingReader short_reader("0123", 4, 10);  // claims 10 bytes, has 4
  auto v = short_reader.ReadView(0, 10);
  EXPECT_EQ(v.status().code(), StatusCode::kDataLoss);

  SteppingReader failing("0123456789", 4, 10);
  failing.fail_at_ = 4;
  EXPECT_EQ(failing.ReadView(0, 10).status().code(), StatusCode::kUnavailable);
  auto ok = failing.ReadView(0, 4);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(AsString(*ok), "0123");
}

TEST(BlobReaderViewTest, MemoryReaderViewsPointIntoTheBlob) {
  auto bytes = std::make_shared<const std::string>("hello, world");
  MemoryBlobReader r(bytes);
  auto v = r.ReadView(7, 3);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(AsString(*v), "wor");
  EXPECT_EQ(reinterpret_cast<const char*>(v->data()), bytes->data() + 7);
  EXPECT_EQ(AsString(*r.ReadView(7, 100)), "world");
  EXPECT_TRUE(r.ReadView(12, 1)->empty());
}

}  // namespace
}  // namespace cycas
