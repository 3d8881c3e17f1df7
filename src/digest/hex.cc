#include "digest/hex.h"

#include <algorithm>
#include <array>
#include <cstdio>

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
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHexDigits[bytes[i] >> 4];
    out[2 * i + 1] = kHexDigits[bytes[i] & 0xf];
  }
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
  for (size_t i = 0; i < out.size(); ++i) {
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
