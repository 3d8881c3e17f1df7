#include "engine/read_ahead.h"

#include "util/thread_name.h"

namespace cycas::engine {

PendingRead::~PendingRead() {
  pool_->Release(bytes_);
}

Result<LoadedDoc> PendingRead::Take() {
  std::unique_lock lk(mu_);
  if (state_ == State::kQueued) {
    state_ = State::kClaimed;
    lk.unlock();
    return fn_();
  }
  done_cv_.wait(lk, [&] { return state_ == State::kDone; });
  state_ = State::kClaimed;
  return std::move(*result_);
}

void PendingRead::Cancel() {
  std::lock_guard lk(mu_);
  if (state_ == State::kQueued) state_ = State::kClaimed;
}

void PendingRead::RunFromPool() {
  {
    std::lock_guard lk(mu_);
    if (state_ != State::kQueued) return;
    state_ = State::kRunning;
  }
  Result<LoadedDoc> r = fn_();
  std::lock_guard lk(mu_);
  result_.emplace(std::move(r));
  state_ = State::kDone;
  done_cv_.notify_all();
}

ReadAheadPool::ReadAheadPool(size_t threads, uint64_t budget_bytes) : budget_(budget_bytes) {
  for (size_t i = 0; i < threads; i++) {
    workers_.emplace_back([this] {
      NameThisThread("cycas-readahead");
      WorkerLoop();
    });
  }
}

ReadAheadPool::~ReadAheadPool() {
  Stop();
}

std::shared_ptr<PendingRead> ReadAheadPool::Submit(PendingRead::ReadFn fn, uint64_t bytes) {
  if (workers_.empty()) return nullptr;
  uint64_t used = in_use_.load(std::memory_order_relaxed);
  do {
    if (used + bytes > budget_) return nullptr;
  } while (!in_use_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  // From here the PendingRead owns the reservation and returns it when destroyed.
  auto pending = std::make_shared<PendingRead>(std::move(fn), this, bytes);
  {
    std::lock_guard lk(mu_);
    if (stop_) return nullptr;
    queue_.push_back(pending);
  }
  cv_.notify_one();
  return pending;
}

void ReadAheadPool::Stop() {
  {
    std::lock_guard lk(mu_);
    if (stop_) return;
    stop_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ReadAheadPool::WorkerLoop() {
  for (;;) {
    std::shared_ptr<PendingRead> next;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      // A read whose reader has gone away has expired: skip it.
      next = queue_.front().lock();
      queue_.pop_front();
    }
    if (next) next->RunFromPool();
  }
}

}  // namespace cycas::engine
