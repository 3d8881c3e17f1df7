#include "api/http/body_spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace cycas::api::http {

BodySpool::BodySpool(std::string dir, size_t memory_limit, DigestFunction fn)
    : dir_(std::move(dir)), memory_limit_(memory_limit), hasher_(fn) {}

BodySpool::~BodySpool() {
  if (fd_ >= 0) ::close(fd_);
}

Status BodySpool::MoveToFile() {
  fd_ = ::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    // Filesystems without O_TMPFILE: a named file, unlinked at once.
    std::string tmpl = dir_ + "/.http-spool-XXXXXX";
    fd_ = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd_ < 0) return Status::IoError("spool file in " + dir_, errno);
    ::unlink(tmpl.c_str());
  }
  size_t off = 0;
  while (off < memory_.size()) {
    ssize_t n = ::pwrite(fd_, memory_.data() + off, memory_.size() - off, static_cast<off_t>(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError("spool file write", errno);
    }
    off += static_cast<size_t>(n);
  }
  memory_.clear();
  memory_.shrink_to_fit();
  return Status::Ok();
}

Status BodySpool::Append(std::span<const uint8_t> data) {
  hasher_.Update(data);
  if (fd_ < 0 && memory_.size() + data.size() > memory_limit_) RETURN_IF_ERROR(MoveToFile());
  if (fd_ < 0) {
    memory_.append(reinterpret_cast<const char*>(data.data()), data.size());
  } else {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n =
          ::pwrite(fd_, data.data() + off, data.size() - off, static_cast<off_t>(size_ + off));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::IoError("spool file write", errno);
      }
      off += static_cast<size_t>(n);
    }
  }
  size_ += data.size();
  return Status::Ok();
}

Digest BodySpool::Finish() {
  return FinishDigest(hasher_);
}

Result<size_t> BodySpool::Read(uint64_t offset, std::span<uint8_t> out) const {
  if (offset >= size_) return size_t{0};
  size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), size_ - offset));
  if (fd_ < 0) {
    std::memcpy(out.data(), memory_.data() + offset, n);
    return n;
  }
  while (true) {
    ssize_t r = ::pread(fd_, out.data(), n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::IoError("spool file read", errno);
    return static_cast<size_t>(r);
  }
}

Status BodySpool::CopyTo(BlobWriter& writer) const {
  if (fd_ < 0) {
    return writer.Append({reinterpret_cast<const uint8_t*>(memory_.data()), memory_.size()});
  }
  std::vector<uint8_t> buf(256 * 1024);
  uint64_t off = 0;
  while (off < size_) {
    ASSIGN_OR_RETURN(size_t n, Read(off, buf));
    if (n == 0) return Status::DataLoss("spool file shorter than written");
    RETURN_IF_ERROR(writer.Append({buf.data(), n}));
    off += n;
  }
  return Status::Ok();
}

Result<std::string> BodySpool::ReadAll(uint64_t limit) const {
  if (size_ > limit) {
    return Status::ResourceExhausted("body of " + std::to_string(size_) + " bytes exceeds " +
                                     std::to_string(limit));
  }
  if (fd_ < 0) return memory_;
  std::string out(size_, '\0');
  uint64_t off = 0;
  while (off < size_) {
    ASSIGN_OR_RETURN(size_t n,
                     Read(off, {reinterpret_cast<uint8_t*>(out.data()) + off, out.size() - off}));
    if (n == 0) return Status::DataLoss("spool file shorter than written");
    off += n;
  }
  return out;
}

}  // namespace cycas::api::http
