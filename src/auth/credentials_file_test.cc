#include "auth/credentials_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "digest/hasher.h"
#include "digest/hex.h"

namespace cycas::auth {
namespace {

// Shaped like a SHA-512-crypt hash; parsing checks the form only.
const std::string kSha512 =
    "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/"
    "jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/";

Result<Credentials> Parse(const std::string& text) {
  return ParseCredentials(text, "creds.toml");
}

void ExpectError(const std::string& text, std::vector<std::string> parts) {
  auto c = Parse(text);
  ASSERT_FALSE(c.ok()) << text;
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  for (const auto& p : parts) {
    EXPECT_NE(c.status().message().find(p), std::string::npos)
        << "'" << p << "' not in: " << c.status().message();
  }
}

TEST(CredentialsFileTest, FullExample) {
  std::string token = "0123456789abcdef0123456789abcdef";
  std::string sha = HexEncode(HashOf(DigestFunction::kSha256, token));
  auto c = Parse(R"(
anonymous = "read"
anonymous_instances = ["public/"]

[[token]]
name = "ci"
sha256 = ")" + sha +
                 R"("
scopes = ["read", "write"]
instances = ["team-a/"]
expires = 2030-01-01T00:00:00Z

[[token]]
name = "dev"
token = "a-plain-token-of-32-characters!!"
scopes = ["read"]

[[user]]
name = "alice"
password = ")" + kSha512 +
                 R"("
scopes = ["read"]

[[cert]]
cn = "agent-1"
scopes = ["read", "write"]

[htpasswd]
file = "users.htpasswd"
scopes = ["read"]
instances = [""]
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->anonymous.read);
  EXPECT_FALSE(c->anonymous.write);
  EXPECT_TRUE(c->anonymous.instances.Allows("public/x"));
  EXPECT_FALSE(c->anonymous.instances.Allows("team-a"));
  ASSERT_EQ(c->tokens.size(), 2u);
  EXPECT_EQ(HexEncode(c->tokens[0].sha256), sha);
  EXPECT_TRUE(c->tokens[0].expires.has_value());
  EXPECT_TRUE(c->tokens[0].scope.write);
  EXPECT_TRUE(c->tokens[0].scope.instances.Allows("team-a/x"));
  EXPECT_FALSE(c->tokens[0].scope.instances.Allows("team-b"));
  EXPECT_EQ(c->tokens[1].sha256,
            HashOf(DigestFunction::kSha256, std::string_view("a-plain-token-of-32-characters!!")));
  EXPECT_FALSE(c->tokens[1].expires.has_value());
  ASSERT_EQ(c->users.size(), 1u);
  EXPECT_EQ(c->users[0].password_hash, kSha512);
  ASSERT_EQ(c->certs.size(), 1u);
  EXPECT_EQ(c->certs[0].common_name, "agent-1");
  EXPECT_EQ(c->htpasswd_file, "users.htpasswd");
  EXPECT_TRUE(c->htpasswd_scope.instances.Allows(""));
}

TEST(CredentialsFileTest, EmptyFileMeansNoAnonymousAccess) {
  auto c = Parse("");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->anonymous.read);
  EXPECT_FALSE(c->anonymous.write);
}

TEST(CredentialsFileTest, ErrorsNameLineAndField) {
  ExpectError("anonymous = \"yes\"\n", {"line 1", "anonymous", "'yes'"});
  ExpectError("\n\nbogus = 1\n", {"line 3", "unknown key 'bogus'"});
  ExpectError("[[token]]\nname = \"ci\"\nsha256 = \"abc\"\nscopes = [\"read\"]\n",
              {"line 3", "token[0] ('ci').sha256", "64 hex digits"});
  ExpectError("[[token]]\nname = \"ci\"\ntoken = \"short\"\nscopes = [\"read\"]\n",
              {"line 3", "token[0] ('ci').token", "at least 16"});
  ExpectError("[[token]]\nname = \"ci\"\nscopes = [\"read\"]\n", {"exactly one of 'sha256'"});
  ExpectError("[[token]]\nname = \"ci\"\ntoken = \"0123456789abcdef0\"\nscopes = [\"admin\"]\n",
              {"line 4", "unknown scope 'admin'"});
  ExpectError("[[token]]\nname = \"ci\"\ntoken = \"0123456789abcdef0\"\n", {"'scopes' is missing"});
  ExpectError(
      "[[token]]\nname = \"ci\"\ntoken = \"0123456789abcdef0\"\nscopes = [\"read\"]\n"
      "expires = 2030-01-01T00:00:00\n",
      {"line 5", "expires", "UTC offset"});
  // Outside what system_clock can hold (found by fuzz_credentials_file: the
  // conversion overflowed).
  ExpectError(
      "[[token]]\nname = \"ci\"\ntoken = \"0123456789abcdef0\"\nscopes = [\"read\"]\n"
      "expires = 1015-01-01T00:00:00Z\n",
      {"line 5", "expires", "between 1970 and 2200"});
  ExpectError("[[user]]\nname = \"bob\"\npassword = \"$apr1$x$y\"\nscopes = [\"read\"]\n",
              {"line 3", "user[0] ('bob').password", "apr1"});
  ExpectError("[[user]]\nname = \"a:b\"\nscopes = [\"read\"]\n", {"must not contain ':'"});
  ExpectError(
      "[[token]]\nname = \"ci\"\ntoken = \"0123456789abcdef0\"\nscopes = [\"read\"]\n"
      "instances = [\"a/*\"]\n",
      {"line 5", "instances", "'a/*'"});
  ExpectError("token = 3\n", {"array of tables"});
  ExpectError("[[cert]]\nscopes = [\"read\"]\n", {"'cn' is missing"});
  ExpectError("[htpasswd]\nscopes = [\"read\"]\n", {"'file' is missing"});
  ExpectError("anonymous = \n", {"creds.toml"});  // a TOML syntax error, from toml11
  ExpectError("a = \"\xff\"\n", {"UTF-8"});
}

TEST(CredentialsFileTest, DuplicatesAreRefused) {
  ExpectError(
      "[[token]]\nname = \"ci\"\ntoken = \"0123456789abcdef0\"\nscopes = [\"read\"]\n"
      "[[token]]\nname = \"ci\"\ntoken = \"0123456789abcdef1\"\nscopes = [\"read\"]\n",
      {"line 5", "used twice"});
  ExpectError(
      "[[token]]\nname = \"a\"\ntoken = \"0123456789abcdef0\"\nscopes = [\"read\"]\n"
      "[[token]]\nname = \"b\"\ntoken = \"0123456789abcdef0\"\nscopes = [\"read\"]\n",
      {"same token"});
}

TEST(CredentialsFileTest, HtpasswdMerge) {
  auto c = Parse(
      "[[user]]\nname = \"alice\"\nscopes = [\"read\", \"write\"]\n"
      "[htpasswd]\nfile = \"x\"\nscopes = [\"read\"]\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Status st = MergeHtpasswd("# comment\n\nalice:" + kSha512 + "\r\nbob:" + kSha512 + "\n",
                            "users.htpasswd", &*c);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(c->users.size(), 2u);
  EXPECT_EQ(c->users[0].password_hash, kSha512);
  EXPECT_TRUE(c->users[0].scope.write);  // alice keeps her own scopes
  EXPECT_EQ(c->users[1].name, "bob");
  EXPECT_FALSE(c->users[1].scope.write);  // bob gets [htpasswd]'s

  Credentials d;
  st = MergeHtpasswd("carol\n", "users.htpasswd", &d);
  EXPECT_NE(st.message().find("users.htpasswd: line 1: expected 'user:hash'"), std::string::npos)
      << st.message();
  st = MergeHtpasswd("x:" + kSha512 + "\nx:" + kSha512 + "\n", "h", &d);
  EXPECT_NE(st.message().find("line 2"), std::string::npos) << st.message();
  st = MergeHtpasswd("dave:$apr1$a$b\n", "h", &d);
  EXPECT_NE(st.message().find("dave"), std::string::npos) << st.message();
}

TEST(CredentialsFileTest, LoadReadsTheHtpasswdFileBesideIt) {
  auto dir = std::filesystem::temp_directory_path() / ("cycas-creds-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "creds.toml") << "[[user]]\nname = \"alice\"\nscopes = [\"read\"]\n"
                                       "[htpasswd]\nfile = \"users\"\nscopes = [\"read\"]\n";
  std::ofstream(dir / "users") << "alice:" << kSha512 << "\n";
  auto c = LoadCredentialsFile((dir / "creds.toml").string());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->users[0].password_hash, kSha512);

  // A user left without any password is an error naming the user.
  std::ofstream(dir / "users", std::ios::trunc) << "bob:" << kSha512 << "\n";
  c = LoadCredentialsFile((dir / "creds.toml").string());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("user 'alice' has no password"), std::string::npos)
      << c.status().message();

  std::filesystem::remove(dir / "users");
  c = LoadCredentialsFile((dir / "creds.toml").string());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("htpasswd file"), std::string::npos);
  std::filesystem::remove_all(dir);

  c = LoadCredentialsFile("/nonexistent/creds.toml");
  EXPECT_FALSE(c.ok());
}

}  // namespace
}  // namespace cycas::auth
