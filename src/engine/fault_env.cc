#include "engine/fault_env.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

namespace cycas::engine {
namespace {

class FaultFile final : public BlockFile {
 public:
  FaultFile(FaultEnv* env, std::unique_ptr<BlockFile> base) : env_(env), base_(std::move(base)) {}

  Status ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    if (int e = env_->read_errno.load()) return Status::IoError("injected read fault", e);
    return base_->ReadAt(offset, out);
  }
  Status ReadCachedAt(uint64_t offset, std::span<uint8_t> out) override {
    if (int e = env_->read_errno.load()) return Status::IoError("injected read fault", e);
    Status st = base_->ReadCachedAt(offset, out);
    if (st.ok() && env_->stale_cached_reads) {
      for (size_t i = 0; i < out.size(); i += 512) out[i] ^= 0x5a;
    }
    return st;
  }
  void DropCached(uint64_t offset, uint64_t length) override {
    env_->dropped_cached++;
    base_->DropCached(offset, length);
  }
  Status WriteAt(uint64_t offset, std::span<const uint8_t> data) override {
    {
      std::lock_guard lk(conv_mu_);
      for (const auto& [begin, end] : converting_) {
        if (offset < end && offset + data.size() > begin) env_->writes_into_conversion++;
      }
    }
    if (env_->crashed) return Status::Ok();
    env_->writes++;
    if (int e = env_->write_errno.load()) return Status::IoError("injected write fault", e);
    if (env_->short_writes && data.size() >= 8192) {
      size_t half = data.size() / 2 / 4096 * 4096;
      (void)base_->WriteAt(offset, data.subspan(0, half));
      return Status::IoError("injected short write", EIO);
    }
    return base_->WriteAt(offset, data);
  }
  Status Sync() override {
    while (env_->hold_syncs.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (env_->crashed) return Status::Ok();
    env_->syncs++;
    if (int e = env_->sync_errno.load()) return Status::IoError("injected fdatasync fault", e);
    return base_->Sync();
  }
  Result<uint64_t> ConvertUnwritten(uint64_t offset, uint64_t length) override {
    const std::pair<uint64_t, uint64_t> range{offset, offset + length};
    {
      std::lock_guard lk(conv_mu_);
      converting_.push_back(range);
    }
    env_->conversions++;
    while (env_->hold_conversions.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    Result<uint64_t> r = uint64_t{0};
    if (int e = env_->write_errno.load()) {
      r = Status::IoError("injected write fault", e);
    } else if (int e = env_->convert_errno.load()) {
      r = Status::IoError("injected conversion fault", e);
    } else if (int e = env_->sync_errno.load()) {
      r = Status::IoError("injected fdatasync fault", e);
    } else if (!env_->crashed) {
      r = base_->ConvertUnwritten(offset, length);
    }
    std::lock_guard lk(conv_mu_);
    converting_.erase(std::find(converting_.begin(), converting_.end(), range));
    return r;
  }
  uint64_t size() const override { return base_->size(); }
  bool direct_io() const override { return base_->direct_io(); }

 private:
  FaultEnv* env_;
  std::unique_ptr<BlockFile> base_;
  std::mutex conv_mu_;
  // Conversions in progress (several stripes of one file convert at once).
  std::vector<std::pair<uint64_t, uint64_t>> converting_;
};

}  // namespace

Result<std::unique_ptr<BlockFile>> FaultEnv::OpenBlockFile(const std::string& path, uint64_t size,
                                                           bool want_direct_io) {
  ASSIGN_OR_RETURN(auto f, base_->OpenBlockFile(path, size, want_direct_io));
  return std::unique_ptr<BlockFile>(new FaultFile(this, std::move(f)));
}

}  // namespace cycas::engine
