// fuzz_credentials_file: the credentials file parser (src/auth/credentials_file.h).
//
// Every input is tried as the TOML text of a credentials file and as an
// htpasswd file merged into it. toml11 reports syntax errors by throwing;
// ParseCredentials must turn every one into a Status, so an escaping
// exception or a crash inside toml11 is a finding. When parsing succeeds, the
// result must be usable: an Authenticator is built over it and asked about a
// few callers, and every parsed entry must satisfy the invariants the parser
// promises (names non-empty, hashes in a supported form).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "auth/authenticator.h"
#include "auth/credentials_file.h"
#include "auth/password_hash.h"
#include "fuzz_check.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  cycas::fuzz::FailIn("fuzz_credentials_file", what);
}

void CheckInvariants(const cycas::auth::Credentials& c) {
  for (const auto& t : c.tokens) {
    if (t.name.empty()) Fail("token with an empty name");
  }
  for (const auto& u : c.users) {
    if (u.name.empty()) Fail("user with an empty name");
    if (!u.password_hash.empty() && !cycas::auth::CheckPasswordHashForm(u.password_hash).ok()) {
      Fail("user with a password hash of an unsupported form");
    }
  }
  for (const auto& e : c.certs) {
    if (e.common_name.empty()) Fail("cert with an empty cn");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = cycas::auth::ParseCredentials(text, "fuzz.toml");
  if (parsed.ok()) {
    CheckInvariants(*parsed);
    cycas::auth::Authenticator auth(*parsed, {});
    // No password checks here: users have no hashes yet or fuzz-chosen ones,
    // and crypt's cost parameter would make inputs slow, not interesting.
    (void)auth.Identify({"Bearer 0123456789abcdef", ""});
    (void)auth.Identify({"", "agent"});
    auto anon = auth.Identify({"", ""});
    if (!anon.ok() || !anon->anonymous) Fail("a call without credentials is not anonymous");
    (void)cycas::auth::Authenticator::Permit(*anon, cycas::auth::Access::kWrite, "team-a/x");
  }
  cycas::auth::Credentials merged;
  if (cycas::auth::MergeHtpasswd(text, "fuzz.htpasswd", &merged).ok()) CheckInvariants(merged);
  return 0;
}
