// libFuzzer target for the HTTP request path: raw bytes go through Beast's
// request parser with the server's limits, and the request target and the
// Range, Accept-Encoding, If-None-Match and If-Range fields it yields go
// through cycas's own parsers, which must never crash and must keep their
// invariants (a satisfiable range lies inside the blob, q-values in 0..1000).
// The same bytes are also fed to each parser directly.
#include <algorithm>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/http/byte_range.h"
#include "api/http/content_negotiation.h"
#include "api/http/request_path.h"

namespace http = cycas::api::http;
namespace bhttp = boost::beast::http;

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void FuzzFields(std::string_view target, std::string_view range, std::string_view accept,
                std::string_view inm, std::string_view if_range) {
  static const std::vector<std::string> kKv = {"ccache", "sccache"};
  auto path = http::ParseRequestTarget(target, kKv);
  if (path.ok() && path->endpoint == http::Endpoint::kKv) {
    Check(path->key.size() <= http::kMaxKvKeyLength);
    // No traversal: no segment of the key is empty, "." or "..".
    std::string_view key = path->key;
    while (!key.empty()) {
      std::string_view seg = key.substr(0, key.find('/'));
      Check(!seg.empty() && seg != "." && seg != "..");
      key.remove_prefix(std::min(key.size(), seg.size() + 1));
    }
  }
  if (path.ok()) Check(path->instance.size() <= http::kMaxInstanceLength + http::kMaxKvKeyLength);
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{4096}, ~uint64_t{0}}) {
    http::ByteRangeResult r = http::ParseByteRange(range, size);
    if (r.kind == http::ByteRangeResult::Kind::kSatisfiable) {
      Check(r.length > 0);
      Check(r.offset < size);
      Check(r.length <= size - r.offset);
      Check(!http::ContentRange(r.offset, r.length, size).empty());
    }
  }
  http::AcceptEncoding ae = http::ParseAcceptEncoding(accept);
  Check(ae.zstd_q >= 0 && ae.zstd_q <= 1000 && ae.identity_q >= 0 && ae.identity_q <= 1000);
  std::string etag = http::QuoteEtag("abc");
  (void)http::IfNoneMatchMatches(inm, etag);
  (void)http::IfRangeMatches(if_range, etag);
}

std::string_view SV(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // As the server sees it: a request parsed by Beast with a header limit.
  bhttp::request_parser<bhttp::empty_body> parser;
  parser.header_limit(16 * 1024);
  parser.eager(false);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (parser.is_header_done()) {
    const auto& req = parser.get();
    FuzzFields(SV(req.target()), SV(req[bhttp::field::range]),
               SV(req[bhttp::field::accept_encoding]), SV(req[bhttp::field::if_none_match]),
               SV(req[bhttp::field::if_range]));
  }
  // Directly: every parser on the raw bytes.
  FuzzFields(in, in, in, in, in);
  return 0;
}
