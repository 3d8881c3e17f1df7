#include "cas/s3/upload_queue.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "digest/hex.h"
#include "util/log.h"

namespace cycas::s3 {

namespace {

std::string Check(std::string_view body) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, static_cast<uint64_t>(XXH3_64bits(body.data(), body.size())));
  return buf;
}

std::string Line(std::string_view body) {
  std::string line(body);
  line += ' ';
  line += Check(body);
  line += '\n';
  return line;
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError("upload journal " + path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

std::vector<std::string_view> Split(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t sp = s.find(' ', pos);
    if (sp == std::string_view::npos) sp = s.size();
    out.push_back(s.substr(pos, sp - pos));
    pos = sp + 1;
  }
  return out;
}

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
  *out = std::stoull(std::string(s));
  return true;
}

}  // namespace

std::string UploadItem::Describe() const {
  if (kind == Kind::kBlob && digest) return "blob " + digest->ToString();
  return "record " + record;
}

Result<std::unique_ptr<UploadQueue>> UploadQueue::Open(Options options) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return Status::Internal("cannot create the S3 upload queue directory " + options.dir + ": " + ec.message());
  std::unique_ptr<UploadQueue> q(new UploadQueue(std::move(options)));
  RETURN_IF_ERROR(q->Replay());
  return q;
}

UploadQueue::~UploadQueue() {
  Close();
  std::lock_guard lk(mu_);
  for (auto& [n, s] : segments_) {
    if (s.fd >= 0) ::close(s.fd);
  }
}

std::string UploadQueue::SegmentPath(uint64_t number) const {
  char name[64];
  std::snprintf(name, sizeof name, "segment-%016" PRIu64 ".log", number);
  return options_.dir + "/" + name;
}

Status UploadQueue::OpenSegment(uint64_t number) {
  std::string path = SegmentPath(number);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError("upload journal " + path, errno);
  // The new file's name must survive a crash too.
  int dfd = ::open(options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  Segment& s = segments_[number];
  s.fd = fd;
  current_segment_ = number;
  return Status::Ok();
}

Status UploadQueue::Replay() {
  std::vector<uint64_t> numbers;
  for (const auto& de : std::filesystem::directory_iterator(options_.dir)) {
    std::string name = de.path().filename().string();
    uint64_t n;
    if (name.size() == 8 + 16 + 4 && name.rfind("segment-", 0) == 0 && name.substr(24) == ".log" &&
        ParseU64(name.substr(8, 16), &n)) {
      numbers.push_back(n);
    }
  }
  std::sort(numbers.begin(), numbers.end());
  auto now = std::chrono::steady_clock::now();
  uint64_t max_id = 0;
  for (uint64_t seg : numbers) {
    std::string path = SegmentPath(seg);
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string text = ss.str();
    Segment& segment = segments_[seg];
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) {
        torn_++;  // a crash in the middle of an append: never acknowledged
        break;
      }
      std::string_view line(text.data() + pos, nl - pos);
      pos = nl + 1;
      size_t sp = line.rfind(' ');
      if (sp == std::string_view::npos || Check(line.substr(0, sp)) != line.substr(sp + 1)) {
        torn_++;
        continue;
      }
      auto f = Split(line.substr(0, sp));
      uint64_t id;
      if (f.size() < 2 || !ParseU64(f[1], &id)) {
        torn_++;
        continue;
      }
      max_id = std::max(max_id, id);
      if (f[0] == "D") {
        auto it = entries_.find(id);
        if (it != entries_.end()) {
          segments_[it->second.segment].live--;
          entries_.erase(it);
        }
        continue;
      }
      UploadItem item;
      item.id = id;
      if (f[0] == "A" && f.size() == 6 && f[2] == "b") {
        auto fn = ParseDigestFunction(f[3]);
        uint64_t size;
        if (!fn.ok() || !ParseU64(f[5], &size)) {
          torn_++;
          continue;
        }
        auto d = Digest::FromHex(*fn, f[4], static_cast<int64_t>(size));
        if (!d.ok()) {
          torn_++;
          continue;
        }
        item.kind = UploadItem::Kind::kBlob;
        item.digest = *d;
      } else if (f[0] == "A" && f.size() == 4 && f[2] == "r") {
        auto name = HexDecode(f[3]);
        if (!name.ok()) {
          torn_++;
          continue;
        }
        item.kind = UploadItem::Kind::kRecord;
        item.record.assign(name->begin(), name->end());
      } else {
        torn_++;
        continue;
      }
      Entry e;
      e.item = std::move(item);
      e.state = State::kReady;
      e.segment = seg;
      e.added = now;
      entries_[id] = std::move(e);
      segment.live++;
      segment.entries++;
    }
  }
  // Segments with nothing left go; the others stay open for their "done" lines.
  for (auto it = segments_.begin(); it != segments_.end();) {
    std::string path = SegmentPath(it->first);
    if (it->second.live == 0) {
      ::unlink(path.c_str());
      it = segments_.erase(it);
      continue;
    }
    it->second.fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (it->second.fd < 0) return Status::IoError("upload journal " + path, errno);
    ++it;
  }
  next_id_ = max_id + 1;
  for (auto& [id, e] : entries_) ready_.push_back(id);
  replayed_ = entries_.size();
  if (replayed_ > 0 || torn_ > 0) {
    LOG(kInfo, "S3 upload queue replayed").kv("pending", replayed_).kv("torn_lines", torn_).kv("dir", options_.dir);
  }
  return OpenSegment(numbers.empty() ? 1 : numbers.back() + 1);
}

