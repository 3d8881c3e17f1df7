#include "digest/hasher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "digest/hex.h"

namespace cycas {
namespace {

std::string HexOf(const HashBytes& hash) { return HexEncode(hash); }

// The input pattern of BLAKE3's test_vectors.json: byte i is i % 251.
std::vector<uint8_t> Pattern251(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i % 251);
  return v;
}

// Seed for randomized tests: CYCAS_TEST_SEED replays a failure, otherwise a
// fresh one is drawn and printed.
uint64_t TestSeed() {
  if (const char* env = std::getenv("CYCAS_TEST_SEED")) return std::strtoull(env, nullptr, 10);
  const uint64_t seed = std::random_device{}();
  std::cout << "seed: " << seed << " (replay with CYCAS_TEST_SEED=" << seed << ")\n";
  return seed;
}

// SHA-256 examples from FIPS 180-2 / NIST CSVP ("SHA-256 example" documents),
// also checked against coreutils sha256sum.
TEST(HasherTest, Sha256MatchesPublishedVectors) {
  EXPECT_EQ(HexOf(HashOf(DigestFunction::kSha256, "")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexOf(HashOf(DigestFunction::kSha256, "abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexOf(HashOf(DigestFunction::kSha256,
                         "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(HexOf(HashOf(DigestFunction::kSha256,
                         "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                         "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(HasherTest, Sha256OfOneMillionAs) {
  const std::string a(1'000'000, 'a');
  EXPECT_EQ(HexOf(HashOf(DigestFunction::kSha256, a)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // The same input fed in 1000-byte pieces, as an upload would arrive.
  Hasher hasher(DigestFunction::kSha256);
  for (int i = 0; i < 1000; ++i) hasher.Update(std::string_view(a).substr(0, 1000));
  EXPECT_EQ(HexOf(hasher.Finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(HasherTest, Blake3MatchesPublishedVectorsForShortStrings) {
  // "" is test_vectors.json's input_len 0; "abc" is the BLAKE3 README/b3sum example.
  EXPECT_EQ(HexOf(HashOf(DigestFunction::kBlake3, "")),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
  EXPECT_EQ(HexOf(HashOf(DigestFunction::kBlake3, "abc")),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85");
}

struct Blake3Vector {
  size_t input_len;
  const char* hash;
};

// From BLAKE3-team/BLAKE3 test_vectors/test_vectors.json (commit 2f6f56f3):
// the first 32 bytes (64 hex characters) of each case's "hash" field, i.e. the
// default-length output. The lengths straddle the 1024-byte chunk boundaries
// where the tree structure changes.
constexpr Blake3Vector kBlake3Vectors[] = {
    {0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
    {1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"},
    {1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11"},
    {1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"},
    {1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"},
    {2048, "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a"},
    {2049, "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030"},
    {3072, "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2"},
    {3073, "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3"},
    {4096, "015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e969"},
    {4097, "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995"},
    {5120, "9cadc15fed8b5d854562b26a9536d9707cadeda9b143978f319ab34230535833"},
    {5121, "628bd2cb2004694adaab7bbd778a25df25c47b9d4155a55f8fbd79f2fe154cff"},
    {6144, "3e2e5b74e048f3add6d21faab3f83aa44d3b2278afb83b80b3c35164ebeca205"},
    {6145, "f1323a8631446cc50536a9f705ee5cb619424d46887f3c376c695b70e0f0507f"},
    {7168, "61da957ec2499a95d6b8023e2b0e604ec7f6b50e80a9678b89d2628e99ada77a"},
    {7169, "a003fc7a51754a9b3c7fae0367ab3d782dccf28855a03d435f8cfe74605e7817"},
    {8192, "aae792484c8efe4f19e2ca7d371d8c467ffb10748d8a5a1ae579948f718a2a63"},
    {8193, "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b"},
    {16384, "f875d6646de28985646f34ee13be9a576fd515f76b5b0a26bb324735041ddde4"},
    {31744, "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47"},
    {102400, "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085"},
};

TEST(HasherTest, Blake3MatchesOfficialTestVectorsOneShot) {
  for (const auto& v : kBlake3Vectors) {
    SCOPED_TRACE("input_len " + std::to_string(v.input_len));
    EXPECT_EQ(HexOf(HashOf(DigestFunction::kBlake3, Pattern251(v.input_len))), v.hash);
  }
}

TEST(HasherTest, Blake3MatchesOfficialTestVectorsByteAtATime) {
  // One byte per Update exercises the buffering paths the one-shot call skips.
  Hasher hasher(DigestFunction::kBlake3);
  for (const auto& v : kBlake3Vectors) {
    SCOPED_TRACE("input_len " + std::to_string(v.input_len));
    const auto input = Pattern251(v.input_len);
    for (uint8_t b : input) hasher.Update(std::span(&b, 1));
    EXPECT_EQ(hasher.bytes_hashed(), v.input_len);
    EXPECT_EQ(HexOf(hasher.Finish()), v.hash);
  }
}

TEST(HasherTest, IncrementalEqualsOneShotAtRandomSplitPoints) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (DigestFunction fn : {DigestFunction::kSha256, DigestFunction::kBlake3}) {
    for (int trial = 0; trial < 50; ++trial) {
      // Up to 70 KiB: many BLAKE3 chunks and SHA-256 blocks, including sizes
      // that are not multiples of either.
      std::vector<uint8_t> data(std::uniform_int_distribution<size_t>(0, 70 * 1024)(rng));
      for (auto& b : data) b = static_cast<uint8_t>(rng());
      const HashBytes want = HashOf(fn, data);

      Hasher hasher(fn);
      size_t pos = 0;
      while (pos < data.size()) {
        // Mostly small pieces, sometimes large ones, sometimes empty.
        const size_t max_piece = (rng() % 4 == 0) ? 20000 : 100;
        const size_t n = std::min(data.size() - pos,
                                  std::uniform_int_distribution<size_t>(0, max_piece)(rng));
        hasher.Update(std::span(data).subspan(pos, n));
        pos += n;
      }
      EXPECT_EQ(hasher.bytes_hashed(), data.size());
      ASSERT_EQ(hasher.Finish(), want)
          << DigestFunctionName(fn) << " trial " << trial << " size " << data.size();
    }
  }
}

TEST(HasherTest, FinishResetsForTheNextStream) {
  for (DigestFunction fn : {DigestFunction::kSha256, DigestFunction::kBlake3}) {
    Hasher hasher(fn);
    hasher.Update("first stream");
    (void)hasher.Finish();
    EXPECT_EQ(hasher.bytes_hashed(), 0u);
    hasher.Update("abc");
    EXPECT_EQ(hasher.Finish(), HashOf(fn, "abc")) << DigestFunctionName(fn);
  }
}

TEST(HasherTest, ResetDiscardsBytesHashedSoFar) {
  for (DigestFunction fn : {DigestFunction::kSha256, DigestFunction::kBlake3}) {
    Hasher hasher(fn);
    hasher.Update("partial upload that failed");
    hasher.Reset();
    EXPECT_EQ(hasher.bytes_hashed(), 0u);
    EXPECT_EQ(hasher.Finish(), HashOf(fn, "")) << DigestFunctionName(fn);
  }
}

TEST(HasherTest, MoveCarriesStateAndMovedFromIsReusableAfterReset) {
  for (DigestFunction fn : {DigestFunction::kSha256, DigestFunction::kBlake3}) {
    Hasher a(fn);
    a.Update("ab");
    Hasher b(std::move(a));
    b.Update("c");
    EXPECT_EQ(b.bytes_hashed(), 3u);
    EXPECT_EQ(b.Finish(), HashOf(fn, "abc")) << DigestFunctionName(fn);

    a.Reset();  // NOLINT(bugprone-use-after-move): documented as allowed.
    a.Update("abc");
    EXPECT_EQ(a.Finish(), HashOf(fn, "abc")) << DigestFunctionName(fn);
  }
}

TEST(HasherTest, MoveAssignmentAcrossFunctions) {
  Hasher sha(DigestFunction::kSha256);
  sha.Update("ab");
  Hasher blake(DigestFunction::kBlake3);
  blake.Update("xyz");
  blake = std::move(sha);  // Replaces BLAKE3 state with a live SHA-256 context.
  EXPECT_EQ(blake.function(), DigestFunction::kSha256);
  blake.Update("c");
  EXPECT_EQ(blake.Finish(), HashOf(DigestFunction::kSha256, "abc"));

  Hasher sha2(DigestFunction::kSha256);
  sha2 = Hasher(DigestFunction::kBlake3);  // Frees the SHA-256 context.
  sha2.Update("abc");
  EXPECT_EQ(sha2.Finish(), HashOf(DigestFunction::kBlake3, "abc"));
}

TEST(HasherTest, SpanAndStringViewUpdatesAgree) {
  const std::string text = "hello, cas";
  const std::vector<uint8_t> bytes(text.begin(), text.end());
  for (DigestFunction fn : {DigestFunction::kSha256, DigestFunction::kBlake3}) {
    EXPECT_EQ(HashOf(fn, text), HashOf(fn, bytes)) << DigestFunctionName(fn);
  }
}

}  // namespace
}  // namespace cycas
