// TokenTable: the bearer tokens GetTransportDetails hands out and the
// Transport service checks.
//
// A token is 32 bytes from OpenSSL's CSPRNG (RAND_bytes), sent as 64 hex
// characters. The table stores only the SHA-256 of each token, so neither its
// memory nor the timing of a lookup reveals a live token: a lookup finds a
// candidate by the first 8 bytes of the presented token's hash and confirms it
// with a constant-time compare (CRYPTO_memcmp) of the whole hash.
//
// Every token expires `ttl` after it was issued. The table holds at most
// `max_tokens`; issuing one more evicts the oldest (tokens share one TTL, so
// the oldest is also the next to expire). Safe for concurrent use.
//
// A token carries a grant: the read/write scopes of the caller it was issued
// to (docs/auth.md), so a read-only caller's token cannot upload.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "util/status.h"

namespace cycas::api::zako {

// What a transport token allows. Without auth every token allows both.
struct TokenGrant {
  bool read = true;
  bool write = true;
};

struct TokenTableOptions {
  std::chrono::milliseconds ttl{std::chrono::hours(1)};
  size_t max_tokens = 65536;
};

class TokenTable {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kTokenBytes = 32;

  explicit TokenTable(TokenTableOptions options);

  // A fresh token valid until now + ttl. INTERNAL if the CSPRNG fails.
  Result<std::string> Issue(Clock::time_point now = Clock::now()) {
    return Issue(TokenGrant{}, now);
  }
  // The same, for a token that allows only `grant`.
  Result<std::string> Issue(TokenGrant grant, Clock::time_point now = Clock::now());
  // The token's grant when `token` was issued by this table, has not expired
  // and was not evicted; nullopt otherwise.
  std::optional<TokenGrant> Lookup(std::string_view token, Clock::time_point now = Clock::now());
  bool Validate(std::string_view token, Clock::time_point now = Clock::now()) {
    return Lookup(token, now).has_value();
  }

  size_t size() const;
  const TokenTableOptions& options() const { return options_; }

 private:
  using Hash = std::array<uint8_t, 32>;
  struct Entry {
    Hash hash;
    Clock::time_point expires;
    TokenGrant grant;
  };
  static Hash HashToken(std::string_view token);
  static uint64_t Prefix(const Hash& h);
  // Drops expired tokens from the front of the issue order. Requires mu_.
  void PurgeExpired(Clock::time_point now);

  TokenTableOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Entry> entries_;  // keyed by Prefix(hash)
  std::deque<uint64_t> order_;                   // prefixes, oldest first
};

}  // namespace cycas::api::zako
