// Parsing of the Range request header (RFC 9110 §14) for single byte ranges.
//
// cycas serves one range per response: `bytes=a-b`, `bytes=a-` and
// `bytes=-n`. A header that is not a byte-range set at all, or that asks for
// several ranges, is ignored (the full blob is served), as the RFC allows; a
// syntactically valid single range that selects no byte is unsatisfiable
// (416). Untrusted input: this is fuzzed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cycas::api::http {

struct ByteRangeResult {
  enum class Kind {
    kIgnore,         // no usable Range: serve the whole representation (200)
    kSatisfiable,    // serve [offset, offset + length) with 206
    kUnsatisfiable,  // 416 with "Content-Range: bytes */size"
  };
  Kind kind = Kind::kIgnore;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Resolves `header` (the Range field value) against a representation of `size` bytes.
ByteRangeResult ParseByteRange(std::string_view header, uint64_t size);

// "bytes a-b/size" for a satisfiable range.
std::string ContentRange(uint64_t offset, uint64_t length, uint64_t size);
// "bytes */size" for a 416 response.
std::string UnsatisfiedContentRange(uint64_t size);

}  // namespace cycas::api::http
