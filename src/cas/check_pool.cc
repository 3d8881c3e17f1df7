#include "cas/check_pool.h"

#include <algorithm>

#include "util/thread_name.h"

namespace cycas {

CheckPool::CheckPool(size_t threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) {
    workers_.emplace_back([this] {
      NameThisThread("cycas-check");
      WorkerLoop();
    });
  }
}

CheckPool::~CheckPool() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void CheckPool::ParallelFor(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  grain = std::max<size_t>(grain, 1);
  Job job;
  job.fn = &fn;
  job.n = n;
  job.grain = grain;
  job.unfinished = (n + grain - 1) / grain;
  std::unique_lock lk(mu_);
  queue_.push_back(&job);
  work_cv_.notify_all();
  job.done.wait(lk, [&] { return job.unfinished == 0; });
}

void CheckPool::WorkerLoop() {
  std::unique_lock lk(mu_);
  for (;;) {
    work_cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_ and nothing left
    Job* job = queue_.front();
    queue_.pop_front();
    size_t begin = job->next;
    size_t end = std::min(job->n, begin + job->grain);
    job->next = end;
    // Round robin: a job with more ranges goes to the back of the line.
    if (end < job->n) queue_.push_back(job);
    lk.unlock();
    (*job->fn)(begin, end);
    lk.lock();
    if (--job->unfinished == 0) job->done.notify_all();
  }
}

}  // namespace cycas
