// ProgressBar: a one-line transfer progress display on stderr, redrawn a few
// times a second by its own thread; disabled (a no-op) when stderr is not a
// terminal. Add() is safe to call from many threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace cycas::client {

class ProgressBar {
 public:
  ProgressBar(std::string label, uint64_t total_bytes, uint64_t total_items, bool enabled);
  ~ProgressBar();  // calls Finish()

  void Add(int64_t bytes) { bytes_ += bytes; }
  void ItemDone() { items_++; }
  // Draws the final state and ends the line.
  void Finish();

 private:
  void Draw(bool final);

  std::string label_;
  uint64_t total_bytes_, total_items_;
  bool enabled_;
  std::atomic<int64_t> bytes_{0};
  std::atomic<uint64_t> items_{0};
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace cycas::client
