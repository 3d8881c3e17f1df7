// UploadSpool: what makes ByteStream writes resumable — across calls and
// across a restart of the server.
//
// A ByteStream Write streams straight into the CAS (hashed and verified on the
// way); the spool keeps a copy of the uncompressed bytes received so far, so
// that when the stream breaks before `finish_write` the prefix is not lost: it
// is flushed and fdatasync'ed, and a small metadata file records its length and
// whose upload it is. QueryWriteStatus reports that length, and a later Write
// with that `write_offset` replays the prefix into a new CAS writer and carries
// on — in the same process or after a restart, within the retention time.
//
// The copy costs little in the common case. While all live uploads together
// hold at most `memory_bytes`, an upload's copy stays in memory (large pieces
// of received messages by reference to gRPC's receive buffers, counted as
// what they pin; small ones copied) and is dropped when the blob is committed:
// uploads that finish in one go never touch the spool's disk. (Writing every upload through its
// file as it arrived cost each byte a second pass through the page cache — a copy, ext4 allocation,
// write-back competing with the store's own writes, truncation at unlink — and
// halved ByteStream write throughput.) An upload that would go beyond the
// budget spills: what it holds and all that follows goes to its file in
// `buffer_bytes` pieces, unsynced, on the spool's writer thread (the stream's
// thread only hands pieces over). Held or spilled, a broken stream's prefix is
// written out and fdatasync'ed before it is reported, and is only ever resumed
// from the file. A spool that reaches `max_bytes` stops being kept (that
// upload is then resumable only from 0).
//
// Files live in one directory (server.data_dir/uploads/): per upload
// `<id>.data` (the prefix) and `<id>.meta` (format below), where <id> is the
// SHA-256 of the upload key. At Open, data past the recorded length (written
// but never synced) is truncated, and files without valid metadata or older
// than the retention are removed; a background sweep keeps removing expired
// uploads and the oldest ones when the spool holds more than `max_bytes` (or
// more than `max_uploads` prefixes).
//
// .meta format (text, written to a temporary name, synced, renamed):
//   line 1: "cycas-upload v1"
//   line 2: length of the durable prefix in bytes (decimal)
//   line 3: the blob's digest, Digest::ToString()
//   rest:   the upload key (WriteResource::UploadKey()), raw
//
// Thread-safe. One Write stream at a time may hold an upload (Acquire).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cas/blob_store.h"
#include "digest/digest.h"
#include "util/status.h"

namespace cycas::api::reapi {

// Bytes the spool keeps a reference to: a view, and whatever keeps the bytes
// alive (a copy the spool made, or the received message's gRPC slices).
struct HeldBytes {
  std::shared_ptr<const void> owner;
  std::string_view bytes;
};

// One upload's handover to the spool's writer thread.
struct FlushState {
  std::mutex mu;
  std::condition_variable cv;
  bool busy = false;  // a buffer is being written
  Status error;       // the first write error
};

class UploadSpool {
 public:
  struct Options {
    std::string dir;
    // How long a broken upload's prefix is kept. Zero disables keeping
    // prefixes (uploads are then resumable only from offset 0).
    std::chrono::milliseconds retention{std::chrono::hours(1)};
    // Bytes all kept prefixes may use together; also the largest single prefix.
    uint64_t max_bytes = uint64_t{4} << 30;
    // Most kept prefixes at once (oldest removed first beyond it).
    size_t max_uploads = 10000;
    // Bytes all live uploads may hold in memory together; an upload that
    // would go beyond writes its copy to its spool file instead.
    uint64_t memory_bytes = uint64_t{256} << 20;
    // Bytes per write to a spool file once an upload has spilled.
    size_t buffer_bytes = size_t{1} << 20;
  };

  // The state of one upload while a Write stream holds it.
  class Upload {
   public:
    ~Upload();
    Upload(const Upload&) = delete;
    Upload& operator=(const Upload&) = delete;

    // Length of the prefix kept from earlier streams (0 for a new upload).
    uint64_t durable_size() const { return base_; }
    // Bytes of the blob received so far: the kept prefix plus this stream's.
    uint64_t size() const { return base_ + pending_; }

    // Forgets the kept prefix: the client restarted at offset 0.
    Status Reset();
    // Keeps only the first `size` bytes of the kept prefix (size <= durable_size()):
    // the client resumed from an earlier offset than the one kept, which is
    // harmless because every copy of a prefix of one blob holds the same bytes.
    Status TruncateTo(uint64_t size);
    // Streams the kept prefix into `writer` (a new CAS writer for the blob).
    Status ReplayTo(BlobWriter& writer);
    // Keeps a copy of the next bytes of the blob.
    Status Append(std::span<const uint8_t> data);
    // Keeps the next bytes of the blob without copying them: `bytes` stay
    // valid, and unchanged, while `owner` lives. Counted in the memory budget
    // as `pinned` bytes (at least bytes.size()): what keeping `owner` alive
    // costs for them, e.g. the whole receive buffer they lie in.
    Status Append(std::string_view bytes, std::shared_ptr<const void> owner, uint64_t pinned);
    // The stream ended before finish_write: makes everything received durable
    // and queryable. With retention 0 this forgets the upload instead.
    Status Persist();
    // The upload is over (committed, or failed for good): removes its files.
    void Discard();

