#include "engine/io_env.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

namespace cycas::engine {
namespace {

// ReadCachedAt goes through the page cache while writes bypass it: the kernel
// must drop cached pages that a direct write covers, or a reader would see
// the ring's previous contents. This pins that the cached view follows every
// overwrite, on the filesystem the tests run on.
TEST(IoEnvTest, CachedReadsSeeEveryDirectOverwrite) {
  std::string path = testing::TempDir() + "/cycas_io_env_test_" + std::to_string(getpid());
  std::filesystem::remove(path);
  auto f = IoEnv::Default()->OpenBlockFile(path, 1 << 20, /*want_direct_io=*/true);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  if (!(*f)->direct_io()) {
    std::filesystem::remove(path);
    GTEST_SKIP() << "the filesystem of " << path << " refuses O_DIRECT";
  }
  AlignedBuffer w(16 << 10), r(16 << 10);
  for (int round = 0; round < 20; round++) {
    std::memset(w.data(), 'a' + round, w.size());
    ASSERT_TRUE((*f)->WriteAt(64 << 10, w.span()).ok());
    // Cache the range (and a partial overlap) through the page cache, then overwrite it.
    ASSERT_TRUE((*f)->ReadCachedAt(64 << 10, r.span()).ok());
    EXPECT_EQ(std::memcmp(r.data(), w.data(), r.size()), 0) << round;
    ASSERT_TRUE((*f)->ReadCachedAt(60 << 10, {r.data(), 8 << 10}).ok());
    EXPECT_EQ(r.data()[(8 << 10) - 1], 'a' + round) << round;
    // Direct reads agree.
    ASSERT_TRUE((*f)->ReadAt(64 << 10, r.span()).ok());
    EXPECT_EQ(std::memcmp(r.data(), w.data(), r.size()), 0) << round;
  }
  f->reset();
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace cycas::engine
