#include "api/http/byte_range.h"

#include <optional>

namespace cycas::api::http {
namespace {

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Strict decimal without sign; nullopt on empty, non-digit or overflow.
std::optional<uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;  // 19 digits always fit in uint64
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

ByteRangeResult ParseByteRange(std::string_view header, uint64_t size) {
  using Kind = ByteRangeResult::Kind;
  ByteRangeResult ignore;
  header = TrimOws(header);
  size_t eq = header.find('=');
  if (eq == std::string_view::npos) return ignore;
  if (!IEquals(TrimOws(header.substr(0, eq)), "bytes")) return ignore;
  std::string_view spec = TrimOws(header.substr(eq + 1));
  // Several ranges (even "a-b," with an empty second element) are not served as
  // multipart: ignoring the header and sending the whole blob is allowed.
  if (spec.find(',') != std::string_view::npos) return ignore;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return ignore;
  std::string_view first = TrimOws(spec.substr(0, dash));
  std::string_view last = TrimOws(spec.substr(dash + 1));

  ByteRangeResult r;
  if (first.empty()) {
    // Suffix range "-n": the last n bytes.
    auto n = ParseDecimal(last);
    if (!n) return ignore;
    if (*n == 0 || size == 0) {
      r.kind = Kind::kUnsatisfiable;
      return r;
    }
    r.kind = Kind::kSatisfiable;
    r.length = *n < size ? *n : size;
    r.offset = size - r.length;
    return r;
  }
  auto a = ParseDecimal(first);
  if (!a) return ignore;
  std::optional<uint64_t> b;
  if (!last.empty()) {
    b = ParseDecimal(last);
    if (!b || *b < *a) return ignore;  // invalid range-spec: the header is ignored
  }
  if (*a >= size) {
    r.kind = Kind::kUnsatisfiable;
    return r;
  }
  uint64_t end = (b && *b < size - 1) ? *b : size - 1;  // inclusive
  r.kind = Kind::kSatisfiable;
  r.offset = *a;
  r.length = end - *a + 1;
  return r;
}

std::string ContentRange(uint64_t offset, uint64_t length, uint64_t size) {
  return "bytes " + std::to_string(offset) + "-" + std::to_string(offset + length - 1) + "/" +
         std::to_string(size);
}

std::string UnsatisfiedContentRange(uint64_t size) {
  return "bytes */" + std::to_string(size);
}

}  // namespace cycas::api::http
