// The REAPI front-end's one mapping between REAPI's DigestFunction.Value
// numbers (SHA256 = 1, BLAKE3 = 9) and cycas's own DigestFunction enum, and the
// spec's rule for requests that leave `digest_function` unset.
//
// REAPI 2.3 lets a client omit `digest_function` for the "legacy" functions
// (MD5, MURMUR3, SHA1, SHA256, SHA384, SHA512, VSO); the server infers the
// function from the hash length among the functions it announces. BLAKE3 is
// not one of them: a BLAKE3 client must say so. So an unset field with a
// 64-hex-character hash means SHA-256, and no other length is served.
#pragma once

#include <string_view>

#include "api/reapi/digest_inference.h"
#include "build/bazel/remote/execution/v2/remote_execution.pb.h"
#include "cas/action_cache.h"
#include "digest/digest.h"
#include "util/status.h"

namespace cycas::api::reapi {

namespace v2 = build::bazel::remote::execution::v2;

// SHA256 -> kSha256, BLAKE3 -> kBlake3; any other value (UNKNOWN included) is
// INVALID_ARGUMENT naming it.
Result<DigestFunction> FromReapiDigestFunction(v2::DigestFunction::Value value);
v2::DigestFunction::Value ToReapiDigestFunction(DigestFunction fn);

// The function a request's digests use: `value` when set, else inferred from
// `hash` (the first digest of the request; empty when the request has none,
// which infers SHA-256). INVALID_ARGUMENT names the field and what was wrong,
// e.g. a 40-character hash ("looks like SHA-1, which this server does not serve").
Result<DigestFunction> ResolveDigestFunction(v2::DigestFunction::Value value,
                                             std::string_view hash);

}  // namespace cycas::api::reapi
