#include "auth/authenticator.h"

#include <crypt.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "digest/hasher.h"

namespace cycas::auth {
namespace {

using std::chrono::system_clock;

std::string MakeHash(const char* prefix, unsigned long cost, const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn(prefix, cost, nullptr, 0, salt, sizeof(salt)), nullptr);
  crypt_data data{};
  const char* out = crypt_rn(password.c_str(), salt, &data, sizeof(data));
  EXPECT_TRUE(out != nullptr && out[0] != '*');
  return out ? out : "";
}

std::string Basic(std::string_view user_pass) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < user_pass.size(); i += 3) {
    uint32_t n =
        uint8_t(user_pass[i]) << 16 | uint8_t(user_pass[i + 1]) << 8 | uint8_t(user_pass[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[n >> s & 63];
  }
  if (user_pass.size() - i == 1) {
    uint32_t n = uint8_t(user_pass[i]) << 16;
    out += kAlphabet[n >> 18 & 63];
    out += kAlphabet[n >> 12 & 63];
    out += "==";
  } else if (user_pass.size() - i == 2) {
    uint32_t n = uint8_t(user_pass[i]) << 16 | uint8_t(user_pass[i + 1]) << 8;
    out += kAlphabet[n >> 18 & 63];
    out += kAlphabet[n >> 12 & 63];
    out += kAlphabet[n >> 6 & 63];
    out += "=";
  }
  return "Basic " + out;
}

TokenEntry Token(std::string name, std::string token, Scope scope) {
  TokenEntry t;
  t.name = std::move(name);
  t.sha256 = HashOf(DigestFunction::kSha256, token);
  t.scope = std::move(scope);
  return t;
}

InstanceScope Instances(std::vector<std::string> p) {
  return *InstanceScope::Parse(p);
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Credentials c;
    c.anonymous = Scope{.read = true, .instances = Instances({"public"})};
    c.tokens.push_back(Token("ci", "ci-token-0123456789",
                             {.read = true, .write = true, .instances = Instances({"team-a/"})}));
    c.tokens.push_back(Token("dev", "dev-token-0123456789", {.read = true}));
    TokenEntry old = Token("old", "old-token-0123456789", {.read = true});
    old.expires = system_clock::now() - std::chrono::hours(1);
    c.tokens.push_back(old);
    c.users.push_back({"alice", MakeHash("$2b$", 5, "wonderland"), {.read = true, .write = true}});
    c.users.push_back({"bob", MakeHash("$6$", 0, "builder"), {.read = true}});
    c.users.push_back({"carol", MakeHash("$6$", 0, "x:y"), {.read = true}});
    c.certs.push_back({"agent-1", {.read = true, .write = true}});
    auth_ = std::make_unique<Authenticator>(std::move(c), AuthenticatorOptions{});
  }
  Result<Principal> Id(std::string_view authorization, std::string_view cn = "") {
    return auth_->Identify({authorization, cn});
  }
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(AuthenticatorTest, BearerTokens) {
  auto p = Id("Bearer ci-token-0123456789");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->name, "token 'ci'");
  EXPECT_FALSE(p->anonymous);
  EXPECT_TRUE(Id("bearer   dev-token-0123456789").ok());  // scheme is case-insensitive
  EXPECT_EQ(Id("Bearer nope-0123456789").status().code(), StatusCode::kUnauthenticated);
}

TEST_F(AuthenticatorTest, ExpiredTokenIsUnauthenticatedAndSaysWhen) {
  auto p = Id("Bearer old-token-0123456789");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(p.status().message().find("token 'old' expired at"), std::string::npos);
  // Before its expiry it worked.
  auto earlier = auth_->Identify({"Bearer old-token-0123456789", ""},
                                 system_clock::now() - std::chrono::hours(2));
  EXPECT_TRUE(earlier.ok());
}

TEST_F(AuthenticatorTest, BasicWithBcryptAndSha512) {
  auto a = Id(Basic("alice:wonderland"));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->name, "user 'alice'");
  EXPECT_TRUE(Id(Basic("bob:builder")).ok());
  EXPECT_EQ(Id(Basic("alice:wrong")).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(Id(Basic("mallory:wonderland")).status().code(), StatusCode::kUnauthenticated);
  // A wrong password and an unknown user read the same.
  EXPECT_EQ(Id(Basic("alice:wrong")).status().message(), Id(Basic("mallory:x")).status().message());
  // Only the first ':' splits user from password.
  EXPECT_TRUE(Id(Basic("carol:x:y")).ok());
}

TEST_F(AuthenticatorTest, SuccessfulPasswordChecksAreCachedFailuresAreNot) {
  EXPECT_EQ(auth_->cached_passwords(), 0u);
  ASSERT_TRUE(Id(Basic("alice:wonderland")).ok());
  EXPECT_EQ(auth_->cached_passwords(), 1u);
  ASSERT_FALSE(Id(Basic("alice:nope")).ok());
  EXPECT_EQ(auth_->cached_passwords(), 1u);
  // The cached check is much faster than bcrypt's (cost 5: ~2 ms; cached: µs).
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; i++) ASSERT_TRUE(Id(Basic("alice:wonderland")).ok());
  auto per_call = (std::chrono::steady_clock::now() - t0) / 100;
  EXPECT_LT(per_call, std::chrono::microseconds(500));
}

