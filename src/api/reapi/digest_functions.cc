#include "api/reapi/digest_functions.h"

#include <string>

namespace cycas::api::reapi {

namespace {

// Names for error messages; the lowercase enum names REAPI uses in resource names.
std::string ValueName(v2::DigestFunction::Value value) {
  const std::string& name = v2::DigestFunction::Value_Name(value);
  if (name.empty()) return "value " + std::to_string(static_cast<int>(value));
  return name;
}

}  // namespace

Result<DigestFunction> FromReapiDigestFunction(v2::DigestFunction::Value value) {
  switch (value) {
    case v2::DigestFunction::SHA256:
      return DigestFunction::kSha256;
    case v2::DigestFunction::BLAKE3:
      return DigestFunction::kBlake3;
    default:
      return Status::InvalidArgument("digest_function " + ValueName(value) +
                                     " is not supported (this server serves SHA256 and BLAKE3)");
  }
}

v2::DigestFunction::Value ToReapiDigestFunction(DigestFunction fn) {
  switch (fn) {
    case DigestFunction::kSha256:
      return v2::DigestFunction::SHA256;
    case DigestFunction::kBlake3:
      return v2::DigestFunction::BLAKE3;
  }
  return v2::DigestFunction::UNKNOWN;
}

Result<DigestFunction> ResolveDigestFunction(v2::DigestFunction::Value value,
                                             std::string_view hash) {
  if (value != v2::DigestFunction::UNKNOWN) return FromReapiDigestFunction(value);
  // Unset: the spec's inference. A request without digests has nothing to
  // infer from; SHA-256 is the legacy default and harmless there.
  if (hash.empty()) return DigestFunction::kSha256;
  auto fn = InferDigestFunction(hash);
  if (!fn.ok())
    return Status::InvalidArgument("digest_function unset and " + fn.status().message());
  return fn;
}

}  // namespace cycas::api::reapi
