#include "engine/engine.h"

#include <algorithm>
#include <cstring>

#include "engine/layout.h"
#include "util/log.h"
#include "util/thread_name.h"

namespace cycas::engine {
namespace {

constexpr size_t kCopyForwardQueueLimit = 4096;

// The fixed part of an object header Doc's fragment table: fragment count and
// size, then `count` FragmentRefs. False when the data cannot hold that.
struct FragmentTable {
  uint32_t count = 0;
  uint32_t fragment_size = 0;
};
bool ParseFragmentTable(std::span<const uint8_t> d, FragmentTable* t) {
  if (d.size() < 8) return false;
  std::memcpy(&t->count, d.data(), 4);
  std::memcpy(&t->fragment_size, d.data() + 4, 4);
  return d.size() == 8 + uint64_t{t->count} * sizeof(FragmentRef);
}

// Reads an object stored as one Doc, or as fragments listed by a header Doc.
class EngineReader final : public ObjectReader {
 public:
  // `wait_for_writer`: how long a reader whose copy was overwritten waits for a
  // rewrite of the key in progress before it looks for the new copy (0 for
  // the copy-forward's own reader, which holds the key's write slot itself).
  EngineReader(Stripe* stripe, Key key, DirEntry entry, LoadedDoc head, EngineStats* stats,
               ReadAheadPool* read_ahead, uint32_t read_ahead_depth,
               std::chrono::milliseconds wait_for_writer)
      : stripe_(stripe),
        key_(key),
        entry_(entry),
        head_(std::move(head)),
        stats_(stats),
        read_ahead_(read_ahead),
        depth_(read_ahead_depth),
        wait_for_writer_(wait_for_writer) {
    multi_ = head_.header.type == static_cast<uint8_t>(DocType::kObjectHeader);
    if (multi_) table_ok_ = ParseFragmentTable(head_.data(), &table_);
  }

  // Checks the fragment table against the object's length before any read.
  Status Validate() const {
    if (!multi_) {
      if (head_.header.total_len != head_.header.data_len) {
        return Status::DataLoss("object length does not match its doc");
      }
      return Status::Ok();
    }
    uint64_t total = head_.header.total_len;
    const uint32_t fs = table_.fragment_size;
    if (!table_ok_ || fs == 0 || table_.count == 0) {
      return Status::DataLoss("malformed fragment table");
    }
    // Written without the usual (total + fs - 1) / fs, which wraps for a forged total near 2^64.
    if (table_.count != total / fs + (total % fs != 0)) {
      return Status::DataLoss("malformed fragment table");
    }
    return Status::Ok();
  }

  ~EngineReader() override {
    for (auto& [index, pending] : ahead_) pending->Cancel();
  }

  uint64_t size() const override { return head_.header.total_len; }

  Result<size_t> Read(uint64_t offset, std::span<uint8_t> out) override {
    auto view = View(offset, out.size());
    if (!view.ok()) return view.status();
    if (view->empty()) return size_t{0};  // its data() may be null, which memcpy must not see
    std::memcpy(out.data(), view->data(), view->size());
    return view->size();
  }

  Result<std::span<const uint8_t>> View(uint64_t offset, size_t max) override {
    if (offset >= size() || max == 0) return std::span<const uint8_t>();
    if (!multi_) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(max, size() - offset));
      return head_.data().subspan(static_cast<size_t>(offset), n);
    }
    uint32_t index = static_cast<uint32_t>(offset / table_.fragment_size);
    if (!fragment_ || fragment_index_ != index) {
      Result<LoadedDoc> doc = Status::Internal("unset");
      for (int attempt = 0;; attempt++) {
        doc = LoadFragment(index, offset);
        uint64_t expect = std::min<uint64_t>(table_.fragment_size,
                                             size() - uint64_t{index} * table_.fragment_size);
        if (doc.ok() && (doc->header.data_len != expect || doc->header.first_key != key_)) {
          stats_->validation_failures++;
          doc = Status::DataLoss("fragment " + std::to_string(index) + " has the wrong length");
        }
        // The copy this reader opened may have been overwritten after a newer
        // copy of the object was committed (typically the copy-forward that
        // this very read queued, which writes at the cursor, i.e. over the old
        // copy). Objects are content-addressed: continue in the current copy.
        if (doc.ok() || doc.status().code() != StatusCode::kDataLoss || attempt == 2 ||
            !SwitchToCurrentCopy()) {
          break;
        }
      }
      if (!doc.ok()) {
        // A damaged fragment makes the whole object a miss from now on.
        if (doc.status().code() == StatusCode::kDataLoss) {
          stripe_->DropEntry(key_, EntryType::kObject, entry_);
        }
        return doc.status();
      }
      fragment_ = std::move(*doc);
      fragment_index_ = index;
    }
    uint64_t in_frag = offset - uint64_t{index} * table_.fragment_size;
    auto d = fragment_->data();
    size_t n = static_cast<size_t>(std::min<uint64_t>(max, d.size() - in_frag));
    return d.subspan(static_cast<size_t>(in_frag), n);
  }

