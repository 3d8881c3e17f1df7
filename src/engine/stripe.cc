#include "engine/stripe.h"

#include <algorithm>
#include <cstring>
#include <system_error>
#include <utility>
#include <vector>

#include "util/log.h"
#include "util/thread_name.h"

namespace cycas::engine {
namespace {

constexpr uint64_t kCounterBits = 40;
constexpr uint64_t kCounterMask = (uint64_t{1} << kCounterBits) - 1;
constexpr uint32_t kSectorsPerBlock = kBlockSize / kSectorSize;

uint64_t Micros(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               since)
      .count();
}

}  // namespace

Stripe::Stripe(uint32_t index, BlockFile* file, StripeGeometry geometry, StripeOptions options,
               EngineStats* stats)
    : index_(index),
      file_(file),
      geo_(geometry),
      options_(options),
      stats_(stats),
      dir_(geometry.dir),
      mean_batch_bytes_(options_.aggregation_bytes) {
  cur_.buf = AlignedBuffer(options_.aggregation_bytes);
  flushing_.buf = AlignedBuffer(options_.aggregation_bytes);
}

Stripe::~Stripe() {
  (void)Close();
}

// Serials are generation << 40 | counter. Each open of the stripe starts a new
// generation at counter 0, so Docs left over from an earlier crash (torn or
// never acknowledged) can never be mistaken for the continuation of the chain.
bool Stripe::AcceptSerial(uint64_t serial, uint64_t last) const {
  uint64_t gen = serial >> kCounterBits, cnt = serial & kCounterMask;
  uint64_t last_gen = last >> kCounterBits, last_cnt = last & kCounterMask;
  return (gen == last_gen && cnt == last_cnt + 1) || (gen > last_gen && cnt == 0);
}

void Stripe::StartBuffer(AggBuffer* b, uint64_t next_base, uint64_t cycle) {
  // A buffer never straddles the end of the ring: wrap early instead.
  if ((next_base + options_.aggregation_bytes / kSectorSize) > geo_.content_sectors) {
    next_base = 0;
    cycle++;
  }
  b->base = static_cast<uint32_t>(next_base);
  b->cycle = cycle;
  b->fill = 0;
  b->needs_sync = false;
  b->void_until = 0;
  b->batch = std::make_shared<Batch>();
}

Status Stripe::Open() {
  auto t0 = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(Recover().WithContext("stripe " + std::to_string(index_)));
  snapshot_epoch_ = stats_->sync_failures.load();
  StartBuffer(&cur_, clock_.cursor, clock_.cycle);
  last_snapshot_ = std::chrono::steady_clock::now();
  stats_->recovery_micros += Micros(t0);
  flusher_ = std::thread([this] {
    NameThisThread("cycas-flush-" + std::to_string(index_));
    FlusherLoop();
  });
  return Status::Ok();
}

Status Stripe::Close() {
  {
    std::unique_lock lk(mu_);
    if (!flusher_.joinable()) return Status::Ok();
    stop_ = true;
    work_cv_.notify_all();
    space_cv_.notify_all();
    open_cv_.notify_all();
  }
  flusher_.join();
  if (converter_.joinable()) {
    {
      std::lock_guard cl(conv_mu_);
      conv_stop_ = true;
      conv_cv_.notify_all();
    }
    converter_.join();
  }
  std::unique_lock lk(mu_);
  if (failed_)
    return Status::Unavailable("stripe " + std::to_string(index_) + ": closed after I/O failure");
  return TakeSnapshot(lk, /*clean=*/true);
}

std::optional<DirEntry> Stripe::Find(const Key& key, EntryType type) {
  std::lock_guard lk(mu_);
  return dir_.Find(key, type, clock_);
}

bool Stripe::ContainsObjectLocked(const Key& key, DirEntry* entry) {
  auto e = dir_.Find(key, EntryType::kObject, clock_);
  if (!e) return false;
  // Fragment 0 is the oldest part of the object: if it is still in the ring, so is the rest.
  if (e->multi && !dir_.Find(key.FragmentKey(0), EntryType::kFragment, clock_)) return false;
  if (entry != nullptr) *entry = *e;
  return true;
}

bool Stripe::ContainsObject(const Key& key, DirEntry* entry) {
  std::lock_guard lk(mu_);
  return ContainsObjectLocked(key, entry);
}

bool Stripe::ContainsObject(const Key& key, DirEntry* entry, double fraction, bool* near_eviction) {
  std::lock_guard lk(mu_);
  DirEntry e{};
  if (!ContainsObjectLocked(key, &e)) return false;
  if (entry != nullptr) *entry = e;
  // For a multi-fragment object the header is newer than fragment 0; the header's
  // distance is a slight overestimate, which only delays copy-forward a little.
  *near_eviction = NearEvictionLocked(e, fraction);
  return true;
}

