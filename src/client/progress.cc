#include "client/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "client/cli_util.h"

namespace cycas::client {

ProgressBar::ProgressBar(std::string label, uint64_t total_bytes, uint64_t total_items,
                         bool enabled)
    : label_(std::move(label)),
      total_bytes_(total_bytes),
      total_items_(total_items),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()) {
  if (!enabled_) return;
  thread_ = std::thread([this] {
    std::unique_lock lk(mu_);
    while (!done_) {
      cv_.wait_for(lk, std::chrono::milliseconds(150));
      if (!done_) Draw(false);
    }
  });
}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Finish() {
  {
    std::lock_guard lk(mu_);
    if (done_) return;
    done_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (enabled_) {
    std::lock_guard lk(mu_);
    Draw(true);
  }
}

void ProgressBar::Draw(bool final) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double done = static_cast<double>(std::max<int64_t>(bytes_.load(), 0));
  double frac = total_bytes_ > 0 ? std::min(1.0, done / static_cast<double>(total_bytes_)) : 1.0;
  constexpr int kWidth = 30;
  int fill = static_cast<int>(frac * kWidth);
  std::string bar(fill, '=');
  if (fill < kWidth) bar += '>';
  bar.resize(kWidth, ' ');
  std::string rate = secs > 0 ? FormatBytes(done / secs) + "/s" : "";
  std::fprintf(stderr, "\r%s [%s] %3d%% %s / %s  %s  %llu/%llu\033[K%s", label_.c_str(), bar.c_str(),
               static_cast<int>(frac * 100), FormatBytes(done).c_str(),
               FormatBytes(static_cast<double>(total_bytes_)).c_str(), rate.c_str(),
               static_cast<unsigned long long>(items_.load()),
               static_cast<unsigned long long>(total_items_), final ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace cycas::client
