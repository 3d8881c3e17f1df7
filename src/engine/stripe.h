// Stripe: one ring of content with its directory, aggregation buffer and
// open-write table, all under one lock (CacheLib-style ownership: nothing
// outside a stripe touches its directory).
//
// Writers append Docs into the aggregation buffer; a single flusher thread per
// stripe writes the buffer as one large sequential write, syncs it when any Doc
// in it needs durability (group commit: everyone who appended during the
// previous write shares the next flush), then publishes the Docs' directory
// entries and wakes the writers. The same thread writes directory snapshots.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/dir_entry.h"
#include "engine/directory.h"
#include "engine/doc.h"
#include "engine/engine_stats.h"
#include "engine/io_env.h"
#include "engine/key.h"
#include "engine/layout.h"
#include "util/status.h"

namespace cycas::engine {

struct StripeOptions {
  uint32_t aggregation_bytes = 4 << 20;
  bool durable = true;  // false: relaxed mode, acknowledge after write(2) without fdatasync
  std::chrono::milliseconds snapshot_interval{10'000};
  uint32_t cached_read_max = 64 << 10;      // EngineOptions::cached_read_max
  bool cache_rereads = true;                // EngineOptions::cache_rereads
  uint64_t convert_ahead_bytes = 32 << 20;  // EngineOptions::convert_ahead_bytes
};

// A flushed aggregation buffer; writers wait on it. Each batch has its own
// condition variable: with one per stripe, every completed flush woke every
// waiting writer, including those whose Docs were still in the next buffer
// (at 64 concurrent uploads most wake-ups were for nothing).
//
// Asynchronous committers register callbacks instead of waiting: the flusher
// runs them once the batch is done, after releasing the stripe's lock. They
// save a thread per commit that would only sleep until the flush and then
// wake (two context switches per upload, which dominated small uploads' CPU).
using BatchCallback = std::function<void(const Status&)>;
struct Batch {
  bool done = false;
  Status status;
  std::condition_variable cv;  // notified (under the stripe's lock) when done
  std::vector<BatchCallback> callbacks;
};

struct DocLocation {
  uint32_t offset = 0;  // sectors
  uint32_t sectors = 0;
  uint64_t cycle = 0;
  std::shared_ptr<Batch> batch;
};

// A Doc read from disk and validated; data() is the bytes after the header.
struct LoadedDoc {
  AlignedBuffer buffer;
  uint32_t start = 0;
  DocHeader header{};
  std::span<const uint8_t> data() const {
    return {buffer.data() + start + kDocHeaderSize, header.data_len};
  }
};

// One entry of a multi-fragment object's fragment table (the data of its header Doc).
struct FragmentRef {
  uint32_t offset;
  uint32_t sectors;
  uint32_t cycle_low;
  uint32_t reserved;
};

class Stripe {
 public:
  Stripe(uint32_t index, BlockFile* file, StripeGeometry geometry, StripeOptions options,
         EngineStats* stats);
  ~Stripe();
  Stripe(const Stripe&) = delete;
  Stripe& operator=(const Stripe&) = delete;

  // Loads the newest valid snapshot, replays the ring after it, starts the flusher.
  Status Open();
  // Writes what is buffered, a final snapshot, and stops the flusher.
  Status Close();

  std::optional<DirEntry> Find(const Key& key, EntryType type);
  // Starts loading the directory lines a lookup of `key` will read. Takes no
  // lock: it reads only the directory's fixed geometry and array address.
  void Prefetch(const Key& key) const { dir_.Prefetch(key); }
  // Present and whole: for a multi-fragment object, fragment 0 must still be in the ring.
  bool ContainsObject(const Key& key, DirEntry* entry = nullptr);
  // As above, also reporting whether the object lies in the `fraction` of the
  // ring that the writer will overwrite next (a candidate for copy-forward).
  bool ContainsObject(const Key& key, DirEntry* entry, double fraction, bool* near_eviction);
  Result<LoadedDoc> ReadDoc(const DirEntry& entry, const Key& key);

  // Appends one Doc to the aggregation buffer (blocking while it is full). The Doc
  // is on disk, and its directory entries published, once the batch is done.
  Result<DocLocation> Append(DocType type, const Key& first_key, const Key& key, uint64_t total_len,
                             std::span<const uint8_t> data, bool needs_sync, uint8_t flags = 0);
  Status Wait(const std::shared_ptr<Batch>& batch);
  // Calls `fn` with the batch's status once it is done: at once on this thread
  // if it already is, else on the flusher thread. `fn` must be short (hand
  // work on, don't do it): the next flush waits for it.
  void WhenDone(const std::shared_ptr<Batch>& batch, BatchCallback fn);
  // fdatasync of the stripe's file now (counted as a sync failure if it fails).
  Status SyncData();

  // Open-write table: one writer per object key at a time.
  Status BeginObjectWrite(const Key& key, std::chrono::milliseconds wait);
  // Takes the key's write slot whether or not the object is present (removal and
  // copy-forward must not interleave with each other or with an upload).
  Status AcquireWriteSlot(const Key& key, std::chrono::milliseconds wait);
  void EndObjectWrite(const Key& key);
  // Waits (up to `wait`) until no write of `key` is in progress; false on timeout.
  bool WaitNoWriter(const Key& key, std::chrono::milliseconds wait);

