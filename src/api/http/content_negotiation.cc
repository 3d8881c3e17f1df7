#include "api/http/content_negotiation.h"

#include <optional>

namespace cycas::api::http {
namespace {

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths.
std::optional<int> ParseQValue(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  if (s[0] != '0' && s[0] != '1') return std::nullopt;
  int v = (s[0] - '0') * 1000;
  if (s.size() == 1) return v;
  if (s[1] != '.') return std::nullopt;
  int scale = 100;
  for (size_t i = 2; i < s.size(); i++) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v += (s[i] - '0') * scale;
    scale /= 10;
  }
  if (v > 1000) return std::nullopt;
  return v;
}

template <typename F>
void ForEachElement(std::string_view header, F f) {
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view el = TrimOws(header.substr(0, comma));
    if (!el.empty()) f(el);
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
}

}  // namespace

AcceptEncoding ParseAcceptEncoding(std::string_view header) {
  std::optional<int> zstd, identity, star;
  ForEachElement(header, [&](std::string_view el) {
    size_t semi = el.find(';');
    std::string coding = Lower(TrimOws(el.substr(0, semi)));
    int q = 1000;
    if (semi != std::string_view::npos) {
      std::string_view params = el.substr(semi + 1);
      bool ok = false;
      // Only the weight parameter is defined; anything else makes the element invalid.
      std::string_view p = TrimOws(params);
      if (p.size() >= 2 && (p[0] == 'q' || p[0] == 'Q')) {
        std::string_view rest = TrimOws(p.substr(1));
        if (!rest.empty() && rest[0] == '=') {
          if (auto v = ParseQValue(TrimOws(rest.substr(1)))) {
            q = *v;
            ok = true;
          }
        }
      }
      if (!ok) return;
    }
    if (coding == "zstd") {
      zstd = q;
    } else if (coding == "identity") {
      identity = q;
    } else if (coding == "*") {
      star = q;
    }
  });
  AcceptEncoding out;
  out.zstd_q = zstd ? *zstd : (star ? *star : 0);
  // identity is acceptable unless excluded explicitly or by "*;q=0" (RFC 9110 §12.5.3).
  out.identity_q = identity ? *identity : (star && *star == 0 ? 0 : 1000);
  if (header.empty()) out.identity_q = 1000;
  return out;
}

std::string QuoteEtag(std::string_view value) {
  std::string out = "\"";
  out += value;
  out += '"';
  return out;
}

bool IfNoneMatchMatches(std::string_view header, std::string_view etag) {
  if (TrimOws(header) == "*") return true;
  bool match = false;
  ForEachElement(header, [&](std::string_view el) {
    if (el.size() > 2 && el.substr(0, 2) == "W/") el.remove_prefix(2);
    if (el == etag) match = true;
  });
  return match;
}

bool IfRangeMatches(std::string_view header, std::string_view etag) {
  header = TrimOws(header);
  return header.size() >= 2 && header.front() == '"' && header == etag;
}

}  // namespace cycas::api::http
