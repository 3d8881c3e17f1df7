// Engine: the cyclone store. Owns a span (store file or block device) divided
// into stripes, routes each key to its stripe, and turns streams of bytes into
// Docs: one Doc for a small object, or data fragments plus a header Doc that
// lists them for a large one (so a ranged read goes straight to its fragment).
//
// Promises (DESIGN.md §3): an object is visible only once committed and, in the
// default durable mode, on stable storage; every read is validated; Contains()
// answers from RAM and never says "present" for an absent object; after a crash
// the store reopens with every committed object intact.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "engine/engine_stats.h"
#include "engine/io_env.h"
#include "engine/key.h"
#include "engine/read_ahead.h"
#include "engine/stripe.h"
#include "util/status.h"

namespace cycas::engine {

enum class RecordKind {
  kObject,  // immutable, any size, one copy per key
  kRecord,  // small and mutable: the newest write wins (action cache, alternates)
};

struct SpanSpec {
  std::string path;   // store file or block device
  uint64_t size = 0;  // bytes; ignored for block devices
};

struct EngineOptions {
  std::string path;            // store file or block device (when `spans` is empty)
  uint64_t size = 1ull << 30;  // bytes; ignored for block devices
  // Several spans (files or devices, e.g. one per disk); overrides path/size.
  // Stripes are numbered across spans in this order, so the list must not be
  // reordered for an existing store (objects would route to other stripes and miss).
  std::vector<SpanSpec> spans;
  uint32_t stripes = 0;                 // 0: one per CPU core; divided among spans
  uint64_t average_object_size = 8192;  // sizes the directory: size / this entries
  // Data bytes per fragment of a large object: 1 MiB less the Doc header, so a
  // fragment Doc is exactly 1 MiB and four fill a 4 MiB aggregated write (with
  // 1 MiB of data, three fit and a quarter of every write was left empty).
  uint32_t fragment_size = (1u << 20) - kDocHeaderSize;
  uint32_t aggregation_bytes = 4 << 20;  // one sequential write
  bool durable = true;                   // false: "relaxed" mode, acks before fdatasync
  bool direct_io = true;
  std::chrono::milliseconds snapshot_interval{10'000};
  double copy_forward_fraction = 0.1;  // objects this close to eviction are rewritten on touch
  // Docs up to this many bytes are read through the page cache
  // (BlockFile::ReadCachedAt): a small blob that drops out of the RAM tier but
  // is read again soon costs a copy instead of a device read. Larger reads
  // (fragments) bypass the cache. 0: every read uses direct I/O.
  uint32_t cached_read_max = 64 << 10;
  // Larger Docs (fragments of big objects) are read with O_DIRECT the first
  // time: a buffered read of data that is not cached is slower here (0.6-0.8x
  // in bench/engine). With this on, a Doc read again after a recent direct
  // read is read through the page cache, which keeps it: big blobs fetched
  // over and over stop costing device reads, one-off reads stay direct.
  // (preadv2's RWF_NOWAIT cannot ask "is it cached?" instead: on a miss it
  // still starts the device read.)
  bool cache_rereads = true;
  // A sequential reader of a fragmented object keeps this many of its next
  // fragments being read ahead (read_ahead.h); 0 disables read-ahead.
  uint32_t read_ahead_fragments = 3;
  // Most bytes of fragments read ahead and not yet consumed, engine-wide.
  uint64_t read_ahead_bytes = 64ull << 20;
  // On a preallocated file, while batches are small (small-object group
  // commits), a converter thread per stripe writes zeros over the unwritten
  // extents up to this far ahead of the cursor (BlockFile::ConvertUnwritten),
  // so those commits' fdatasyncs need not write extent metadata too. Once a
  // pass has written the ring, its extent maps show nothing left to convert.
  // 0 disables.
  uint64_t convert_ahead_bytes = 32ull << 20;
  std::chrono::milliseconds writer_wait{
      30'000};           // how long a 2nd writer of a key waits for the 1st
  IoEnv* env = nullptr;  // nullptr: IoEnv::Default()
};

class ObjectReader {
 public:
  virtual ~ObjectReader() = default;
  virtual uint64_t size() const = 0;
  virtual Result<size_t> Read(uint64_t offset, std::span<uint8_t> out) = 0;
  // Up to `max` bytes at `offset` as a view of the reader's own validated
  // buffer (the Doc or fragment holding them), valid until the next Read() or
  // View() or the reader's destruction. Empty only at or past the end.
  virtual Result<std::span<const uint8_t>> View(uint64_t offset, size_t max) = 0;
};

class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  virtual Status Append(std::span<const uint8_t> data) = 0;
  virtual Status Commit() = 0;
  // Whether CommitAsync() returns without waiting for the flush. True for
  // objects held in one Doc; a fragmented object's commit has checks after the
  // flush that may write (a tombstone) and wait, which the flusher must not.
  virtual bool CanCommitAsync() const = 0;
  // Commit() without waiting for the flush: `done` gets the result, on this
  // thread if the commit fails or completes at once, else on the stripe's
  // flusher thread once the data is durable (keep `done` short). The writer
  // must stay alive until `done` has run. When !CanCommitAsync() this is
  // Commit() followed by `done`, on this thread.
  virtual void CommitAsync(std::function<void(Status)> done) = 0;
  virtual void Abort() = 0;
};

struct EngineStatsSnapshot {
  uint64_t docs_written, bytes_written, batches_written, syncs, sync_micros;
  uint64_t reads, hits, misses, validation_failures, page_cache_stale, page_cache_rereads,
      directory_evictions, wraps;
  uint64_t copy_forward_objects, copy_forward_bytes, io_errors, sync_failures, snapshots,
      replayed_docs;
  uint64_t copy_forward_queued;  // touched objects not yet copied (including the one in progress)
  uint64_t recovery_micros;
  uint64_t converted_bytes, convert_micros;
  uint64_t directory_entries_used, directory_capacity, directory_bytes;
  uint64_t ring_bytes;
  std::vector<StripeSnapshotStats> stripes;
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& options);
  ~Engine();