bool Stripe::NearEvictionLocked(const DirEntry& entry, double fraction) const {
  // The zone is the fraction plus one aggregation buffer: a buffer never
  // straddles the ring's end (StartBuffer wraps early), so up to a buffer's
  // worth of tail is skipped and the ring's first Docs are overwritten while
  // DistanceAhead still counts that tail. Without the extra buffer a zone
  // smaller than it (10% of a 32 MiB ring vs the 4 MiB default buffer) never
  // sees those Docs as near, and they are evicted however often they are read.
  const uint64_t zone = static_cast<uint64_t>(fraction * geo_.content_sectors) +
                        options_.aggregation_bytes / kSectorSize;
  return clock_.DistanceAhead(entry.offset, geo_.content_sectors) < zone;
}

void Stripe::DropEntry(const Key& key, EntryType type, const DirEntry& entry) {
  std::lock_guard lk(mu_);
  auto e = dir_.Find(key, type, clock_);
  // Only the copy that failed: a newer copy (copy-forward, re-upload) stays.
  if (!e || e->offset != entry.offset || e->cycle != entry.cycle) return;
  dir_.Remove(key, type, clock_);
  if (type == EntryType::kObject && e->multi) {
    dir_.Remove(key.FragmentKey(0), EntryType::kFragment, clock_);
  }
}

bool Stripe::NearEviction(const DirEntry& entry, double fraction) {
  std::lock_guard lk(mu_);
  if (!clock_.IsLive(entry)) return false;
  return NearEvictionLocked(entry, fraction);
}

bool Stripe::ReadRecently(uint32_t sector) const {
  const auto& slot = recent_reads_[(sector * 0x9e3779b1u >> 16) % kRecentReads];
  return slot.load(std::memory_order_relaxed) == sector + 1;
}

void Stripe::NoteDirectRead(uint32_t sector) {
  recent_reads_[(sector * 0x9e3779b1u >> 16) % kRecentReads].store(sector + 1,
                                                                   std::memory_order_relaxed);
}

Result<LoadedDoc> Stripe::ReadDoc(const DirEntry& entry, const Key& key) {
  stats_->reads++;
  // An entry comes from RAM, a snapshot or a fragment table: bound it before
  // allocating or reading anything (no Doc is larger than an aggregated write).
  // A directory entry's length may be rounded up (PackedDirEntry): read no
  // further than the ring's end or one aggregated write, whichever is nearer;
  // the Doc's header then says how much of it is the Doc.
  if (entry.sectors() == 0 || entry.offset >= geo_.content_sectors) {
    stats_->validation_failures++;
    return Status::DataLoss("stripe " + std::to_string(index_) + ": doc location out of bounds");
  }
  const uint64_t sectors =
      std::min<uint64_t>({entry.sectors(), geo_.content_sectors - uint64_t{entry.offset},
                          options_.aggregation_bytes / kSectorSize});
  uint64_t off = geo_.content_offset + uint64_t{entry.offset} * kSectorSize;
  uint64_t len = sectors * kSectorSize;
  uint64_t start = AlignDown(off, kBlockSize);
  uint64_t end = AlignUp(off + len, kBlockSize);
  LoadedDoc doc;
  doc.buffer = AlignedBuffer(end - start, /*zero=*/false);
  doc.start = static_cast<uint32_t>(off - start);
  bool cached = end - start <= options_.cached_read_max;
  Status st = Status::Ok();
  if (cached) {
    st = file_->ReadCachedAt(start, doc.buffer.span());
  } else if (!options_.cache_rereads) {
    st = file_->ReadAt(start, doc.buffer.span());
  } else if (ReadRecently(entry.offset)) {
    // Read again soon after a direct read: through the page cache, which
    // keeps it for the reads after this one.
    cached = true;
    stats_->page_cache_rereads++;
    st = file_->ReadCachedAt(start, doc.buffer.span());
  } else {
    st = file_->ReadAt(start, doc.buffer.span());
    NoteDirectRead(entry.offset);
  }
  const uint8_t* p = doc.buffer.data() + doc.start;
  auto verify = [&] {
    std::memcpy(&doc.header, p, sizeof doc.header);
    Status v = VerifyDoc(p, len);
    if (v.ok() && doc.header.key != key) v = Status::DataLoss("doc holds a different key");
    return v;
  };
  if (st.ok()) st = verify();
  if (cached && !st.ok()) {
    // The page cache is only a hint; the device is the truth. A cached copy
    // that fails (a page the kernel kept although a direct write covered it,
    // or a failed read) is dropped and the Doc read again directly, so a stale
    // page can never turn an acknowledged object into a miss.
    file_->DropCached(start, end - start);
    Status cached_status = st;
    st = file_->ReadAt(start, doc.buffer.span());
    if (st.ok()) st = verify();
    if (st.ok()) {
      stats_->page_cache_stale++;
      LOG(kWarn, "page-cached copy of a doc was stale; served it from the device")
          .kv("stripe", index_)
          .kv("sector", entry.offset)
          .kv("cached_error", cached_status.message());
    }
  }
  if (!st.ok() && st.code() != StatusCode::kDataLoss) {
    stats_->io_errors++;
    LOG(kError, "read failed").kv("stripe", index_).kv("error", st.ToString());
    return st;
  }
  if (!st.ok()) {
    // Overwritten under us, torn, or corrupted on the medium: a miss, never data.
    stats_->validation_failures++;
    LOG(kWarn, "doc failed validation")
        .kv("stripe", index_)
        .kv("sector", entry.offset)
        .kv("key", key.ShortHex())
        .kv("error", st.message());
    return Status::DataLoss("stripe " + std::to_string(index_) + ": doc at sector " +
                            std::to_string(entry.offset) + ": " + st.message());
  }
  return doc;
}

