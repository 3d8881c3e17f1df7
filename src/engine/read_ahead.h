// ReadAhead: fragment reads of a large object issued before its reader asks
// for them.
//
// An object reader that loads one 1 MiB fragment, hands it out, and only then
// loads the next keeps the device idle while its caller sends the fragment,
// and the caller idle while the device reads. A sequential reader therefore
// queues its next few fragments here; a small pool of threads issues them
// while the caller is still copying or sending the current one. Measured on
// the project's 2-core VM (cycas bench, zako Transport downloads of 64 MiB at
// the recommended concurrency of 2, fresh server per run, alternating):
// 666-998 MiB/s without read-ahead, 998-1,286 MiB/s with a depth of 3. With
// more streams than that the device is kept busy anyway and the gain fades.
//
// Memory is bounded twice: per reader by the read-ahead depth, and for the
// whole engine by a byte budget. A reader that finds the budget spent simply
// reads inline, as it would without read-ahead.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "engine/stripe.h"

namespace cycas::engine {

class ReadAheadPool;

// One fragment read that was queued ahead of its reader. Whoever gets to it
// first does the read: a pool thread, or the reader itself if the read is
// still waiting in the queue when the reader needs it (so a busy pool never
// makes a reader slower than reading inline).
class PendingRead {
 public:
  using ReadFn = std::function<Result<LoadedDoc>()>;
  PendingRead(ReadFn fn, ReadAheadPool* pool, uint64_t bytes)
      : fn_(std::move(fn)), pool_(pool), bytes_(bytes) {}
  ~PendingRead();
  PendingRead(const PendingRead&) = delete;
  PendingRead& operator=(const PendingRead&) = delete;

  // The read's result: taken from the pool if it finished, waited for if it
  // is running, done inline if it has not started.
  Result<LoadedDoc> Take();
  // The reader no longer wants it: a queued read will not be issued.
  void Cancel();

 private:
  friend class ReadAheadPool;
  // Pool side: runs the read unless the reader claimed or cancelled it.
  void RunFromPool();

  enum class State { kQueued, kRunning, kDone, kClaimed };
  std::mutex mu_;
  std::condition_variable done_cv_;
  State state_ = State::kQueued;
  ReadFn fn_;
  std::optional<Result<LoadedDoc>> result_;
  ReadAheadPool* pool_;
  uint64_t bytes_;
};

class ReadAheadPool {
 public:
  // `threads` issue the reads; at most `budget_bytes` of fragments are queued
  // or held ahead of their readers at any time.
  ReadAheadPool(size_t threads, uint64_t budget_bytes);
  ~ReadAheadPool();
  ReadAheadPool(const ReadAheadPool&) = delete;
  ReadAheadPool& operator=(const ReadAheadPool&) = delete;

  // Queues `fn` (a read of about `bytes`). nullptr when the budget is spent or
  // the pool has stopped: the caller reads inline when it gets there.
  std::shared_ptr<PendingRead> Submit(PendingRead::ReadFn fn, uint64_t bytes);
  // Lets running reads finish, drops queued ones and joins the threads. Called
  // before the stripes the reads target are closed. Idempotent.
  void Stop();

  uint64_t bytes_in_use() const { return in_use_.load(std::memory_order_relaxed); }

 private:
  friend class PendingRead;
  void Release(uint64_t bytes) { in_use_.fetch_sub(bytes, std::memory_order_relaxed); }
  void WorkerLoop();

  const uint64_t budget_;
  std::atomic<uint64_t> in_use_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::weak_ptr<PendingRead>> queue_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace cycas::engine
