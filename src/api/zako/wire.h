// The zako protocol's wire rules, shared by the server front-end, the cycas
// client and the remote tier: digest and address conversion, range
// resolution, and the names of the metadata the Transport service uses.
//
// Everything here is pure (no I/O, no gRPC calls), so each rule is unit-tested
// once and both ends of a connection apply the same one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "digest/digest.h"
#include "util/status.h"
#include "zako/v1/digest.pb.h"
#include "zako/v1/net.pb.h"
#include "zako/v1/range.pb.h"

namespace cycas::api::zako {

namespace zpb = ::zako::v1;

// Transport calls carry `authorization: Bearer <auth_token>` (gRPC metadata
// keys are lowercase).
inline constexpr std::string_view kAuthorizationKey = "authorization";
inline constexpr std::string_view kBearerPrefix = "Bearer ";
// cycas extension: trailing metadata of an Upload that did not store the blob,
// giving how many leading bytes of it the server holds for a resumed upload
// (absent or "0": restart from the beginning). See docs/zako-protocol.md.
inline constexpr std::string_view kResumeOffsetTrailer = "cycas-resume-offset";

// A zako digest from the wire. `field` names it in errors, e.g.
// "blob_digests[3].blake3: hash must be 32 bytes, got 31".
Result<Digest> DigestFromProto(const zpb::digest::Digest& proto, std::string_view field);
void DigestToProto(const Digest& digest, zpb::digest::Digest* proto);
zpb::digest::Digest DigestToProto(const Digest& digest);

// A resolved, non-empty slice [offset, offset + length) of a blob, except that
// the whole of the empty blob is {0, 0}.
struct ResolvedRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  friend bool operator==(const ResolvedRange&, const ResolvedRange&) = default;
};

// Resolves a requested range against a blob of `blob_size` bytes.
// A missing length means "to the end". INVALID_ARGUMENT (stating the blob's
// length) for an explicit zero length, a start at or past the end (except
// start 0 of the empty blob) and a range reaching past the end.
Result<ResolvedRange> ResolveRange(uint64_t start, std::optional<uint64_t> length,
                                   uint64_t blob_size, std::string_view blob_name);
// Same, from the wire form (an unset message is the whole blob).
Result<ResolvedRange> ResolveRange(const zpb::range::BlobRange* range, uint64_t blob_size,
                                   std::string_view blob_name);

// "host:port", "[v6]:port". Returns the host without brackets.
struct HostPort {
  std::string host;
  int port = 0;
};
Result<HostPort> SplitHostPort(std::string_view address);
// "1.2.3.4:5" or "[::1]:5".
std::string JoinHostPort(std::string_view host, int port);

// Fills a SocketAddress from an IP literal (v4 or v6) and a port 1..65535.
Status SocketAddressToProto(std::string_view ip, int port, zpb::net::SocketAddress* proto);
// "1.2.3.4:5" or "[::1]:5"; INVALID_ARGUMENT when the address or port is unset
// or malformed.
Result<std::string> SocketAddressFromProto(const zpb::net::SocketAddress& proto);

// True when `host` is an IPv4 or IPv6 literal.
bool IsIpLiteral(std::string_view host);
// True for 0.0.0.0 and :: (listen on every interface; not an address a client
// can connect to).
bool IsWildcardIp(std::string_view host);

// The token of an `authorization` metadata value "Bearer <token>" (the scheme
// is matched case-insensitively); nullopt when the value has another form.
std::optional<std::string_view> BearerToken(std::string_view header_value);

}  // namespace cycas::api::zako