Result<DocLocation> Stripe::Append(DocType type, const Key& first_key, const Key& key,
                                   uint64_t total_len, std::span<const uint8_t> data,
                                   bool needs_sync, uint8_t flags) {
  size_t bytes = DocSectors(data.size()) * kSectorSize;
  if (bytes > options_.aggregation_bytes) {
    return Status::Internal("doc of " + std::to_string(bytes) +
                            " bytes exceeds the aggregation buffer");
  }
  std::unique_lock lk(mu_);
  space_cv_.wait(
      lk, [&] { return stop_ || failed_ || cur_.fill + bytes <= options_.aggregation_bytes; });
  if (stop_) return Status::Unavailable("stripe " + std::to_string(index_) + " is closing");
  if (failed_) {
    return Status::Unavailable("stripe " + std::to_string(index_) +
                               ": storage I/O is failing; retry later");
  }
  DocHeader h{};
  h.type = static_cast<uint8_t>(type);
  h.flags = flags;
  h.total_len = total_len;
  h.serial = next_serial_++;
  h.cycle = cur_.cycle;
  h.first_key = first_key;
  h.key = key;
  EncodeDoc(h, data, cur_.buf.data() + cur_.fill);
  DocLocation loc;
  loc.offset = static_cast<uint32_t>(cur_.base + cur_.fill / kSectorSize);
  loc.sectors = static_cast<uint32_t>(bytes / kSectorSize);
  loc.cycle = cur_.cycle;
  loc.batch = cur_.batch;
  cur_.fill += bytes;
  cur_.needs_sync |= needs_sync;
  cur_.last_serial = h.serial;
  work_cv_.notify_one();
  return loc;
}

Status Stripe::Wait(const std::shared_ptr<Batch>& batch) {
  std::unique_lock lk(mu_);
  batch->cv.wait(lk, [&] { return batch->done; });
  return batch->status;
}

void Stripe::WhenDone(const std::shared_ptr<Batch>& batch, BatchCallback fn) {
  {
    std::lock_guard lk(mu_);
    if (!batch->done) {
      batch->callbacks.push_back(std::move(fn));
      return;
    }
  }
  fn(batch->status);  // done is final: status no longer changes
}

void Stripe::CompleteBatch(std::unique_lock<std::mutex>& lk, const std::shared_ptr<Batch>& batch,
                           const Status& st) {
  if (!batch->done) {
    batch->status = st;
    batch->done = true;
  }
  batch->cv.notify_all();
  if (batch->callbacks.empty()) return;
  std::vector<BatchCallback> callbacks = std::move(batch->callbacks);
  batch->callbacks.clear();
  const Status status = batch->status;
  lk.unlock();
  for (auto& fn : callbacks) fn(status);
  callbacks.clear();  // what they captured is released without the lock, too
  lk.lock();
}

Status Stripe::SyncData() {
  Status st = file_->Sync();
  stats_->syncs++;
  if (!st.ok()) {
    stats_->io_errors++;
    stats_->sync_failures++;
  }
  return st;
}

Status Stripe::AcquireWriteSlot(const Key& key, std::chrono::milliseconds wait) {
  std::unique_lock lk(mu_);
  bool free = open_cv_.wait_for(lk, wait, [&] { return stop_ || !open_writes_.contains(key); });
  if (stop_) return Status::Unavailable("stripe is closing");
  if (!free) return Status::Unavailable("another write of this object is in progress; retry later");
  open_writes_.emplace(key, 1);
  return Status::Ok();
}

Status Stripe::BeginObjectWrite(const Key& key, std::chrono::milliseconds wait) {
  std::unique_lock lk(mu_);
  // A second writer of the same object waits for the first: if it commits, the
  // object exists and the second is told so; if it aborts, the second proceeds.
  bool free = open_cv_.wait_for(lk, wait, [&] { return stop_ || !open_writes_.contains(key); });
  if (stop_) return Status::Unavailable("stripe is closing");
  if (!free) {
    return Status::Unavailable("another upload of this object is still in progress; retry later");
  }
  // Not "already stored" while storage fails: a removal that failed just
  // now may still be on the device, and a crash before the retry voids it
  // would let recovery apply it.
  if (failed_) {
    return Status::Unavailable("stripe " + std::to_string(index_) +
                               ": storage I/O is failing; retry later");
  }
  if (ContainsObjectLocked(key, nullptr)) return Status::AlreadyExists("object already stored");
  open_writes_.emplace(key, 1);
  return Status::Ok();
}

