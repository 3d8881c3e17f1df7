#include "cas/engine_keys.h"

#include <blake3.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

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
