#include "engine/io_env.h"

#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

namespace cycas::engine {
namespace {

class PosixBlockFile final : public BlockFile {
 public:
  PosixBlockFile(int fd, int cached_fd, uint64_t size, bool direct, bool block_device,
                 std::string path)
      : fd_(fd),
        cached_fd_(cached_fd),
        size_(size),
        direct_(direct),
        path_(std::move(path)),
        no_extent_map_(block_device) {}
  ~PosixBlockFile() override {
    ::close(fd_);
    if (cached_fd_ >= 0) ::close(cached_fd_);
  }

  Status ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    return Pread(fd_, offset, out);
  }

  Status ReadCachedAt(uint64_t offset, std::span<uint8_t> out) override {
    return Pread(cached_fd_ >= 0 ? cached_fd_ : fd_, offset, out);
  }

  void DropCached(uint64_t offset, uint64_t length) override {
    if (cached_fd_ >= 0) {
      (void)::posix_fadvise(cached_fd_, static_cast<off_t>(offset), static_cast<off_t>(length),
                            POSIX_FADV_DONTNEED);
    }
  }

  Status Pread(int fd, uint64_t offset, std::span<uint8_t> out) {
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::pread(fd, out.data() + done, out.size() - done, offset + done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::IoError(Where("read", offset + done), errno);
      }
      if (n == 0)
        return Status::Internal(Where("read", offset + done) + ": unexpected end of file");
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  Status WriteAt(uint64_t offset, std::span<const uint8_t> data) override {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done, offset + done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::IoError(Where("write", offset + done), errno);
      }
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Status::IoError(path_ + ": fdatasync", errno);
    return Status::Ok();
  }

  Result<uint64_t> ConvertUnwritten(uint64_t offset, uint64_t length) override {
    // Only with direct I/O: buffered writes may still sit in the page cache
    // over an extent the map reports as unwritten.
    if (!direct_ || no_extent_map_.load(std::memory_order_relaxed)) return uint64_t{0};
    constexpr uint64_t kAlign = AlignedBuffer::kAlignment;
    const uint64_t end = std::min(offset + length, size_) / kAlign * kAlign;
    offset = (offset + kAlign - 1) / kAlign * kAlign;
    uint64_t converted = 0;
    uint64_t pos = offset;
    // Zeros over [from, to), rounded inward to whole 4 KiB blocks (O_DIRECT;
    // filesystems with smaller blocks may report unaligned extent edges).
    auto zero = [&](uint64_t from, uint64_t to) -> Status {
      static const AlignedBuffer zeros(1 << 20);
      from = (std::max(from, pos) + kAlign - 1) / kAlign * kAlign;
      to = std::min(to, end) / kAlign * kAlign;
      for (uint64_t at = from; at < to;) {
        uint64_t n = std::min<uint64_t>(to - at, zeros.size());
        RETURN_IF_ERROR(WriteAt(at, {zeros.data(), n}));
        at += n;
        converted += n;
      }
      return Status::Ok();
    };
    constexpr uint32_t kExtents = 64;
    // struct fiemap ends in a flexible array of extents: room for kExtents.
    alignas(struct fiemap) uint8_t raw[sizeof(struct fiemap) + kExtents * sizeof(fiemap_extent)];
    while (pos < end) {
      std::memset(raw, 0, sizeof raw);
      auto* map = new (raw) struct fiemap();
      // Flush delayed allocations first, so the map is current on every filesystem.
      map->fm_flags = FIEMAP_FLAG_SYNC;
      map->fm_start = pos;
      map->fm_length = end - pos;
      map->fm_extent_count = kExtents;
      if (::ioctl(fd_, FS_IOC_FIEMAP, map) != 0) {
        if (errno == EOPNOTSUPP || errno == ENOTTY || errno == EINVAL) {
          no_extent_map_ = true;  // tmpfs, block devices, ...: nothing to convert
          break;
        }
        return Status::IoError(Where("extent map", pos), errno);
      }
      bool last = map->fm_mapped_extents == 0;
      for (uint32_t i = 0; i < map->fm_mapped_extents && !last; i++) {
        const struct fiemap_extent& e = map->fm_extents[i];
        const uint64_t e_end = e.fe_logical + e.fe_length;
        if (e.fe_logical > pos) RETURN_IF_ERROR(zero(pos, e.fe_logical));  // a hole
        // (An extent that began before `pos` was handled by the previous call.)
        if (e.fe_flags & FIEMAP_EXTENT_UNWRITTEN) RETURN_IF_ERROR(zero(e.fe_logical, e_end));
        pos = std::max(pos, e_end);
        last = (e.fe_flags & FIEMAP_EXTENT_LAST) != 0 || pos >= end;
      }
      if (last) {
        if (pos < end) RETURN_IF_ERROR(zero(pos, end));  // a hole up to the end
        break;
      }
    }
    if (converted > 0) RETURN_IF_ERROR(Sync());
    return converted;
  }