bool Stripe::WaitNoWriter(const Key& key, std::chrono::milliseconds wait) {
  std::unique_lock lk(mu_);
  return open_cv_.wait_for(lk, wait, [&] { return stop_ || !open_writes_.contains(key); });
}

void Stripe::EndObjectWrite(const Key& key) {
  std::lock_guard lk(mu_);
  open_writes_.erase(key);
  open_cv_.notify_all();
}

void Stripe::ApplyDoc(const DocHeader& h, const uint8_t* data, uint32_t offset, uint32_t sectors) {
  DirEntry e{};
  e.offset = offset;
  e.set_sectors(sectors);
  e.cycle = h.cycle & kCycleMask;
  bool evicted = false;
  switch (static_cast<DocType>(h.type)) {
    case DocType::kBlob:
      e.type = static_cast<uint64_t>(EntryType::kObject);
      evicted = dir_.Insert(h.key, e, clock_);
      break;
    case DocType::kRecord:
      e.type = static_cast<uint64_t>(EntryType::kRecord);
      evicted = dir_.Insert(h.key, e, clock_);
      break;
    case DocType::kObjectHeader: {
      if (h.data_len < 8 + sizeof(FragmentRef)) break;  // malformed: leave unreachable
      FragmentRef f0;
      std::memcpy(&f0, data + 8, sizeof f0);
      DirEntry fe{};
      fe.offset = f0.offset;
      fe.set_sectors(f0.sectors);
      fe.cycle = f0.cycle_low & kCycleMask;
      fe.type = static_cast<uint64_t>(EntryType::kFragment);
      evicted |= dir_.Insert(h.key.FragmentKey(0), fe, clock_);
      e.type = static_cast<uint64_t>(EntryType::kObject);
      e.multi = 1;
      evicted |= dir_.Insert(h.key, e, clock_);
      break;
    }
    case DocType::kTombstone:
      dir_.Remove(h.key, static_cast<EntryType>(h.flags & 3), clock_);
      if (static_cast<EntryType>(h.flags & 3) == EntryType::kObject) {
        dir_.Remove(h.key.FragmentKey(0), EntryType::kFragment, clock_);
      }
      break;
    case DocType::kFragment:
      break;  // reached through its object's fragment table
    case DocType::kVoid:
      break;
  }
  if (evicted) stats_->directory_evictions++;
}

Status Stripe::WriteBatch(AggBuffer* b, uint32_t len) {
  for (size_t p = 0; p < b->void_until;) {
    DocHeader h;
    std::memcpy(&h, b->buf.data() + p, sizeof h);
    VoidDoc(b->buf.data() + p);
    p += DocSectors(h.data_len) * kSectorSize;
  }
  std::memset(b->buf.data() + b->fill, 0, len - b->fill);
  Status st =
      file_->WriteAt(geo_.content_offset + uint64_t{b->base} * kSectorSize, {b->buf.data(), len});
  // Relaxed mode leaves syncing to snapshots; durable mode syncs any batch that
  // completes a commit (fragment-only batches are covered by that later sync).
  if (st.ok() && b->needs_sync && options_.durable) {
    auto t0 = std::chrono::steady_clock::now();
    st = file_->Sync();
    stats_->syncs++;
    stats_->sync_micros += Micros(t0);
  }
  if (!st.ok()) stats_->sync_failures++;
  return st;
}

void Stripe::ConvertAhead(uint32_t base, uint32_t sectors) {
  // Only while batches are small (group commits of small objects, each paying
  // a sync). Batches that fill most of the buffer (streamed large objects)
  // amortise their own conversion, and zeroing ahead of them would write the
  // disk twice; the average keeps a large object's short last batch from
  // counting as a small-object load.
  mean_batch_bytes_ = (mean_batch_bytes_ * 7 + uint64_t{sectors} * kSectorSize) / 8;
  if (options_.convert_ahead_bytes == 0 || conversion_off_) return;
  const uint32_t end = base + sectors;
  std::unique_lock lk(conv_mu_);
  if (restart_conversion_) {
    // Wrapped: the next cycle's extents are looked at again from the start,
    // once a conversion of the last cycle's tail is done.
    conv_cv_.wait(lk, [&] { return !ConvertingLocked(); });
    converted_until_ = 0;
    restart_conversion_ = false;
  }
  // The converter writes zeros wherever the extent map said "unwritten" when
  // it looked: a batch written into its range meanwhile could be zeroed.
  conv_cv_.wait(lk,
                [&] { return !ConvertingLocked() || end <= convert_from_ || base >= convert_to_; });
  if (ConvertingLocked() || mean_batch_bytes_ >= options_.aggregation_bytes / 4) return;
  const uint64_t ahead = options_.convert_ahead_bytes / kSectorSize;
  // Start the next range while half of the current one is still ahead, so the
  // converter keeps ahead of the cursor and the flusher never waits for it.
  if (uint64_t{end} + ahead / 2 <= converted_until_) return;
  const uint32_t from = std::max(converted_until_, end);
  const auto to = static_cast<uint32_t>(std::min<uint64_t>(geo_.content_sectors, end + ahead));
  if (from >= to) return;
  if (!converter_.joinable()) {
    try {
      converter_ = std::thread([this] {
        NameThisThread("cycas-conv-" + std::to_string(index_));
        ConverterLoop();
      });
    } catch (const std::system_error& e) {
      // Only a cost: batches convert what they cover themselves.
      LOG(kWarn, "cannot start the converter thread; not converting ahead")
          .kv("stripe", index_)
          .kv("error", e.what());
      conversion_off_ = true;
      return;
    }
  }
  convert_from_ = from;
  convert_to_ = to;
  conv_cv_.notify_all();
}

