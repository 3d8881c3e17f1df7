// Key: the 256-bit name of a record in the engine.
//
// The layers above derive keys from what they store (a CAS digest, an action
// cache entry's instance and digest), so the engine never interprets them.
// Different byte ranges of the key feed independent decisions: which stripe,
// which directory bucket, and the tag kept in the directory entry. Keys are
// expected to be uniformly distributed (they are hashes).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace cycas::engine {

struct Key {
  std::array<uint8_t, 32> bytes{};

  uint64_t Word(int i) const {
    uint64_t w;
    std::memcpy(&w, bytes.data() + 8 * i, 8);
    return w;
  }
  uint64_t BucketHash() const { return Word(0); }
  uint64_t TagBits() const { return Word(1); }
  uint64_t StripeHash() const { return Word(2); }

  // Key of fragment `index` of a multi-fragment object (fragment 0 is the first
  // data fragment). Deterministic, so readers and recovery can recompute it.
  Key FragmentKey(uint32_t index) const;

  std::string ShortHex() const;  // first 8 bytes, for logs

  friend bool operator==(const Key&, const Key&) = default;
};

struct KeyHasher {
  size_t operator()(const Key& k) const { return k.Word(0) ^ k.Word(3); }
};

}  // namespace cycas::engine
