// Digest: the name of a blob in the CAS — hash function, hash and size.
//
// Every layer passes Digests by value: the type is trivially copyable and 48
// bytes, holds the hash as bytes (not hex) so comparing and hashing it is
// cheap, and can only be built from validated input, so code past the
// front-ends never re-checks a digest's form.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "digest/digest_function.h"
#include "digest/hasher.h"
#include "util/status.h"

namespace cycas {

class Digest {
 public:
  // No default constructor: there is no meaningful "blank" digest, and an
  // accidental all-zero one would silently name a blob. Use
  // std::optional<Digest> where a digest may be absent.
  Digest(DigestFunction function, const HashBytes& hash, uint64_t size_bytes)
      : function_(function), hash_(hash), size_bytes_(size_bytes) {}

  // From the wire form: `hex` must be exactly 64 lowercase hex characters and
  // `size_bytes` non-negative (REAPI and zako carry sizes as int64). The error
  // says which part was wrong, e.g. "digest size must be >= 0, got -1".
  static Result<Digest> FromHex(DigestFunction function, std::string_view hex, int64_t size_bytes);

  // From raw hash bytes, e.g. a zako digest's `bytes blake3` field.
  // Wrong length: "hash must be 32 bytes, got N".
  static Result<Digest> FromBytes(DigestFunction function, std::span<const uint8_t> hash,
                                  uint64_t size_bytes);

  // The digest of `bytes`, computed.
  static Digest Of(DigestFunction function, std::span<const uint8_t> bytes);
  static Digest Of(DigestFunction function, std::string_view bytes);

  // Parses ToString()'s form "<function>:<hex>/<size>", or "<hex>/<size>" when
  // `default_function` is given. Size is canonical decimal (no sign, no
  // leading zeros), so each digest has exactly one text form.
  static Result<Digest> Parse(std::string_view text,
                              std::optional<DigestFunction> default_function = std::nullopt);

  DigestFunction function() const { return function_; }
  const HashBytes& hash() const { return hash_; }
  uint64_t size_bytes() const { return size_bytes_; }

  // 64 lowercase hex characters.
  std::string hex() const;
  // "blake3:<hex>/<size>": the form used in logs, errors and Parse().
  std::string ToString() const;

  // True for the digest of zero bytes, which every store must report present.
  bool IsEmptyBlob() const;

  friend bool operator==(const Digest&, const Digest&) = default;
  // Orders by function, then hash bytes, then size.
  friend std::strong_ordering operator<=>(const Digest&, const Digest&) = default;

 private:
  DigestFunction function_;
  HashBytes hash_;
  uint64_t size_bytes_;
};

// The digest of the empty blob under `function`.
Digest EmptyDigest(DigestFunction function);

// Completes a streamed digest: the hash of everything `hasher` saw, with the
// number of bytes it saw as the size. Resets `hasher`.
Digest FinishDigest(Hasher& hasher);

// For gtest failure messages and logging: same text as ToString().
std::ostream& operator<<(std::ostream& os, const Digest& digest);

}  // namespace cycas

// Hashes of real content are uniformly distributed, so the first 8 bytes
// already make a good hash-table key and mixing further would only cost time.
// Caveat: digests a client merely claims (e.g. in a FindMissing/Negotiate
// request) are not yet backed by content, so their bytes are attacker-chosen;
// a table that holds many such digests at once should bound its size or use a
// keyed hash.
template <>
struct std::hash<cycas::Digest> {
  size_t operator()(const cycas::Digest& d) const noexcept {
    uint64_t h;
    std::memcpy(&h, d.hash().data(), sizeof(h));
    return static_cast<size_t>(h);
  }
};