 private:
  // If the directory now holds another copy of this object (same length and
  // fragment table shape), reads its header and continues from it.
  bool SwitchToCurrentCopy() {
    // A rewrite in progress (copy-forward) may be what overwrote this copy:
    // let it commit first.
    if (wait_for_writer_.count() > 0) (void)stripe_->WaitNoWriter(key_, wait_for_writer_);
    DirEntry now{};
    if (!stripe_->ContainsObject(key_, &now)) return false;
    if (now.offset == entry_.offset && now.cycle == entry_.cycle) return false;
    auto doc = stripe_->ReadDoc(now, key_);
    if (!doc.ok() || doc->header.type != static_cast<uint8_t>(DocType::kObjectHeader) ||
        doc->header.total_len != head_.header.total_len) {
      return false;
    }
    FragmentTable now_table;
    if (!ParseFragmentTable(doc->data(), &now_table) ||
        now_table.fragment_size != table_.fragment_size || now_table.count != table_.count) {
      return false;
    }
    for (auto& [i, pending] : ahead_) pending->Cancel();
    ahead_.clear();
    head_ = std::move(*doc);
    entry_ = now;
    return true;
  }

  FragmentRef RefOf(uint32_t index) const {
    FragmentRef ref;
    std::memcpy(&ref, head_.data().data() + 8 + uint64_t{index} * sizeof ref, sizeof ref);
    return ref;
  }

  // Returns a read of fragment `index` that owns nothing of this reader, so a
  // pool thread may run it after the reader is gone.
  PendingRead::ReadFn FragmentRead(uint32_t index) const {
    FragmentRef ref = RefOf(index);
    DirEntry e{};
    e.offset = ref.offset;
    e.set_sectors(ref.sectors);
    return [stripe = stripe_, e, fk = key_.FragmentKey(index)] { return stripe->ReadDoc(e, fk); };
  }

  // Loads fragment `index`, from a read issued ahead if there is one, after
  // queueing the fragments that follow it when the reader moves sequentially
  // (or starts at the beginning, as a whole download does). A reader that
  // jumps around gets no read-ahead: it would only waste the device's time.
  Result<LoadedDoc> LoadFragment(uint32_t index, uint64_t offset) {
    bool sequential = fragment_ && index == fragment_index_ + 1;
    uint32_t want = sequential ? depth_ : (offset == 0 ? std::min<uint32_t>(depth_, 1) : 0);
    while (!ahead_.empty() && ahead_.front().first != index) {
      ahead_.front().second->Cancel();
      ahead_.pop_front();
    }
    if (read_ahead_ != nullptr && want > 0) {
      uint32_t next = ahead_.empty() ? index + 1 : ahead_.back().first + 1;
      uint32_t last =
          static_cast<uint32_t>(std::min<uint64_t>(uint64_t{index} + want, table_.count - 1));
      for (; next <= last; next++) {
        auto pending =
            read_ahead_->Submit(FragmentRead(next), uint64_t{RefOf(next).sectors} * kSectorSize);
        if (!pending) break;
        ahead_.emplace_back(next, std::move(pending));
      }
    }
    if (!ahead_.empty() && ahead_.front().first == index) {
      auto pending = std::move(ahead_.front().second);
      ahead_.pop_front();
      return pending->Take();
    }
    return FragmentRead(index)();
  }

