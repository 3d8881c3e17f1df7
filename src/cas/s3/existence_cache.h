// ExistenceCache: remembers for a short while that S3 confirmed a blob, so
// repeated existence checks of the same digests (every build asks about the
// same inputs) cost no HEAD. Only "present" is cached: a cached "absent" would
// hide an upload another node just made. Bounded by entries; when full, the
// expired entries go, and if that is not enough, everything (the cache only
// saves requests, it is never the truth). Safe for concurrent use.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <unordered_map>

#include "digest/digest.h"

namespace cycas::s3 {

class ExistenceCache {
 public:
  using Clock = std::chrono::steady_clock;
  ExistenceCache(std::chrono::milliseconds ttl, size_t max_entries) : ttl_(ttl), max_entries_(max_entries) {}

  bool Contains(const Digest& digest, Clock::time_point now = Clock::now()) {
    if (ttl_.count() <= 0) return false;
    std::lock_guard lk(mu_);
    auto it = map_.find(digest);
    if (it == map_.end()) return false;
    if (it->second <= now) {
      map_.erase(it);
      return false;
    }
    return true;
  }

  void Insert(const Digest& digest, Clock::time_point now = Clock::now()) {
    if (ttl_.count() <= 0 || max_entries_ == 0) return;
    std::lock_guard lk(mu_);
    if (map_.size() >= max_entries_) {
      std::erase_if(map_, [&](const auto& kv) { return kv.second <= now; });
      if (map_.size() >= max_entries_) map_.clear();
    }
    map_[digest] = now + ttl_;
  }

  void Erase(const Digest& digest) {
    std::lock_guard lk(mu_);
    map_.erase(digest);
  }

  size_t size() const {
    std::lock_guard lk(mu_);
    return map_.size();
  }

 private:
  const std::chrono::milliseconds ttl_;
  const size_t max_entries_;
  mutable std::mutex mu_;
  std::unordered_map<Digest, Clock::time_point> map_;
};

}  // namespace cycas::s3