Result<uint64_t> UploadQueue::AddBlob(const Digest& digest) {
  UploadItem item;
  item.kind = UploadItem::Kind::kBlob;
  item.digest = digest;
  std::string body = "b " + std::string(DigestFunctionName(digest.function())) + " " + digest.hex() +
                     " " + std::to_string(digest.size_bytes());
  return Add(std::move(item), std::move(body));
}

Result<uint64_t> UploadQueue::AddRecord(std::string_view name) {
  UploadItem item;
  item.kind = UploadItem::Kind::kRecord;
  item.record = std::string(name);
  std::string body =
      "r " + HexEncode({reinterpret_cast<const uint8_t*>(name.data()), name.size()});
  return Add(std::move(item), std::move(body));
}

Result<uint64_t> UploadQueue::Add(UploadItem item, std::string line_body) {
  std::unique_lock lk(mu_);
  if (!sync_error_.ok()) return sync_error_;
  bool room = cv_.wait_for(lk, options_.full_wait,
                           [&] { return closed_ || entries_.size() < options_.limit; });
  if (closed_) return Status::Unavailable("the S3 upload queue is closed");
  if (!room) {
    return Status::ResourceExhausted("the S3 upload queue is full (" + std::to_string(options_.limit) +
                                     " uploads waiting): S3 is slow or unavailable; retry later");
  }
  uint64_t id = next_id_++;
  item.id = id;
  Entry e;
  e.item = std::move(item);
  e.added = std::chrono::steady_clock::now();
  entries_[id] = std::move(e);
  pending_lines_ += Line("A " + std::to_string(id) + " " + line_body);
  pending_ids_.push_back(id);
  uint64_t seq = ++appended_seq_;
  added_++;
  while (synced_seq_ < seq && sync_error_.ok()) {
    if (flushing_) {
      cv_.wait(lk);
      continue;
    }
    // Leader: write and sync everything appended so far, for every waiter.
    flushing_ = true;
    std::string lines = std::move(pending_lines_);
    std::vector<uint64_t> ids = std::move(pending_ids_);
    pending_lines_.clear();
    pending_ids_.clear();
    uint64_t target = appended_seq_;
    uint64_t seg = current_segment_;
    int fd = segments_[seg].fd;
    lk.unlock();
    Status st = WriteAll(fd, lines, SegmentPath(seg));
    if (st.ok() && ::fdatasync(fd) != 0) st = Status::IoError("upload journal fdatasync " + SegmentPath(seg), errno);
    lk.lock();
    flushing_ = false;
    syncs_++;
    if (!st.ok()) {
      LOG(kError, "S3 upload journal write failed; uploads are refused").kv("error", st.ToString());
      sync_error_ = st;
      for (uint64_t i : ids) entries_.erase(i);
      cv_.notify_all();
      break;
    }
    Segment& s = segments_[seg];
    for (uint64_t i : ids) {
      auto it = entries_.find(i);
      if (it == entries_.end()) continue;
      it->second.segment = seg;
      s.live++;
      s.entries++;
    }
    synced_seq_ = target;
    if (s.entries >= options_.segment_entries) {
      Status rot = OpenSegment(seg + 1);
      if (!rot.ok()) {
        sync_error_ = rot;
      } else {
        RetireSegmentIfDone(seg);
      }
    }
    cv_.notify_all();
  }
  if (!sync_error_.ok() && synced_seq_ < seq) {
    entries_.erase(id);
    return sync_error_;
  }
  return id;
}

