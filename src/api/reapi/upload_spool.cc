#include "api/reapi/upload_spool.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <vector>

#include "digest/hasher.h"
#include "digest/hex.h"
#include "util/config.h"
#include "util/log.h"

namespace cycas::api::reapi {

namespace {

constexpr std::string_view kMetaMagic = "cycas-upload v1";
constexpr size_t kReplayChunk = size_t{1} << 20;

Status WriteAll(int fd, const char* data, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::IoError("upload spool: write " + path, errno);
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("upload spool: open " + dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::IoError("upload spool: fsync " + dir, err);
  return Status::Ok();
}

// Writes `pieces` back to back at `offset`, as few calls as IOV_MAX allows.
Status WritePieces(int fd, uint64_t offset, const std::vector<HeldBytes>& pieces,
                   const std::string& path) {
  std::vector<iovec> iov;
  iov.reserve(std::min<size_t>(pieces.size(), IOV_MAX));
  size_t next = 0;  // first piece not yet in `iov`
  while (next < pieces.size() || !iov.empty()) {
    while (next < pieces.size() && iov.size() < IOV_MAX) {
      iov.push_back({const_cast<char*>(pieces[next].bytes.data()), pieces[next].bytes.size()});
      next++;
    }
    ssize_t w = ::pwritev(fd, iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return Status::IoError("upload spool: write " + path, w < 0 ? errno : EIO);
    offset += static_cast<uint64_t>(w);
    auto left = static_cast<size_t>(w);
    size_t done = 0;
    while (done < iov.size() && left >= iov[done].iov_len) left -= iov[done++].iov_len;
    iov.erase(iov.begin(), iov.begin() + static_cast<std::ptrdiff_t>(done));
    if (left > 0) {  // a short write stopped inside iov[0]
      iov[0].iov_base = static_cast<char*>(iov[0].iov_base) + left;
      iov[0].iov_len -= left;
    }
  }
  return Status::Ok();
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

// ---------------------------------------------------------------------------
// Upload

UploadSpool::Upload::Upload(UploadSpool* spool, std::string key, std::string id, Digest digest,
                            uint64_t base, std::shared_ptr<std::atomic<uint64_t>> live)
    : spool_(spool),
      key_(std::move(key)),
      id_(std::move(id)),
      digest_(digest),
      base_(base),
      live_(std::move(live)),
      flush_(std::make_shared<FlushState>()) {
  keeping_ = spool_->options_.retention.count() > 0;
}

UploadSpool::Upload::~Upload() {
  if (!finished_) {
    Status st = Persist();
    if (!st.ok()) LOG(kWarn, "upload spool: cannot keep partial upload").kv("error", st.ToString());
  }
  CloseFile();
}

void UploadSpool::Upload::CloseFile() {
  (void)WaitFlush();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

Status UploadSpool::Upload::WaitFlush() {
  std::unique_lock lk(flush_->mu);
  flush_->cv.wait(lk, [&] { return !flush_->busy; });
  return flush_->error;
}

void UploadSpool::Upload::DropHeld() {
  held_.clear();
  held_bytes_ = 0;
  held_cost_ = 0;
  if (reserved_ > 0) spool_->ReleaseMemory(reserved_);
  reserved_ = 0;
}

Status UploadSpool::Upload::Reset() {
  CloseFile();
  if (base_ > 0 || in_file_ > 0) spool_->RemoveFiles(id_);
  base_ = 0;
  pending_ = 0;
  in_file_ = 0;
  DropHeld();
  live_->store(0, std::memory_order_relaxed);
  return Status::Ok();
}

Status UploadSpool::Upload::TruncateTo(uint64_t size) {
  if (size > base_) {
    return Status::Internal("upload spool: cannot extend a kept prefix by truncation");
  }
  if (size == base_) return Status::Ok();
  if (size == 0) return Reset();
  // Record the shorter length first, so that a crash never leaves metadata
  // claiming bytes that a later stream is rewriting.
  RETURN_IF_ERROR(spool_->WriteMeta(id_, key_, digest_, size));
  base_ = size;
  live_->store(size, std::memory_order_relaxed);
  return Status::Ok();
}

Status UploadSpool::Upload::ReplayTo(BlobWriter& writer) {
  if (base_ == 0) return Status::Ok();
  std::string path = spool_->PathOf(id_, ".data");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("upload spool: open " + path, errno);
  std::vector<uint8_t> buf(std::min<uint64_t>(kReplayChunk, base_));
  uint64_t off = 0;
  Status st;
  while (off < base_ && st.ok()) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), base_ - off));
    ssize_t r = ::pread(fd, buf.data(), want, static_cast<off_t>(off));
    if (r < 0) {
      if (errno == EINTR) continue;
      st = Status::IoError("upload spool: read " + path, errno);
    } else if (r == 0) {
      st = Status::DataLoss("upload spool: " + path + " holds fewer bytes than recorded");
    } else {
      st = writer.Append({buf.data(), static_cast<size_t>(r)});
      off += static_cast<uint64_t>(r);
    }
  }
  ::close(fd);
  return st;
}

Status UploadSpool::Upload::EnsureFile() {
  if (fd_ >= 0) return Status::Ok();
  std::string path = spool_->PathOf(id_, ".data");
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) return Status::IoError("upload spool: create " + path, errno);
  // Bytes past the kept prefix were never acknowledged: drop them.
  if (::ftruncate(fd_, static_cast<off_t>(base_)) != 0) {
    return Status::IoError("upload spool: truncate " + path, errno);
  }
  in_file_ = base_;
  return Status::Ok();
}

Status UploadSpool::Upload::Flush(bool wait) {
  if (held_.empty()) return wait ? WaitFlush() : Status::Ok();
  RETURN_IF_ERROR(EnsureFile());
  {
    std::unique_lock lk(flush_->mu);
    flush_->cv.wait(lk, [&] { return !flush_->busy; });
    if (!flush_->error.ok()) return flush_->error;
    flush_->busy = true;
  }
  uint64_t offset = in_file_;
  in_file_ += held_bytes_;
  // The writer frees the pieces, and returns their memory share, once they are written.
  spool_->Submit({fd_, offset, std::move(held_), reserved_, flush_, spool_->PathOf(id_, ".data")});
  held_.clear();
  held_bytes_ = 0;
  held_cost_ = 0;
  reserved_ = 0;
  return wait ? WaitFlush() : Status::Ok();
}

Status UploadSpool::Upload::Append(std::span<const uint8_t> data) {
  if (!keeping_) {  // counted, not kept
    return Keep({nullptr, {reinterpret_cast<const char*>(data.data()), data.size()}}, 0);
  }
  auto copy =
      std::make_shared<const std::string>(reinterpret_cast<const char*>(data.data()), data.size());
  std::string_view bytes = *copy;
  // What a copy costs besides its bytes, rounded up: the string with its
  // control block, the malloc headers, and its entry in held_ (so that a flood
  // of tiny pieces cannot slip past the budget).
  constexpr uint64_t kPieceOverhead = 192;
  return Keep({std::move(copy), bytes}, bytes.size() + kPieceOverhead);
}

Status UploadSpool::Upload::Append(std::string_view bytes, std::shared_ptr<const void> owner,
                                   uint64_t pinned) {
  return Keep({std::move(owner), bytes}, std::max<uint64_t>(pinned, bytes.size()));
}

Status UploadSpool::Upload::Keep(HeldBytes piece, uint64_t memory) {
  const uint64_t n = piece.bytes.size();
  pending_ += n;
  live_->store(size(), std::memory_order_relaxed);
  if (!keeping_ || n == 0) return Status::Ok();
  if (size() > spool_->options_.max_bytes) {
    // Too large to keep: this upload can only be restarted from 0.
    keeping_ = false;
    DropHeld();
    CloseFile();
    spool_->RemoveFiles(id_);
    return Status::Ok();
  }
  // Once the budget refuses an upload it stays with its file: going back to
  // memory would gain little and make the budget's users flap.
  if (!spilled_ && !spool_->ReserveMemory(memory)) spilled_ = true;
  if (!spilled_) reserved_ += memory;
  held_.push_back(std::move(piece));
  held_bytes_ += n;
  held_cost_ += memory;
  // A spilled upload writes out what it holds once that costs a buffer's
  // worth of memory (a count of bytes would let tiny pieces pile up).
  if (spilled_ && held_cost_ >= spool_->options_.buffer_bytes) {
    Status st = Flush(/*wait=*/false);
    if (!st.ok()) {
      // The spool is a convenience: failing to keep a copy must not fail the upload.
      LOG(kWarn, "upload spool: cannot keep a copy; upload not resumable")
          .kv("error", st.ToString());
      keeping_ = false;
      DropHeld();
      CloseFile();
      spool_->RemoveFiles(id_);
    }
  }
  return Status::Ok();
}

Status UploadSpool::Upload::Persist() {
  if (finished_) return Status::Ok();
  finished_ = true;
  if (!keeping_ || size() == 0) {
    DropHeld();
    CloseFile();
    spool_->RemoveFiles(id_);
    spool_->Release(key_, std::nullopt);
    return Status::Ok();
  }
  Status st = Flush(/*wait=*/true);
  if (st.ok() && fd_ >= 0 && ::fdatasync(fd_) != 0) {
    st = Status::IoError("upload spool: fdatasync " + spool_->PathOf(id_, ".data"), errno);
  }
  if (st.ok()) st = spool_->WriteMeta(id_, key_, digest_, size());
  DropHeld();  // left over only when handing them to the writer failed
  CloseFile();
  if (!st.ok()) {
    spool_->RemoveFiles(id_);
    spool_->Release(key_, std::nullopt);
    return st;
  }
  spool_->Release(key_, size());
  spool_->Sweep();  // keeps the spool within its limits as prefixes arrive
  return Status::Ok();
}

void UploadSpool::Upload::Discard() {
  if (finished_) return;
  finished_ = true;
  DropHeld();
  CloseFile();
  spool_->RemoveFiles(id_);
  spool_->Release(key_, std::nullopt);
}

// ---------------------------------------------------------------------------
// UploadSpool

UploadSpool::UploadSpool(Options options) : options_(std::move(options)) {}

Result<std::unique_ptr<UploadSpool>> UploadSpool::Open(Options options) {
  std::unique_ptr<UploadSpool> spool(new UploadSpool(std::move(options)));
  std::error_code ec;
  std::filesystem::create_directories(spool->options_.dir, ec);
  if (ec) {
    return Status::Internal("upload spool: cannot create " + spool->options_.dir + ": " +
                            ec.message());
  }
  RETURN_IF_ERROR(spool->Recover());
  if (spool->options_.retention.count() > 0) {
    spool->janitor_ = std::thread([s = spool.get()] { s->JanitorLoop(); });
    spool->writer_ = std::thread([s = spool.get()] { s->WriterLoop(); });
  }
  return spool;
}

UploadSpool::~UploadSpool() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (janitor_.joinable()) janitor_.join();
  {
    std::lock_guard lk(jobs_mu_);
    writer_stop_ = true;
  }
  jobs_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void UploadSpool::Submit(WriteJob job) {
  {
    std::lock_guard lk(jobs_mu_);
    jobs_.push_back(std::move(job));
  }
  jobs_cv_.notify_one();
}

bool UploadSpool::ReserveMemory(uint64_t n) {
  uint64_t used = memory_used_.load(std::memory_order_relaxed);
  do {
    if (n > options_.memory_bytes || used > options_.memory_bytes - n) return false;
  } while (!memory_used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
  return true;
}

void UploadSpool::ReleaseMemory(uint64_t n) {
  memory_used_.fetch_sub(n, std::memory_order_relaxed);
}

void UploadSpool::WriterLoop() {
  while (true) {
    WriteJob job;
    {
      std::unique_lock lk(jobs_mu_);
      jobs_cv_.wait(lk, [&] { return writer_stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and everything handed over is written
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Status st = WritePieces(job.fd, job.offset, job.pieces, job.path);
    job.pieces.clear();  // frees the bytes before the budget says they are gone
    if (job.reserved > 0) ReleaseMemory(job.reserved);
    {
      std::lock_guard lk(job.state->mu);
      if (!st.ok() && job.state->error.ok()) job.state->error = st;
      job.state->busy = false;
    }
    job.state->cv.notify_all();
  }
}

std::string UploadSpool::IdOf(const std::string& key) {
  return HexEncode(HashOf(DigestFunction::kSha256, key));
}

std::string UploadSpool::PathOf(const std::string& id, const char* ext) const {
  return options_.dir + "/" + id + ext;
}

void UploadSpool::RemoveFiles(const std::string& id) {
  ::unlink(PathOf(id, ".meta").c_str());
  ::unlink(PathOf(id, ".data").c_str());
}

Status UploadSpool::WriteMeta(const std::string& id, const std::string& key, const Digest& digest,
                              uint64_t size) {
  std::string text(kMetaMagic);
  text += '\n';
  text += std::to_string(size);
  text += '\n';
  text += digest.ToString();
  text += '\n';
  text += key;
  std::string tmp = PathOf(id, ".meta.tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("upload spool: create " + tmp, errno);
  Status st = WriteAll(fd, text.data(), text.size(), tmp);
  if (st.ok() && ::fdatasync(fd) != 0)
    st = Status::IoError("upload spool: fdatasync " + tmp, errno);
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), PathOf(id, ".meta").c_str()) != 0) {
    st = Status::IoError("upload spool: rename " + tmp, errno);
  }
  if (st.ok()) st = SyncDir(options_.dir);
  if (!st.ok()) ::unlink(tmp.c_str());
  return st;
}

Status UploadSpool::Recover() {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& de : fs::directory_iterator(options_.dir, ec)) files.push_back(de.path());
  if (ec)
    return Status::Internal("upload spool: cannot list " + options_.dir + ": " + ec.message());
  auto now = std::chrono::system_clock::now();
  size_t kept = 0;
  for (const auto& p : files) {
    std::string name = p.filename().string();
    if (EndsWith(name, ".meta.tmp")) {
      ::unlink(p.c_str());
      continue;
    }
    if (!EndsWith(name, ".meta")) continue;
    std::string id = name.substr(0, name.size() - 5);
    auto drop = [&] { RemoveFiles(id); };
    if (options_.retention.count() == 0) {
      drop();
      continue;
    }
    // Parse the metadata.
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      drop();
      continue;
    }
    struct stat mst {};
    std::string text;
    if (::fstat(fd, &mst) == 0 && mst.st_size < (1 << 16)) {
      text.resize(static_cast<size_t>(mst.st_size));
      ssize_t r = ::pread(fd, text.data(), text.size(), 0);
      text.resize(r < 0 ? 0 : static_cast<size_t>(r));
    }
    ::close(fd);
    size_t l1 = text.find('\n');
    size_t l2 = l1 == std::string::npos ? l1 : text.find('\n', l1 + 1);
    size_t l3 = l2 == std::string::npos ? l2 : text.find('\n', l2 + 1);
    if (l3 == std::string::npos || std::string_view(text).substr(0, l1) != kMetaMagic) {
      drop();
      continue;
    }
    auto size = ParseInt(std::string_view(text).substr(l1 + 1, l2 - l1 - 1));
    auto digest = Digest::Parse(std::string_view(text).substr(l2 + 1, l3 - l2 - 1));
    std::string key = text.substr(l3 + 1);
    if (!size.ok() || *size <= 0 || !digest.ok() || IdOf(key) != id ||
        static_cast<uint64_t>(*size) > digest->size_bytes()) {
      drop();
      continue;
    }
    auto updated = std::chrono::system_clock::from_time_t(mst.st_mtime);
    if (now - updated > options_.retention) {
      drop();
      continue;
    }
    // The data file must hold at least the recorded prefix; bytes beyond it
    // were written but never synced or acknowledged.
    std::string data = PathOf(id, ".data");
    struct stat dst {};
    if (::stat(data.c_str(), &dst) != 0 ||
        static_cast<uint64_t>(dst.st_size) < static_cast<uint64_t>(*size)) {
      drop();
      continue;
    }
    if (static_cast<uint64_t>(dst.st_size) > static_cast<uint64_t>(*size) &&
        ::truncate(data.c_str(), static_cast<off_t>(*size)) != 0) {
      drop();
      continue;
    }
    Entry e{*digest, static_cast<uint64_t>(*size), updated, false, nullptr};
    entries_.emplace(std::move(key), std::move(e));
    kept++;
  }
  // Data files whose metadata is gone were never made durable.
  for (const auto& p : files) {
    std::string name = p.filename().string();
    if (!EndsWith(name, ".data")) continue;
    std::string id = name.substr(0, name.size() - 5);
    if (!fs::exists(PathOf(id, ".meta"), ec)) ::unlink(p.c_str());
  }
  if (kept > 0)
    LOG(kInfo, "upload spool: resumable uploads kept").kv("count", kept).kv("dir", options_.dir);
  return Status::Ok();
}

Result<std::unique_ptr<UploadSpool::Upload>> UploadSpool::Acquire(const std::string& key,
                                                                  const Digest& digest) {
  std::lock_guard lk(mu_);
  auto [it, inserted] =
      entries_.try_emplace(key, Entry{digest, 0, std::chrono::system_clock::now(), false, nullptr});
  Entry& e = it->second;
  if (e.active) {
    return Status::Unavailable(
        "another Write stream is uploading this resource; retry after it ends");
  }
  e.active = true;
  e.live = std::make_shared<std::atomic<uint64_t>>(e.durable);
  return std::unique_ptr<Upload>(new Upload(this, key, IdOf(key), digest, e.durable, e.live));
}

void UploadSpool::Release(const std::string& key, std::optional<uint64_t> kept_size) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  if (!kept_size) {
    entries_.erase(it);
    return;
  }
  it->second.active = false;
  it->second.live.reset();
  it->second.durable = *kept_size;
  it->second.updated = std::chrono::system_clock::now();
}