  Stripe* stripe_;
  Key key_;
  DirEntry entry_;
  LoadedDoc head_;
  EngineStats* stats_;
  ReadAheadPool* read_ahead_;
  uint32_t depth_;
  std::deque<std::pair<uint32_t, std::shared_ptr<PendingRead>>> ahead_;
  std::chrono::milliseconds wait_for_writer_;
  bool multi_ = false;
  FragmentTable table_;
  bool table_ok_ = false;
  std::optional<LoadedDoc> fragment_;
  uint32_t fragment_index_ = 0;
};

}  // namespace

// Streams bytes into Docs: small objects become one Doc at Commit(); past the
// fragment size, full fragments are appended as they fill, and Commit() appends
// the header Doc listing them.
class EngineWriter final : public ObjectWriter {
 public:
  // `rewrite`: a copy-forward of an object that is present; its old copy must
  // stay intact unless the new one is known to be whole.
  EngineWriter(Engine* engine, Stripe* stripe, Key key, RecordKind kind, bool registered,
               bool rewrite = false)
      : engine_(engine),
        stripe_(stripe),
        key_(key),
        kind_(kind),
        registered_(registered),
        rewrite_(rewrite) {
    fragment_size_ = std::min(engine->options_.fragment_size, stripe->fragment_limit());
    sync_failures_at_start_ = stripe->sync_failures();
  }
  ~EngineWriter() override { Abort(); }

  Status Append(std::span<const uint8_t> data) override {
    if (done_) return Status::FailedPrecondition("writer already committed or aborted");
    while (!data.empty()) {
      size_t n = std::min(data.size(), fragment_size_ - buffer_.size());
      buffer_.insert(buffer_.end(), data.begin(), data.begin() + n);
      data = data.subspan(n);
      total_ += n;
      if (buffer_.size() == fragment_size_ && !data.empty()) {
        if (kind_ == RecordKind::kRecord) {
          return Status::InvalidArgument("record larger than " + std::to_string(fragment_size_) +
                                         " bytes");
        }
        RETURN_IF_ERROR(EmitFragment());
      }
    }
    return Status::Ok();
  }

  Status Commit() override {
    if (done_) return Status::FailedPrecondition("writer already committed or aborted");
    auto batch = BeginCommit();
    Status st = batch.ok() ? stripe_->Wait(*batch) : batch.status();
    if (st.ok()) st = EndCommit();
    Finish();
    return st;
  }

  bool CanCommitAsync() const override { return fragments_.empty() && !rewrite_; }

  void CommitAsync(std::function<void(Status)> done) override {
    if (done_) return done(Status::FailedPrecondition("writer already committed or aborted"));
    if (!CanCommitAsync()) return done(Commit());
    auto batch = BeginCommit();
    if (!batch.ok()) {
      Finish();
      return done(batch.status());
    }
    // One Doc: nothing is left to check after the flush (EndCommit() only
    // concerns fragments), so the flusher only releases the write slot.
    stripe_->WhenDone(*batch, [this, done = std::move(done)](const Status& flushed) {
      Finish();
      done(flushed);
    });
  }

  void Abort() override { Finish(); }

 private:
  Status EmitFragment() {
    auto loc = stripe_->Append(DocType::kFragment, key_, key_.FragmentKey(fragments_.size()), 0,
                               buffer_, /*needs_sync=*/false);
    if (!loc.ok()) return loc.status();
    fragments_.push_back(
        FragmentRef{loc->offset, loc->sectors, static_cast<uint32_t>(loc->cycle & kCycleMask), 0});
    last_fragment_batch_ = loc->batch;
    buffer_.clear();
    return Status::Ok();
  }

