// Content negotiation and validators: Accept-Encoding (RFC 9110 §12.5.3),
// If-None-Match and If-Range (§13.1). Untrusted input: this is fuzzed.
#pragma once

#include <string>
#include <string_view>

namespace cycas::api::http {

// What a client's Accept-Encoding allows. q-values are in thousandths (0..1000).
struct AcceptEncoding {
  int zstd_q = 0;         // 0: zstd not acceptable
  int identity_q = 1000;  // 0: the client refuses unencoded bytes ("identity;q=0", "*;q=0")
};

// A missing header means "identity only". Malformed elements are skipped.
AcceptEncoding ParseAcceptEncoding(std::string_view header);

// True when the client prefers zstd at least as much as identity.
inline bool PrefersZstd(const AcceptEncoding& a) {
  return a.zstd_q > 0 && a.zstd_q >= a.identity_q;
}

// `"value"`: a strong entity tag.
std::string QuoteEtag(std::string_view value);

// True when the If-None-Match field `header` matches `etag` (quoted) by weak
// comparison, or is "*".
bool IfNoneMatchMatches(std::string_view header, std::string_view etag);

// True when If-Range `header` names `etag` by strong comparison (dates never match:
// cycas sends no Last-Modified, so a date-valued If-Range cannot be validated).
bool IfRangeMatches(std::string_view header, std::string_view etag);

}  // namespace cycas::api::http
