#include "api/zako/token_table.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>

#include "digest/hasher.h"
#include "digest/hex.h"

namespace cycas::api::zako {

TokenTable::TokenTable(TokenTableOptions options) : options_(options) {
  if (options_.max_tokens == 0) options_.max_tokens = 1;
}

TokenTable::Hash TokenTable::HashToken(std::string_view token) {
  return HashOf(DigestFunction::kSha256, token);
}

uint64_t TokenTable::Prefix(const Hash& h) {
  uint64_t p;
  std::memcpy(&p, h.data(), sizeof(p));
  return p;
}

void TokenTable::PurgeExpired(Clock::time_point now) {
  while (!order_.empty()) {
    auto it = entries_.find(order_.front());
    if (it != entries_.end() && it->second.expires > now) break;
    if (it != entries_.end()) entries_.erase(it);
    order_.pop_front();
  }
}

Result<std::string> TokenTable::Issue(TokenGrant grant, Clock::time_point now) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    uint8_t raw[kTokenBytes];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
      return Status::Internal("cannot generate a transport token: the CSPRNG failed");
    }
    std::string token = HexEncode(raw);
    OPENSSL_cleanse(raw, sizeof(raw));
    Hash h = HashToken(token);
    uint64_t prefix = Prefix(h);
    std::lock_guard lk(mu_);
    PurgeExpired(now);
    // Two live tokens sharing 64 hash bits is a 2^-64 event; draw again.
    if (entries_.contains(prefix)) continue;
    while (entries_.size() >= options_.max_tokens && !order_.empty()) {
      entries_.erase(order_.front());
      order_.pop_front();
    }
    entries_.emplace(prefix, Entry{h, now + options_.ttl, grant});
    order_.push_back(prefix);
    return token;
  }
  return Status::Internal("cannot generate a unique transport token");
}

std::optional<TokenGrant> TokenTable::Lookup(std::string_view token, Clock::time_point now) {
  Hash h = HashToken(token);
  std::lock_guard lk(mu_);
  PurgeExpired(now);
  auto it = entries_.find(Prefix(h));
  if (it == entries_.end()) return std::nullopt;
  bool same = CRYPTO_memcmp(it->second.hash.data(), h.data(), h.size()) == 0;
  if (!same || it->second.expires <= now) return std::nullopt;
  return it->second.grant;
}

size_t TokenTable::size() const {
  std::lock_guard lk(mu_);
  return entries_.size();
}

}  // namespace cycas::api::zako
