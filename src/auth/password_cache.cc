#include "auth/password_cache.h"

#include <openssl/crypto.h>

#include <cstring>

#include "digest/hasher.h"

namespace cycas::auth {

PasswordCache::PasswordCache(size_t capacity, std::chrono::milliseconds ttl)
    : capacity_(ttl.count() > 0 ? capacity : 0), ttl_(ttl) {}

PasswordCache::Key PasswordCache::KeyFor(std::string_view user, std::string_view password,
                                         std::string_view hash) {
  Hasher h(DigestFunction::kSha256);
  const std::string_view sep("\0", 1);
  h.Update(user);
  h.Update(sep);
  h.Update(password);
  h.Update(sep);
  h.Update(hash);
  HashBytes digest = h.Finish();
  Key key;
  std::memcpy(key.data(), digest.data(), key.size());
  return key;
}

uint64_t PasswordCache::Prefix(const Key& key) {
  uint64_t p;
  std::memcpy(&p, key.data(), sizeof(p));
  return p;
}

void PasswordCache::PurgeExpired(Clock::time_point now) {
  while (!order_.empty()) {
    auto it = entries_.find(order_.front());
    if (it != entries_.end() && it->second.expires > now) break;
    if (it != entries_.end()) entries_.erase(it);
    order_.pop_front();
  }
}

bool PasswordCache::Contains(const Key& key, Clock::time_point now) {
  if (capacity_ == 0) return false;
  std::lock_guard lk(mu_);
  PurgeExpired(now);
  auto it = entries_.find(Prefix(key));
  if (it == entries_.end()) return false;
  return CRYPTO_memcmp(it->second.key.data(), key.data(), key.size()) == 0 &&
         it->second.expires > now;
}

void PasswordCache::Insert(const Key& key, Clock::time_point now) {
  if (capacity_ == 0) return;
  std::lock_guard lk(mu_);
  PurgeExpired(now);
  uint64_t prefix = Prefix(key);
  if (auto it = entries_.find(prefix); it != entries_.end()) {
    // Same prefix: refresh in place (a different key with the same 64 bits
    // simply replaces it; the cache is only an optimisation).
    it->second = Entry{key, now + ttl_};
    return;
  }
  while (entries_.size() >= capacity_ && !order_.empty()) {
    entries_.erase(order_.front());
    order_.pop_front();
  }
  entries_.emplace(prefix, Entry{key, now + ttl_});
  order_.push_back(prefix);
}

size_t PasswordCache::size() const {
  std::lock_guard lk(mu_);
  return entries_.size();
}

}  // namespace cycas::auth