  uint64_t size() const override { return size_; }
  bool direct_io() const override { return direct_; }

 private:
  std::string Where(const char* op, uint64_t offset) const {
    return path_ + ": " + op + " at byte " + std::to_string(offset);
  }
  int fd_;
  int cached_fd_;  // the same file without O_DIRECT (-1 when fd_ is buffered already)
  uint64_t size_;
  bool direct_;
  std::string path_;
  std::atomic<bool> no_extent_map_;  // block devices, filesystems without FIEMAP
};

class PosixIoEnv final : public IoEnv {
 public:
  Result<std::unique_ptr<BlockFile>> OpenBlockFile(const std::string& path, uint64_t size,
                                                   bool want_direct_io) override {
    int flags = O_RDWR | O_CREAT | O_CLOEXEC;
    int fd = -1;
    bool direct = false;
    if (want_direct_io) {
      fd = ::open(path.c_str(), flags | O_DIRECT, 0644);
      // tmpfs and some overlay filesystems refuse O_DIRECT: fall back to buffered I/O.
      if (fd >= 0) direct = true;
    }
    if (fd < 0) fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return Status::IoError(path + ": open", errno);

    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int e = errno;
      ::close(fd);
      return Status::IoError(path + ": stat", e);
    }
    uint64_t actual = static_cast<uint64_t>(st.st_size);
    if (S_ISBLK(st.st_mode)) {
      if (::ioctl(fd, BLKGETSIZE64, &actual) != 0) {
        int e = errno;
        ::close(fd);
        return Status::IoError(path + ": BLKGETSIZE64", e);
      }
    } else if (size != 0 && actual < size) {
      // Preallocate so that later writes cannot fail with ENOSPC half way through
      // the ring, and so that the file's extents are laid out once.
      int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(size));
      if (rc == EOPNOTSUPP || rc == EINVAL)
        rc = ::ftruncate(fd, static_cast<off_t>(size)) ? errno : 0;
      if (rc != 0) {
        ::close(fd);
        return Status::IoError(path + ": preallocate " + std::to_string(size) + " bytes", rc);
      }
      actual = size;
    }
    int cached_fd = -1;
    if (direct) {
      // For ReadCachedAt. Records are read at random, so the kernel's
      // read-ahead would only fill the cache with neighbours nobody asked for.
      cached_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (cached_fd >= 0) (void)::posix_fadvise(cached_fd, 0, 0, POSIX_FADV_RANDOM);
    }
    return std::unique_ptr<BlockFile>(
        new PosixBlockFile(fd, cached_fd, actual, direct, S_ISBLK(st.st_mode), path));
  }
};

}  // namespace

IoEnv* IoEnv::Default() {
  static PosixIoEnv env;
  return &env;
}

AlignedBuffer::AlignedBuffer(size_t size, bool zero) : size_(size) {
  size_t rounded = (size + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  data_ = static_cast<uint8_t*>(std::aligned_alloc(kAlignment, rounded));
  if (data_ == nullptr) throw std::bad_alloc();
  if (zero) std::memset(data_, 0, rounded);
}

AlignedBuffer::~AlignedBuffer() {
  std::free(data_);
}

AlignedBuffer::AlignedBuffer(AlignedBuffer&& o) noexcept : data_(o.data_), size_(o.size_) {
  o.data_ = nullptr;
  o.size_ = 0;
}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& o) noexcept {
  if (this != &o) {
    std::free(data_);
    data_ = o.data_;
    size_ = o.size_;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

}  // namespace cycas::engine
