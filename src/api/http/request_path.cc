#include "api/http/request_path.h"

#include <vector>

#include "digest/hex.h"

namespace cycas::api::http {
namespace {

bool IsSegmentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  if (s.size() > 80) out += "...";
  return out;
}

Status CheckSegment(std::string_view seg) {
  if (seg.empty()) return Status::InvalidArgument("empty path segment");
  if (seg == "." || seg == "..") {
    return Status::InvalidArgument("path segment '" + std::string(seg) + "' is not allowed");
  }
  for (size_t i = 0; i < seg.size(); i++) {
    if (!IsSegmentChar(seg[i])) {
      return Status::InvalidArgument("invalid character in path segment '" + Printable(seg) +
                                     "' at position " + std::to_string(i));
    }
  }
  return Status::Ok();
}

}  // namespace

std::string_view EndpointName(Endpoint e) {
  switch (e) {
    case Endpoint::kCas:
      return "cas";
    case Endpoint::kAc:
      return "ac";
    case Endpoint::kMetrics:
      return "metrics";
    case Endpoint::kStatus:
      return "status";
    case Endpoint::kStatusJson:
      return "status_json";
    case Endpoint::kKv:
      return "kv";
  }
  return "unknown";
}

namespace {

// Parses `segs` as [instance...][blake3]/(cas|ac)/{hex}.
Result<CachePath> ParseCacheSegments(const std::vector<std::string_view>& segs,
                                     std::string_view target) {
  CachePath out;
  if (segs.size() < 2) return Status::NotFound("no such endpoint: " + Printable(target));
  std::string_view ns = segs[segs.size() - 2];
  if (ns == "cas") {
    out.endpoint = Endpoint::kCas;
  } else if (ns == "ac") {
    out.endpoint = Endpoint::kAc;
  } else {
    return Status::NotFound("no such endpoint: " + Printable(target) +
                            " (expected .../cas/{hash} or .../ac/{hash})");
  }
  std::string_view hex = segs.back();
  if (hex.size() != 2 * kHashLength) {
    return Status::InvalidArgument("hash must be " + std::to_string(2 * kHashLength) +
                                   " lowercase hex characters, got " + std::to_string(hex.size()));
  }
  if (Status st = HexDecodeTo(hex, out.hash); !st.ok()) {
    return Status::InvalidArgument("hash: " + st.message());
  }
  size_t prefix_end = segs.size() - 2;
  if (prefix_end > 0 && segs[prefix_end - 1] == "blake3") {
    out.function = DigestFunction::kBlake3;
    prefix_end--;
  }
  for (size_t i = 0; i < prefix_end; i++) {
    if (i > 0) out.instance += '/';
    out.instance += segs[i];
  }
  if (out.instance.size() > kMaxInstanceLength) {
    return Status::InvalidArgument("instance name longer than " +
                                   std::to_string(kMaxInstanceLength) + " bytes");
  }
  return out;
}

}  // namespace

Result<CachePath> ParseRequestTarget(std::string_view target,
                                     const std::vector<std::string>& kv_namespaces) {
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  if (target.empty() || target[0] != '/') {
    return Status::InvalidArgument("request target must be an absolute path, got '" +
                                   Printable(target) + "'");
  }
  CachePath out;
  if (target == "/metrics") {
    out.endpoint = Endpoint::kMetrics;
    return out;
  }
  if (target == "/status" || target == "/status/" || target == "/") {
    out.endpoint = Endpoint::kStatus;
    return out;
  }
  if (target == "/status.json") {
    out.endpoint = Endpoint::kStatusJson;
    return out;
  }
  if (target.size() > kMaxKvKeyLength + kMaxInstanceLength + 128) {
    return Status::InvalidArgument("request path is too long (" + std::to_string(target.size()) +
                                   " bytes)");
  }
  std::vector<std::string_view> segs;
  std::string_view rest = target.substr(1);
  bool trailing_slash = false;
  while (true) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg.empty() && slash == std::string_view::npos && !segs.empty()) {
      trailing_slash = true;  // "/a/b/": allowed for key-value collections only
      break;
    }
    RETURN_IF_ERROR(CheckSegment(seg));
    segs.push_back(seg);
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  bool kv = false;
  for (const auto& n : kv_namespaces) kv = kv || (!n.empty() && segs[0] == n);
  if (!trailing_slash) {
    auto cache = ParseCacheSegments(segs, target);
    if (cache.ok() || !kv) return cache;
  }
  if (!kv) return Status::InvalidArgument("empty path segment");
  out.endpoint = Endpoint::kKv;
  out.instance = std::string(segs[0]);
  for (size_t i = 1; i < segs.size(); i++) {
    if (i > 1) out.key += '/';
    out.key += segs[i];
  }
  out.collection = trailing_slash || out.key.empty();
  if (out.key.size() > kMaxKvKeyLength) {
    return Status::InvalidArgument("key longer than " + std::to_string(kMaxKvKeyLength) + " bytes");
  }
  return out;
}

}  // namespace cycas::api::http