  bool NearEviction(const DirEntry& entry, double fraction);
  uint64_t sync_failures() const { return stats_->sync_failures.load(); }
  // Removes the entry for (key, type) if it still points at `entry`'s Doc (used
  // when that Doc failed validation, so the key becomes a miss and can be rewritten).
  void DropEntry(const Key& key, EntryType type, const DirEntry& entry);
  uint32_t fragment_limit() const { return options_.aggregation_bytes - kDocHeaderSize; }
  StripeSnapshotStats SnapshotStats();

  // For tests: write a snapshot now.
  Status SnapshotNow();

 private:
  struct AggBuffer {
    AlignedBuffer buf;
    uint32_t base = 0;  // sectors
    uint64_t cycle = 0;
    size_t fill = 0;
    bool needs_sync = false;
    uint64_t last_serial = 0;
    std::shared_ptr<Batch> batch;
    // Docs before this offset belong to operations already told that they
    // failed; WriteBatch voids them, so a failure is never followed by the
    // operation taking effect after all (e.g. a failed removal's tombstone
    // landing after a later Put was told the object exists).
    size_t void_until = 0;
  };

  void StartBuffer(AggBuffer* b, uint64_t next_base, uint64_t cycle);
  void FlusherLoop();
  Status WriteBatch(AggBuffer* b, uint32_t len);
  // Before a batch is written at [base, base + sectors): while batches are
  // small, keeps the converter (BlockFile::ConvertUnwritten on its own
  // thread) converting up to convert_ahead_bytes past the batch, and waits if
  // the batch would land in the range being converted. Flusher thread,
  // without mu_.
  void ConvertAhead(uint32_t base, uint32_t sectors);
  void ConverterLoop();
  bool ConvertingLocked() const { return convert_to_ > convert_from_; }
  Status TakeSnapshot(std::unique_lock<std::mutex>& lk, bool clean = false);
  // Fails every waiter of buffered Docs and refuses new ones until `retry`
  // succeeds (called with backoff); returns false if the stripe closed first.
  // Marks `batch` done with `st` (if it is not yet), wakes its waiters and
  // runs its callbacks with the lock released for the time they take.
  void CompleteBatch(std::unique_lock<std::mutex>& lk, const std::shared_ptr<Batch>& batch,
                     const Status& st);
  template <typename Retry>
  bool FailAndRetry(std::unique_lock<std::mutex>& lk, const Status& error, Retry retry);
  Status WriteGenerationMarker(uint64_t max_generation);
  void ApplyDoc(const DocHeader& h, const uint8_t* data, uint32_t offset, uint32_t sectors);
  Status Recover();
  bool AcceptSerial(uint64_t serial, uint64_t last) const;
  bool ContainsObjectLocked(const Key& key, DirEntry* entry);
  bool NearEvictionLocked(const DirEntry& entry, double fraction) const;

  const uint32_t index_;
  BlockFile* const file_;
  const StripeGeometry geo_;
  // Larger Docs read with O_DIRECT recently, by sector (+1; 0 = empty), in a
  // direct-mapped table without locks: later reads of one of them go through
  // the page cache, which keeps it (cache_rereads). A collision costs one
  // more direct read; a stale slot (the ring moved on) one buffered read.
  bool ReadRecently(uint32_t sector) const;
  void NoteDirectRead(uint32_t sector);
  static constexpr size_t kRecentReads = 16384;  // 64 KiB: 16 GiB of 1 MiB fragments
  std::array<std::atomic<uint32_t>, kRecentReads> recent_reads_{};
  const StripeOptions options_;
  EngineStats* const stats_;

  std::mutex mu_;
  std::condition_variable work_cv_;   // flusher: there is work
  std::condition_variable space_cv_;  // writers: buffer space freed
  std::condition_variable open_cv_;   // writers: an open write ended
  Directory dir_;
  RingClock clock_;
  AggBuffer cur_;
  AggBuffer flushing_;
  uint64_t next_serial_ = 0;
  uint64_t last_doc_serial_ = 0;
  uint64_t snapshot_serial_ = 0;
  uint64_t generation_ = 0;      // Doc generation of this session
  uint64_t snapshot_epoch_ = 0;  // stats_->sync_failures covered by the last snapshot
  uint64_t sectors_since_snapshot_ = 0;
  uint32_t unsynced_batches_ = 0;    // durable mode: written since the last fdatasync
  uint64_t mean_batch_bytes_;        // moving average of batch sizes (flusher thread only)
  bool restart_conversion_ = false;  // the ring wrapped (flusher thread only)
  bool conversion_off_ = false;      // the converter could not start (flusher thread only)
  // Conversion ahead of the cursor (ConvertAhead). Ring sectors below
  // converted_until_ were converted in this cycle; [convert_from_,
  // convert_to_) is being converted now (empty: idle).
  std::mutex conv_mu_;
  std::condition_variable conv_cv_;
  uint32_t converted_until_ = 0;
  uint32_t convert_from_ = 0, convert_to_ = 0;
  bool conv_stop_ = false;
  std::thread converter_;
  bool dirty_ = false;
  bool failed_ = false;
  bool stop_ = false;
  std::chrono::steady_clock::time_point last_snapshot_;
  std::unordered_map<Key, int, KeyHasher> open_writes_;
  std::thread flusher_;
};

}  // namespace cycas::engine
