#include "cache_model.h"

#include <gtest/gtest.h>

namespace cycas::bench {
namespace {

TEST(LruBytesTest, EvictsLeastRecentlyUsedUntilItFits) {
  LruBytes lru(100);
  EXPECT_FALSE(lru.Access(1, 40));
  EXPECT_FALSE(lru.Access(2, 40));
  EXPECT_TRUE(lru.Access(1, 40));   // 1 is now the most recent
  EXPECT_FALSE(lru.Access(3, 40));  // evicts 2
  EXPECT_TRUE(lru.Access(1, 40));
  EXPECT_FALSE(lru.Access(2, 40));
  EXPECT_LE(lru.used(), 100u);
}

TEST(LruBytesTest, NeverKeepsAnObjectLargerThanTheCapacity) {
  LruBytes lru(100);
  EXPECT_FALSE(lru.Access(1, 101));
  EXPECT_FALSE(lru.Access(1, 101));
  EXPECT_EQ(lru.objects(), 0u);
}

TEST(ZipfSamplerTest, RankZeroIsMostPopularAndFrequenciesFollowThePowerLaw) {
  ZipfSampler zipf(1000, 0.9);
  std::mt19937_64 rng(1);
  std::vector<int> count(1000);
  for (int i = 0; i < 200000; i++) count[zipf(rng)]++;
  EXPECT_GT(count[0], count[1]);
  EXPECT_GT(count[1], count[9]);
  // P(0)/P(9) = 10^0.9 ~ 7.9.
  double ratio = static_cast<double>(count[0]) / count[9];
  EXPECT_NEAR(ratio, 7.94, 1.5);
}

}  // namespace
}  // namespace cycas::bench
