#include "api/zako/parked_uploads.h"

#include <vector>

#include "util/log.h"

namespace cycas::api::zako {

ParkedUploads::ParkedUploads(ParkedUploadsOptions options) : options_(options) {
  if (enabled()) reaper_ = std::thread([this] { ReaperLoop(); });
}

ParkedUploads::~ParkedUploads() {
  Close();
  if (reaper_.joinable()) reaper_.join();
}

void ParkedUploads::Park(const Digest& digest, std::unique_ptr<BlobWriter> writer,
                         uint64_t received) {
  std::unique_ptr<BlobWriter> evicted, replaced;
  std::unique_lock lk(mu_);
  if (!enabled() || closed_ || fresh_.contains(digest)) {
    lk.unlock();
    writer->Abort();
    return;
  }
  auto it = entries_.find(digest);
  if (it != entries_.end()) {
    replaced = std::move(it->second.writer);
    entries_.erase(it);
  }
  if (entries_.size() >= options_.max_uploads) {
    auto oldest = entries_.begin();
    for (auto e = entries_.begin(); e != entries_.end(); ++e) {
      if (e->second.parked < oldest->second.parked) oldest = e;
    }
    LOG(kInfo, "parked upload evicted").kv("digest", oldest->first.ToString())
        .kv("held", oldest->second.received);
    evicted = std::move(oldest->second.writer);
    entries_.erase(oldest);
  }
  entries_.emplace(digest, Entry{std::move(writer), received, Clock::now()});
  cv_.notify_all();
  lk.unlock();
  if (replaced) replaced->Abort();
  if (evicted) evicted->Abort();
}

ParkedUploads::Taken ParkedUploads::Take(const Digest& digest, uint64_t offset) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(digest);
  if (it == entries_.end()) return {};
  Taken t;
  t.held = it->second.received;
  if (t.held == offset) {
    t.writer = std::move(it->second.writer);
    entries_.erase(it);
  }
  return t;
}

bool ParkedUploads::BeginFresh(const Digest& digest) {
  std::unique_ptr<BlobWriter> w;
  {
    std::lock_guard lk(mu_);
    fresh_[digest]++;
    auto it = entries_.find(digest);
    if (it == entries_.end()) return false;
    w = std::move(it->second.writer);
    entries_.erase(it);
  }
  w->Abort();
  return true;
}

void ParkedUploads::EndFresh(const Digest& digest) {
  std::lock_guard lk(mu_);
  auto it = fresh_.find(digest);
  if (it != fresh_.end() && --it->second <= 0) fresh_.erase(it);
}

void ParkedUploads::Close() {
  std::unordered_map<Digest, Entry> all;
  {
    std::lock_guard lk(mu_);
    closed_ = true;
    all.swap(entries_);
    cv_.notify_all();
  }
  for (auto& [d, e] : all) e.writer->Abort();
}

size_t ParkedUploads::size() const {
  std::lock_guard lk(mu_);
  return entries_.size();
}

void ParkedUploads::ReaperLoop() {
  std::unique_lock lk(mu_);
  while (!closed_) {
    auto now = Clock::now();
    auto next = Clock::time_point::max();
    std::vector<std::unique_ptr<BlobWriter>> expired;
    for (auto it = entries_.begin(); it != entries_.end();) {
      auto deadline = it->second.parked + options_.ttl;
      if (deadline <= now) {
        LOG(kInfo, "parked upload expired").kv("digest", it->first.ToString())
            .kv("held", it->second.received);
        expired.push_back(std::move(it->second.writer));
        it = entries_.erase(it);
      } else {
        next = std::min(next, deadline);
        ++it;
      }
    }
    if (!expired.empty()) {
      lk.unlock();
      for (auto& w : expired) w->Abort();
      expired.clear();
      lk.lock();
      continue;
    }
    if (next == Clock::time_point::max()) {
      cv_.wait(lk);
    } else {
      cv_.wait_until(lk, next);
    }
  }
}

}  // namespace cycas::api::zako