void UploadQueue::Ready(uint64_t id) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  it->second.state = State::kReady;
  ready_.push_back(id);
  cv_.notify_all();
}

UploadItem UploadQueue::ReadyAndClaim(uint64_t id) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return UploadItem{};
  it->second.state = State::kInProgress;
  return it->second.item;
}

std::optional<UploadItem> UploadQueue::Take(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lk(mu_);
  for (;;) {
    if (closed_) return std::nullopt;
    auto now = std::chrono::steady_clock::now();
    while (!delayed_.empty() && delayed_.begin()->first <= now) {
      ready_.push_back(delayed_.begin()->second);
      delayed_.erase(delayed_.begin());
    }
    while (!ready_.empty()) {
      uint64_t id = ready_.front();
      ready_.pop_front();
      auto it = entries_.find(id);
      if (it == entries_.end() || it->second.state != State::kReady || it->second.not_before > now) continue;
      it->second.state = State::kInProgress;
      return it->second.item;
    }
    if (now >= deadline) return std::nullopt;
    auto wake = deadline;
    if (!delayed_.empty()) wake = std::min(wake, delayed_.begin()->first);
    cv_.wait_until(lk, wake);
  }
}

void UploadQueue::Done(uint64_t id) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  uint64_t seg = it->second.segment;
  entries_.erase(it);
  done_++;
  auto s = segments_.find(seg);
  if (s != segments_.end()) {
    // Not synced: if lost, the upload is repeated after a restart and S3 says "already there".
    std::string line = Line("D " + std::to_string(id));
    (void)WriteAll(s->second.fd, line, SegmentPath(seg));
    s->second.live--;
    RetireSegmentIfDone(seg);
  }
  cv_.notify_all();
}

void UploadQueue::RetireSegmentIfDone(uint64_t number) {
  auto it = segments_.find(number);
  if (it == segments_.end() || number == current_segment_ || it->second.live > 0) return;
  ::close(it->second.fd);
  ::unlink(SegmentPath(number).c_str());
  segments_.erase(it);
}

void UploadQueue::Retry(UploadItem item, std::chrono::milliseconds delay) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(item.id);
  if (it == entries_.end()) return;
  it->second.item.attempts = item.attempts;
  it->second.state = State::kReady;
  it->second.not_before = std::chrono::steady_clock::now() + delay;
  delayed_.emplace(it->second.not_before, item.id);
  retried_++;
  cv_.notify_all();
}

void UploadQueue::Close() {
  std::lock_guard lk(mu_);
  closed_ = true;
  cv_.notify_all();
}

bool UploadQueue::WaitEmpty(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lk(mu_);
  return cv_.wait_until(lk, deadline, [&] { return entries_.empty(); });
}

uint64_t UploadQueue::depth() const {
  std::lock_guard lk(mu_);
  return entries_.size();
}

UploadQueueStats UploadQueue::Stats() const {
  std::lock_guard lk(mu_);
  UploadQueueStats s;
  s.depth = entries_.size();
  auto now = std::chrono::steady_clock::now();
  for (const auto& [id, e] : entries_) {
    if (e.state == State::kReady) s.waiting++;
  }
  if (!entries_.empty()) {
    s.oldest_age_seconds = std::chrono::duration<double>(now - entries_.begin()->second.added).count();
  }
  s.added = added_;
  s.done = done_;
  s.retried = retried_;
  s.replayed = replayed_;
  s.torn_lines = torn_;
  s.segments = segments_.size();
  s.syncs = syncs_;
  return s;
}

}  // namespace cycas::s3
