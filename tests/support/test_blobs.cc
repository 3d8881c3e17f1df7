#include "test_blobs.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace cycas::test {

std::string SeededBytes(uint64_t seed, size_t n) {
  std::string s(n, '\0');
  // xorshift64* from a seed spread by the golden ratio: cheap and never all zero.
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; i += 8) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    uint64_t v = x * 0x2545F4914F6CDD1Dull;
    std::memcpy(s.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return s;
}

int EnvInt(const char* name, int def) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : def;
}

}  // namespace cycas::test
