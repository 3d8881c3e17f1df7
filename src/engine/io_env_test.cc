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

// ConvertUnwritten writes zeros only where the file holds nothing yet: data
// already written keeps its bytes, each range is converted once, and a range
// converted before costs nothing the second time.
TEST(IoEnvTest, ConvertUnwrittenKeepsDataAndConvertsOnlyUnwrittenSpace) {
  std::string path = testing::TempDir() + "/cycas_io_env_convert_" + std::to_string(getpid());
  std::filesystem::remove(path);
  constexpr uint64_t kSize = 4 << 20;
  auto f = IoEnv::Default()->OpenBlockFile(path, kSize, /*want_direct_io=*/true);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  if (!(*f)->direct_io()) {
    std::filesystem::remove(path);
    GTEST_SKIP() << "the filesystem of " << path << " refuses O_DIRECT";
  }
  AlignedBuffer a(64 << 10), b(4 << 10);
  std::memset(a.data(), 'a', a.size());
  std::memset(b.data(), 'b', b.size());
  ASSERT_TRUE((*f)->WriteAt(1 << 20, a.span()).ok());
  ASSERT_TRUE((*f)->WriteAt((3 << 20) - b.size(), b.span()).ok());

  auto part = (*f)->ConvertUnwritten(512 << 10, 256 << 10);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  auto rest = (*f)->ConvertUnwritten(0, kSize);
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  auto again = (*f)->ConvertUnwritten(0, kSize);
  ASSERT_TRUE(again.ok()) << again.status().ToString();

  AlignedBuffer all(kSize);
  ASSERT_TRUE((*f)->ReadAt(0, all.span()).ok());
  for (uint64_t i = 0; i < kSize; i++) {
    char want = 0;
    if (i >= (1 << 20) && i < (1 << 20) + a.size()) want = 'a';
    if (i >= (3 << 20) - b.size() && i < (3 << 20)) want = 'b';
    ASSERT_EQ(static_cast<char>(all.data()[i]), want) << "byte " << i;
  }
  f->reset();
  std::filesystem::remove(path);
  if (*part == 0 && *rest == 0) {
    GTEST_SKIP() << "the filesystem of " << path << " reports no unwritten extents";
  }
  EXPECT_EQ(*part, uint64_t{256 << 10});
  EXPECT_EQ(*rest, kSize - (256 << 10) - a.size() - b.size());
  EXPECT_EQ(*again, 0u);
}

}  // namespace
}  // namespace cycas::engine
