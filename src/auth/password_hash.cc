#include "auth/password_hash.h"

#include <crypt.h>
#include <openssl/crypto.h>

#include <cstring>
#include <memory>

namespace cycas::auth {

Status CheckPasswordHashForm(std::string_view hash) {
  static constexpr std::string_view kPrefixes[] = {"$2y$", "$2b$", "$2a$", "$6$", "$5$"};
  bool known = false;
  for (std::string_view p : kPrefixes) {
    if (hash.substr(0, p.size()) == p) known = true;
  }
  if (!known) {
    if (hash.substr(0, 6) == "$apr1$") {
      return Status::InvalidArgument(
          "Apache MD5 ($apr1$) hashes are not supported: create the entry with htpasswd -B "
          "(bcrypt) or -2 (SHA-512)");
    }
    return Status::InvalidArgument(
        "not a supported password hash: expected bcrypt ($2y$/$2b$) or SHA-512-crypt ($6$)");
  }
  // crypt's alphabet plus the separators; rejects spaces and stray quotes early.
  for (char c : hash) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '/' || c == '$' || c == '=';
    if (!ok)
      return Status::InvalidArgument("password hash contains a character crypt never writes");
  }
  if (hash.size() > 512) return Status::InvalidArgument("password hash is too long");
  return Status::Ok();
}

bool VerifyPassword(std::string_view password, const std::string& hash) {
  // crypt takes C strings: a password with a NUL byte cannot be what was hashed.
  if (password.find('\0') != std::string_view::npos) return false;
  if (!CheckPasswordHashForm(hash).ok()) return false;
  std::string pw(password);
  // crypt_data is about 32 KiB: too large for the stacks of coroutine-heavy threads.
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(pw.c_str(), hash.c_str(), data.get(), sizeof(*data));
  OPENSSL_cleanse(pw.data(), pw.size());
  bool match = out != nullptr && out[0] != '*' && std::strlen(out) == hash.size() &&
               CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(data.get(), sizeof(*data));
  return match;
}

}  // namespace cycas::auth
