// The local disk tier: BlobStore and RecordStore on the cyclone engine.
#pragma once

#include "cas/blob_store.h"
#include "cas/record_store.h"
#include "engine/engine.h"

namespace cycas {

class EngineBlobStore final : public BlobStore {
 public:
  explicit EngineBlobStore(engine::Engine* engine) : engine_(engine) {}

  Result<bool> Contains(const Digest& digest) override;
  void Touch(const Digest& digest) override;
  void TouchMany(std::span<const Digest> digests) override;
  Status ContainsMany(std::span<const Digest> digests, std::span<uint8_t> present) override;
  Result<std::unique_ptr<BlobReader>> OpenRead(const Digest& digest) override;
  Result<std::unique_ptr<BlobWriter>> OpenWrite(const Digest& digest) override;
  Status Remove(const Digest& digest) override;
  std::string_view name() const override { return "engine"; }

 private:
  engine::Engine* engine_;
};

class EngineRecordStore final : public RecordStore {
 public:
  explicit EngineRecordStore(engine::Engine* engine) : engine_(engine) {}

  Result<std::string> Get(std::string_view name) override;
  Status Put(std::string_view name, std::string_view value) override;
  bool CanPutAsync() const override { return true; }
  void PutAsync(std::string_view name, std::string_view value,
                std::function<void(Status)> done) override;
  Status Remove(std::string_view name) override;
  void Keep(std::string_view name, std::string_view value) override;
  size_t max_value_size() const override { return engine_->options().fragment_size; }

 private:
  Status CheckValueSize(std::string_view value) const;
  engine::Engine* engine_;
};

}  // namespace cycas
