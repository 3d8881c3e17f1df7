#include "digest/hex.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdio>
#include <cstring>

namespace cycas {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Value of a lowercase hex digit, or -1. A table instead of branches because
// decoding sits on the request path for every digest a client sends.
constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (size_t i = 0; i < 10; ++i) table['0' + i] = static_cast<int8_t>(i);
  for (size_t i = 0; i < 6; ++i) table['a' + i] = static_cast<int8_t>(10 + i);
  return table;
}
constexpr std::array<int8_t, 256> kDecodeTable = MakeDecodeTable();

// Each byte as its two hex characters: one table read per byte when encoding.
constexpr std::array<std::array<char, 2>, 256> MakePairTable() {
  std::array<std::array<char, 2>, 256> table{};
  for (size_t b = 0; b < 256; ++b) table[b] = {kHexDigits[b >> 4], kHexDigits[b & 0xf]};
  return table;
}
constexpr std::array<std::array<char, 2>, 256> kPairTable = MakePairTable();

// Decodes 16 characters into 8 bytes with 16-byte vector operations (SSE2 on
// x86-64, NEON on arm64): a request of 10k digests is 640k characters, and a
// table lookup and a branch per character were the largest cost of parsing it
// after the allocations. False when any of the 16 is not a lowercase hex digit
// (`out` is then untouched); the caller finds which one the slow way.
#if defined(__GNUC__)
#define CYCAS_HEX_VECTOR 1
typedef uint8_t U8x16 __attribute__((vector_size(16)));
typedef uint16_t U16x8 __attribute__((vector_size(16)));
typedef uint64_t U64x2 __attribute__((vector_size(16)));
typedef uint8_t U8x8 __attribute__((vector_size(8)));

inline bool DecodeSixteen(const char* in, uint8_t* out) {
  U8x16 c;
  std::memcpy(&c, in, sizeof(c));
  // Unsigned wrap-around: below '0' (or 'a') becomes large, so one compare per range.
  const auto digit = reinterpret_cast<U8x16>(static_cast<U8x16>(c - '0') < 10);
  const auto letter = reinterpret_cast<U8x16>(static_cast<U8x16>(c - 'a') < 6);
  const auto valid = reinterpret_cast<U64x2>(digit | letter);
  if ((valid[0] & valid[1]) != ~uint64_t{0}) return false;
  // '0'-'9' are 0x30-0x39 and 'a'-'f' 0x61-0x66: the low nibble, plus 9 for letters.
  const auto nibbles = reinterpret_cast<U16x8>((c & 0x0f) + (letter & 9));
  // Lane k holds characters 2k (low byte, on little-endian) and 2k+1.
  const U16x8 pairs = ((nibbles & 0xff) << 4) | (nibbles >> 8);
  const U8x8 bytes = __builtin_convertvector(pairs, U8x8);
  std::memcpy(out, &bytes, sizeof(bytes));
  return true;
}
#endif

// Explains why hex[pos] is not a lowercase hex digit.
Status BadCharacter(std::string_view hex, size_t pos) {
  const auto c = static_cast<unsigned char>(hex[pos]);
  std::string where = "invalid hex at position " + std::to_string(pos) + ": ";
  if ((c >= 'A' && c <= 'F')) {
    return Status::InvalidArgument(where + "uppercase '" + static_cast<char>(c) +
                                   "' (hex must be lowercase)");
  }
  if (c >= 0x21 && c < 0x7f) {
    return Status::InvalidArgument(where + "'" + static_cast<char>(c) + "' is not a hex digit");
  }
  // Spaces and control or non-ASCII bytes would be invisible or garble a log line.
  char buf[8];
  std::snprintf(buf, sizeof(buf), "0x%02x", c);
  return Status::InvalidArgument(where + "byte " + buf + " is not a hex digit");
}

}  // namespace

void HexEncodeTo(std::span<const uint8_t> bytes, std::span<char> out) {
  // Callers size `out` from `bytes`; a mismatch is a programming error, and
  // writing fewer characters keeps it from becoming a buffer overflow.
  const size_t n = std::min(bytes.size(), out.size() / 2);
  for (size_t i = 0; i < n; ++i) std::memcpy(&out[2 * i], kPairTable[bytes[i]].data(), 2);
}

std::string HexEncode(std::span<const uint8_t> bytes) {
  std::string out(2 * bytes.size(), '\0');
  HexEncodeTo(bytes, out);
  return out;
}

Status HexDecodeTo(std::string_view hex, std::span<uint8_t> out) {
  if (hex.size() % 2 != 0) {
    return Status::InvalidArgument("invalid hex: odd length " + std::to_string(hex.size()));
  }
  if (hex.size() != 2 * out.size()) {
    return Status::InvalidArgument("invalid hex: expected " + std::to_string(2 * out.size()) +
                                   " characters, got " + std::to_string(hex.size()));
  }
  size_t i = 0;
#ifdef CYCAS_HEX_VECTOR
  if constexpr (std::endian::native == std::endian::little) {
    while (i + 8 <= out.size() && DecodeSixteen(hex.data() + 2 * i, out.data() + i)) i += 8;
  }
#endif
  // The tail, or the group that failed, one pair at a time to name the culprit.
  for (; i < out.size(); ++i) {
    const int hi = kDecodeTable[static_cast<unsigned char>(hex[2 * i])];
    const int lo = kDecodeTable[static_cast<unsigned char>(hex[2 * i + 1])];
    if ((hi | lo) < 0) return BadCharacter(hex, hi < 0 ? 2 * i : 2 * i + 1);
    out[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return Status::Ok();
}

Result<std::vector<uint8_t>> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return Status::InvalidArgument("invalid hex: odd length " + std::to_string(hex.size()));
  }
  std::vector<uint8_t> out(hex.size() / 2);
  RETURN_IF_ERROR(HexDecodeTo(hex, out));
  return out;
}

}  // namespace cycas
