// RetryPolicy: which S3 failures are worth another attempt, and how long to
// wait before it (exponential backoff with full jitter, so many nodes that
// failed together do not retry together).
//
// And the one mapping from an HTTP outcome to a Status, so that every caller
// tells "absent" (NOT_FOUND) from "could not ask" (UNAVAILABLE) the same way:
// a 404 is NOT_FOUND only when it really is a missing object, never for a
// missing bucket; transport errors, timeouts, 5xx, 429 and 403 are UNAVAILABLE
// (403 because S3 answers it for missing objects when the credentials may not
// list the bucket: it must never read as "absent").
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace cycas::s3 {

// Transport-level outcome of one HTTP exchange (independent of curl's codes).
enum class TransportError {
  kNone,       // a response arrived (any status)
  kConnect,    // DNS, refused, unreachable, TLS handshake
  kTimeout,    // connect, request or stall timeout
  kIo,         // connection reset, partial response, send/receive failure
  kCancelled,  // the transport is shutting down
  kOther,      // anything else (bad URL, out of memory, ...)
};
std::string_view TransportErrorName(TransportError e);

struct RetryPolicy {
  int retries = 3;  // attempts after the first
  std::chrono::milliseconds base{100};
  std::chrono::milliseconds max{5'000};

  // Whether an attempt with this outcome should be retried (if attempts remain).
  static bool IsRetryable(TransportError error, long http_status);
  // Delay before retry number `retry` (0-based): uniform in
  // [0, min(max, base * 2^retry)], drawn from `random` (any 64-bit value).
  std::chrono::milliseconds Backoff(int retry, uint64_t random) const;
};

// The Status for a finished exchange. `what` names the operation and object
// ("HEAD cas/sha256/ab12..."); `s3_code` is the <Code> of an XML error body
// ("NoSuchKey", "NoSuchBucket", "SlowDown", ...) when there was one.
Status StatusFromHttp(std::string_view what, TransportError error, std::string_view error_text,
                      long http_status, std::string_view s3_code, std::string_view s3_message);

// The text of the first <tag>...</tag> in `xml`, with the five predefined
// entities decoded; empty when absent. Enough for S3's flat error and
// multipart responses (no namespaces or attributes inside the tags we read).
std::string XmlElement(std::string_view xml, std::string_view tag);
std::string XmlEscape(std::string_view text);

}  // namespace cycas::s3
