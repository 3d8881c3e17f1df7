// PasswordCache: remembers recent successful password checks, so a client
// that sends Basic credentials with every request pays bcrypt's tens of
// milliseconds once per TTL instead of once per request.
//
// Keys are SHA-256(user NUL password NUL stored hash): the cache never holds a
// password, and a changed hash can never match an old entry. Only successes
// are cached, so guessing still costs a full hash per try. Lookups compare the
// whole key in constant time. Bounded: inserting into a full cache evicts the
// oldest entry. Safe for concurrent use.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace cycas::auth {

class PasswordCache {
 public:
  using Clock = std::chrono::steady_clock;
  using Key = std::array<uint8_t, 32>;

  // capacity 0 or ttl 0 disables caching.
  PasswordCache(size_t capacity, std::chrono::milliseconds ttl);

  static Key KeyFor(std::string_view user, std::string_view password, std::string_view hash);

  bool Contains(const Key& key, Clock::time_point now = Clock::now());
  void Insert(const Key& key, Clock::time_point now = Clock::now());
  size_t size() const;

 private:
  struct Entry {
    Key key;
    Clock::time_point expires;
  };
  static uint64_t Prefix(const Key& key);
  void PurgeExpired(Clock::time_point now);  // requires mu_

  size_t capacity_;
  std::chrono::milliseconds ttl_;
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Entry> entries_;
  std::deque<uint64_t> order_;  // oldest first; every entry has the same TTL
};

}  // namespace cycas::auth
