// CheckPool: a fixed set of threads that runs the presence checks of a
// front-end's existence calls (zako NegotiateBlobs, REAPI FindMissingBlobs),
// so `negotiate.io_parallelism` bounds the number of concurrent checks of each
// front-end, however many calls are open.
//
// A caller hands over a batch as a ParallelFor over index ranges and blocks
// until every range has run. Batches of different callers are served round
// robin, one range at a time, so one huge request does not starve a small one.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace cycas {

class CheckPool {
 public:
  // `threads` == 0 means one per CPU core.
  explicit CheckPool(size_t threads);
  // Finishes queued work, then joins the threads.
  ~CheckPool();
  CheckPool(const CheckPool&) = delete;
  CheckPool& operator=(const CheckPool&) = delete;

  size_t threads() const { return workers_.size(); }

  // Calls fn(begin, end) for consecutive ranges of at most `grain` indices
  // covering [0, n), on the pool's threads; returns when all have returned.
  void ParallelFor(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn);

 private:
  struct Job {
    const std::function<void(size_t, size_t)>* fn;
    size_t n, grain;
    size_t next = 0;        // first unclaimed index (under mu_)
    size_t unfinished = 0;  // ranges claimed or not yet run (under mu_)
    std::condition_variable done;
  };
  void WorkerLoop();

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<Job*> queue_;  // jobs with unclaimed ranges
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace cycas