TEST_F(AuthenticatorTest, MalformedAuthorization) {
  for (std::string_view bad : {"Bearer", "Bearer ", "Token abc", "Basic !!!!",
                               "Basic YWxpY2U=", "Digest x=1", "garbage"}) {
    auto p = Id(bad);
    EXPECT_EQ(p.status().code(), StatusCode::kUnauthenticated) << bad;
  }
}

TEST_F(AuthenticatorTest, ClientCertificateCommonName) {
  auto p = Id("", "agent-1");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->name, "certificate 'agent-1'");
  EXPECT_TRUE(p->scope.write);
  // Unknown CN: anonymous. An authorization header wins over the certificate.
  EXPECT_TRUE(Id("", "someone")->anonymous);
  EXPECT_EQ(Id("Bearer dev-token-0123456789", "agent-1")->name, "token 'dev'");
}

TEST_F(AuthenticatorTest, NoCredentialsIsAnonymous) {
  auto p = Id("");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->anonymous);
  EXPECT_TRUE(p->scope.read);
}

TEST_F(AuthenticatorTest, PermitChecksAccessAndInstance) {
  auto ci = *Id("Bearer ci-token-0123456789");
  EXPECT_TRUE(Authenticator::Permit(ci, Access::kWrite, "team-a/linux").ok());
  Status st = Authenticator::Permit(ci, Access::kRead, "team-b");
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(st.message().find("instance 'team-b'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("'team-a'"), std::string::npos) << st.message();

  auto dev = *Id("Bearer dev-token-0123456789");
  st = Authenticator::Permit(dev, Access::kWrite, "");
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(st.message().find("token 'dev': this call needs the write scope (granted: read)"),
            std::string::npos)
      << st.message();
  EXPECT_TRUE(Authenticator::Permit(dev, Access::kRead, std::nullopt).ok());
}

TEST_F(AuthenticatorTest, AnonymousRefusalsAreUnauthenticated) {
  auto anon = *Id("");
  EXPECT_TRUE(Authenticator::Permit(anon, Access::kRead, "public/x").ok());
  Status st = Authenticator::Permit(anon, Access::kWrite, "public");
  EXPECT_EQ(st.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(st.message().find("credentials required"), std::string::npos) << st.message();
  EXPECT_EQ(Authenticator::Permit(anon, Access::kRead, "team-a").code(),
            StatusCode::kUnauthenticated);
}

TEST_F(AuthenticatorTest, AuthorizeCombinesBoth) {
  EXPECT_TRUE(auth_->Authorize({"Bearer ci-token-0123456789", ""}, Access::kWrite, "team-a").ok());
  EXPECT_EQ(auth_->Authorize({Basic("bob:builder"), ""}, Access::kWrite, "").status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(auth_->Authorize({Basic("bob:nope"), ""}, Access::kRead, "").status().code(),
            StatusCode::kUnauthenticated);
}

TEST(AuthenticatorReloadTest, ReloadSwapsCredentialsAndKeepsThemOnError) {
  auto path = std::filesystem::temp_directory_path() /
              ("cycas-reload-" + std::to_string(::getpid()) + ".toml");
  auto write = [&](const std::string& text) { std::ofstream(path, std::ios::trunc) << text; };
  write("[[token]]\nname = \"one\"\ntoken = \"first-token-0123456\"\nscopes = [\"read\"]\n");
  auto a = Authenticator::FromFile(path.string(), {});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  Authenticator& auth = **a;
  EXPECT_TRUE(auth.Identify({"Bearer first-token-0123456", ""}).ok());

  write("[[token]]\nname = \"two\"\ntoken = \"second-token-012345\"\nscopes = [\"read\"]\n");
  ASSERT_TRUE(auth.Reload().ok());
  EXPECT_FALSE(auth.Identify({"Bearer first-token-0123456", ""}).ok());
  EXPECT_EQ(auth.Identify({"Bearer second-token-012345", ""})->name, "token 'two'");

  write("[[token]]\nname = \"broken\"\n");
  Status st = auth.Reload();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(auth.Identify({"Bearer second-token-012345", ""}).ok());  // still in force
  EXPECT_EQ(auth.credentials()->tokens.size(), 1u);
  std::filesystem::remove(path);

  Authenticator from_memory(Credentials{}, {});
  EXPECT_EQ(from_memory.Reload().code(), StatusCode::kFailedPrecondition);
}

TEST(Base64Test, DecodesStandardAlphabetWithPadding) {
  EXPECT_EQ(DecodeBase64("YWxpY2U6cHc="), "alice:pw");
  EXPECT_EQ(DecodeBase64("YWI="), "ab");
  EXPECT_EQ(DecodeBase64("YQ=="), "a");
  EXPECT_EQ(DecodeBase64(""), "");
  EXPECT_FALSE(DecodeBase64("YWI"));       // missing padding
  EXPECT_FALSE(DecodeBase64("Y==="));      // too much padding
  EXPECT_FALSE(DecodeBase64("YQ==YQ=="));  // padding in the middle
  EXPECT_FALSE(DecodeBase64("YW-="));      // URL alphabet is not Basic's
}

}  // namespace
}  // namespace cycas::auth
