// ParkedUploads: interrupted uploads kept for resumption.
//
// When an Upload stream ends before the whole blob arrived (the client
// disconnected, or sent a range that stops short of the end), the Transport
// service parks its still-open verifying writer here instead of aborting it:
// the bytes already received stay where they were written (the engine's
// fragments, or the writer's buffer), and the hash state stays in the
// writer. A later Upload whose range starts exactly at the number of bytes
// held takes the writer back and continues; nothing is copied or re-hashed.
//
// A parked writer still counts as the digest's upload in progress (CasStore's
// single flight), so the table is small and short-lived: at most
// `max_uploads` entries (parking one more aborts the oldest), each aborted
// `ttl` after it was parked, and a fresh upload of the same digest from offset
// 0 discards the parked one. Safe for concurrent use.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "cas/blob_store.h"
#include "digest/digest.h"

namespace cycas::api::zako {

struct ParkedUploadsOptions {
  // 0 disables parking: interrupted uploads are aborted at once.
  std::chrono::milliseconds ttl{std::chrono::minutes(10)};
  size_t max_uploads = 64;
};

class ParkedUploads {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ParkedUploads(ParkedUploadsOptions options);
  // Aborts every parked upload.
  ~ParkedUploads();
  ParkedUploads(const ParkedUploads&) = delete;
  ParkedUploads& operator=(const ParkedUploads&) = delete;

  bool enabled() const { return options_.ttl.count() > 0 && options_.max_uploads > 0; }

  // Keeps `writer`, which has received the first `received` bytes of
  // `digest`. Aborts it instead when parking is disabled or closed.
  void Park(const Digest& digest, std::unique_ptr<BlobWriter> writer, uint64_t received);

  struct Taken {
    std::unique_ptr<BlobWriter> writer;  // set when the parked prefix was exactly `offset` bytes
    uint64_t held = 0;                   // bytes held for the digest (0: none parked)
  };
  // Takes the parked upload of `digest` if it holds exactly `offset` bytes;
  // otherwise leaves it parked and reports how many bytes it holds.
  Taken Take(const Digest& digest, uint64_t offset);

  // A fresh upload of `digest` (from offset 0) is starting: aborts its parked
  // upload, if any (true if there was one), and until EndFresh() aborts
  // instead of parking one that is interrupted meanwhile, so the fresh
  // upload does not wait on it for CasStore's single flight.
  bool BeginFresh(const Digest& digest);
  void EndFresh(const Digest& digest);

  // Aborts everything and parks nothing from now on (server shutdown).
  void Close();

  size_t size() const;

 private:
  struct Entry {
    std::unique_ptr<BlobWriter> writer;
    uint64_t received;
    Clock::time_point parked;
  };
  void ReaperLoop();

  const ParkedUploadsOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<Digest, Entry> entries_;
  std::unordered_map<Digest, int> fresh_;  // fresh uploads starting, by digest
  bool closed_ = false;
  std::thread reaper_;
};

}  // namespace cycas::api::zako
