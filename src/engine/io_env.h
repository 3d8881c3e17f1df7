// IoEnv: the single seam through which the engine touches storage.
//
// Every pread, pwrite, fdatasync and fallocate of the engine goes through a
// BlockFile obtained from an IoEnv, so tests can substitute a file that fails
// writes, returns EIO, or drops unsynced data, without special engine builds
// (LevelDB's Env idea). Implementations must be safe for concurrent use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "util/status.h"

namespace cycas::engine {

class BlockFile {
 public:
  virtual ~BlockFile() = default;
  // Reads exactly out.size() bytes at `offset`; a short read is an error.
  // With direct I/O, offset, size and buffer address must be 4 KiB aligned.
  virtual Status ReadAt(uint64_t offset, std::span<uint8_t> out) = 0;
  // Like ReadAt, but through the operating system's page cache even when the
  // file uses direct I/O, so a small record read again soon costs no device
  // read. Direct writes invalidate the cached pages they cover, and every
  // record read is validated anyway. The default is ReadAt.
  virtual Status ReadCachedAt(uint64_t offset, std::span<uint8_t> out) {
    return ReadAt(offset, out);
  }
  // Drops the page cache's copy of a range that ReadCachedAt returned and that
  // failed validation, so the next cached read goes to the device.
  virtual void DropCached(uint64_t offset, uint64_t length) {}
  // Writes all of `data` at `offset` (same alignment rules as ReadAt).
  virtual Status WriteAt(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Makes completed writes durable (fdatasync).
  virtual Status Sync() = 0;
  // Writes zeros over the parts of [offset, offset + length) that the
  // filesystem has allocated but never written (fallocate's unwritten
  // extents) or not allocated at all, then syncs; returns the bytes written.
  // Why: the first write into an unwritten extent also changes the file's
  // extent tree, so every fdatasync that covers it must write metadata too (3x
  // the time of a plain device flush here). Converting a large range ahead of
  // the ring's cursor pays that once per range instead of once per group
  // commit. Contents never change (such ranges read as zeros), so this is safe
  // for any range that is not being written concurrently. Files without
  // extent maps (FIEMAP), buffered files and block devices: nothing to do.
  virtual Result<uint64_t> ConvertUnwritten(uint64_t /*offset*/, uint64_t /*length*/) {
    return uint64_t{0};
  }
  virtual uint64_t size() const = 0;
  virtual bool direct_io() const = 0;
};

class IoEnv {
 public:
  virtual ~IoEnv() = default;
  // Opens (creating and preallocating to `size` bytes if needed) a store file.
  // `size` 0 opens an existing file or block device at its current size.
  // Direct I/O is used when requested and the filesystem supports it.
  virtual Result<std::unique_ptr<BlockFile>> OpenBlockFile(const std::string& path, uint64_t size,
                                                           bool want_direct_io) = 0;
  // The process-wide POSIX implementation.
  static IoEnv* Default();
};

// An owned buffer aligned for direct I/O.
class AlignedBuffer {
 public:
  static constexpr size_t kAlignment = 4096;
  AlignedBuffer() = default;
  // Zero-filled unless `zero` is false (buffers that are about to be read into
  // need no clearing, and clearing a 1 MiB fragment buffer per read is not free).
  explicit AlignedBuffer(size_t size, bool zero = true);
  ~AlignedBuffer();
  AlignedBuffer(AlignedBuffer&& o) noexcept;
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<uint8_t> span() { return {data_, size_}; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace cycas::engine
