#include "cas/s3/retry_policy.h"

#include <algorithm>

namespace cycas::s3 {

std::string_view TransportErrorName(TransportError e) {
  switch (e) {
    case TransportError::kNone: return "none";
    case TransportError::kConnect: return "connect failed";
    case TransportError::kTimeout: return "timed out";
    case TransportError::kIo: return "connection error";
    case TransportError::kCancelled: return "cancelled";
    case TransportError::kOther: return "transport error";
  }
  return "transport error";
}

bool RetryPolicy::IsRetryable(TransportError error, long http_status) {
  switch (error) {
    case TransportError::kNone: break;
    case TransportError::kConnect:
    case TransportError::kTimeout:
    case TransportError::kIo: return true;
    case TransportError::kCancelled:
    case TransportError::kOther: return false;
  }
  // 408 Request Timeout, 429 Too Many Requests / SlowDown, and server errors.
  return http_status == 408 || http_status == 429 || http_status >= 500;
}

std::chrono::milliseconds RetryPolicy::Backoff(int retry, uint64_t random) const {
  int64_t cap = max.count();
  int64_t ceiling = base.count();
  for (int i = 0; i < retry && ceiling < cap; i++) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  if (ceiling <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(static_cast<int64_t>(random % static_cast<uint64_t>(ceiling + 1)));
}

Status StatusFromHttp(std::string_view what, TransportError error, std::string_view error_text,
                      long http_status, std::string_view s3_code, std::string_view s3_message) {
  // Built with append(): GCC 12 warns falsely (-Wrestrict) on chains of operator+.
  std::string m = "S3 ";
  m.append(what);
  m.append(": ");
  if (error != TransportError::kNone) {
    m.append(TransportErrorName(error));
    if (!error_text.empty()) m.append(": ").append(error_text);
    if (error == TransportError::kCancelled) return Status::Cancelled(m);
    return Status::Unavailable(m);
  }
  if (http_status >= 200 && http_status < 300) return Status::Ok();
  m.append("HTTP ").append(std::to_string(http_status));
  if (!s3_code.empty()) m.append(" ").append(s3_code);
  if (!s3_message.empty()) m.append(" (").append(s3_message).append(")");
  if (http_status == 404) {
    // A missing bucket is a broken backing store, not a missing blob.
    if (s3_code == "NoSuchBucket") return Status::Unavailable(m.append(": the bucket does not exist"));
    return Status::NotFound(m);
  }
  if (http_status == 403 || http_status == 401) {
    return Status::Unavailable(m.append(": access denied (check the S3 credentials and bucket policy)"));
  }
  if (http_status == 416) return Status::OutOfRange(m);
  if (RetryPolicy::IsRetryable(TransportError::kNone, http_status)) return Status::Unavailable(m);
  return Status::Internal(m);
}

namespace {

std::string XmlUnescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    static constexpr std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool matched = false;
    for (auto [ent, c] : kEntities) {
      if (s.substr(i, ent.size()) == ent) {
        out += c;
        i += ent.size() - 1;
        matched = true;
        break;
      }
    }
    if (!matched) out += '&';
  }
  return out;
}

}  // namespace

std::string XmlElement(std::string_view xml, std::string_view tag) {
  std::string open = "<";
  open.append(tag).append(">");
  std::string close = "</";
  close.append(tag).append(">");
  size_t b = xml.find(open);
  if (b == std::string_view::npos) return "";
  b += open.size();
  size_t e = xml.find(close, b);
  if (e == std::string_view::npos) return "";
  return XmlUnescape(xml.substr(b, e - b));
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace cycas::s3