  // Flushes, writes final snapshots, stops background threads. Idempotent.
  Status Close();

  bool Contains(const Key& key, RecordKind kind = RecordKind::kObject);
  // Contains() followed by Touch() of a present object, with one directory lookup.
  bool ContainsAndTouch(const Key& key);
  // ContainsAndTouch() of every key: present[i] = 1 if keys[i] is stored. A
  // lookup is one or two cache misses in a directory far larger than the
  // caches; here the directory lines of the keys a few places ahead are
  // prefetched, so those misses overlap instead of following one another.
  void ContainsAndTouchMany(std::span<const Key> keys, std::span<uint8_t> present);
  // NOT_FOUND when absent (including when what was found failed validation).
  Result<std::unique_ptr<ObjectReader>> OpenRead(const Key& key,
                                                 RecordKind kind = RecordKind::kObject);
  // For kObject: ALREADY_EXISTS if stored; waits for a concurrent writer of the
  // same key (up to writer_wait) and never stores two copies.
  Result<std::unique_ptr<ObjectWriter>> OpenWrite(const Key& key,
                                                  RecordKind kind = RecordKind::kObject);
  // Convenience: one call for a small value.
  Status Put(const Key& key, std::span<const uint8_t> data, RecordKind kind = RecordKind::kObject);
  // Put() that reports through `done` as ObjectWriter::CommitAsync does.
  void PutAsync(const Key& key, std::span<const uint8_t> data, RecordKind kind,
                std::function<void(Status)> done);
  Status Remove(const Key& key, RecordKind kind = RecordKind::kObject);
  // Called on every existence check and read from above: an object close to
  // being overwritten is copied forward in the background so it survives.
  void Touch(const Key& key);
  // Whether a record is absent or close to being overwritten (within the
  // copy-forward zone). Records are not copied forward (the newest write wins,
  // so a copy could undo a later write); a caller that knows a record's value
  // (e.g. one derived from an object that is still stored) rewrites it instead.
  bool RecordFading(const Key& key);

  EngineStatsSnapshot Stats();
  const EngineOptions& options() const { return options_; }
  uint32_t stripe_count() const { return static_cast<uint32_t>(stripes_.size()); }
  // For tests: force a directory snapshot of every stripe.
  Status SnapshotAll();
  // For tests: wait until queued copy-forwards are done.
  void DrainCopyForward();

 private:
  explicit Engine(EngineOptions options) : options_(std::move(options)) {}
  Status Init();
  Stripe* StripeFor(const Key& key) { return stripes_[key.StripeHash() % stripes_.size()].get(); }
  void CopyForwardLoop();
  void QueueCopyForward(const Key& key);
  // Writes a tombstone; the caller holds the key's write slot for objects.
  Status AppendTombstone(Stripe* s, const Key& key, EntryType type);
  Status CopyForward(const Key& key);
  Result<std::unique_ptr<ObjectWriter>> NewWriter(const Key& key, RecordKind kind, bool rewrite);

  friend class EngineWriter;

  EngineOptions options_;
  Status OpenSpan(const SpanSpec& span, uint32_t stripes, uint32_t* first_stripe);

  std::vector<std::unique_ptr<BlockFile>> files_;
  std::vector<std::unique_ptr<Stripe>> stripes_;
  EngineStats stats_;
  uint64_t ring_bytes_ = 0;

  std::mutex cf_mu_;
  std::condition_variable cf_cv_;
  std::condition_variable cf_idle_cv_;
  std::deque<Key> cf_queue_;
  std::unordered_set<Key, KeyHasher> cf_pending_;
  bool cf_busy_ = false;
  bool cf_stop_ = false;
  std::thread cf_thread_;
  // After stripes_: its threads read through the stripes, so it goes first.
  std::unique_ptr<ReadAheadPool> read_ahead_;
  bool closed_ = false;
};

}  // namespace cycas::engine
