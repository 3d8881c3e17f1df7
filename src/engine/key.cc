#include "engine/key.h"

#include <xxhash.h>

namespace cycas::engine {

Key Key::FragmentKey(uint32_t index) const {
  // Two seeded 128-bit hashes give 256 well-mixed bits, so a fragment key's
  // bucket, tag and stripe bits are independent of the object key's.
  Key k;
  XXH128_hash_t a =
      XXH3_128bits_withSeed(bytes.data(), bytes.size(), 0x9e3779b97f4a7c15ull + index);
  XXH128_hash_t b =
      XXH3_128bits_withSeed(bytes.data(), bytes.size(), 0xc2b2ae3d27d4eb4full ^ index);
  std::memcpy(k.bytes.data(), &a.low64, 8);
  std::memcpy(k.bytes.data() + 8, &a.high64, 8);
  std::memcpy(k.bytes.data() + 16, &b.low64, 8);
  std::memcpy(k.bytes.data() + 24, &b.high64, 8);
  // Fragments live in the same stripe as their object: keep the stripe bits.
  std::memcpy(k.bytes.data() + 16, bytes.data() + 16, 8);
  return k;
}

std::string Key::ShortHex() const {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 8; i++) {
    s += kHex[bytes[i] >> 4];
    s += kHex[bytes[i] & 15];
  }
  return s;
}

}  // namespace cycas::engine