  // Commit in two halves around the wait for the last Doc's batch.
  Result<std::shared_ptr<Batch>> BeginCommit() {
    Result<DocLocation> loc = Status::Internal("unset");
    if (fragments_.empty()) {
      DocType type = kind_ == RecordKind::kRecord ? DocType::kRecord : DocType::kBlob;
      loc = stripe_->Append(type, key_, key_, total_, buffer_, /*needs_sync=*/true);
    } else {
      if (!buffer_.empty()) RETURN_IF_ERROR(EmitFragment());
      std::vector<uint8_t> table(8 + fragments_.size() * sizeof(FragmentRef));
      uint32_t count = static_cast<uint32_t>(fragments_.size());
      uint32_t fs = static_cast<uint32_t>(fragment_size_);
      std::memcpy(table.data(), &count, 4);
      std::memcpy(table.data() + 4, &fs, 4);
      std::memcpy(table.data() + 8, fragments_.data(), fragments_.size() * sizeof(FragmentRef));
      if (table.size() > fragment_size_) {
        return Status::InvalidArgument("object of " + std::to_string(total_) +
                                       " bytes is too large");
      }
      if (!rewrite_ && stripe_->sync_failures() != sync_failures_at_start_) {
        // Some fragment may have been dropped or voided: no header for it.
        return Status::Unavailable("a storage write or sync failed during the upload; retry");
      }
      if (rewrite_) {
        // The header replaces the present copy's entry: make sure the new
        // fragments are durable first, or keep the old copy.
        RETURN_IF_ERROR(stripe_->Wait(last_fragment_batch_));
        RETURN_IF_ERROR(stripe_->SyncData());
        if (stripe_->sync_failures() != sync_failures_at_start_) {
          return Status::Unavailable("a storage sync failed during the rewrite");
        }
      }
      loc = stripe_->Append(DocType::kObjectHeader, key_, key_, total_, table, /*needs_sync=*/true);
    }
    if (!loc.ok()) return loc.status();
    return std::move(loc->batch);
  }

  Status EndCommit() {
    if (!fragments_.empty() && !rewrite_) {
      // A failed fdatasync may have dropped fragments written before it, even if
      // a later sync succeeded: such an object must not be acknowledged.
      if (stripe_->sync_failures() != sync_failures_at_start_) {
        // The header is in the directory, but fragments written before the
        // failure may be gone: take the object back before refusing it. If
        // the tombstone fails too (it is then voided), at least the running
        // directory forgets the header; a restart that replays it finds the
        // fragments invalid when they are read.
        // (We hold the write slot, which the tombstone needs.)
        Status taken_back = engine_->AppendTombstone(stripe_, key_, EntryType::kObject);
        if (!taken_back.ok()) {
          if (auto e = stripe_->Find(key_, EntryType::kObject)) {
            stripe_->DropEntry(key_, EntryType::kObject, *e);
          }
        }
        return Status::Unavailable("a storage sync failed during the upload; retry");
      }
      if (!stripe_->ContainsObject(key_)) {
        return Status::ResourceExhausted(
            "object was partly overwritten while it was written (the store is too small for it)");
      }
    }
    return Status::Ok();
  }

  void Finish() {
    if (done_) return;
    done_ = true;
    buffer_.clear();
    buffer_.shrink_to_fit();
    if (registered_) stripe_->EndObjectWrite(key_);
  }

  Engine* engine_;
  Stripe* stripe_;
  Key key_;
  RecordKind kind_;
  bool registered_;
  bool rewrite_;
  std::shared_ptr<Batch> last_fragment_batch_;
  size_t fragment_size_;
  uint64_t sync_failures_at_start_;
  std::vector<uint8_t> buffer_;
  std::vector<FragmentRef> fragments_;
  uint64_t total_ = 0;
  bool done_ = false;
};

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  std::unique_ptr<Engine> e(new Engine(options));
  RETURN_IF_ERROR(e->Init());
  return e;
}

