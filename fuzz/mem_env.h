// MemEnv: an IoEnv whose one "file" is a byte vector in memory, for fuzzing
// the engine without touching a filesystem (each iteration reopens a fresh
// copy of a store image in microseconds, and parallel fuzzing jobs cannot
// clash on file names).
//
// It can also stand in for a crash: once `crashed` is set, writes and syncs
// are silently dropped, as with engine::FaultEnv. And it records the ring
// writes it sees so a caller can check how Docs were grouped into batches.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/io_env.h"

namespace cycas::fuzz {

class MemEnv final : public engine::IoEnv {
 public:
  // The image the next OpenBlockFile() serves; its size is the file's size.
  void SetImage(std::vector<uint8_t> image) {
    std::lock_guard lk(mu_);
    image_ = std::move(image);
  }
  // Like SetImage, reusing the current buffer (no new pages to fault in).
  void CopyImage(const std::vector<uint8_t>& image) {
    std::lock_guard lk(mu_);
    image_.assign(image.begin(), image.end());
  }
  // Runs fn(std::vector<uint8_t>&) on the image in place, under the lock.
  template <typename Fn>
  void Edit(Fn fn) {
    std::lock_guard lk(mu_);
    fn(image_);
  }
  // The current bytes (including everything written since SetImage).
  std::vector<uint8_t> Image() {
    std::lock_guard lk(mu_);
    return image_;
  }
  // (offset, length) of every write since the last call, in order.
  std::vector<std::pair<uint64_t, uint64_t>> TakeWrites() {
    std::lock_guard lk(mu_);
    return std::exchange(writes_, {});
  }

  // An empty image grows to `size` at open, like a new preallocated file.
  Result<std::unique_ptr<engine::BlockFile>> OpenBlockFile(const std::string& path, uint64_t size,
                                                           bool want_direct_io) override;

  // While held, writes block (the engine's flusher stalls in the middle of a
  // batch), so a caller can queue several Docs and have them flushed together.
  void Hold();
  void Release();
  // Writes currently stalled by Hold().
  int stalled();

  std::atomic<bool> crashed{false};

 private:
  friend class MemBlockFile;
  std::mutex mu_;
  std::condition_variable hold_cv_;
  bool hold_ = false;
  int stalled_ = 0;
  std::vector<uint8_t> image_;
  std::vector<std::pair<uint64_t, uint64_t>> writes_;
};

}  // namespace cycas::fuzz
