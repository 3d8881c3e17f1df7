#include "auth/authenticator.h"

#include <openssl/crypto.h>

#include <cstring>
#include <ctime>

#include "auth/password_hash.h"
#include "digest/hasher.h"

namespace cycas::auth {
namespace {

uint64_t Prefix(std::span<const uint8_t> hash) {
  uint64_t p;
  std::memcpy(&p, hash.data(), sizeof(p));
  return p;
}

bool IEqualsAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string FormatUtc(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// One message for an unknown token, an unknown user and a wrong password, so
// the answer does not tell which user names exist.
Status WrongCredentials() {
  return Status::Unauthenticated(
      "wrong credentials: unknown token, or wrong user name or password");
}

Status MalformedAuthorization() {
  return Status::Unauthenticated(
      "malformed authorization: expected 'Bearer <token>' or 'Basic <base64 of user:password>'");
}

}  // namespace

Principal Principal::Unrestricted() {
  return Principal{
      .name = "anyone (auth is off)", .scope = Scope::Unrestricted(), .anonymous = false};
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; k++) {
      char c = text[i + k];
      if (c == '=') {
        // Padding only at the very end, at most two characters.
        if (i + 4 != text.size() || k < 2) return std::nullopt;
        pad++;
        v[k] = 0;
        continue;
      }
      if (pad > 0) return std::nullopt;
      v[k] = value(c);
      if (v[k] < 0) return std::nullopt;
    }
    uint32_t n = static_cast<uint32_t>(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
    out += static_cast<char>(n >> 16 & 0xff);
    if (pad < 2) out += static_cast<char>(n >> 8 & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

std::shared_ptr<const Authenticator::Table> Authenticator::MakeTable(Credentials credentials) {
  auto t = std::make_shared<Table>();
  t->credentials = std::move(credentials);
  for (const TokenEntry& e : t->credentials.tokens) t->tokens.emplace(Prefix(e.sha256), &e);
  for (const UserEntry& u : t->credentials.users) t->users.emplace(u.name, &u);
  for (const CertEntry& c : t->credentials.certs) t->certs.emplace(c.common_name, &c);
  return t;
}

Authenticator::Authenticator(Credentials credentials, AuthenticatorOptions options)
    : table_(MakeTable(std::move(credentials))),
      // Survives reloads: its keys include the stored hash, so a changed
      // password can never match an entry made for the old one.
      password_cache_(std::make_unique<PasswordCache>(options.password_cache_entries,
                                                      options.password_cache_ttl)) {}

Result<std::unique_ptr<Authenticator>> Authenticator::FromFile(const std::string& path,
                                                               AuthenticatorOptions options) {
  ASSIGN_OR_RETURN(Credentials c, LoadCredentialsFile(path));
  auto a = std::make_unique<Authenticator>(std::move(c), options);
  a->path_ = path;
  return a;
}

Status Authenticator::Reload() {
  if (path_.empty()) return Status::FailedPrecondition("not loaded from a file: nothing to reload");
  ASSIGN_OR_RETURN(Credentials c, LoadCredentialsFile(path_));
  auto t = MakeTable(std::move(c));
  std::lock_guard lk(mu_);
  table_ = std::move(t);
  return Status::Ok();
}

std::shared_ptr<const Authenticator::Table> Authenticator::table() const {
  std::lock_guard lk(mu_);
  return table_;
}

std::shared_ptr<const Credentials> Authenticator::credentials() const {
  auto t = table();
  return std::shared_ptr<const Credentials>(t, &t->credentials);
}

Result<Principal> Authenticator::FromBearer(const Table& table, std::string_view token,
                                            std::chrono::system_clock::time_point now) const {
  HashBytes h = HashOf(DigestFunction::kSha256, token);
  auto [begin, end] = table.tokens.equal_range(Prefix(h));
  for (auto it = begin; it != end; ++it) {
    const TokenEntry& t = *it->second;
    if (CRYPTO_memcmp(t.sha256.data(), h.data(), h.size()) != 0) continue;
    if (t.expires && *t.expires <= now) {
      return Status::Unauthenticated("token '" + t.name + "' expired at " + FormatUtc(*t.expires));
    }
    return Principal{.name = "token '" + t.name + "'", .scope = t.scope};
  }
  return WrongCredentials();
}

Result<Principal> Authenticator::FromBasic(const Table& table, std::string_view encoded) const {
  auto decoded = DecodeBase64(encoded);
  if (!decoded) return MalformedAuthorization();
  std::string_view pair = *decoded;
  size_t colon = pair.find(':');
  if (colon == std::string_view::npos) return MalformedAuthorization();
  std::string user(pair.substr(0, colon));
  std::string_view password = pair.substr(colon + 1);
  Result<Principal> out = WrongCredentials();
  if (auto it = table.users.find(user); it != table.users.end()) {
    const UserEntry& u = *it->second;
    auto key = PasswordCache::KeyFor(user, password, u.password_hash);
    if (password_cache_->Contains(key) || VerifyPassword(password, u.password_hash)) {
      password_cache_->Insert(key);
      out = Principal{.name = "user '" + u.name + "'", .scope = u.scope};
    }
  }
  OPENSSL_cleanse(decoded->data(), decoded->size());
  return out;
}

Result<Principal> Authenticator::Identify(const Presented& presented,
                                          std::chrono::system_clock::time_point now) const {
  const std::shared_ptr<const Table> t = table();
  std::string_view auth = presented.authorization;
  while (!auth.empty() && auth.front() == ' ') auth.remove_prefix(1);
  while (!auth.empty() && auth.back() == ' ') auth.remove_suffix(1);
  if (!auth.empty()) {
    size_t sp = auth.find(' ');
    if (sp == std::string_view::npos) return MalformedAuthorization();
    std::string_view scheme = auth.substr(0, sp);
    std::string_view rest = auth.substr(sp + 1);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) return MalformedAuthorization();
    if (IEqualsAscii(scheme, "Bearer")) return FromBearer(*t, rest, now);
    if (IEqualsAscii(scheme, "Basic")) return FromBasic(*t, rest);
    return MalformedAuthorization();
  }
  if (!presented.cert_common_name.empty()) {
    auto it = t->certs.find(std::string(presented.cert_common_name));
    if (it != t->certs.end()) {
      return Principal{.name = "certificate '" + it->second->common_name + "'",
                       .scope = it->second->scope};
    }
    // A verified certificate that grants nothing: the caller is anonymous.
  }
  return Principal{.name = "anonymous", .scope = t->credentials.anonymous, .anonymous = true};
}

Status Authenticator::Permit(const Principal& principal, Access access,
                             std::optional<std::string_view> instance) {
  // The anonymous principal is refused with UNAUTHENTICATED: credentials
  // might allow the call, and clients (Bazel, curl) react to that code by
  // sending them. A known principal is refused with PERMISSION_DENIED.
  auto refuse = [&](const std::string& why) {
    if (principal.anonymous) {
      return Status::Unauthenticated("credentials required: for anonymous callers, " + why +
                                     "; send 'authorization: Bearer <token>' or Basic credentials");
    }
    return Status(StatusCode::kPermissionDenied, principal.name + ": " + why);
  };
  if (!principal.scope.Allows(access)) {
    return refuse("this call needs the " + std::string(AccessName(access)) +
                  " scope (granted: " + principal.scope.DescribeAccess() + ")");
  }
  if (instance && !principal.scope.instances.Allows(*instance)) {
    std::string shown(instance->substr(0, 128));
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    return refuse("instance '" + shown + "' is outside the allowed instances (" +
                  principal.scope.instances.Describe() + ")");
  }
  return Status::Ok();
}

Result<Principal> Authenticator::Authorize(const Presented& presented, Access access,
                                           std::optional<std::string_view> instance) const {
  ASSIGN_OR_RETURN(Principal p, Identify(presented));
  RETURN_IF_ERROR(Permit(p, access, instance));
  return p;
}

}  // namespace cycas::auth
