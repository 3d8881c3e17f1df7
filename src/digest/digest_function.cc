#include "digest/digest_function.h"

#include <string>

namespace cycas {

std::string_view DigestFunctionName(DigestFunction fn) {
  switch (fn) {
    case DigestFunction::kSha256: return "sha256";
    case DigestFunction::kBlake3: return "blake3";
  }
  return "unknown";
}

Result<DigestFunction> ParseDigestFunction(std::string_view name) {
  if (name == "sha256") return DigestFunction::kSha256;
  if (name == "blake3") return DigestFunction::kBlake3;
  // Names come from clients and config files; cap what we echo back.
  constexpr size_t kMaxEcho = 32;
  std::string shown(name.substr(0, kMaxEcho));
  if (name.size() > kMaxEcho) shown += "...";
  return Status::InvalidArgument("unknown digest function \"" + shown +
                                 "\" (want \"sha256\" or \"blake3\")");
}

Result<DigestFunction> DigestFunctionFromByte(uint8_t value) {
  auto fn = static_cast<DigestFunction>(value);
  if (!IsKnownDigestFunction(fn)) {
    return Status::InvalidArgument("unknown digest function value " + std::to_string(value));
  }
  return fn;
}

}  // namespace cycas
