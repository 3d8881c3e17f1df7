// The reference the engine's hit ratio is compared with: a Zipf request trace
// over a working set larger than the store, and an exact LRU cache of the same
// byte capacity replaying it. LRU is the policy a RAM cache would pick; the
// engine's ring is FIFO by construction and relies on copy-forward of touched
// objects to come close to it (DESIGN.md §3, "Eviction").
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <list>
#include <random>
#include <unordered_map>
#include <vector>

namespace cycas::bench {

// Draws item ranks 0..n-1 with P(rank r) proportional to 1 / (r+1)^alpha, by
// inverting the cumulative distribution (n is at most a few million here).
class ZipfSampler {
 public:
  ZipfSampler(uint64_t n, double alpha) : cdf_(n) {
    double sum = 0;
    for (uint64_t r = 0; r < n; r++) {
      sum += 1.0 / std::pow(static_cast<double>(r + 1), alpha);
      cdf_[r] = sum;
    }
    for (auto& c : cdf_) c /= sum;
  }

  template <typename Rng>
  uint32_t operator()(Rng& rng) {
    double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    if (it == cdf_.end()) --it;
    return static_cast<uint32_t>(it - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

// Exact LRU by bytes: an object is admitted on a miss and the least recently
// used objects are evicted until the total fits the capacity.
class LruBytes {
 public:
  explicit LruBytes(uint64_t capacity) : capacity_(capacity) {}

  // Returns true on a hit. Objects larger than the whole capacity are never kept.
  bool Access(uint32_t item, uint64_t size) {
    auto it = index_.find(item);
    if (it != index_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      return true;
    }
    if (size > capacity_) return false;
    order_.push_front({item, size});
    index_.emplace(item, order_.begin());
    used_ += size;
    while (used_ > capacity_) {
      auto& victim = order_.back();
      used_ -= victim.size;
      index_.erase(victim.item);
      order_.pop_back();
    }
    return false;
  }

  uint64_t used() const { return used_; }
  size_t objects() const { return order_.size(); }

 private:
  struct Node {
    uint32_t item;
    uint64_t size;
  };
  uint64_t capacity_;
  uint64_t used_ = 0;
  std::list<Node> order_;
  std::unordered_map<uint32_t, std::list<Node>::iterator> index_;
};

}  // namespace cycas::bench
