// Password hashes in the forms htpasswd writes, checked with libxcrypt.
//
// Accepted: bcrypt ($2y$, $2b$, $2a$ — `htpasswd -B`), SHA-512-crypt ($6$ —
// `htpasswd -2`, `mkpasswd -m sha-512`) and SHA-256-crypt ($5$ — `htpasswd -5`).
// Apache's own MD5 ($apr1$) and crypt(3) DES are refused: libxcrypt does not
// implement the first and the second is too weak to offer.
#pragma once

#include <string>
#include <string_view>

#include "util/status.h"

namespace cycas::auth {

// OK when `hash` has one of the accepted forms; INVALID_ARGUMENT saying why not.
// Checks the shape only (prefix and alphabet), so it is cheap and needs no libcrypt.
Status CheckPasswordHashForm(std::string_view hash);

// True when `password` hashes to `hash` (constant-time comparison of the
// result). Slow on purpose for bcrypt (its cost), so callers cache successes.
bool VerifyPassword(std::string_view password, const std::string& hash);

}  // namespace cycas::auth
