#include "cas/engine_blob_store.h"

#include "cas/engine_keys.h"
#include "util/log.h"

namespace cycas {
namespace {

class EngineBlobReader final : public BlobReader {
 public:
  explicit EngineBlobReader(std::unique_ptr<engine::ObjectReader> r) : r_(std::move(r)) {}
  uint64_t size() const override { return r_->size(); }
  Result<size_t> Read(uint64_t offset, std::span<uint8_t> out) override {
    return r_->Read(offset, out);
  }
  Result<std::span<const uint8_t>> ReadView(uint64_t offset, size_t max) override {
    return r_->View(offset, max);
  }

 private:
  std::unique_ptr<engine::ObjectReader> r_;
};

class EngineBlobWriter final : public BlobWriter {
 public:
  explicit EngineBlobWriter(std::unique_ptr<engine::ObjectWriter> w) : w_(std::move(w)) {}
  Status Append(std::span<const uint8_t> data) override { return w_->Append(data); }
  Status Commit() override { return w_->Commit(); }
  bool CanCommitAsync() const override { return w_->CanCommitAsync(); }
  void CommitAsync(std::function<void(Status)> done) override { w_->CommitAsync(std::move(done)); }
  void Abort() override { w_->Abort(); }

 private:
  std::unique_ptr<engine::ObjectWriter> w_;
};

Status WithDigest(const Status& st, const Digest& d) {
  return st.ok() ? st : Status(st.code(), "blob " + d.ToString() + ": " + st.message());
}

}  // namespace

Result<bool> EngineBlobStore::Contains(const Digest& digest) {
  return engine_->ContainsAndTouch(EngineKeyForBlob(digest));
}

void EngineBlobStore::Touch(const Digest& digest) {
  engine_->Touch(EngineKeyForBlob(digest));
}

void EngineBlobStore::TouchMany(std::span<const Digest> digests) {
  std::vector<uint8_t> present(digests.size());
  (void)ContainsMany(digests, present);  // the engine's batched touch; always OK
}

Status EngineBlobStore::ContainsMany(std::span<const Digest> digests, std::span<uint8_t> present) {
  std::vector<engine::Key> keys;
  keys.reserve(digests.size());
  for (const Digest& d : digests) keys.push_back(EngineKeyForBlob(d));
  engine_->ContainsAndTouchMany(keys, present);
  return Status::Ok();
}

Result<std::unique_ptr<BlobReader>> EngineBlobStore::OpenRead(const Digest& digest) {
  auto r = engine_->OpenRead(EngineKeyForBlob(digest));
  if (!r.ok()) return WithDigest(r.status(), digest);
  if ((*r)->size() != digest.size_bytes()) {
    return Status::NotFound("blob " + digest.ToString() + ": stored size differs");
  }
  return std::unique_ptr<BlobReader>(new EngineBlobReader(std::move(*r)));
}

Result<std::unique_ptr<BlobWriter>> EngineBlobStore::OpenWrite(const Digest& digest) {
  auto w = engine_->OpenWrite(EngineKeyForBlob(digest));
  if (!w.ok()) return WithDigest(w.status(), digest);
  return std::unique_ptr<BlobWriter>(new EngineBlobWriter(std::move(*w)));
}

Status EngineBlobStore::Remove(const Digest& digest) {
  return engine_->Remove(EngineKeyForBlob(digest));
}

Result<std::string> EngineRecordStore::Get(std::string_view name) {
  auto r = engine_->OpenRead(EngineKeyForRecord(name), engine::RecordKind::kRecord);
  if (!r.ok()) return r.status();
  std::string out((*r)->size(), '\0');
  uint64_t off = 0;
  while (off < out.size()) {
    auto n = (*r)->Read(off, {reinterpret_cast<uint8_t*>(out.data()) + off, out.size() - off});
    if (!n.ok()) return n.status();
    if (*n == 0) return Status::DataLoss("record shorter than its header says");
    off += *n;
  }
  return out;
}

Status EngineRecordStore::CheckValueSize(std::string_view value) const {
  if (value.size() <= max_value_size()) return Status::Ok();
  return Status::InvalidArgument("value of " + std::to_string(value.size()) +
                                 " bytes exceeds the record limit of " +
                                 std::to_string(max_value_size()));
}

Status EngineRecordStore::Put(std::string_view name, std::string_view value) {
  RETURN_IF_ERROR(CheckValueSize(value));
  return engine_->Put(EngineKeyForRecord(name),
                      {reinterpret_cast<const uint8_t*>(value.data()), value.size()},
                      engine::RecordKind::kRecord);
}

void EngineRecordStore::PutAsync(std::string_view name, std::string_view value,
                                 std::function<void(Status)> done) {
  if (Status st = CheckValueSize(value); !st.ok()) return done(st);
  engine_->PutAsync(EngineKeyForRecord(name),
                    {reinterpret_cast<const uint8_t*>(value.data()), value.size()},
                    engine::RecordKind::kRecord, std::move(done));
}

void EngineRecordStore::Keep(std::string_view name, std::string_view value) {
  if (!engine_->RecordFading(EngineKeyForRecord(name))) return;
  PutAsync(name, value, [](Status st) {
    if (!st.ok()) LOG(kWarn, "cannot rewrite a fading record").kv("error", st.ToString());
  });
}

Status EngineRecordStore::Remove(std::string_view name) {
  return engine_->Remove(EngineKeyForRecord(name), engine::RecordKind::kRecord);
}

}  // namespace cycas