Status Engine::Init() {
  if (options_.env == nullptr) options_.env = IoEnv::Default();
  if (options_.stripes == 0) options_.stripes = std::max(1u, std::thread::hardware_concurrency());
  if (options_.aggregation_bytes % kBlockSize != 0 || options_.aggregation_bytes < 64 * 1024 ||
      options_.aggregation_bytes > uint64_t{kMaxApproxSectors} * kSectorSize) {
    return Status::InvalidArgument(
        "engine.aggregation_buffer must be a multiple of 4 KiB, at least 64 KiB and at most 256 "
        "MiB");
  }
  if (options_.fragment_size == 0 ||
      options_.fragment_size + kDocHeaderSize > options_.aggregation_bytes) {
    return Status::InvalidArgument(
        "engine.fragment_size must be at least 1 byte and fit, with its "
        "128-byte header, in the aggregation buffer");
  }
  std::vector<SpanSpec> spans = options_.spans;
  if (spans.empty()) spans.push_back(SpanSpec{options_.path, options_.size});
  uint32_t per_span = std::max<uint32_t>(1, (options_.stripes + spans.size() - 1) / spans.size());
  uint32_t next_stripe = 0;
  for (const auto& span : spans) RETURN_IF_ERROR(OpenSpan(span, per_span, &next_stripe));
  for (auto& s : stripes_) RETURN_IF_ERROR(s->Open());
  // Four threads: enough reads in flight for a few concurrent streams at the
  // default depth of 3; they mostly wait on the device, so not tied to cores.
  read_ahead_ = std::make_unique<ReadAheadPool>(options_.read_ahead_fragments > 0 ? 4 : 0,
                                                options_.read_ahead_bytes);
  cf_thread_ = std::thread([this] {
    NameThisThread("cycas-copyfwd");
    CopyForwardLoop();
  });
  LOG(kInfo, "engine open")
      .kv("stripes", stripes_.size())
      .kv("spans", files_.size())
      .kv("direct_io", files_.front()->direct_io())
      .kv("durable", options_.durable)
      .kv("recovery_ms", stats_.recovery_micros.load() / 1000)
      .kv("replayed_docs", stats_.replayed_docs.load());
  return Status::Ok();
}

Status Engine::OpenSpan(const SpanSpec& span, uint32_t stripes, uint32_t* first_stripe) {
  ASSIGN_OR_RETURN(std::unique_ptr<BlockFile> file,
                   options_.env->OpenBlockFile(span.path, span.size, options_.direct_io));

  AlignedBuffer head(kBlockSize);
  RETURN_IF_ERROR(file->ReadAt(0, head.span()));
  SpanHeader h;
  std::memcpy(&h, head.data(), sizeof h);
  bool blank = std::all_of(head.data(), head.data() + kBlockSize, [](uint8_t b) { return b == 0; });
  if (blank) {
    // A new store: clear every stripe's snapshot headers and ring start so that
    // nothing left on the device from an earlier life is mistaken for ours, then
    // seal the span header last.
    ASSIGN_OR_RETURN(h, PlanSpan(file->size(), stripes, options_.average_object_size,
                                 2ull * options_.aggregation_bytes));
    AlignedBuffer zero(kBlockSize);
    for (uint32_t s = 0; s < h.stripe_count; s++) {
      StripeGeometry g = GeometryOf(h, s);
      RETURN_IF_ERROR(file->WriteAt(g.SnapshotOffset(0), zero.span()));
      RETURN_IF_ERROR(file->WriteAt(g.SnapshotOffset(1), zero.span()));
      RETURN_IF_ERROR(file->WriteAt(g.content_offset, zero.span()));
    }
    RETURN_IF_ERROR(file->Sync());
    std::memcpy(head.data(), &h, sizeof h);
    RETURN_IF_ERROR(file->WriteAt(0, head.span()));
    RETURN_IF_ERROR(file->Sync());
    LOG(kInfo, "formatted store")
        .kv("path", span.path)
        .kv("bytes", h.span_size)
        .kv("stripes", h.stripe_count)
        .kv("directory_entries_per_stripe",
            DirGeometry{h.dir_segments, h.dir_buckets_per_segment}.entries());
  } else {
    Status st = CheckSpanHeader(h, file->size());
    if (!st.ok()) return st.WithContext(span.path);
    if (h.stripe_count != stripes) {
      LOG(kInfo, "store keeps the stripe count it was created with")
          .kv("stripes", h.stripe_count)
          .kv("configured", stripes);
    }
  }
  StripeOptions so;
  so.aggregation_bytes = options_.aggregation_bytes;
  so.durable = options_.durable;
  so.snapshot_interval = options_.snapshot_interval;
  so.cached_read_max = options_.cached_read_max;
  so.cache_rereads = options_.cache_rereads;
  so.convert_ahead_bytes = options_.convert_ahead_bytes;
  for (uint32_t s = 0; s < h.stripe_count; s++) {
    StripeGeometry g = GeometryOf(h, s);
    if (g.content_sectors < 2 * options_.aggregation_bytes / kSectorSize) {
      return Status::InvalidArgument(
          "engine.aggregation_buffer is too large for this store's stripes");
    }
    ring_bytes_ += uint64_t{g.content_sectors} * kSectorSize;
    stripes_.push_back(std::make_unique<Stripe>((*first_stripe)++, file.get(), g, so, &stats_));
  }
  files_.push_back(std::move(file));
  return Status::Ok();
}