void Stripe::ConverterLoop() {
  std::unique_lock lk(conv_mu_);
  while (true) {
    conv_cv_.wait(lk, [&] { return conv_stop_ || ConvertingLocked(); });
    if (conv_stop_) break;
    const uint32_t from = convert_from_, to = convert_to_;
    lk.unlock();
    auto t0 = std::chrono::steady_clock::now();
    auto converted = file_->ConvertUnwritten(geo_.content_offset + uint64_t{from} * kSectorSize,
                                             uint64_t{to - from} * kSectorSize);
    if (!converted.ok()) {
      // The range itself is only a cost (each batch written there converts
      // what it covers), but the conversion's fdatasync covers the whole
      // file: a failed one may have dropped other batches' unsynced writes,
      // so it counts as a failed sync, and the stripes snapshot before they
      // acknowledge anything more (FlusherLoop).
      stats_->io_errors++;
      stats_->sync_failures++;
      LOG(kWarn, "cannot convert unwritten extents ahead of the cursor")
          .kv("stripe", index_)
          .kv("error", converted.status().ToString());
    } else if (*converted > 0) {
      stats_->converted_bytes += *converted;
      stats_->convert_micros += Micros(t0);
    }
    lk.lock();
    converted_until_ = to;
    convert_from_ = convert_to_ = 0;
    conv_cv_.notify_all();
  }
  convert_from_ = convert_to_ = 0;
  conv_cv_.notify_all();
}

