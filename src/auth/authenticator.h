// Authenticator: decides who is calling and whether they may make the call.
// One instance serves every front-end (REAPI, zako, HTTP); it is built from
// the credentials file (credentials_file.h). Safe for concurrent use: each
// call works on an immutable snapshot of the loaded file, which Reload()
// replaces as a whole (SIGHUP), so a call never sees half of an old file and
// half of a new one.
//
// Two steps, so a front-end can identify the caller before it has parsed the
// request and check the scope once it knows the instance name:
//   Identify: the `authorization` header/metadata ("Bearer <token>" or
//     "Basic <base64 user:password>"), else a verified client certificate's
//     subject CN, else the anonymous principal. Wrong, unknown or expired
//     credentials are UNAUTHENTICATED — never silently downgraded to
//     anonymous, so a typo in a CI secret shows up as an error.
//   Permit: the principal's scope must include the access and the instance.
//     PERMISSION_DENIED names the missing scope or instance; for the anonymous
//     principal the answer is UNAUTHENTICATED instead (credentials would help).
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/credentials_file.h"
#include "auth/password_cache.h"
#include "auth/scope.h"
#include "util/status.h"

namespace cycas::auth {

struct Principal {
  // For messages and logs: "token 'ci'", "user 'alice'", "certificate 'agent-1'", "anonymous".
  std::string name;
  Scope scope;
  bool anonymous = false;

  // Who every caller is when auth is not configured.
  static Principal Unrestricted();
};

// What a caller presented. Empty views: nothing presented.
struct Presented {
  std::string_view authorization;     // the Authorization header / metadata value
  std::string_view cert_common_name;  // CN of a client certificate the TLS layer verified
};

struct AuthenticatorOptions {
  size_t password_cache_entries = 4096;
  std::chrono::milliseconds password_cache_ttl{std::chrono::seconds(60)};
};

class Authenticator {
 public:
  Authenticator(Credentials credentials, AuthenticatorOptions options);

  // LoadCredentialsFile, then an Authenticator over it that can Reload().
  static Result<std::unique_ptr<Authenticator>> FromFile(const std::string& path,
                                                         AuthenticatorOptions options);

  // Reads the file given to FromFile again and, if it is valid, serves calls
  // from it from now on; if not, keeps the current credentials and returns
  // the error. Calls in flight finish with the credentials they started with.
  Status Reload();

  Result<Principal> Identify(
      const Presented& presented,
      std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;

  // `instance` empty optional: the call touches no instance (e.g. /metrics).
  static Status Permit(const Principal& principal, Access access,
                       std::optional<std::string_view> instance);

  // Identify, then Permit.
  Result<Principal> Authorize(const Presented& presented, Access access,
                              std::optional<std::string_view> instance) const;

  // The credentials in force (a snapshot: a later Reload does not change it).
  std::shared_ptr<const Credentials> credentials() const;
  size_t cached_passwords() const { return password_cache_->size(); }

 private:
  // One loaded credentials file with its lookup indexes (pointing into it).
  struct Table {
    Credentials credentials;
    // Tokens by the first 8 bytes of their SHA-256 (confirmed in constant time).
    std::unordered_multimap<uint64_t, const TokenEntry*> tokens;
    std::unordered_map<std::string, const UserEntry*> users;
    std::unordered_map<std::string, const CertEntry*> certs;
  };
  static std::shared_ptr<const Table> MakeTable(Credentials credentials);
  std::shared_ptr<const Table> table() const;

  Result<Principal> FromBearer(const Table& table, std::string_view token,
                               std::chrono::system_clock::time_point now) const;
  Result<Principal> FromBasic(const Table& table, std::string_view encoded) const;

  std::string path_;  // empty: built from Credentials, nothing to reload
  mutable std::mutex mu_;
  std::shared_ptr<const Table> table_;
  // Mutable state behind a const interface: only an optimisation.
  std::unique_ptr<PasswordCache> password_cache_;
};

// Decodes standard base64 (RFC 4648, padding required as Basic sends it).
// Exposed for tests.
std::optional<std::string> DecodeBase64(std::string_view text);

}  // namespace cycas::auth
