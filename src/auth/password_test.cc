#include <crypt.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "auth/password_cache.h"
#include "auth/password_hash.h"

namespace cycas::auth {
namespace {

// A hash made here, with a random salt from libxcrypt, as htpasswd would.
std::string MakeHash(const char* prefix, unsigned long cost, const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn(prefix, cost, nullptr, 0, salt, sizeof(salt)) == nullptr) {
    ADD_FAILURE() << "crypt_gensalt_rn failed for " << prefix;
    return "";
  }
  crypt_data data{};
  const char* out = crypt_rn(password.c_str(), salt, &data, sizeof(data));
  if (out == nullptr || out[0] == '*') {
    ADD_FAILURE() << "crypt_rn failed for " << prefix;
    return "";
  }
  return out;
}

TEST(PasswordHashTest, BcryptVerifies) {
  std::string hash = MakeHash("$2b$", 5, "s3cret");
  ASSERT_TRUE(CheckPasswordHashForm(hash).ok()) << hash;
  EXPECT_TRUE(VerifyPassword("s3cret", hash));
  EXPECT_FALSE(VerifyPassword("s3cret ", hash));
  EXPECT_FALSE(VerifyPassword("", hash));
  // htpasswd -B writes $2y$, the same algorithm under PHP's prefix.
  std::string y = "$2y$" + hash.substr(4);
  EXPECT_TRUE(VerifyPassword("s3cret", y));
}

TEST(PasswordHashTest, Sha512CryptVerifies) {
  std::string hash = MakeHash("$6$", 0, "pässwörd");
  ASSERT_EQ(hash.substr(0, 3), "$6$");
  EXPECT_TRUE(VerifyPassword("pässwörd", hash));
  EXPECT_FALSE(VerifyPassword("passwort", hash));
}

TEST(PasswordHashTest, PasswordWithNulNeverMatches) {
  std::string hash = MakeHash("$6$", 0, "ab");
  EXPECT_FALSE(VerifyPassword(std::string("ab\0cd", 5), hash));
}

TEST(PasswordHashTest, UnsupportedFormsAreRefused) {
  EXPECT_FALSE(CheckPasswordHashForm("$apr1$abc$def").ok());
  EXPECT_NE(CheckPasswordHashForm("$apr1$abc$def").message().find("htpasswd -B"),
            std::string::npos);
  EXPECT_FALSE(CheckPasswordHashForm("plaintext").ok());
  EXPECT_FALSE(CheckPasswordHashForm("$1$md5$hash").ok());
  EXPECT_FALSE(CheckPasswordHashForm("$6$salt$has h").ok());
  EXPECT_FALSE(VerifyPassword("x", "$apr1$abc$def"));
}

TEST(PasswordCacheTest, RemembersSuccessesForTheTtl) {
  PasswordCache cache(4, std::chrono::seconds(10));
  auto t0 = PasswordCache::Clock::now();
  auto k = PasswordCache::KeyFor("alice", "pw", "$6$x$y");
  EXPECT_FALSE(cache.Contains(k, t0));
  cache.Insert(k, t0);
  EXPECT_TRUE(cache.Contains(k, t0 + std::chrono::seconds(9)));
  EXPECT_FALSE(cache.Contains(k, t0 + std::chrono::seconds(10)));
}

TEST(PasswordCacheTest, KeyCoversUserPasswordAndHash) {
  auto k = PasswordCache::KeyFor("alice", "pw", "$6$x$y");
  EXPECT_NE(k, PasswordCache::KeyFor("alice", "pw2", "$6$x$y"));
  EXPECT_NE(k, PasswordCache::KeyFor("bob", "pw", "$6$x$y"));
  EXPECT_NE(k, PasswordCache::KeyFor("alice", "pw", "$6$x$z"));
  // The separator keeps "a"+"bc" and "ab"+"c" apart.
  EXPECT_NE(PasswordCache::KeyFor("a", "bc", "h"), PasswordCache::KeyFor("ab", "c", "h"));
}

TEST(PasswordCacheTest, BoundedEvictsOldest) {
  PasswordCache cache(2, std::chrono::seconds(10));
  auto now = PasswordCache::Clock::now();
  auto a = PasswordCache::KeyFor("a", "1", "h"), b = PasswordCache::KeyFor("b", "1", "h"),
       c = PasswordCache::KeyFor("c", "1", "h");
  cache.Insert(a, now);
  cache.Insert(b, now);
  cache.Insert(c, now);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.Contains(a, now));
  EXPECT_TRUE(cache.Contains(b, now));
  EXPECT_TRUE(cache.Contains(c, now));
}

TEST(PasswordCacheTest, ZeroTtlDisables) {
  PasswordCache cache(16, std::chrono::milliseconds(0));
  auto k = PasswordCache::KeyFor("a", "1", "h");
  cache.Insert(k);
  EXPECT_FALSE(cache.Contains(k));
}

}  // namespace
}  // namespace cycas::auth
