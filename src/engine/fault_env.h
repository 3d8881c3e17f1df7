// FaultEnv: an IoEnv wrapper that injects storage faults, for tests and fault
// drills. It can fail writes, reads or syncs with a chosen errno, shorten writes,
// hold syncs back, and simulate a crash (from then on every write and sync is silently dropped,
// as if the process had been killed at that instant).
#pragma once

#include <atomic>
#include <cerrno>
#include <mutex>

#include "engine/io_env.h"

namespace cycas::engine {

class FaultEnv final : public IoEnv {
 public:
  explicit FaultEnv(IoEnv* base) : base_(base) {}

  Result<std::unique_ptr<BlockFile>> OpenBlockFile(const std::string& path, uint64_t size,
                                                   bool want_direct_io) override;

  std::atomic<int> write_errno{0};  // nonzero: writes fail with this errno
  std::atomic<int> read_errno{0};
  std::atomic<int> sync_errno{0};
  std::atomic<bool> short_writes{false};  // writes stop half way (and report EIO)
  std::atomic<bool> crashed{false};       // writes and syncs vanish silently
  std::atomic<bool> hold_syncs{false};    // syncs wait until this is false again
  // ConvertUnwritten waits until this is false again; while a conversion is
  // in progress, writes that overlap its range are counted (the engine must
  // never write where it is converting: the zeros could land on its data).
  std::atomic<bool> hold_conversions{false};
  std::atomic<int> convert_errno{0};  // nonzero: ConvertUnwritten fails with this errno
  std::atomic<uint64_t> conversions{0};
  std::atomic<uint64_t> writes_into_conversion{0};
  // Cached reads (ReadCachedAt) return damaged bytes, as a page cache holding
  // an out-of-date copy of the range would; direct reads stay correct.
  std::atomic<bool> stale_cached_reads{false};
  std::atomic<uint64_t> dropped_cached{0};  // DropCached calls
  std::atomic<uint64_t> writes{0};
  std::atomic<uint64_t> syncs{0};

 private:
  IoEnv* base_;
};

}  // namespace cycas::engine
