#include "api/reapi/digest_inference.h"

#include <string>

#include "digest/digest.h"

namespace cycas::api::reapi {

namespace {

// Legacy functions a hash length would suggest, for a helpful error.
std::string_view GuessFromLength(size_t length) {
  switch (length) {
    case 32:
      return "MD5 or MURMUR3";
    case 40:
      return "SHA-1";
    case 96:
      return "SHA-384";
    case 128:
      return "SHA-512";
    default:
      return "";
  }
}

}  // namespace

Result<DigestFunction> InferDigestFunction(std::string_view hash) {
  if (hash.size() == 2 * kHashLength) return DigestFunction::kSha256;
  std::string msg = "cannot infer the digest function from a hash of " +
                    std::to_string(hash.size()) + " characters";
  std::string_view guess = GuessFromLength(hash.size());
  if (!guess.empty()) {
    msg += " (looks like " + std::string(guess) + ", which this server does not serve)";
  }
  msg += "; SHA-256 hashes are 64 hex characters, and BLAKE3 must be named explicitly";
  return Status::InvalidArgument(msg);
}

}  // namespace cycas::api::reapi
