// Parsing of request targets for the HTTP cache protocol.
//
// Bazel's HTTP cache layout names blobs by hash only: `/cas/{hex}` and
// `/ac/{hex}`, optionally under a prefix (`--remote_cache=http://host/prefix`
// gives `/prefix/cas/{hex}`), which cycas treats as an instance name. A
// `blake3` segment just before `cas`/`ac` selects the BLAKE3 namespace.
// Parsing is strict: every segment is checked, so traversal (`..`), empty or
// percent-encoded segments and malformed hex are refused at the edge with a
// message naming what was wrong. Untrusted input: this is fuzzed.
//
// Generic key-value namespaces (for ccache's default layouts, sccache's WebDAV
// backend and similar caches) live under configured first segments, e.g.
// `/ccache/ab/cdef…`: any path there that is not a cache path names a key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "digest/digest_function.h"
#include "util/status.h"

namespace cycas::api::http {

enum class Endpoint {
  kCas,         // /[instance/][blake3/]cas/{hex}
  kAc,          // /[instance/][blake3/]ac/{hex}
  kMetrics,     // /metrics
  kStatus,      // /status (HTML)
  kStatusJson,  // /status.json
  kKv,          // /{kv namespace}/{key...}
};

// Name of an endpoint for metrics labels ("cas", "ac", "metrics", "status", "status_json", "kv").
std::string_view EndpointName(Endpoint e);

struct CachePath {
  Endpoint endpoint = Endpoint::kCas;
  DigestFunction function = DigestFunction::kSha256;
  // Segments before the namespace, joined with '/'; empty when absent.
  // For kKv: the key-value namespace (the first segment).
  std::string instance;
  HashBytes hash{};
  // For kKv: the key below the namespace ("" for the namespace's root), without
  // a trailing '/'; `collection` is true when the path ended in '/' or was the root.
  std::string key;
  bool collection = false;
};

// Longest instance name accepted, in bytes.
inline constexpr size_t kMaxInstanceLength = 256;
// Longest key-value key accepted, in bytes.
inline constexpr size_t kMaxKvKeyLength = 1024;

// Parses a request target (origin form: path plus optional "?query", which is
// ignored). INVALID_ARGUMENT with a reason for malformed paths; NOT_FOUND for
// well-formed paths that name no endpoint.
// `kv_namespaces` are the first segments that hold key-value namespaces.
Result<CachePath> ParseRequestTarget(std::string_view target,
                                     const std::vector<std::string>& kv_namespaces = {});

}  // namespace cycas::api::http
