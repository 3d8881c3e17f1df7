#include "api/zako/wire.h"

#include <arpa/inet.h>

#include <cstring>

namespace cycas::api::zako {

Result<Digest> DigestFromProto(const zpb::digest::Digest& proto, std::string_view field) {
  const std::string& hash = proto.blake3();
  auto d = Digest::FromBytes(DigestFunction::kBlake3,
                             {reinterpret_cast<const uint8_t*>(hash.data()), hash.size()},
                             proto.size_bytes());
  if (!d.ok()) return d.status().WithContext(std::string(field) + ".blake3");
  return d;
}

void DigestToProto(const Digest& digest, zpb::digest::Digest* proto) {
  proto->set_size_bytes(digest.size_bytes());
  proto->set_blake3(reinterpret_cast<const char*>(digest.hash().data()), digest.hash().size());
}

zpb::digest::Digest DigestToProto(const Digest& digest) {
  zpb::digest::Digest p;
  DigestToProto(digest, &p);
  return p;
}

Result<ResolvedRange> ResolveRange(uint64_t start, std::optional<uint64_t> length,
                                   uint64_t blob_size, std::string_view blob_name) {
  auto bad = [&](const std::string& what) {
    return Status::InvalidArgument("range " + what + " of blob " + std::string(blob_name) +
                                   ", which is " + std::to_string(blob_size) + " bytes long");
  };
  if (length && *length == 0) return bad("length 0 is invalid (omit length for 'to the end')");
  if (blob_size == 0) {
    if (start == 0 && !length) return ResolvedRange{0, 0};
    return bad("start " + std::to_string(start) + (length ? " length " + std::to_string(*length) : "") +
               " is past the end");
  }
  if (start >= blob_size) return bad("start " + std::to_string(start) + " is at or past the end");
  uint64_t rest = blob_size - start;
  if (length && *length > rest) {
    return bad("start " + std::to_string(start) + " length " + std::to_string(*length) +
               " reaches past the end");
  }
  return ResolvedRange{start, length ? *length : rest};
}

Result<ResolvedRange> ResolveRange(const zpb::range::BlobRange* range, uint64_t blob_size,
                                   std::string_view blob_name) {
  if (range == nullptr) return ResolveRange(0, std::nullopt, blob_size, blob_name);
  return ResolveRange(range->start(),
                      range->has_length() ? std::optional<uint64_t>(range->length()) : std::nullopt,
                      blob_size, blob_name);
}

Result<HostPort> SplitHostPort(std::string_view address) {
  auto bad = [&](const char* why) {
    return Status::InvalidArgument("address '" + std::string(address) + "' " + why +
                                   " (expected host:port or [ipv6]:port)");
  };
  std::string_view host, port;
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close == std::string_view::npos) return bad("has an unclosed '['");
    host = address.substr(1, close - 1);
    std::string_view rest = address.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return bad("has no port");
    port = rest.substr(1);
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) return bad("has no port");
    host = address.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return bad("has an IPv6 host without brackets");
    port = address.substr(colon + 1);
  }
  if (host.empty()) return bad("has no host");
  if (port.empty() || port.size() > 5) return bad("has an invalid port");
  int p = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return bad("has an invalid port");
    p = p * 10 + (c - '0');
  }
  if (p > 65535) return bad("has a port above 65535");
  return HostPort{std::string(host), p};
}

std::string JoinHostPort(std::string_view host, int port) {
  std::string out;
  bool v6 = host.find(':') != std::string_view::npos;
  if (v6) out.push_back('[');
  out.append(host);
  if (v6) out.push_back(']');
  out.push_back(':');
  out.append(std::to_string(port));
  return out;
}

bool IsIpLiteral(std::string_view host) {
  std::string h(host);
  in_addr v4;
  in6_addr v6;
  return inet_pton(AF_INET, h.c_str(), &v4) == 1 || inet_pton(AF_INET6, h.c_str(), &v6) == 1;
}

bool IsWildcardIp(std::string_view host) {
  std::string h(host);
  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return v4.s_addr == INADDR_ANY;
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_UNSPECIFIED(&v6);
  return false;
}

Status SocketAddressToProto(std::string_view ip, int port, zpb::net::SocketAddress* proto) {
  if (port < 1 || port > 65535) {
    return Status::InvalidArgument("port " + std::to_string(port) + " is not in 1..65535");
  }
  std::string h(ip);
  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    // The proto carries the address as a number whose most significant byte is
    // the first octet (proto/README.md), i.e. the host-order value of s_addr.
    proto->mutable_ip()->set_v4(ntohl(v4.s_addr));
  } else if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    proto->mutable_ip()->set_v6(reinterpret_cast<const char*>(v6.s6_addr), 16);
  } else {
    return Status::InvalidArgument("'" + h + "' is not an IPv4 or IPv6 address");
  }
  proto->set_port(static_cast<uint32_t>(port));
  return Status::Ok();
}

Result<std::string> SocketAddressFromProto(const zpb::net::SocketAddress& proto) {
  if (proto.port() < 1 || proto.port() > 65535) {
    return Status::InvalidArgument("server_addr.port " + std::to_string(proto.port()) +
                                   " is not in 1..65535");
  }
  char buf[INET6_ADDRSTRLEN] = {};
  switch (proto.ip().ip_addr_case()) {
    case zpb::net::IpAddress::kV4: {
      in_addr a;
      a.s_addr = htonl(proto.ip().v4());
      inet_ntop(AF_INET, &a, buf, sizeof(buf));
      return JoinHostPort(buf, static_cast<int>(proto.port()));
    }
    case zpb::net::IpAddress::kV6: {
      if (proto.ip().v6().size() != 16) {
        return Status::InvalidArgument("server_addr.ip.v6 must be 16 bytes, got " +
                                       std::to_string(proto.ip().v6().size()));
      }
      in6_addr a;
      std::memcpy(a.s6_addr, proto.ip().v6().data(), 16);
      inet_ntop(AF_INET6, &a, buf, sizeof(buf));
      return JoinHostPort(buf, static_cast<int>(proto.port()));
    }
    default:
      return Status::InvalidArgument("server_addr.ip is not set");
  }
}

std::optional<std::string_view> BearerToken(std::string_view value) {
  if (value.size() <= kBearerPrefix.size()) return std::nullopt;
  for (size_t i = 0; i < kBearerPrefix.size(); ++i) {
    char a = value[i], b = kBearerPrefix[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
    if (a != b) return std::nullopt;
  }
  return value.substr(kBearerPrefix.size());
}

}  // namespace cycas::api::zako
