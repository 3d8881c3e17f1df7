// The credentials file: one TOML file, shared by every front-end (gRPC and
// HTTP), naming who may call and with which scopes. Format in docs/auth.md:
//
//   anonymous = "read"                  # none | read | read-write
//   [[token]]  name, sha256 (or token), expires, scopes, instances
//   [[user]]   name, password (htpasswd-form hash), scopes, instances
//   [htpasswd] file, scopes, instances  # users from an htpasswd file
//   [[cert]]   cn, scopes, instances    # mTLS client certificate subject CN
//
// Parsing is strict: unknown keys, wrong types, malformed hashes and
// duplicate names are errors naming the line and field. Untrusted text (the
// parser is fuzzed), though it comes from the operator.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/scope.h"
#include "util/status.h"

namespace cycas::auth {

struct TokenEntry {
  std::string name;
  std::array<uint8_t, 32> sha256{};  // SHA-256 of the token; the token itself is not kept
  std::optional<std::chrono::system_clock::time_point> expires;
  Scope scope;
};

struct UserEntry {
  std::string name;
  std::string password_hash;  // htpasswd form, see password_hash.h
  Scope scope;
};

struct CertEntry {
  std::string common_name;
  Scope scope;
};

struct Credentials {
  // What a call without credentials may do; read = write = false is "none".
  Scope anonymous{.read = false, .write = false};
  std::vector<TokenEntry> tokens;
  std::vector<UserEntry> users;
  std::vector<CertEntry> certs;
  // [htpasswd]: the file as written (relative to the credentials file), and
  // the scope of its users that have no [[user]] entry of their own.
  std::string htpasswd_file;
  Scope htpasswd_scope;
};

// Parses the TOML text of a credentials file. `source` names it in errors.
// [htpasswd] is recorded, not read: see LoadCredentialsFile.
Result<Credentials> ParseCredentials(std::string_view text, const std::string& source);

// Adds the users of an htpasswd file ("name:hash" lines; '#' comments and
// blank lines skipped). A [[user]] entry without a password takes its hash
// from here; users only in the file get `htpasswd_scope`.
Status MergeHtpasswd(std::string_view text, const std::string& source, Credentials* credentials);

// Reads and parses `path`, then its htpasswd file, if any (a relative path is
// taken from the credentials file's directory). Every [[user]] must end up
// with a password hash.
Result<Credentials> LoadCredentialsFile(const std::string& path);

}  // namespace cycas::auth