   private:
    friend class UploadSpool;
    Upload(UploadSpool* spool, std::string key, std::string id, Digest digest, uint64_t base,
           std::shared_ptr<std::atomic<uint64_t>> live);
    // Records the next piece of the blob, held in memory at a cost of
    // `memory` budget bytes, or spilled to the file beyond the budget.
    Status Keep(HeldBytes piece, uint64_t memory);
    // Hands the held bytes to the spool's writer thread; with `wait`, returns
    // once everything handed over is in the file (or failed).
    Status Flush(bool wait);
    // Forgets the held bytes and returns their share of the memory budget.
    void DropHeld();
    Status WaitFlush();
    Status EnsureFile();
    void CloseFile();  // waits for the writer thread first

    UploadSpool* spool_;
    std::string key_;
    std::string id_;
    Digest digest_;
    uint64_t base_;         // durable prefix length at acquisition (or after Reset)
    uint64_t pending_ = 0;  // bytes appended by this stream
    uint64_t in_file_ = 0;  // bytes in the .data file (durable or not)
    std::shared_ptr<std::atomic<uint64_t>> live_;  // shared with the spool's entry, for Query
    std::shared_ptr<FlushState> flush_;
    // Bytes received but not yet handed to the writer thread, in order.
    std::vector<HeldBytes> held_;
    uint64_t held_bytes_ = 0;
    uint64_t held_cost_ = 0;  // held_'s memory as Keep counted it
    uint64_t reserved_ = 0;   // the budget bytes held_ is counted as
    bool spilled_ = false;    // the budget was full once: the copy goes to the file
    int fd_ = -1;
    bool keeping_ = true;    // false once the prefix outgrew max_bytes
    bool finished_ = false;  // Persist()ed or Discard()ed
  };

  static Result<std::unique_ptr<UploadSpool>> Open(Options options);
  ~UploadSpool();

  // Takes the upload named `key` for one Write stream. UNAVAILABLE when
  // another stream holds it (the client retries once that stream has ended).
  Result<std::unique_ptr<Upload>> Acquire(const std::string& key, const Digest& digest);

  struct Progress {
    uint64_t committed_size;
    bool active;  // a stream is writing it now
  };
  // The bytes received for `key`: live for an active upload, else the kept
  // prefix. NOT_FOUND when the spool knows nothing of it.
  Result<Progress> Query(const std::string& key);

  // Removes a kept prefix (e.g. the blob turned out to exist already).
  void Forget(const std::string& key);

  // Removes expired prefixes and, oldest first, prefixes beyond max_bytes or
  // max_uploads. Runs periodically and after every kept prefix.
  void Sweep();

  // What the spool holds, for /metrics and tests.
  struct Usage {
    size_t active = 0;  // uploads a stream is writing now
    size_t kept = 0;    // prefixes kept for a resumption (not active)
    uint64_t kept_bytes = 0;
  };
  Usage usage();
  size_t kept_count() { return usage().kept; }
  uint64_t kept_bytes() { return usage().kept_bytes; }
  // Bytes live uploads hold in memory (within Options::memory_bytes).
  uint64_t memory_used() const { return memory_used_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    Digest digest;
    uint64_t durable = 0;
    std::chrono::system_clock::time_point updated;
    bool active = false;
    // While active: bytes received so far, updated by the Upload without the lock.
    std::shared_ptr<std::atomic<uint64_t>> live;
  };

  explicit UploadSpool(Options options);
  Status Recover();
  void JanitorLoop();
  std::string PathOf(const std::string& id, const char* ext) const;
  void RemoveFiles(const std::string& id);
  static std::string IdOf(const std::string& key);
  Status WriteMeta(const std::string& id, const std::string& key, const Digest& digest,
                   uint64_t size);

  // Called by Upload when its stream ends.
  void Release(const std::string& key, std::optional<uint64_t> kept_size);

  // Copies reach the files on one writer thread, so a Write stream's thread
  // only hands buffers over (at most one in flight per upload).
  struct WriteJob {
    int fd;
    uint64_t offset;
    std::vector<HeldBytes> pieces;  // written back to back from `offset`
    uint64_t reserved;              // memory budget returned once written
    std::shared_ptr<FlushState> state;
    std::string path;
  };
  void Submit(WriteJob job);
  void WriterLoop();
  bool ReserveMemory(uint64_t n);
  void ReleaseMemory(uint64_t n);

  Options options_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;  // by upload key
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread janitor_;
  std::mutex jobs_mu_;
  std::condition_variable jobs_cv_;
  std::deque<WriteJob> jobs_;
  bool writer_stop_ = false;
  std::thread writer_;
  std::atomic<uint64_t> memory_used_{0};
};

}  // namespace cycas::api::reapi
