#include "engine/read_ahead.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace cycas::engine {
namespace {

// A read that blocks until released, so tests can hold a pool thread busy.
struct Gate {
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();
  std::atomic<bool> entered{false};
  void PassWhenOpen() {
    entered = true;
    opened.wait();
  }
  void WaitEntered() const {
    while (!entered) std::this_thread::yield();
  }
};

LoadedDoc DocMarked(uint32_t start) {
  LoadedDoc d;
  d.start = start;
  return d;
}

// Submits a read that holds a pool thread until `gate` opens, and waits until
// it does, so reads submitted next stay queued.
std::shared_ptr<PendingRead> Occupy(ReadAheadPool& pool, Gate& gate, uint32_t mark,
                                    uint64_t bytes) {
  auto blocker = pool.Submit(
      [&gate, mark]() -> Result<LoadedDoc> {
        gate.PassWhenOpen();
        return DocMarked(mark);
      },
      bytes);
  gate.WaitEntered();
  return blocker;
}

TEST(ReadAheadPoolTest, PoolRunsQueuedReadsAndTakeReturnsTheirResult) {
  ReadAheadPool pool(2, 1 << 20);
  std::atomic<int> runs{0};
  auto p = pool.Submit(
      [&]() -> Result<LoadedDoc> {
        runs++;
        return DocMarked(7);
      },
      4096);
  ASSERT_NE(p, nullptr);
  auto r = p->Take();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->start, 7u);
  EXPECT_EQ(runs.load(), 1);
}

TEST(ReadAheadPoolTest, ReaderDoesAQueuedReadItselfWhenThePoolIsBusy) {
  ReadAheadPool pool(1, 1 << 20);
  Gate gate;
  auto blocker = Occupy(pool, gate, 1, 4096);
  std::atomic<int> runs{0};
  auto queued = pool.Submit(
      [&]() -> Result<LoadedDoc> {
        runs++;
        return DocMarked(2);
      },
      4096);
  ASSERT_NE(queued, nullptr);
  auto r = queued->Take();  // must not wait for the blocked thread
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->start, 2u);
  gate.open.set_value();
  EXPECT_EQ(blocker->Take()->start, 1u);
  blocker.reset();
  queued.reset();
  pool.Stop();
  EXPECT_EQ(runs.load(), 1);  // the pool skipped the read the reader claimed
}

TEST(ReadAheadPoolTest, ErrorsReachTheReader) {
  ReadAheadPool pool(1, 1 << 20);
  auto p =
      pool.Submit([]() -> Result<LoadedDoc> { return Status::DataLoss("bad checksum"); }, 4096);
  ASSERT_NE(p, nullptr);
  auto r = p->Take();
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
}

TEST(ReadAheadPoolTest, BudgetBoundsReadsAheadAndIsReturnedWhenTheyAreDropped) {
  ReadAheadPool pool(1, 10000);
  Gate gate;
  // Keep the only thread busy so the reads below stay queued (the queue holds
  // no reference to them: dropping one returns its bytes at once).
  auto blocker = Occupy(pool, gate, 0, 0);
  auto read = []() -> Result<LoadedDoc> { return DocMarked(0); };
  auto a = pool.Submit(read, 6000);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(pool.Submit(read, 6000), nullptr);  // over budget: the caller reads inline
  auto b = pool.Submit(read, 4000);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(pool.bytes_in_use(), 10000u);
  a.reset();
  EXPECT_EQ(pool.bytes_in_use(), 4000u);
  b->Cancel();
  b.reset();
  EXPECT_EQ(pool.bytes_in_use(), 0u);
  gate.open.set_value();
  (void)blocker->Take();  // the gate outlives its use
}

TEST(ReadAheadPoolTest, CancelledReadsAreNotIssued) {
  ReadAheadPool pool(1, 1 << 20);
  Gate gate;
  auto blocker = Occupy(pool, gate, 1, 1);
  std::atomic<int> runs{0};
  auto p = pool.Submit(
      [&]() -> Result<LoadedDoc> {
        runs++;
        return DocMarked(2);
      },
      1);
  ASSERT_NE(p, nullptr);
  p->Cancel();
  gate.open.set_value();
  (void)blocker->Take();
  pool.Stop();
  EXPECT_EQ(runs.load(), 0);
}

TEST(ReadAheadPoolTest, StoppedOrThreadlessPoolsQueueNothing) {
  ReadAheadPool none(0, 1 << 20);
  EXPECT_EQ(none.Submit([]() -> Result<LoadedDoc> { return LoadedDoc{}; }, 1), nullptr);
  ReadAheadPool pool(2, 1 << 20);
  pool.Stop();
  EXPECT_EQ(pool.Submit([]() -> Result<LoadedDoc> { return LoadedDoc{}; }, 1), nullptr);
  EXPECT_EQ(pool.bytes_in_use(), 0u);
}

}  // namespace
}  // namespace cycas::engine
