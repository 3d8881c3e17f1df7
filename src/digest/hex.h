// Strict lowercase hexadecimal, the text form of hashes on every protocol.
//
// Decoding is strict on purpose: a digest has exactly one text form, so "ABC"
// and "abc" never name two different keys and a client's malformed digest is
// rejected at the edge with an error that points at the offending character.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace cycas {

// Lowercase hex of `bytes`, two characters per byte.
std::string HexEncode(std::span<const uint8_t> bytes);

// Writes the lowercase hex of `bytes` to `out`, which must hold exactly
// 2 * bytes.size() characters; for hot paths that format into a fixed buffer.
void HexEncodeTo(std::span<const uint8_t> bytes, std::span<char> out);

// Decodes `hex` into `out`. `hex` must be exactly 2 * out.size() characters of
// [0-9a-f]. On error `out` is unspecified and the status names the position and
// character, e.g. "invalid hex at position 5: uppercase 'A' (hex must be lowercase)".
Status HexDecodeTo(std::string_view hex, std::span<uint8_t> out);

// Decodes `hex` of any even length.
Result<std::vector<uint8_t>> HexDecode(std::string_view hex);

}  // namespace cycas
