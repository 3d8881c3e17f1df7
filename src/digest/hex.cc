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

// Decodes 8 characters into 4 bytes, all lanes of a 64-bit word at once: a
// request of 10k digests is 640k characters, and a table lookup and a branch
// per character were the largest cost of parsing it after the allocations.
// False when any of the 8 is not a lowercase hex digit (`out` then unspecified).
inline bool DecodeEight(const char* in, uint8_t* out) {
  uint64_t x;
  std::memcpy(&x, in, sizeof(x));
  if constexpr (std::endian::native == std::endian::big)
    x = __builtin_bswap64(x);  // lane i = in[i]
  constexpr uint64_t kOnes = 0x0101010101010101, kTop = 0x8080808080808080;
  // With every byte below 0x80, adding 0x80 - lo sets a byte's top bit exactly
  // when the byte is >= lo, and no byte carries into the next.
  const auto at_least = [x](uint64_t lo) { return (x + kOnes * (0x80 - lo)) & kTop; };
  const uint64_t digit = at_least('0') & ~at_least('9' + 1);
  const uint64_t letter = at_least('a') & ~at_least('f' + 1);
  if (((x & kTop) | ((digit | letter) ^ kTop)) != 0) return false;
  // '0'-'9' are 0x30-0x39 and 'a'-'f' 0x61-0x66: the low nibble, plus 9 when
  // bit 6 (set only in letters) is.
  const uint64_t nibbles = (x & (kOnes * 0x0f)) + ((x >> 6) & kOnes) * 9;
  // Byte 2i becomes (character 2i << 4) | character 2i+1; then bytes 0, 2, 4, 6 are gathered.
  uint64_t y = ((nibbles << 4) | (nibbles >> 8)) & 0x00ff00ff00ff00ff;
  y = (y | (y >> 8)) & 0x0000ffff0000ffff;
  y = y | (y >> 16);
  auto bytes = static_cast<uint32_t>(y);
  if constexpr (std::endian::native == std::endian::big) bytes = __builtin_bswap32(bytes);
  std::memcpy(out, &bytes, sizeof(bytes));
  return true;
}

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
  while (i + 4 <= out.size() && DecodeEight(hex.data() + 2 * i, out.data() + i)) i += 4;
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
