// What authentication costs per request. Every call on every front-end runs
// Identify and Permit when auth.credentials_file is set, so these figures are
// the per-request overhead: a bearer token (one SHA-256 and a hash lookup), a
// Basic password served from the cache, and the cache miss it avoids (bcrypt
// at htpasswd -B's default cost 5 and at cost 10, and SHA-512-crypt).
//
//   build/bench/auth/auth_bench
#include <benchmark/benchmark.h>
#include <crypt.h>

#include <cstdio>
#include <string>

#include "auth/authenticator.h"
#include "auth/password_hash.h"
#include "digest/hasher.h"

namespace cycas::auth {
namespace {

std::string MakeHash(const char* prefix, unsigned long cost, const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  crypt_gensalt_rn(prefix, cost, nullptr, 0, salt, sizeof(salt));
  crypt_data data{};
  return crypt_rn(password.c_str(), salt, &data, sizeof(data));
}

// "Basic " + base64("alice:wonderland").
constexpr const char* kAliceBasic = "Basic YWxpY2U6d29uZGVybGFuZA==";
constexpr const char* kToken = "ci-0123456789abcdef0123456789abcdef";
constexpr const char* kBearer = "Bearer ci-0123456789abcdef0123456789abcdef";

Authenticator MakeAuthenticator(int tokens) {
  Credentials c;
  for (int i = 0; i < tokens; i++) {
    TokenEntry t;
    // snprintf, not std::string arithmetic: GCC 12 -O3 reports a false
    // -Wrestrict on std::to_string concatenations here.
    char name[32], secret[64];
    std::snprintf(name, sizeof(name), "t%d", i);
    std::snprintf(secret, sizeof(secret), "token-%d-padding-0123456789", i);
    t.name = name;
    if (i == 0) std::snprintf(secret, sizeof(secret), "%s", kToken);
    t.sha256 = HashOf(DigestFunction::kSha256, secret);
    t.scope = {.read = true, .write = true, .instances = *InstanceScope::Parse({"team-a/"})};
    c.tokens.push_back(std::move(t));
  }
  c.users.push_back({"alice", MakeHash("$2b$", 10, "wonderland"), {.read = true}});
  return Authenticator(std::move(c), {});
}

void BM_BearerAuthorize(benchmark::State& state) {
  Authenticator auth = MakeAuthenticator(static_cast<int>(state.range(0)));
  if (!auth.Authorize({kBearer, ""}, Access::kWrite, "team-a/linux").ok()) {
    state.SkipWithError("the token is not accepted");
    return;
  }
  for (auto _ : state) {
    auto p = auth.Authorize({kBearer, ""}, Access::kWrite, "team-a/linux");
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_BearerAuthorize)->Arg(10)->Arg(10000);

void BM_BasicCachedAuthorize(benchmark::State& state) {
  Authenticator auth = MakeAuthenticator(1);
  if (!auth.Authorize({kAliceBasic, ""}, Access::kRead, "").ok()) {  // fills the cache
    state.SkipWithError("alice is not accepted");
    return;
  }
  for (auto _ : state) {
    auto p = auth.Authorize({kAliceBasic, ""}, Access::kRead, "");
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_BasicCachedAuthorize);

void BM_VerifyPassword(benchmark::State& state, const char* prefix, unsigned long cost) {
  const std::string hash = MakeHash(prefix, cost, "wonderland");
  for (auto _ : state) benchmark::DoNotOptimize(VerifyPassword("wonderland", hash));
}
BENCHMARK_CAPTURE(BM_VerifyPassword, bcrypt_cost5, "$2b$", 5)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_VerifyPassword, bcrypt_cost10, "$2b$", 10)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_VerifyPassword, sha512crypt, "$6$", 0)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace cycas::auth
