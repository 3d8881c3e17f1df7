// DigestFunction: which hash function a digest was computed with.
//
// cycas serves two hash functions side by side (BLAKE3 for zako, SHA-256 for
// Bazel and other REAPI clients), and the store keys on the hash namespaced by
// the function, so every digest carries one of these.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "util/status.h"

namespace cycas {

// The numeric values are cycas's own and may be persisted (e.g. in on-disk
// keys), so they must never change; they are deliberately not REAPI's
// DigestFunction.Value numbers, which the REAPI front-end maps in one place.
enum class DigestFunction : uint8_t {
  kSha256 = 1,
  kBlake3 = 2,
};

// Every supported function produces a 32-byte hash, so a hash is a fixed-size
// value: no allocation, trivially copyable, cheap to compare and to key on.
inline constexpr size_t kHashLength = 32;
using HashBytes = std::array<uint8_t, kHashLength>;

// Length in bytes of a hash produced by `fn` (32 for both functions today).
constexpr size_t HashLength(DigestFunction /*fn*/) { return kHashLength; }

// True for the enumerators above; false for any other value cast into the enum
// (e.g. a corrupt byte read from disk).
constexpr bool IsKnownDigestFunction(DigestFunction fn) {
  return fn == DigestFunction::kSha256 || fn == DigestFunction::kBlake3;
}

// "sha256" or "blake3"; "unknown" for values outside the enum.
std::string_view DigestFunctionName(DigestFunction fn);

// Parses the exact lowercase name produced by DigestFunctionName.
Result<DigestFunction> ParseDigestFunction(std::string_view name);

// Validates a persisted numeric value (see the enum's comment).
Result<DigestFunction> DigestFunctionFromByte(uint8_t value);

}  // namespace cycas
