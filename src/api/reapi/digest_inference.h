// Inferring a digest function from a hash's length — REAPI's rule for
// requests and resource names that do not name the function. Kept free of the
// generated protos so the resource-name parser (which uses it) builds and
// fuzzes on its own.
#pragma once

#include <string_view>

#include "digest/digest_function.h"
#include "util/status.h"

namespace cycas::api::reapi {

// 64 hex characters -> SHA-256. BLAKE3 hashes are as long, but the spec lets a
// server infer only the "legacy" functions (MD5, MURMUR3, SHA1, SHA256, SHA384,
// SHA512, VSO), so BLAKE3 must always be named. Any other length is
// INVALID_ARGUMENT, naming the function the length suggests when there is one.
Result<DigestFunction> InferDigestFunction(std::string_view hash);

}  // namespace cycas::api::reapi
