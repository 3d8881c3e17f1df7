#include "api/zako/parked_uploads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace cycas::api::zako {
namespace {

using namespace std::chrono_literals;

// Counts aborts so a test sees exactly which parked writers were dropped.
class FakeWriter final : public BlobWriter {
 public:
  explicit FakeWriter(std::atomic<int>* aborts) : aborts_(aborts) {}
  Status Append(std::span<const uint8_t>) override { return Status::Ok(); }
  Status Commit() override { return Status::Ok(); }
  void Abort() override {
    if (!aborted_) (*aborts_)++;
    aborted_ = true;
  }

 private:
  std::atomic<int>* aborts_;
  bool aborted_ = false;
};

Digest D(std::string_view s) { return Digest::Of(DigestFunction::kBlake3, s); }

TEST(ParkedUploadsTest, TakeNeedsTheExactHeldOffset) {
  std::atomic<int> aborts{0};
  ParkedUploads p({10min, 4});
  p.Park(D("a"), std::make_unique<FakeWriter>(&aborts), 100);
  auto wrong = p.Take(D("a"), 50);
  EXPECT_FALSE(wrong.writer);
  EXPECT_EQ(wrong.held, 100u);
  EXPECT_EQ(p.size(), 1u);
  auto right = p.Take(D("a"), 100);
  EXPECT_TRUE(right.writer);
  EXPECT_EQ(p.size(), 0u);
  EXPECT_EQ(aborts.load(), 0);
  auto none = p.Take(D("b"), 1);
  EXPECT_FALSE(none.writer);
  EXPECT_EQ(none.held, 0u);
}

TEST(ParkedUploadsTest, OverTheBoundTheOldestIsAborted) {
  std::atomic<int> aborts{0};
  ParkedUploads p({10min, 2});
  p.Park(D("a"), std::make_unique<FakeWriter>(&aborts), 1);
  std::this_thread::sleep_for(2ms);
  p.Park(D("b"), std::make_unique<FakeWriter>(&aborts), 1);
  std::this_thread::sleep_for(2ms);
  p.Park(D("c"), std::make_unique<FakeWriter>(&aborts), 1);
  EXPECT_EQ(aborts.load(), 1);
  EXPECT_EQ(p.size(), 2u);
  EXPECT_EQ(p.Take(D("a"), 1).held, 0u);
  EXPECT_TRUE(p.Take(D("c"), 1).writer);
}

TEST(ParkedUploadsTest, ExpiredUploadsAreAborted) {
  std::atomic<int> aborts{0};
  ParkedUploads p({50ms, 4});
  p.Park(D("a"), std::make_unique<FakeWriter>(&aborts), 7);
  for (int i = 0; i < 200 && aborts.load() == 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(aborts.load(), 1);
  EXPECT_EQ(p.size(), 0u);
}

TEST(ParkedUploadsTest, DisabledOrClosedAbortsAtOnce) {
  std::atomic<int> aborts{0};
  ParkedUploads off({0ms, 4});
  off.Park(D("a"), std::make_unique<FakeWriter>(&aborts), 1);
  EXPECT_EQ(aborts.load(), 1);
  ParkedUploads p({10min, 4});
  p.Park(D("b"), std::make_unique<FakeWriter>(&aborts), 1);
  p.Close();
  EXPECT_EQ(aborts.load(), 2);
  p.Park(D("c"), std::make_unique<FakeWriter>(&aborts), 1);
  EXPECT_EQ(aborts.load(), 3);
}

TEST(ParkedUploadsTest, FreshUploadDropsOnlyThatDigest) {
  std::atomic<int> aborts{0};
  ParkedUploads p({10min, 4});
  p.Park(D("a"), std::make_unique<FakeWriter>(&aborts), 1);
  p.Park(D("b"), std::make_unique<FakeWriter>(&aborts), 1);
  EXPECT_TRUE(p.BeginFresh(D("a")));
  p.EndFresh(D("a"));
  EXPECT_FALSE(p.BeginFresh(D("a")));
  p.EndFresh(D("a"));
  EXPECT_EQ(aborts.load(), 1);
  EXPECT_EQ(p.size(), 1u);
}

TEST(ParkedUploadsTest, WhileAFreshUploadStartsNothingOfThatDigestIsParked) {
  std::atomic<int> aborts{0};
  ParkedUploads p({10min, 4});
  p.BeginFresh(D("a"));
  p.Park(D("a"), std::make_unique<FakeWriter>(&aborts), 5);  // e.g. the interrupted predecessor
  EXPECT_EQ(aborts.load(), 1);
  EXPECT_EQ(p.size(), 0u);
  p.EndFresh(D("a"));
  p.Park(D("a"), std::make_unique<FakeWriter>(&aborts), 5);
  EXPECT_EQ(p.size(), 1u);
}

}  // namespace
}  // namespace cycas::api::zako