Engine::~Engine() {
  (void)Close();
}

Status Engine::Close() {
  if (closed_) return Status::Ok();
  closed_ = true;
  {
    std::lock_guard lk(cf_mu_);
    cf_stop_ = true;
    cf_cv_.notify_all();
  }
  if (cf_thread_.joinable()) cf_thread_.join();
  if (read_ahead_) read_ahead_->Stop();
  Status first;
  for (auto& s : stripes_) {
    Status st = s->Close();
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

bool Engine::Contains(const Key& key, RecordKind kind) {
  Stripe* s = StripeFor(key);
  if (kind == RecordKind::kRecord) return s->Find(key, EntryType::kRecord).has_value();
  return s->ContainsObject(key);
}

Result<std::unique_ptr<ObjectReader>> Engine::OpenRead(const Key& key, RecordKind kind) {
  Stripe* s = StripeFor(key);
  DirEntry e{};
  bool found;
  if (kind == RecordKind::kRecord) {
    auto r = s->Find(key, EntryType::kRecord);
    found = r.has_value();
    if (found) e = *r;
  } else {
    found = s->ContainsObject(key, &e);
  }
  if (!found) {
    stats_.misses++;
    return Status::NotFound("not in store");
  }
  EntryType type = kind == RecordKind::kRecord ? EntryType::kRecord : EntryType::kObject;
  auto doc = s->ReadDoc(e, key);
  if (!doc.ok()) {
    stats_.misses++;
    if (doc.status().code() != StatusCode::kDataLoss) {
      // The device failed the read: not a miss (a re-upload would not help).
      return Status::Unavailable("storage read failed: " + doc.status().message());
    }
    // Invalid bytes: forget them, so the object is a miss that can be uploaded again.
    s->DropEntry(key, type, e);
    return Status::NotFound("stored copy failed validation: " + doc.status().message());
  }
  auto reader = std::make_unique<EngineReader>(
      s, key, e, std::move(*doc), &stats_, read_ahead_.get(), options_.read_ahead_fragments,
      kind == RecordKind::kObject ? options_.writer_wait : std::chrono::milliseconds(0));
  if (Status st = reader->Validate(); !st.ok()) {
    stats_.validation_failures++;
    stats_.misses++;
    s->DropEntry(key, type, e);
    return Status::NotFound("stored copy failed validation: " + st.message());
  }
  stats_.hits++;
  if (kind == RecordKind::kObject && s->NearEviction(e, options_.copy_forward_fraction)) Touch(key);
  return std::unique_ptr<ObjectReader>(std::move(reader));
}

Result<std::unique_ptr<ObjectWriter>> Engine::NewWriter(const Key& key, RecordKind kind,
                                                        bool rewrite) {
  Stripe* s = StripeFor(key);
  bool registered = false;
  if (kind == RecordKind::kObject) {
    Status st = s->BeginObjectWrite(key, options_.writer_wait);
    if (st.code() == StatusCode::kAlreadyExists && rewrite) {
      // Copy-forward rewrites a present object: still one writer at a time.
      return Status::Unavailable("rewrite needs the write slot");
    }
    RETURN_IF_ERROR(st);
    registered = true;
  }
  return std::unique_ptr<ObjectWriter>(new EngineWriter(this, s, key, kind, registered));
}

Result<std::unique_ptr<ObjectWriter>> Engine::OpenWrite(const Key& key, RecordKind kind) {
  return NewWriter(key, kind, false);
}

Status Engine::Put(const Key& key, std::span<const uint8_t> data, RecordKind kind) {
  ASSIGN_OR_RETURN(auto w, OpenWrite(key, kind));
  RETURN_IF_ERROR(w->Append(data));
  return w->Commit();
}

void Engine::PutAsync(const Key& key, std::span<const uint8_t> data, RecordKind kind,
                      std::function<void(Status)> done) {
  auto w = OpenWrite(key, kind);
  if (!w.ok()) return done(w.status());
  if (Status st = (*w)->Append(data); !st.ok()) return done(st);
  // The writer lives in the callback, which is destroyed once it has run.
  std::shared_ptr<ObjectWriter> writer = std::move(*w);
  ObjectWriter* raw = writer.get();
  raw->CommitAsync([writer = std::move(writer), done = std::move(done)](Status st) mutable {
    done(std::move(st));
  });
}

Status Engine::Remove(const Key& key, RecordKind kind) {
  Stripe* s = StripeFor(key);
  EntryType type = kind == RecordKind::kRecord ? EntryType::kRecord : EntryType::kObject;
  // An object's removal holds its write slot, so a copy-forward in progress
  // cannot put the object back after the tombstone.
  if (kind == RecordKind::kObject) RETURN_IF_ERROR(s->AcquireWriteSlot(key, options_.writer_wait));
  Status st = AppendTombstone(s, key, type);
  if (kind == RecordKind::kObject) s->EndObjectWrite(key);
  return st;
}

Status Engine::AppendTombstone(Stripe* s, const Key& key, EntryType type) {
  auto loc = s->Append(DocType::kTombstone, key, key, 0, {}, true, static_cast<uint8_t>(type));
  return loc.ok() ? s->Wait(loc->batch) : loc.status();
}

bool Engine::ContainsAndTouch(const Key& key) {
  Stripe* s = StripeFor(key);
  bool near = false;
  if (!s->ContainsObject(key, nullptr, options_.copy_forward_fraction, &near)) return false;
  if (near) QueueCopyForward(key);
  return true;
}

void Engine::ContainsAndTouchMany(std::span<const Key> keys, std::span<uint8_t> present) {
  // Far enough ahead to cover a DRAM miss with the lookups in between, near
  // enough that the prefetched lines are still cached when their turn comes.
  constexpr size_t kAhead = 8;
  const size_t n = std::min(keys.size(), present.size());
  for (size_t i = 0; i < std::min(n, kAhead); i++) StripeFor(keys[i])->Prefetch(keys[i]);
  for (size_t i = 0; i < n; i++) {
    if (i + kAhead < n) StripeFor(keys[i + kAhead])->Prefetch(keys[i + kAhead]);
    present[i] = ContainsAndTouch(keys[i]) ? 1 : 0;
  }
}

void Engine::Touch(const Key& key) {
  Stripe* s = StripeFor(key);
  bool near = false;
  if (s->ContainsObject(key, nullptr, options_.copy_forward_fraction, &near) && near) {
    QueueCopyForward(key);
  }
}

bool Engine::RecordFading(const Key& key) {
  Stripe* s = StripeFor(key);
  auto e = s->Find(key, EntryType::kRecord);
  return !e || s->NearEviction(*e, options_.copy_forward_fraction);
}

void Engine::QueueCopyForward(const Key& key) {
  if (options_.copy_forward_fraction <= 0) return;
  std::lock_guard lk(cf_mu_);
  if (cf_queue_.size() >= kCopyForwardQueueLimit || !cf_pending_.insert(key).second) return;
  cf_queue_.push_back(key);
  cf_cv_.notify_one();
}

Status Engine::CopyForward(const Key& key) {
  Stripe* s = StripeFor(key);
  DirEntry e{};
  if (!s->ContainsObject(key, &e) || !s->NearEviction(e, options_.copy_forward_fraction)) {
    return Status::Ok();
  }
  auto doc = s->ReadDoc(e, key);
  if (!doc.ok()) return doc.status();
  EngineReader reader(s, key, e, std::move(*doc), &stats_, read_ahead_.get(),
                      options_.read_ahead_fragments, std::chrono::milliseconds(0));
  RETURN_IF_ERROR(reader.Validate());
  // Hold the key's write slot, then check the object is still the copy we read:
  // a removal or a rewrite that got in first wins.
  if (!s->AcquireWriteSlot(key, std::chrono::milliseconds(0)).ok())
    return Status::Unavailable("busy");
  DirEntry now{};
  if (!s->ContainsObject(key, &now) || now.offset != e.offset || now.cycle != e.cycle) {
    s->EndObjectWrite(key);
    return Status::Ok();
  }
  EngineWriter w(this, s, key, RecordKind::kObject, /*registered=*/true, /*rewrite=*/true);
  std::vector<uint8_t> buf(1 << 20);
  for (uint64_t off = 0; off < reader.size();) {
    ASSIGN_OR_RETURN(size_t n, reader.Read(off, buf));
    if (n == 0) return Status::DataLoss("short read during copy-forward");
    RETURN_IF_ERROR(w.Append({buf.data(), n}));
    off += n;
  }
  RETURN_IF_ERROR(w.Commit());
  stats_.copy_forward_objects++;
  stats_.copy_forward_bytes += reader.size();
  return Status::Ok();
}

void Engine::CopyForwardLoop() {
  std::unique_lock lk(cf_mu_);
  while (true) {
    cf_cv_.wait(lk, [&] { return cf_stop_ || !cf_queue_.empty(); });
    if (cf_stop_) break;
    Key key = cf_queue_.front();
    cf_queue_.pop_front();
    cf_busy_ = true;
    lk.unlock();
    Status st = CopyForward(key);
    if (!st.ok())
      LOG(kDebug, "copy-forward skipped").kv("key", key.ShortHex()).kv("reason", st.ToString());
    lk.lock();
    cf_pending_.erase(key);
    cf_busy_ = false;
    if (cf_queue_.empty()) cf_idle_cv_.notify_all();
  }
  cf_idle_cv_.notify_all();
}

void Engine::DrainCopyForward() {
  std::unique_lock lk(cf_mu_);
  cf_idle_cv_.wait(lk, [&] { return cf_stop_ || (cf_queue_.empty() && !cf_busy_); });
}

Status Engine::SnapshotAll() {
  for (auto& s : stripes_) RETURN_IF_ERROR(s->SnapshotNow());
  return Status::Ok();
}

EngineStatsSnapshot Engine::Stats() {
  EngineStatsSnapshot r{};
  // Before the counters: an empty queue then means every copy-forward it held
  // is already in bytes_written.
  {
    std::lock_guard lk(cf_mu_);
    r.copy_forward_queued = cf_queue_.size() + (cf_busy_ ? 1 : 0);
  }
  r.docs_written = stats_.docs_written;
  r.bytes_written = stats_.bytes_written;
  r.batches_written = stats_.batches_written;
  r.syncs = stats_.syncs;
  r.sync_micros = stats_.sync_micros;
  r.reads = stats_.reads;
  r.hits = stats_.hits;
  r.misses = stats_.misses;
  r.validation_failures = stats_.validation_failures;
  r.page_cache_stale = stats_.page_cache_stale;
  r.page_cache_rereads = stats_.page_cache_rereads;
  r.directory_evictions = stats_.directory_evictions;
  r.wraps = stats_.wraps;
  r.copy_forward_objects = stats_.copy_forward_objects;
  r.copy_forward_bytes = stats_.copy_forward_bytes;
  r.io_errors = stats_.io_errors;
  r.sync_failures = stats_.sync_failures;
  r.snapshots = stats_.snapshots;
  r.replayed_docs = stats_.replayed_docs;
  r.recovery_micros = stats_.recovery_micros;
  r.converted_bytes = stats_.converted_bytes;
  r.convert_micros = stats_.convert_micros;
  r.ring_bytes = ring_bytes_;
  for (auto& s : stripes_) {
    auto ss = s->SnapshotStats();
    r.directory_entries_used += ss.directory_entries_used;
    r.directory_capacity += ss.directory_capacity;
    r.directory_bytes += ss.directory_bytes;
    r.stripes.push_back(ss);
  }
  return r;
}

}  // namespace cycas::engine
