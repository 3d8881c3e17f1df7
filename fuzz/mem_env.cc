#include "mem_env.h"

#include <cstring>

namespace cycas::fuzz {

class MemBlockFile final : public engine::BlockFile {
 public:
  explicit MemBlockFile(MemEnv* env) : env_(env) {}

  Status ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    std::lock_guard lk(env_->mu_);
    if (offset > env_->image_.size() || out.size() > env_->image_.size() - offset) {
      return Status::Internal("mem: read of " + std::to_string(out.size()) + " bytes at " +
                              std::to_string(offset) + ": unexpected end of file");
    }
    if (!out.empty()) std::memcpy(out.data(), env_->image_.data() + offset, out.size());
    return Status::Ok();
  }

  Status WriteAt(uint64_t offset, std::span<const uint8_t> data) override {
    std::unique_lock lk(env_->mu_);
    if (env_->hold_) {
      env_->stalled_++;
      env_->hold_cv_.notify_all();
      env_->hold_cv_.wait(lk, [&] { return !env_->hold_; });
      env_->stalled_--;
    }
    if (env_->crashed) return Status::Ok();
    if (offset > env_->image_.size() || data.size() > env_->image_.size() - offset) {
      return Status::Internal("mem: write of " + std::to_string(data.size()) + " bytes at " +
                              std::to_string(offset) + ": past the end of the file");
    }
    if (!data.empty()) std::memcpy(env_->image_.data() + offset, data.data(), data.size());
    env_->writes_.emplace_back(offset, data.size());
    return Status::Ok();
  }

  Status Sync() override { return Status::Ok(); }
  uint64_t size() const override {
    std::lock_guard lk(env_->mu_);
    return env_->image_.size();
  }
  bool direct_io() const override { return false; }

 private:
  MemEnv* env_;
};

void MemEnv::Hold() {
  std::lock_guard lk(mu_);
  hold_ = true;
}

void MemEnv::Release() {
  std::lock_guard lk(mu_);
  hold_ = false;
  hold_cv_.notify_all();
}

int MemEnv::stalled() {
  std::lock_guard lk(mu_);
  return stalled_;
}

Result<std::unique_ptr<engine::BlockFile>> MemEnv::OpenBlockFile(const std::string& /*path*/,
                                                                 uint64_t size,
                                                                 bool /*want_direct_io*/) {
  {
    std::lock_guard lk(mu_);
    if (image_.size() < size) image_.resize(size, 0);
  }
  return std::unique_ptr<engine::BlockFile>(new MemBlockFile(this));
}

}  // namespace cycas::fuzz