Result<UploadSpool::Progress> UploadSpool::Query(const std::string& key) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end())
    return Status::NotFound("no upload in progress or kept for this resource");
  const Entry& e = it->second;
  if (e.active) return Progress{e.live ? e.live->load(std::memory_order_relaxed) : e.durable, true};
  return Progress{e.durable, false};
}

void UploadSpool::Forget(const std::string& key) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.active) return;
  RemoveFiles(IdOf(key));
  entries_.erase(it);
}

void UploadSpool::Sweep() {
  std::lock_guard lk(mu_);
  auto now = std::chrono::system_clock::now();
  std::vector<std::pair<std::chrono::system_clock::time_point, std::string>> kept;
  uint64_t total = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.active) {
      ++it;
      continue;
    }
    if (now - it->second.updated > options_.retention) {
      RemoveFiles(IdOf(it->first));
      it = entries_.erase(it);
      continue;
    }
    total += it->second.durable;
    kept.emplace_back(it->second.updated, it->first);
    ++it;
  }
  size_t count = kept.size();
  if (total <= options_.max_bytes && count <= options_.max_uploads) return;
  std::sort(kept.begin(), kept.end());
  for (const auto& [when, key] : kept) {
    if (total <= options_.max_bytes && count <= options_.max_uploads) break;
    auto it = entries_.find(key);
    total -= it->second.durable;
    count--;
    RemoveFiles(IdOf(key));
    entries_.erase(it);
  }
}

UploadSpool::Usage UploadSpool::usage() {
  std::lock_guard lk(mu_);
  Usage u;
  for (const auto& [k, e] : entries_) {
    if (e.active) {
      u.active++;
    } else {
      u.kept++;
      u.kept_bytes += e.durable;
    }
  }
  return u;
}

void UploadSpool::JanitorLoop() {
  auto period = std::clamp<std::chrono::milliseconds>(
      options_.retention / 4, std::chrono::seconds(1), std::chrono::seconds(60));
  std::unique_lock lk(mu_);
  while (!stop_) {
    cv_.wait_for(lk, period, [&] { return stop_; });
    if (stop_) break;
    lk.unlock();
    Sweep();
    lk.lock();
  }
}

}  // namespace cycas::api::reapi
