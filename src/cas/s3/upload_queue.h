// UploadQueue: the durable queue of uploads to S3 that were acknowledged
// locally (write-back) and are not yet known to be in S3.
//
// An upload's intent is appended to a journal and made durable (fdatasync,
// shared by concurrent writers) *before* the blob is committed locally, so
// every acknowledged upload is in the journal: after a crash or restart the
// node replays the journal and retries what was not done. An intent whose
// local commit never happened is harmless: the uploader finds nothing locally
// and drops it.
//
// The journal is a directory of segment files of checksummed text lines:
//   A <id> b <function> <hex> <size> <check>   upload blob
//   A <id> r <hex of record name> <check>        upload record (its newest local value)
//   D <id> <check>                               done (uploaded, dropped or cancelled)
// where <check> is the XXH3-64 of the rest of the line in hex. "D" lines are
// not synced (losing one only repeats an upload, which S3 answers with
// "already there"). A segment is deleted once every entry in it is done;
// a torn last line (crash mid-append) is ignored on replay.
//
// The queue is bounded: Add* waits up to `full_wait` for room, then answers
// RESOURCE_EXHAUSTED. Safe for concurrent use.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "digest/digest.h"
#include "util/status.h"

namespace cycas::s3 {

struct UploadItem {
  enum class Kind : uint8_t { kBlob, kRecord };
  uint64_t id = 0;
  Kind kind = Kind::kBlob;
  std::optional<Digest> digest;  // kBlob
  std::string record;            // kRecord: the record's name
  int attempts = 0;              // failed attempts so far
  std::string Describe() const;
};

struct UploadQueueStats {
  uint64_t depth = 0;      // entries not done (committing, waiting, in progress)
  uint64_t waiting = 0;    // ready or delayed, not in progress
  uint64_t added = 0, done = 0, retried = 0, replayed = 0, torn_lines = 0;
  uint64_t segments = 0;
  uint64_t syncs = 0;
  double oldest_age_seconds = 0;  // of the oldest entry not done
};

class UploadQueue {
 public:
  struct Options {
    std::string dir;
    uint64_t limit = 1'000'000;
    std::chrono::milliseconds full_wait{10'000};
    uint64_t segment_entries = 16'384;  // entries per segment file before a new one starts
  };
  // Creates `dir` if needed and replays what is there: entries not done come
  // back ready for upload.
  static Result<std::unique_ptr<UploadQueue>> Open(Options options);
  ~UploadQueue();

  // Durably records an upload intent; the entry is handed to workers only
  // after Ready(). RESOURCE_EXHAUSTED when the queue stays full for full_wait.
  Result<uint64_t> AddBlob(const Digest& digest);
  Result<uint64_t> AddRecord(std::string_view name);
  // The local commit succeeded: the entry may be uploaded.
  void Ready(uint64_t id);
  // Ready(), but the caller uploads it itself (write-through): returns the item, in progress.
  UploadItem ReadyAndClaim(uint64_t id);
  // The local commit failed or was abandoned: forget the entry.
  void Cancel(uint64_t id) { Done(id); }

  // For workers: the oldest entry that is ready and due, now in progress, or
  // nullopt at `deadline` or after Close().
  std::optional<UploadItem> Take(std::chrono::steady_clock::time_point deadline);
  // Uploaded (or nothing left to upload): removes the entry for good.
  void Done(uint64_t id);
  // Failed: the entry becomes due again after `delay`.
  void Retry(UploadItem item, std::chrono::milliseconds delay);

  // Wakes every Take() and makes later ones return nullopt. Entries stay on disk.
  void Close();
  // Blocks until the queue holds no entry (or the deadline); true when empty.
  bool WaitEmpty(std::chrono::steady_clock::time_point deadline);

  uint64_t depth() const;
  UploadQueueStats Stats() const;

 private:
  enum class State : uint8_t { kCommitting, kReady, kInProgress };
  struct Entry {
    UploadItem item;
    State state = State::kCommitting;
    uint64_t segment = 0;
    std::chrono::steady_clock::time_point not_before{};
    std::chrono::steady_clock::time_point added;
  };
  struct Segment {
    int fd = -1;
    uint64_t live = 0;     // entries not done
    uint64_t entries = 0;  // entries ever added to it
  };

  explicit UploadQueue(Options options) : options_(std::move(options)) {}
  Status Replay();
  Status OpenSegment(uint64_t number);
  std::string SegmentPath(uint64_t number) const;
  Result<uint64_t> Add(UploadItem item, std::string line_body);
  void RetireSegmentIfDone(uint64_t number);

  Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // room, ready entries, durability, emptiness
  std::map<uint64_t, Entry> entries_;
  std::deque<uint64_t> ready_;       // FIFO of ids (lazily skipped when not ready)
  std::multimap<std::chrono::steady_clock::time_point, uint64_t> delayed_;
  std::map<uint64_t, Segment> segments_;
  uint64_t current_segment_ = 0;
  uint64_t next_id_ = 1;
  bool closed_ = false;

  // Group commit: lines appended under mu_, written and synced by one leader at a time.
  std::string pending_lines_;
  std::vector<uint64_t> pending_ids_;
  uint64_t appended_seq_ = 0, synced_seq_ = 0;
  bool flushing_ = false;
  Status sync_error_;

  uint64_t added_ = 0, done_ = 0, retried_ = 0, replayed_ = 0, torn_ = 0, syncs_ = 0;
};

}  // namespace cycas::s3
