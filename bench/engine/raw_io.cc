#include "raw_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>

namespace cycas::bench {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

void DropFileCache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fdatasync(fd);
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

Status PrewriteFile(const std::string& path, uint64_t bytes, uint32_t block) {
  ::unlink(path.c_str());
  Fd f;
  f.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
  if (f.fd < 0) f.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f.fd < 0) return Status::IoError(path + ": open", errno);
  if (int rc = ::posix_fallocate(f.fd, 0, static_cast<off_t>(bytes)); rc != 0) {
    return Status::IoError(path + ": posix_fallocate", rc);
  }
  void* mem = std::aligned_alloc(4096, block);
  if (mem == nullptr) return Status::ResourceExhausted("prewrite: out of memory");
  std::unique_ptr<void, decltype(&std::free)> hold(mem, &std::free);
  auto* buf = static_cast<uint8_t*>(mem);
  std::mt19937_64 rng(9);
  for (uint32_t i = 0; i < block; i += 8) {
    uint64_t w = rng();
    std::memcpy(buf + i, &w, 8);
  }
  for (uint64_t off = 0; off < bytes; off += block) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(block, bytes - off));
    if (off == 0) std::memset(buf, 0, 4096);  // blank span header: the engine formats the file
    if (::pwrite(f.fd, buf, n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) {
      return Status::IoError(path + ": pwrite", errno);
    }
    if (off == 0) {
      for (uint32_t i = 0; i < 4096; i += 8) {
        uint64_t w = rng();
        std::memcpy(buf + i, &w, 8);
      }
    }
  }
  if (::fdatasync(f.fd) != 0) return Status::IoError(path + ": fdatasync", errno);
  return Status::Ok();
}

Result<RawBandwidth> MeasureRawBandwidth(const std::string& path, uint64_t bytes, uint32_t block) {
  bytes = bytes / block * block;
  if (bytes == 0) return Status::InvalidArgument("raw bandwidth: size smaller than one block");
  ::unlink(path.c_str());
  RawBandwidth r;
  Fd f;
  f.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
  r.direct_io = f.fd >= 0;
  if (f.fd < 0) f.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f.fd < 0) return Status::IoError(path + ": open", errno);
  if (int rc = ::posix_fallocate(f.fd, 0, static_cast<off_t>(bytes)); rc != 0) {
    ::unlink(path.c_str());
    return Status::IoError(path + ": posix_fallocate", rc);
  }

  // Random contents: a virtual disk that compresses or deduplicates must not
  // make the baseline look faster than the engine's (random) payloads.
  void* mem = std::aligned_alloc(4096, block);
  if (mem == nullptr) return Status::ResourceExhausted("raw bandwidth: out of memory");
  std::unique_ptr<void, decltype(&std::free)> hold(mem, &std::free);
  auto* buf = static_cast<uint8_t*>(mem);
  std::mt19937_64 rng(7);
  for (uint32_t i = 0; i < block; i += 8) {
    uint64_t w = rng();
    std::memcpy(buf + i, &w, 8);
  }

  auto write_pass = [&](double* mbps) -> Status {
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t off = 0; off < bytes; off += block) {
      std::memcpy(buf, &off, sizeof off);
      ssize_t n = ::pwrite(f.fd, buf, block, static_cast<off_t>(off));
      if (n != static_cast<ssize_t>(block))
        return Status::IoError(path + ": pwrite", n < 0 ? errno : EIO);
    }
    if (::fdatasync(f.fd) != 0) return Status::IoError(path + ": fdatasync", errno);
    *mbps = static_cast<double>(bytes) / 1e6 / SecondsSince(t0);
    return Status::Ok();
  };
  Status st = write_pass(&r.write_fresh_mbps);
  if (st.ok()) st = write_pass(&r.write_over_mbps);
  if (st.ok()) {
    if (!r.direct_io) DropFileCache(path);
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t off = 0; off < bytes && st.ok(); off += block) {
      ssize_t n = ::pread(f.fd, buf, block, static_cast<off_t>(off));
      if (n != static_cast<ssize_t>(block))
        st = Status::IoError(path + ": pread", n < 0 ? errno : EIO);
    }
    r.read_mbps = static_cast<double>(bytes) / 1e6 / SecondsSince(t0);
  }
  if (st.ok()) {
    // The engine reads a 1 MiB fragment as one 1 MiB + 4 KiB request.
    const uint64_t frag = 1 * 1024 * 1024 + 4096;
    uint64_t done = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t off = 0; off + frag <= bytes && st.ok(); off += frag) {
      ssize_t n = ::pread(f.fd, buf, frag, static_cast<off_t>(off));
      if (n != static_cast<ssize_t>(frag))
        st = Status::IoError(path + ": pread", n < 0 ? errno : EIO);
      done += frag;
    }
    r.read_fragment_mbps = static_cast<double>(done) / 1e6 / SecondsSince(t0);
  }
  if (st.ok()) {
    const uint64_t group = 64 * 4096;
    uint64_t rounds = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t off = 0; off + group <= bytes && st.ok() && SecondsSince(t0) < 3; off += group) {
      ssize_t n = ::pwrite(f.fd, buf, group, static_cast<off_t>(off));
      if (n != static_cast<ssize_t>(group))
        st = Status::IoError(path + ": pwrite", n < 0 ? errno : EIO);
      if (st.ok() && ::fdatasync(f.fd) != 0) st = Status::IoError(path + ": fdatasync", errno);
      rounds++;
    }
    double secs = SecondsSince(t0);
    r.sync_write_mbps = static_cast<double>(rounds * group) / 1e6 / secs;
    r.sync_write_micros = secs * 1e6 / static_cast<double>(rounds);
  }
  ::unlink(path.c_str());
  if (!st.ok()) return st;
  return r;
}

}  // namespace cycas::bench
