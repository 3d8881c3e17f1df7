// PowerCutEnv: an IoEnv that models what survives a power cut.
//
// Writes go through to the real file at once (so the running engine reads its
// own writes), and are also kept as "pending" until a successful Sync() makes
// them durable. Capture() returns, atomically with respect to writes and
// syncs, the durable image plus the pending writes; Materialize() turns that
// into a store file as a power cut at that instant could leave it: unsynced
// writes lost, applied in order up to a torn one, applied sector by sector in
// any order, or with torn sectors zeroed or filled with garbage.
//
// A failed Sync() (fail_syncs) behaves like Linux after an fdatasync error:
// the error is reported once and the pages it covered are marked clean, so the
// writes before it are never made durable by a later successful sync, while
// the running process still reads the new bytes from its cache.
//
// One store file per env. Safe for concurrent use.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "engine/io_env.h"

namespace cycas::engine::crash {

class PowerCutEnv final : public IoEnv {
 public:
  explicit PowerCutEnv(IoEnv* base) : base_(base) {}

  // Whatever the file holds when it is opened is taken as durable.
  Result<std::unique_ptr<BlockFile>> OpenBlockFile(const std::string& path, uint64_t size,
                                                   bool want_direct_io) override;

  struct PendingWrite {
    uint64_t offset;
    std::vector<uint8_t> data;
  };
  struct Image {
    std::vector<uint8_t> durable;
    std::vector<PendingWrite> pending;  // in the order they were issued
  };
  Image Capture();

  // Arms a cut at the n-th write or sync from now (n >= 1). A write is cut just
  // after it reached the file, a sync just before it reaches the device, so the
  // cut always has unsynced writes at risk when there are any. `on_cut` runs at
  // that instant, atomically with respect to every write and sync (it must not
  // call into the engine): use it to note what had been acknowledged.
  void ArmCut(uint64_t nth_io, std::function<void()> on_cut);
  bool cut_taken();
  Image TakenCut();  // the image of the armed cut, once cut_taken()

  std::atomic<int> fail_syncs{0};  // the next n syncs fail with EIO and lose what they covered
  std::atomic<uint64_t> writes{0};
  std::atomic<uint64_t> syncs{0};
  std::atomic<uint64_t> failed_syncs{0};
  std::atomic<uint64_t> lost_writes{0};  // dropped by failed syncs

 private:
  friend class PowerCutFile;
  IoEnv* base_;
  void MaybeCutLocked();  // with mu_ held

  std::mutex mu_;
  Image state_;
  uint64_t cut_countdown_ = 0;  // 0: not armed
  std::function<void()> on_cut_;
  bool cut_taken_ = false;
  Image cut_;
};

enum class CutMode {
  kDropUnsynced,   // nothing after the last successful sync survives
  kPrefixTorn,     // pending writes survive in order up to one torn at a sector boundary
  kRandomSectors,  // each pending sector independently survives or not (device reordering)
  kTornGarbage,    // like kRandomSectors, and a sector that did not survive may read back
                   // as zeros or garbage (a torn sector or a partly written block)
};
inline constexpr CutMode kAllCutModes[] = {CutMode::kDropUnsynced, CutMode::kPrefixTorn,
                                           CutMode::kRandomSectors, CutMode::kTornGarbage};
const char* CutModeName(CutMode mode);

// Writes the store that a power cut at the moment of `image` could leave to `path`.
Status Materialize(const PowerCutEnv::Image& image, CutMode mode, std::mt19937_64& rng,
                   const std::string& path);

}  // namespace cycas::engine::crash
