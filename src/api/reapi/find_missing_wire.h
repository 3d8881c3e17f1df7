// FindMissingBlobsRequest read straight from its wire bytes.
//
// Bazel and newer clients ask about thousands of digests per call. Parsed by
// protobuf, each digest's 64-character hash becomes a heap-allocated string (an
// arena holds the string object, not its characters), and allocating and
// freeing those cost about as much as the lookups themselves. This reader keeps
// views into the request bytes instead, and the response reuses each missing
// digest's encoded bytes as they came.
//
// Kept free of gRPC and the generated protos: the bytes are untrusted, and the
// reader is tested and fuzzed on its own against protobuf's parser.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace cycas::api::reapi {

// One `Digest` of the request, not yet validated.
struct WireDigest {
  std::string_view hash;
  int64_t size_bytes = 0;
  std::string_view encoded;  // the Digest message's own bytes
};

struct FindMissingWire {
  std::string_view instance_name;
  int32_t digest_function = 0;  // DigestFunction.Value as sent (an open enum)
  std::vector<WireDigest> digests;
};

// Reads `bytes` as a FindMissingBlobsRequest; `out`'s views point into `bytes`.
// Follows protobuf's rules (fields in any order, the last of a repeated scalar
// wins, unknown fields skipped, strings must be UTF-8) except that groups, a
// wire type proto3 never produces, are refused. INVALID_ARGUMENT says what is
// malformed and where.
Status ParseFindMissingRequest(std::string_view bytes, FindMissingWire* out);

// Appends one entry of FindMissingBlobsResponse.missing_blob_digests (field 2)
// holding `digest`'s bytes as they were received.
void AppendMissingDigest(const WireDigest& digest, std::string* response);

}  // namespace cycas::api::reapi
