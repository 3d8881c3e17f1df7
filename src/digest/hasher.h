// Hasher: incremental SHA-256 or BLAKE3 over a stream of bytes.
//
// Uploads arrive in chunks and are verified against their claimed digest as
// they stream through, so hashing is incremental; HashOf is the one-shot form
// for bytes already in memory. A Hasher is not safe for concurrent use; give
// each stream its own.
#pragma once

#include <blake3.h>
#include <openssl/types.h>  // EVP_MD_CTX only; keeps <openssl/evp.h> out of users

#include <cstdint>
#include <span>
#include <string_view>

#include "digest/digest_function.h"

namespace cycas {

class Hasher {
 public:
  // `fn` must be a known function (see IsKnownDigestFunction); callers that get
  // it from untrusted input validate it first with DigestFunctionFromByte or
  // ParseDigestFunction.
  explicit Hasher(DigestFunction fn);
  ~Hasher();

  // Movable so it can live inside a stream or writer object; a moved-from
  // Hasher may only be destroyed, assigned to, or Reset().
  Hasher(Hasher&& other) noexcept;
  Hasher& operator=(Hasher&& other) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  DigestFunction function() const { return fn_; }
  // Bytes passed to Update since construction or the last Reset()/Finish(),
  // i.e. the size_bytes of the digest Finish() will complete.
  uint64_t bytes_hashed() const { return bytes_hashed_; }

  void Update(std::span<const uint8_t> bytes);
  void Update(std::string_view bytes);

  // Returns the hash of everything passed to Update and resets the Hasher to
  // the empty state, ready for the next stream.
  HashBytes Finish();

  // Discards the bytes hashed so far.
  void Reset();

 private:
  DigestFunction fn_;
  uint64_t bytes_hashed_ = 0;
  // Only the member for fn_ is live. BLAKE3's state is a plain struct kept
  // inline (no allocation). SHA-256 goes through OpenSSL's EVP API, whose
  // context is heap-allocated: the inline SHA256_* API is deprecated in
  // OpenSSL 3 and measured no faster (within 2% at 4 KiB, equal at 16 MiB;
  // both use the same SHA-NI kernel).
  union {
    blake3_hasher blake3_;
    EVP_MD_CTX* sha256_;
  };
};

// Hash of `bytes` in one call.
HashBytes HashOf(DigestFunction fn, std::span<const uint8_t> bytes);
HashBytes HashOf(DigestFunction fn, std::string_view bytes);

}  // namespace cycas
