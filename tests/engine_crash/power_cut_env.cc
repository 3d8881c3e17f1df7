#include "power_cut_env.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cycas::engine::crash {

class PowerCutFile final : public BlockFile {
 public:
  PowerCutFile(PowerCutEnv* env, std::unique_ptr<BlockFile> base)
      : env_(env), base_(std::move(base)) {}

  Status ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    return base_->ReadAt(offset, out);
  }

  Status WriteAt(uint64_t offset, std::span<const uint8_t> data) override {
    std::lock_guard lk(env_->mu_);
    Status st = base_->WriteAt(offset, data);
    if (st.ok()) {
      env_->writes++;
      env_->state_.pending.push_back({offset, std::vector<uint8_t>(data.begin(), data.end())});
    }
    env_->MaybeCutLocked();
    return st;
  }

  Status Sync() override {
    std::lock_guard lk(env_->mu_);
    env_->MaybeCutLocked();
    env_->syncs++;
    if (env_->fail_syncs.load() > 0) {
      env_->fail_syncs--;
      env_->failed_syncs++;
      // The kernel marks the pages clean after reporting the error: these writes
      // will not reach the medium unless they are written again.
      env_->lost_writes += env_->state_.pending.size();
      env_->state_.pending.clear();
      return Status::IoError("injected fdatasync failure (power-cut env)", EIO);
    }
    RETURN_IF_ERROR(base_->Sync());
    auto& img = env_->state_.durable;
    for (const auto& w : env_->state_.pending) {
      if (w.offset + w.data.size() > img.size()) img.resize(w.offset + w.data.size());
      std::memcpy(img.data() + w.offset, w.data.data(), w.data.size());
    }
    env_->state_.pending.clear();
    return Status::Ok();
  }

  uint64_t size() const override { return base_->size(); }
  bool direct_io() const override { return base_->direct_io(); }

 private:
  PowerCutEnv* env_;
  std::unique_ptr<BlockFile> base_;
};

Result<std::unique_ptr<BlockFile>> PowerCutEnv::OpenBlockFile(const std::string& path,
                                                              uint64_t size, bool want_direct_io) {
  ASSIGN_OR_RETURN(auto f, base_->OpenBlockFile(path, size, want_direct_io));
  RETURN_IF_ERROR(f->Sync());
  std::vector<uint8_t> image(f->size());
  // Read through a separate buffered descriptor: the engine's may be O_DIRECT.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError(path + ": open for the durable image", errno);
  size_t done = 0;
  while (done < image.size()) {
    ssize_t n = ::pread(fd, image.data() + done, image.size() - done, static_cast<off_t>(done));
    if (n <= 0) {
      ::close(fd);
      return Status::IoError(path + ": read for the durable image", n < 0 ? errno : EIO);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  {
    std::lock_guard lk(mu_);
    state_.durable = std::move(image);
    state_.pending.clear();
  }
  return std::unique_ptr<BlockFile>(new PowerCutFile(this, std::move(f)));
}

PowerCutEnv::Image PowerCutEnv::Capture() {
  std::lock_guard lk(mu_);
  return state_;
}

void PowerCutEnv::ArmCut(uint64_t nth_io, std::function<void()> on_cut) {
  std::lock_guard lk(mu_);
  cut_countdown_ = nth_io;
  on_cut_ = std::move(on_cut);
  cut_taken_ = false;
}

void PowerCutEnv::MaybeCutLocked() {
  if (cut_countdown_ == 0 || --cut_countdown_ > 0) return;
  cut_ = state_;
  if (on_cut_) on_cut_();
  cut_taken_ = true;
}

bool PowerCutEnv::cut_taken() {
  std::lock_guard lk(mu_);
  return cut_taken_;
}

PowerCutEnv::Image PowerCutEnv::TakenCut() {
  std::lock_guard lk(mu_);
  return cut_;
}

const char* CutModeName(CutMode mode) {
  switch (mode) {
    case CutMode::kDropUnsynced:
      return "drop-unsynced";
    case CutMode::kPrefixTorn:
      return "prefix-torn";
    case CutMode::kRandomSectors:
      return "random-sectors";
    case CutMode::kTornGarbage:
      return "torn-garbage";
  }
  return "?";
}

Status Materialize(const PowerCutEnv::Image& image, CutMode mode, std::mt19937_64& rng,
                   const std::string& path) {
  constexpr size_t kSector = 512;
  std::vector<uint8_t> out = image.durable;
  auto apply = [&](const PowerCutEnv::PendingWrite& w, size_t from, size_t len) {
    if (w.offset + from + len > out.size()) out.resize(w.offset + from + len);
    std::memcpy(out.data() + w.offset + from, w.data.data() + from, len);
  };
  switch (mode) {
    case CutMode::kDropUnsynced:
      break;
    case CutMode::kPrefixTorn: {
      size_t keep = image.pending.empty() ? 0 : rng() % (image.pending.size() + 1);
      for (size_t i = 0; i < keep; i++) apply(image.pending[i], 0, image.pending[i].data.size());
      if (keep < image.pending.size()) {
        const auto& w = image.pending[keep];
        apply(w, 0, (rng() % (w.data.size() / kSector + 1)) * kSector);
      }
      break;
    }
    case CutMode::kRandomSectors:
    case CutMode::kTornGarbage:
      for (const auto& w : image.pending) {
        for (size_t off = 0; off < w.data.size(); off += kSector) {
          size_t len = std::min(kSector, w.data.size() - off);
          uint32_t r = rng() % 8;
          if (r < 4) {
            apply(w, off, len);
          } else if (mode == CutMode::kTornGarbage && r == 4) {
            std::memset(out.data() + w.offset + off, 0, len);
          } else if (mode == CutMode::kTornGarbage && r == 5) {
            for (size_t i = 0; i < len; i++) out[w.offset + off + i] = static_cast<uint8_t>(rng());
          } else if (mode == CutMode::kTornGarbage && r == 6 && len > 1) {
            // Half new, half old: a sector torn in the middle.
            apply(w, off, len / 2);
          }
        }
      }
      break;
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError(path + ": create", errno);
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pwrite(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n <= 0) {
      ::close(fd);
      return Status::IoError(path + ": write", n < 0 ? errno : EIO);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return Status::Ok();
}

}  // namespace cycas::engine::crash
