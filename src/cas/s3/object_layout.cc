#include "cas/s3/object_layout.h"

#include "digest/digest_function.h"

namespace cycas::s3 {

ObjectLayout::ObjectLayout(std::string prefix) {
  std::string_view p = prefix;
  while (!p.empty() && p.front() == '/') p.remove_prefix(1);
  while (!p.empty() && p.back() == '/') p.remove_suffix(1);
  prefix_ = std::string(p);
}

namespace {

std::string Join(const std::string& prefix, std::string_view rest) {
  if (prefix.empty()) return std::string(rest);
  std::string out;
  out.reserve(prefix.size() + 1 + rest.size());
  out += prefix;
  out += '/';
  out += rest;
  return out;
}

bool IsLowerHex(std::string_view s) {
  return s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

std::string ObjectLayout::BlobKey(const Digest& digest) const {
  std::string rest = "cas/";
  rest += DigestFunctionName(digest.function());
  rest += '/';
  rest += digest.hex();
  return Join(prefix_, rest);
}

std::optional<AcRecordName> ParseAcRecordName(std::string_view name) {
  // "ac/{fn}/{hex}/{size}/{instance}"
  if (name.substr(0, 3) != "ac/") return std::nullopt;
  std::string_view rest = name.substr(3);
  size_t a = rest.find('/');
  if (a == std::string_view::npos) return std::nullopt;
  std::string_view fn = rest.substr(0, a);
  if (!ParseDigestFunction(fn).ok()) return std::nullopt;
  rest = rest.substr(a + 1);
  size_t b = rest.find('/');
  if (b == std::string_view::npos) return std::nullopt;
  std::string_view hex = rest.substr(0, b);
  if (hex.size() != 2 * kHashLength || !IsLowerHex(hex)) return std::nullopt;
  rest = rest.substr(b + 1);
  size_t c = rest.find('/');
  if (c == std::string_view::npos) return std::nullopt;
  std::string_view size = rest.substr(0, c);
  if (size.empty() || size.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  return AcRecordName{std::string(fn), std::string(hex), std::string(rest.substr(c + 1))};
}

std::string ObjectLayout::RecordKey(std::string_view record_name) const {
  if (auto ac = ParseAcRecordName(record_name)) {
    std::string rest = "ac/";
    if (!ac->instance.empty()) {
      rest += ac->instance;
      rest += '/';
    }
    rest += ac->function;
    rest += '/';
    rest += ac->hex;
    return Join(prefix_, rest);
  }
  std::string rest = "kv/";
  rest += record_name;
  return Join(prefix_, rest);
}

std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string ObjectUrl(const S3Options& options, std::string_view key, std::string_view query) {
  std::string url;
  if (options.addressing == Addressing::kVirtualHost) {
    size_t scheme_end = options.endpoint.find("://");
    size_t host = scheme_end == std::string::npos ? 0 : scheme_end + 3;
    url = options.endpoint.substr(0, host) + options.bucket + "." + options.endpoint.substr(host);
    url += '/';
  } else {
    url = options.endpoint + "/" + options.bucket;
    if (!key.empty()) url += '/';
  }
  url += UriEncode(key, /*keep_slash=*/true);
  if (!query.empty()) {
    url += '?';
    url += query;
  }
  return url;
}

}  // namespace cycas::s3
