// Raw sequential bandwidth of a file in the store's directory: the ceiling that
// the engine's throughput figures are divided by. Large aligned O_DIRECT
// pwrite/pread in one stream (queue depth 1, like the engine's one flusher per
// stripe), fdatasync at the end of the write pass, on a file preallocated with
// posix_fallocate exactly as the engine preallocates a new store.
#pragma once

#include <cstdint>
#include <string>

#include "util/status.h"

namespace cycas::bench {

struct RawBandwidth {
  double write_fresh_mbps = 0;  // first pass over freshly preallocated (unwritten) extents
  double write_over_mbps = 0;   // second pass: overwriting written extents
  double read_mbps = 0;
  double read_fragment_mbps = 0;  // reads the size of one engine fragment Doc (1 MiB + 4 KiB)
  // Group-commit ceiling for 64 writers of 4 KiB: 256 KiB pwrite + fdatasync,
  // one after the other, on the written file.
  double sync_write_mbps = 0;
  double sync_write_micros = 0;  // mean time of one such pwrite + fdatasync
  bool direct_io = false;        // false: the filesystem refused O_DIRECT (numbers are page cache)
};

// Writes, overwrites and reads `bytes` at `path` in `block`-byte requests, then
// removes the file.
Result<RawBandwidth> MeasureRawBandwidth(const std::string& path, uint64_t bytes, uint32_t block);

// Creates `path` with `bytes` of random data written (not just preallocated)
// and a zero first block, so the engine formats it as a new store whose ring
// extents are already written: the state of every store after its ring has
// wrapped once, where overwrites need no extent conversion in the filesystem.
Status PrewriteFile(const std::string& path, uint64_t bytes, uint32_t block);

// Drops the page cache of a file (no-op for O_DIRECT readers, but harmless), so a
// buffered fallback is not measured from RAM.
void DropFileCache(const std::string& path);

}  // namespace cycas::bench
