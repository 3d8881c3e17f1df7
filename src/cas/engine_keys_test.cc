#include "cas/engine_keys.h"

#include <blake3.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "digest/hex.h"

namespace cycas {
namespace {

// The key derivation as BLAKE3's public API computes it: what keys on disk
// were written with, and must stay.
engine::Key ReferenceBlobKey(const Digest& digest) {
  uint8_t buf[1 + 8 + kHashLength];
  buf[0] = static_cast<uint8_t>(digest.function());
  uint64_t size = digest.size_bytes();
  std::memcpy(buf + 1, &size, 8);
  std::memcpy(buf + 9, digest.hash().data(), kHashLength);
  blake3_hasher h;
  blake3_hasher_init_derive_key(&h, "cycas 2026 cas blob key v1");
  blake3_hasher_update(&h, buf, sizeof buf);
  engine::Key k;
  blake3_hasher_finalize(&h, k.bytes.data(), k.bytes.size());
  return k;
}

TEST(EngineKeysTest, BlobKeysAreTheDocumentedBlake3DerivedKeys) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000; i++) {
    HashBytes hash;
    for (auto& b : hash) b = static_cast<uint8_t>(rng());
    const uint64_t size = i < 10 ? static_cast<uint64_t>(i) : rng() >> (rng() % 64);
    const auto fn = i % 2 ? DigestFunction::kSha256 : DigestFunction::kBlake3;
    const Digest d(fn, hash, size);
    ASSERT_EQ(EngineKeyForBlob(d), ReferenceBlobKey(d)) << d.ToString();
  }
}

// Keys name everything already on disk: these must never change. (The test
// above compares with a second copy of the derivation, which could be changed
// in step with it; these were computed once, with BLAKE3's public API.)
TEST(EngineKeysTest, BlobKeysOfFixedDigestsNeverChange) {
  EXPECT_EQ(HexEncode(EngineKeyForBlob(Digest::Of(DigestFunction::kSha256, "cycas")).bytes),
            "f8237db71d566fa4c2fa75c055fc25644851527faf5b08ba21a2c55f1e181c0d");
  EXPECT_EQ(HexEncode(EngineKeyForBlob(Digest::Of(DigestFunction::kBlake3, "")).bytes),
            "20755f5218de6b46c35be7cc19a8532d7146c1437def88fa2f43da5a695924f2");
  EXPECT_EQ(HexEncode(ReferenceBlobKey(Digest::Of(DigestFunction::kBlake3, "")).bytes),
            "20755f5218de6b46c35be7cc19a8532d7146c1437def88fa2f43da5a695924f2");
}

TEST(EngineKeysTest, KeysSeparateFunctionSizeAndRecords) {
  const Digest a = Digest::Of(DigestFunction::kSha256, "x");
  const Digest other_size(a.function(), a.hash(), a.size_bytes() + 1);
  const Digest other_function(DigestFunction::kBlake3, a.hash(), a.size_bytes());
  EXPECT_NE(EngineKeyForBlob(a), EngineKeyForBlob(other_size));
  EXPECT_NE(EngineKeyForBlob(a), EngineKeyForBlob(other_function));
  EXPECT_NE(EngineKeyForRecord("ac/x"), EngineKeyForRecord("ac/y"));
}

}  // namespace
}  // namespace cycas
