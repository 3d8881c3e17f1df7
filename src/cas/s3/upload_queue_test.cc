// The durable upload queue: what is acknowledged survives a restart, what is
// done does not come back, torn appends are ignored, and the bound holds.
#include "cas/s3/upload_queue.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace cycas::s3 {
namespace {

using Clock = std::chrono::steady_clock;

class UploadQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/upload-queue-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<UploadQueue> Open(uint64_t limit = 100, uint64_t segment_entries = 16384,
                                    std::chrono::milliseconds full_wait = std::chrono::milliseconds(50)) {
    UploadQueue::Options o;
    o.dir = dir_;
    o.limit = limit;
    o.full_wait = full_wait;
    o.segment_entries = segment_entries;
    auto q = UploadQueue::Open(o);
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    return q.ok() ? std::move(*q) : nullptr;
  }
  size_t SegmentFiles() {
    size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator(dir_)) n += e.path().extension() == ".log";
    return n;
  }
  static Digest D(int i) { return Digest::Of(DigestFunction::kSha256, "blob" + std::to_string(i)); }

  std::string dir_;
};

TEST_F(UploadQueueTest, EntriesAreHandedOutOnlyWhenReady) {
  auto q = Open();
  auto id = q->AddBlob(D(1));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(q->depth(), 1u);
  EXPECT_FALSE(q->Take(Clock::now() + std::chrono::milliseconds(20)).has_value());
  q->Ready(*id);
  auto item = q->Take(Clock::now());
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(item->kind, UploadItem::Kind::kBlob);
  EXPECT_EQ(*item->digest, D(1));
  q->Done(item->id);
  EXPECT_EQ(q->depth(), 0u);
}

TEST_F(UploadQueueTest, NotDoneEntriesSurviveARestartAndDoneOnesDoNot) {
  {
    auto q = Open();
    for (int i = 0; i < 5; i++) q->Ready(*q->AddBlob(D(i)));
    auto rec = q->AddRecord("ac/sha256/x y/1/inst");
    ASSERT_TRUE(rec.ok());
    q->Ready(*rec);
    auto first = q->Take(Clock::now());
    q->Done(first->id);
    q->Cancel(*q->AddBlob(D(99)));
  }
  auto q = Open();
  EXPECT_EQ(q->depth(), 5u);
  EXPECT_EQ(q->Stats().replayed, 5u);
  std::vector<UploadItem> items;
  while (auto item = q->Take(Clock::now())) items.push_back(*item);
  ASSERT_EQ(items.size(), 5u);
  for (int i = 1; i < 5; i++) EXPECT_EQ(*items[i - 1].digest, D(i));
  EXPECT_EQ(items[4].kind, UploadItem::Kind::kRecord);
  EXPECT_EQ(items[4].record, "ac/sha256/x y/1/inst");
  // Ids keep growing across restarts.
  auto next = q->AddBlob(D(7));
  ASSERT_TRUE(next.ok());
  EXPECT_GT(*next, items.back().id);
}

TEST_F(UploadQueueTest, TornAndCorruptLinesAreIgnored) {
  {
    auto q = Open();
    q->Ready(*q->AddBlob(D(1)));
  }
  std::string seg;
  for (auto& e : std::filesystem::directory_iterator(dir_)) {
    if (std::filesystem::file_size(e.path()) > 0) seg = e.path();
  }
  ASSERT_FALSE(seg.empty());
  {
    std::ofstream f(seg, std::ios::app);
    f << "A 5 b sha256 " << D(5).hex() << " 7 0000000000000000\n";  // bad checksum
    f << "A 6 b sha256 " << D(6).hex();                              // torn: no newline
  }
  auto q = Open();
  EXPECT_EQ(q->depth(), 1u);
  EXPECT_EQ(q->Stats().torn_lines, 2u);
}

TEST_F(UploadQueueTest, FullQueueRefusesAfterWaiting) {
  auto q = Open(/*limit=*/2);
  ASSERT_TRUE(q->AddBlob(D(1)).ok());
  ASSERT_TRUE(q->AddBlob(D(2)).ok());
  auto third = q->AddBlob(D(3));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(third.status().message().find("full"), std::string::npos);
}

TEST_F(UploadQueueTest, FullQueueAcceptsOnceAnEntryIsDone) {
  auto q = Open(/*limit=*/1, 16384, /*full_wait=*/std::chrono::seconds(30));
  auto a = q->AddBlob(D(1));
  ASSERT_TRUE(a.ok());
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    q->Done(*a);
  });
  EXPECT_TRUE(q->AddBlob(D(2)).ok());
  t.join();
}

TEST_F(UploadQueueTest, RetriedEntriesComeBackAfterTheirDelay) {
  auto q = Open();
  q->Ready(*q->AddBlob(D(1)));
  auto item = q->Take(Clock::now());
  ASSERT_TRUE(item.has_value());
  item->attempts = 1;
  auto start = Clock::now();
  q->Retry(*item, std::chrono::milliseconds(60));
  EXPECT_FALSE(q->Take(Clock::now() + std::chrono::milliseconds(10)).has_value());
  auto again = q->Take(Clock::now() + std::chrono::seconds(2));
  ASSERT_TRUE(again.has_value());
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(60));
  EXPECT_EQ(again->attempts, 1);
}

TEST_F(UploadQueueTest, FinishedSegmentsAreDeleted) {
  auto q = Open(/*limit=*/100, /*segment_entries=*/4);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 10; i++) {
    ids.push_back(*q->AddBlob(D(i)));
    q->Ready(ids.back());
  }
  EXPECT_GE(SegmentFiles(), 3u);
  while (auto item = q->Take(Clock::now())) q->Done(item->id);
  EXPECT_EQ(q->depth(), 0u);
  EXPECT_EQ(SegmentFiles(), 1u);  // only the current one
}

TEST_F(UploadQueueTest, ConcurrentAddsShareSyncs) {
  auto q = Open(/*limit=*/100000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; i++) ASSERT_TRUE(q->AddBlob(D(t * 1000 + i)).ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(q->depth(), 400u);
  EXPECT_LE(q->Stats().syncs, 400u);
}

TEST_F(UploadQueueTest, CloseWakesWorkers) {
  auto q = Open();
  std::thread t([&] { EXPECT_FALSE(q->Take(Clock::now() + std::chrono::seconds(30)).has_value()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  q->Close();
  t.join();
}

}  // namespace
}  // namespace cycas::s3