template <typename Retry>
bool Stripe::FailAndRetry(std::unique_lock<std::mutex>& lk, const Status& error, Retry retry) {
  failed_ = true;
  // Nobody whose Docs are buffered is acknowledged while storage fails.
  if (cur_.fill > 0 && !cur_.batch->done) {
    cur_.void_until = cur_.fill;
    // Counted here, in the same hold of mu_: a multi-fragment writer that
    // started after the failed write was counted (WriteBatch, without mu_)
    // may have fragments among the Docs voided now, and must notice.
    stats_->sync_failures++;
    std::shared_ptr<Batch> failed = std::exchange(cur_.batch, std::make_shared<Batch>());
    CompleteBatch(lk, failed, Status::Unavailable("storage I/O is failing: " + error.message()));
  }
  if (flushing_.batch) {
    // Only a batch already failed is completed here; one still being written
    // (a snapshot failed after its write) completes when the retry succeeds.
    if (flushing_.batch->done) {
      CompleteBatch(lk, flushing_.batch, flushing_.batch->status);
    } else {
      flushing_.batch->cv.notify_all();
    }
  }
  space_cv_.notify_all();
  auto backoff = std::chrono::milliseconds(50);
  while (true) {
    work_cv_.wait_for(lk, backoff, [&] { return stop_; });
    // Closing still gets one attempt: a device that recovered during the
    // backoff lets Close flush what is buffered and write a clean snapshot.
    Status st = retry();
    if (st.ok()) break;
    if (stop_) return false;
    stats_->io_errors++;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
  failed_ = false;
  space_cv_.notify_all();
  LOG(kInfo, "storage I/O recovered").kv("stripe", index_);
  return true;
}

void Stripe::FlusherLoop() {
  std::unique_lock lk(mu_);
  auto snapshot_or_fail = [&]() -> bool {
    Status st = TakeSnapshot(lk);
    if (st.ok()) return true;
    LOG(kError, "snapshot failed; retrying").kv("stripe", index_).kv("error", st.ToString());
    return FailAndRetry(lk, st, [&] { return TakeSnapshot(lk); });
  };
  while (true) {
    work_cv_.wait_for(lk, options_.snapshot_interval, [&] { return cur_.fill > 0 || stop_; });
    if (cur_.fill == 0) {
      if (stop_) break;
      if (dirty_ &&
          std::chrono::steady_clock::now() - last_snapshot_ >= options_.snapshot_interval) {
        if (!snapshot_or_fail()) break;
      }
      continue;
    }
    uint32_t len = static_cast<uint32_t>(AlignUp(cur_.fill, kBlockSize));
    // Never overwrite data that the last durable snapshot needs to replay from:
    // snapshot before the writer has gone half way round the ring since.
    if (sectors_since_snapshot_ + len / kSectorSize > geo_.content_sectors / 2) {
      if (!snapshot_or_fail()) break;
      continue;  // re-evaluate: the buffer may have grown meanwhile
    }
    std::swap(cur_, flushing_);
    StartBuffer(&cur_, flushing_.base + len / kSectorSize, flushing_.cycle);
    space_cv_.notify_all();

    if (flushing_.cycle != clock_.cycle) {
      // Wrapped: the oldest data is about to be overwritten from the start.
      clock_.cycle = flushing_.cycle;
      clock_.cursor = 0;
      clock_.evict_end = 0;
      stats_->wraps++;
      stats_->swept_entries += dir_.Sweep(clock_);
      restart_conversion_ = true;  // acted on by ConvertAhead, without mu_
    }
    // From here on, nothing in the region being written is reachable. (After
    // recovery evict_end may already lie further ahead; it never moves back.)
    const uint32_t batch_end = flushing_.base + len / kSectorSize;
    clock_.evict_end = std::max(clock_.evict_end, batch_end);
    // Bound the batches a power cut can tear (kMaxUnsyncedBatches).
    if (unsynced_batches_ >= kMaxUnsyncedBatches) flushing_.needs_sync = true;
    lk.unlock();
    ConvertAhead(flushing_.base, len / kSectorSize);
    Status st = WriteBatch(&flushing_, len);
    lk.lock();

    if (!st.ok()) {
      stats_->io_errors++;
      LOG(kError, "aggregated write failed; retrying")
          .kv("stripe", index_)
          .kv("sector", flushing_.base)
          .kv("bytes", len)
          .kv("error", st.ToString());
      // Its writers may retry (the stripe retries the device itself): they
      // are told UNAVAILABLE, not the device's error (EIO is INTERNAL, which
      // says "a bug"); ENOSPC stays RESOURCE_EXHAUSTED.
      CompleteBatch(lk, flushing_.batch,
                    st.code() == StatusCode::kResourceExhausted
                        ? st
                        : Status::Unavailable("storage write failed: " + st.message()));
      flushing_.void_until = flushing_.fill;
      // Retry the same region so the ring stays a contiguous chain of Docs.
      bool recovered = FailAndRetry(lk, st, [&] {
        lk.unlock();
        Status r = WriteBatch(&flushing_, len);
        lk.lock();
        return r;
      });
      if (!recovered) break;  // closing while the device still fails
    }

    clock_.cursor = batch_end;
    unsynced_batches_ = flushing_.needs_sync ? 0 : unsynced_batches_ + 1;
    for (size_t p = 0; p < flushing_.fill;) {
      DocHeader h;
      std::memcpy(&h, flushing_.buf.data() + p, sizeof h);
      uint32_t sectors = static_cast<uint32_t>(DocSectors(h.data_len));
      ApplyDoc(h, flushing_.buf.data() + p + kDocHeaderSize,
               static_cast<uint32_t>(flushing_.base + p / kSectorSize), sectors);
      p += uint64_t{sectors} * kSectorSize;
      stats_->docs_written++;
    }
    last_doc_serial_ = flushing_.last_serial;
    sectors_since_snapshot_ += len / kSectorSize;
    dirty_ = true;
    stats_->batches_written++;
    stats_->bytes_written += len;
    // A failed sync anywhere may have dropped unsynced batches of this stripe,
    // leaving a hole that recovery could not replay past. Before acknowledging
    // anything more, write a snapshot (which syncs the data first) so recovery
    // starts after the hole.
    if (stats_->sync_failures.load() != snapshot_epoch_ && !snapshot_or_fail()) break;
    CompleteBatch(lk, flushing_.batch, Status::Ok());
  }
  // Wake anyone still waiting on batches that will never be written.
  for (AggBuffer* b : {&cur_, &flushing_}) {
    if (b->batch) {
      CompleteBatch(lk, b->batch,
                    Status::Unavailable("stripe closed before the write was flushed"));
    }
  }
}

Status Stripe::TakeSnapshot(std::unique_lock<std::mutex>& lk, bool clean) {
  auto t0 = std::chrono::steady_clock::now();
  SnapshotHeader h{};
  h.serial = snapshot_serial_ + 1;
  h.cycle = clock_.cycle;
  h.cursor = clock_.cursor;
  h.stripe_index = index_;
  h.last_doc_serial = last_doc_serial_;
  h.generation = generation_;
  h.kind = static_cast<uint32_t>(SnapshotKind::kSnapshot);
  h.flags = clean ? kSnapshotClean : 0;
  auto raw = dir_.raw();
  h.entry_count = raw.size();
  AlignedBuffer buf(geo_.snapshot_bytes);
  std::memcpy(buf.data() + kBlockSize, raw.data(), raw.size_bytes());
  uint64_t counted = sectors_since_snapshot_;
  lk.unlock();

  h.entries_checksum = ChecksumOf(buf.data() + kBlockSize, raw.size_bytes());
  SealSnapshotHeader(&h);
  std::memcpy(buf.data(), &h, sizeof h);
  // Data first, then the snapshot that refers to it: a device may reorder unsynced writes.
  uint64_t epoch = stats_->sync_failures.load();
  Status st = file_->Sync();
  if (st.ok()) st = file_->WriteAt(geo_.SnapshotOffset(static_cast<int>(h.serial % 2)), buf.span());
  if (st.ok()) st = file_->Sync();

  lk.lock();
  if (!st.ok()) {
    stats_->io_errors++;
    stats_->sync_failures++;
    return st.WithContext("stripe " + std::to_string(index_) + ": snapshot");
  }
  snapshot_serial_ = h.serial;
  snapshot_epoch_ = epoch;
  sectors_since_snapshot_ -= counted;
  dirty_ = sectors_since_snapshot_ > 0;
  last_snapshot_ = std::chrono::steady_clock::now();
  stats_->snapshots++;
  stats_->snapshot_micros += Micros(t0);
  return Status::Ok();
}

Status Stripe::SnapshotNow() {
  std::unique_lock lk(mu_);
  return TakeSnapshot(lk);
}

Status Stripe::Recover() {
  // 1. The newest snapshot copy whose header and entries both check out.
  std::optional<SnapshotHeader> best;
  AlignedBuffer best_buf;
  uint64_t max_generation = 0;
  uint64_t max_marker_generation = 0;
  bool best_clean = false;
  uint64_t best_generation = 0;
  for (int copy = 0; copy < 2; copy++) {
    AlignedBuffer buf(geo_.snapshot_bytes);
    RETURN_IF_ERROR(file_->ReadAt(geo_.SnapshotOffset(copy), buf.span()));
    SnapshotHeader h;
    std::memcpy(&h, buf.data(), sizeof h);
    if (!SnapshotHeaderValid(h) || h.stripe_index != index_) continue;
    max_generation = std::max(max_generation, h.generation);
    if (h.kind == static_cast<uint32_t>(SnapshotKind::kGenerationMarker)) {
      max_marker_generation = std::max(max_marker_generation, h.generation);
    }
    if (h.kind != static_cast<uint32_t>(SnapshotKind::kSnapshot) ||
        h.entry_count != geo_.dir.entries() || h.cursor > geo_.content_sectors || h.cycle == 0) {
      continue;
    }
    if (ChecksumOf(buf.data() + kBlockSize, h.entry_count * sizeof(PackedDirEntry)) !=
        h.entries_checksum) {
      LOG(kWarn, "snapshot copy has bad entries checksum").kv("stripe", index_).kv("copy", copy);
      continue;
    }
    if (!best || h.serial > best->serial) {
      best = h;
      best_buf = std::move(buf);
    }
  }
  if (best) {
    std::span<const PackedDirEntry> entries(
        reinterpret_cast<const PackedDirEntry*>(best_buf.data() + kBlockSize), best->entry_count);
    Status st = dir_.Load(entries);
    if (st.ok()) {
      best_clean = (best->flags & kSnapshotClean) != 0;
      best_generation = best->generation;
      clock_ = RingClock{best->cycle, best->cursor, best->cursor};
      last_doc_serial_ = best->last_doc_serial;
      snapshot_serial_ = best->serial;
    } else {
      LOG(kWarn, "snapshot rejected; replaying from empty")
          .kv("stripe", index_)
          .kv("error", st.message());
      best.reset();
    }
  }
  if (!best) {
    clock_ = RingClock{1, 0, 0};
    last_doc_serial_ = 0;
  }

  // 2. Replay Docs written after the snapshot, in ring order, until the chain breaks.
  const uint64_t window_bytes = options_.aggregation_bytes + kBlockSize;
  AlignedBuffer window(window_bytes);
  uint64_t win_start = 1, win_len = 0;  // in bytes from content start; 1 = nothing loaded
  auto load = [&](uint64_t pos_bytes) -> Status {
    win_start = AlignDown(pos_bytes, kBlockSize);
    uint64_t ring_bytes = uint64_t{geo_.content_sectors} * kSectorSize;
    win_len = std::min(window_bytes, ring_bytes - win_start);
    return file_->ReadAt(geo_.content_offset + win_start, {window.data(), win_len});
  };
  auto doc_at = [&](uint32_t pos, uint64_t cycle, DocHeader* h) -> Result<bool> {
    uint64_t ring_bytes = uint64_t{geo_.content_sectors} * kSectorSize;
    uint64_t b = uint64_t{pos} * kSectorSize;
    if (b + kDocHeaderSize > ring_bytes) return false;
    if (b < win_start || b + kDocHeaderSize > win_start + win_len) RETURN_IF_ERROR(load(b));
    std::memcpy(h, window.data() + (b - win_start), sizeof *h);
    auto len = CheckDocHeader(*h, ring_bytes - b);
    if (!len.ok() || h->cycle != cycle || !AcceptSerial(h->serial, last_doc_serial_) ||
        *len > options_.aggregation_bytes) {
      return false;
    }
    if (b + *len > win_start + win_len) RETURN_IF_ERROR(load(b));
    if (!VerifyDoc(window.data() + (b - win_start), *len).ok()) return false;
    return true;
  };

  uint32_t pos = clock_.cursor;
  uint64_t replayed = 0;
  while (true) {
    DocHeader h;
    ASSIGN_OR_RETURN(bool ok, doc_at(pos, clock_.cycle, &h));
    if (!ok && pos % kSectorsPerBlock != 0) {
      // Batches start on 4 KiB boundaries; skip the zero padding of the last one.
      pos = static_cast<uint32_t>(AlignUp(pos, kSectorsPerBlock));
      ASSIGN_OR_RETURN(ok, doc_at(pos, clock_.cycle, &h));
    }
    if (!ok && pos != 0) {
      ASSIGN_OR_RETURN(bool wrapped, doc_at(0, clock_.cycle + 1, &h));
      if (wrapped) {
        clock_ = RingClock{clock_.cycle + 1, 0, 0};
        stats_->swept_entries += dir_.Sweep(clock_);
        pos = 0;
        ok = true;
      }
    }
    if (!ok) break;
    uint32_t sectors = static_cast<uint32_t>(DocSectors(h.data_len));
    clock_.evict_end = pos + sectors;
    clock_.cursor = pos + sectors;
    uint64_t b = uint64_t{pos} * kSectorSize;
    ApplyDoc(h, window.data() + (b - win_start) + kDocHeaderSize, pos, sectors);
    last_doc_serial_ = h.serial;
    pos += sectors;
    replayed++;
    sectors_since_snapshot_ += sectors;
  }
  clock_.cursor = static_cast<uint32_t>(AlignUp(clock_.cursor, kSectorsPerBlock));
  clock_.evict_end = clock_.cursor;
  // The batches not yet synced at a crash (up to kMaxUnsyncedBatches, and the
  // one in flight) may have overwritten older Docs past the end of the chain
  // before they were torn: that many aggregation windows after the cursor are
  // treated as overwritten. If they reach the end of the ring, the writer went
  // on at sector 0 of the next cycle, as it does. (Docs damaged on the medium
  // further on are caught by validation when read, and dropped.)
  // None can be in flight after a clean shutdown: its snapshot is the newest
  // header, no later session reserved a generation, and nothing follows it.
  bool clean = best_clean && max_marker_generation <= best_generation && replayed == 0;
  const uint64_t guard =
      (kMaxUnsyncedBatches + 1) * (options_.aggregation_bytes / kSectorSize + kSectorsPerBlock);
  if (clean) {
    // Nothing to guard against.
  } else if (clock_.cursor + guard > geo_.content_sectors) {
    clock_ = RingClock{clock_.cycle + 1, 0,
                       static_cast<uint32_t>(std::min<uint64_t>(guard, geo_.content_sectors))};
    stats_->swept_entries += dir_.Sweep(clock_);
  } else {
    clock_.evict_end = static_cast<uint32_t>(clock_.cursor + guard);
    // Remove the window's entries now rather than leave them to computed
    // liveness: a snapshot records no evict_end, so a clean restart before
    // the writer has passed the window would make them live again.
    stats_->swept_entries += dir_.Sweep(clock_);
  }
  // A new generation for this session, reserved on disk before its first Doc, so
  // a session whose Docs are partly lost can never have its generation reused.
  max_generation = std::max(max_generation, last_doc_serial_ >> kCounterBits);
  RETURN_IF_ERROR(WriteGenerationMarker(max_generation + 1));
  stats_->replayed_docs += replayed;
  if (replayed > 0) {
    dirty_ = true;
    LOG(kInfo, "replayed ring")
        .kv("stripe", index_)
        .kv("docs", replayed)
        .kv("cursor", clock_.cursor);
  }
  return Status::Ok();
}

Status Stripe::WriteGenerationMarker(uint64_t generation) {
  SnapshotHeader h{};
  // Written over the copy that is not the newest snapshot: the next snapshot
  // goes there anyway, so no fallback is lost.
  h.serial = snapshot_serial_;
  h.cycle = clock_.cycle;
  h.cursor = clock_.cursor;
  h.stripe_index = index_;
  h.last_doc_serial = last_doc_serial_;
  h.generation = generation;
  h.kind = static_cast<uint32_t>(SnapshotKind::kGenerationMarker);
  SealSnapshotHeader(&h);
  AlignedBuffer block(kBlockSize);
  std::memcpy(block.data(), &h, sizeof h);
  RETURN_IF_ERROR(file_->WriteAt(geo_.SnapshotOffset(static_cast<int>((snapshot_serial_ + 1) % 2)),
                                 block.span()));
  RETURN_IF_ERROR(file_->Sync());
  generation_ = generation;
  next_serial_ = generation << kCounterBits;
  return Status::Ok();
}

StripeSnapshotStats Stripe::SnapshotStats() {
  std::lock_guard lk(mu_);
  StripeSnapshotStats s;
  s.cycle = clock_.cycle;
  s.cursor = clock_.cursor;
  s.ring_sectors = geo_.content_sectors;
  s.directory_entries_used = dir_.used_entries();
  s.directory_capacity = dir_.capacity();
  s.directory_bytes = dir_.memory_bytes();
  return s;
}

}  // namespace cycas::engine
