#include "cas/check_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace cycas {
namespace {

TEST(CheckPoolTest, CoversEveryIndexExactlyOnce) {
  CheckPool pool(3);
  std::vector<std::atomic<int>> hits(10'007);
  pool.ParallelFor(hits.size(), 64, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) hits[i]++;
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

TEST(CheckPoolTest, NeverRunsMoreThanItsThreadsAcrossCallers) {
  CheckPool pool(2);
  std::atomic<int> running{0}, peak{0};
  auto body = [&](size_t, size_t) {
    int now = ++running;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    --running;
  };
  std::vector<std::thread> callers;
  for (int c = 0; c < 6; ++c) callers.emplace_back([&] { pool.ParallelFor(200, 1, body); });
  for (auto& t : callers) t.join();
  EXPECT_LE(peak.load(), 2);
  EXPECT_GE(peak.load(), 1);
}

TEST(CheckPoolTest, EmptyBatchReturnsAtOnce) {
  CheckPool pool(1);
  bool called = false;
  pool.ParallelFor(0, 10, [&](size_t, size_t) { called = true; });
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace cycas
