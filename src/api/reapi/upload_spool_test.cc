#include "api/reapi/upload_spool.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace cycas::api::reapi {
namespace {

namespace fs = std::filesystem;

// Collects what a CAS writer would receive.
class StringWriter final : public BlobWriter {
 public:
  Status Append(std::span<const uint8_t> data) override {
    bytes.append(reinterpret_cast<const char*>(data.data()), data.size());
    return Status::Ok();
  }
  Status Commit() override { return Status::Ok(); }
  void Abort() override {}
  std::string bytes;
};

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class UploadSpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cycas-spool-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<UploadSpool> Open(std::chrono::milliseconds retention = std::chrono::hours(1),
                                    uint64_t max_bytes = 1 << 30, size_t buffer = 1024,
                                    size_t max_uploads = 10000,
                                    uint64_t memory = uint64_t{512} << 20) {
    UploadSpool::Options o;
    o.max_uploads = max_uploads;
    o.memory_bytes = memory;
    o.dir = dir_ + "/uploads";
    o.retention = retention;
    o.max_bytes = max_bytes;
    o.buffer_bytes = buffer;
    auto s = UploadSpool::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  size_t FileCount() {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_ + "/uploads")) n++;
    return n;
  }

  std::string dir_;
  const std::string blob_ = std::string(10000, 'x') + std::string(10000, 'y');
  const Digest digest_ = Digest::Of(DigestFunction::kSha256, blob_);
  const std::string key_ = "instance\nuuid\n" + digest_.ToString();
};

TEST_F(UploadSpoolTest, UnknownUploadIsNotFound) {
  auto spool = Open();
  EXPECT_EQ(spool->Query(key_).status().code(), StatusCode::kNotFound);
}

TEST_F(UploadSpoolTest, SmallFinishedUploadNeverTouchesDisk) {
  auto spool = Open(std::chrono::hours(1), 1 << 30, 1 << 20);
  auto up = spool->Acquire(key_, digest_);
  ASSERT_TRUE(up.ok());
  ASSERT_TRUE((*up)->Append(Bytes(blob_)).ok());
  EXPECT_EQ(FileCount(), 0u);
  (*up)->Discard();
  EXPECT_EQ(spool->Query(key_).status().code(), StatusCode::kNotFound);
}

TEST_F(UploadSpoolTest, ReceivedBytesAreHeldByReferenceUntilTheUploadEnds) {
  constexpr size_t kMiB = 1 << 20;
  auto spool = Open(std::chrono::hours(1), 1 << 30, 1 << 20, 10000, /*memory=*/8 * kMiB);
  auto up = spool->Acquire(key_, digest_);
  ASSERT_TRUE(up.ok());
  auto message = std::make_shared<const std::string>(2 * kMiB, 'm');
  std::string_view whole = *message;
  // Counted as what they pin, never less than their size.
  ASSERT_TRUE((*up)->Append(whole.substr(0, kMiB), message, 3 * kMiB).ok());
  ASSERT_TRUE((*up)->Append(whole.substr(kMiB), message, 10).ok());
  EXPECT_EQ(message.use_count(), 3);  // held, not copied
  EXPECT_EQ(spool->memory_used(), 4 * kMiB);
  EXPECT_EQ((*up)->size(), 2 * kMiB);
  EXPECT_EQ(FileCount(), 0u);
  (*up)->Discard();
  EXPECT_EQ(message.use_count(), 1);  // let go with the upload
  EXPECT_EQ(spool->memory_used(), 0u);
}

// Every way an upload ends lets go of the received messages it referenced.
TEST_F(UploadSpoolTest, ReferencedBytesAreReleasedHoweverTheUploadEnds) {
  auto message = std::make_shared<const std::string>(blob_.substr(0, 6000));
  const std::string_view bytes = *message;
  auto append_all = [&](UploadSpool::Upload& up) {
    for (size_t off = 0; off < bytes.size(); off += 1000) {
      ASSERT_TRUE(up.Append(bytes.substr(off, 1000), message, 1000).ok());
    }
  };
  {  // held in memory, then written out by the writer thread
    auto spool = Open();
    auto up = spool->Acquire(key_ + "1", digest_);
    ASSERT_TRUE(up.ok());
    append_all(**up);
    EXPECT_EQ(message.use_count(), 7);
    ASSERT_TRUE((*up)->Persist().ok());
    EXPECT_EQ(message.use_count(), 1);
  }
  {  // beyond the budget: handed to the writer thread as they come
    auto spool = Open(std::chrono::hours(1), 1 << 30, /*buffer=*/2000, 10000, /*memory=*/2500);
    auto up = spool->Acquire(key_ + "2", digest_);
    ASSERT_TRUE(up.ok());
    append_all(**up);
    ASSERT_TRUE((*up)->Persist().ok());
    EXPECT_EQ(message.use_count(), 1);
    EXPECT_EQ(spool->memory_used(), 0u);
  }
  {  // grows past max_bytes: no longer kept
    auto spool = Open(std::chrono::hours(1), /*max_bytes=*/3500);
    auto up = spool->Acquire(key_ + "3", digest_);
    ASSERT_TRUE(up.ok());
    append_all(**up);
    EXPECT_EQ(message.use_count(), 1);
    EXPECT_EQ((*up)->size(), 6000u);
    EXPECT_EQ(spool->memory_used(), 0u);
  }
  {  // retention 0: prefixes are never kept, so nothing is held
    auto spool = Open(std::chrono::milliseconds(0));
    auto up = spool->Acquire(key_ + "4", digest_);
    ASSERT_TRUE(up.ok());
    append_all(**up);
    EXPECT_EQ(message.use_count(), 1);
    EXPECT_EQ((*up)->size(), 6000u);
  }
}

TEST_F(UploadSpoolTest, UploadBeyondTheMemoryBudgetSpillsToItsFileAndKeepsEveryByte) {
  auto spool = Open(std::chrono::hours(1), 1 << 30, 1024, 10000, /*memory=*/5000);
  auto held = spool->Acquire(key_ + "held", digest_);
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE((*held)->Append(Bytes(blob_.substr(0, 3000))).ok());
  const uint64_t held_cost = spool->memory_used();  // the bytes and a small overhead
  EXPECT_GE(held_cost, 3000u);
  EXPECT_LT(held_cost, 3200u);
  EXPECT_EQ(FileCount(), 0u);
  {
    auto up = spool->Acquire(key_, digest_);
    ASSERT_TRUE(up.ok());
    ASSERT_TRUE((*up)->Append(Bytes(blob_.substr(0, 1500))).ok());
    EXPECT_EQ(FileCount(), 0u);  // within the budget: held in memory
    ASSERT_TRUE((*up)->Append(Bytes(blob_.substr(1500, 1500))).ok());
    EXPECT_EQ(FileCount(), 1u);  // over it: written to its file as it arrives
    ASSERT_TRUE((*up)->Append(Bytes(blob_.substr(3000, 4000))).ok());
    ASSERT_TRUE((*up)->Persist().ok());
  }
  EXPECT_EQ(spool->memory_used(), held_cost);  // only what the other upload holds
  (*held)->Discard();
  EXPECT_EQ(spool->memory_used(), 0u);
  auto up = spool->Acquire(key_, digest_);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ((*up)->durable_size(), 7000u);
  StringWriter w;
  ASSERT_TRUE((*up)->ReplayTo(w).ok());
  EXPECT_EQ(w.bytes, blob_.substr(0, 7000));
}

TEST_F(UploadSpoolTest, BrokenStreamHeldInMemoryIsWrittenOutWhole) {
  {
    auto spool = Open(std::chrono::hours(1), 1 << 30, 1024);
    auto up = spool->Acquire(key_, digest_);
    ASSERT_TRUE(up.ok());
    for (size_t off = 0; off < 15000; off += 100) {
      auto piece = std::make_shared<const std::string>(blob_.substr(off, 100));
      ASSERT_TRUE((*up)->Append(*piece, piece, 100).ok());
    }
    EXPECT_EQ(FileCount(), 0u);
    EXPECT_EQ(spool->memory_used(), 15000u);  // counted as what the references pin
    ASSERT_TRUE((*up)->Persist().ok());
    EXPECT_EQ(spool->memory_used(), 0u);
  }
  auto spool = Open();  // as after a restart
  auto up = spool->Acquire(key_, digest_);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ((*up)->durable_size(), 15000u);
  StringWriter w;
  ASSERT_TRUE((*up)->ReplayTo(w).ok());
  EXPECT_EQ(w.bytes, blob_.substr(0, 15000));
}

TEST_F(UploadSpoolTest, SecondStreamOnTheSameUploadIsUnavailable) {
  auto spool = Open();
  auto a = spool->Acquire(key_, digest_);
  ASSERT_TRUE(a.ok());
  auto b = spool->Acquire(key_, digest_);
  EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
  ASSERT_TRUE((*a)->Append(Bytes(blob_.substr(0, 10))).ok());
  auto q = spool->Query(key_);
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->active);
  EXPECT_EQ(q->committed_size, 10u);
}

TEST_F(UploadSpoolTest, BrokenStreamKeepsItsPrefixForTheNextStream) {
  auto spool = Open();
  {
    auto up = spool->Acquire(key_, digest_);
    ASSERT_TRUE(up.ok());
    ASSERT_TRUE((*up)->Append(Bytes(blob_.substr(0, 3000))).ok());
    ASSERT_TRUE((*up)->Append(Bytes(blob_.substr(3000, 4000))).ok());
    ASSERT_TRUE((*up)->Persist().ok());
  }
  auto q = spool->Query(key_);
  ASSERT_TRUE(q.ok());
  EXPECT_FALSE(q->active);
  EXPECT_EQ(q->committed_size, 7000u);
  auto up = spool->Acquire(key_, digest_);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ((*up)->durable_size(), 7000u);
  StringWriter w;
  ASSERT_TRUE((*up)->ReplayTo(w).ok());
  EXPECT_EQ(w.bytes, blob_.substr(0, 7000));
}

TEST_F(UploadSpoolTest, PrefixSurvivesReopenAndUnsyncedTailIsDropped) {
  {
    auto spool = Open();
    auto up = spool->Acquire(key_, digest_);
    ASSERT_TRUE(up.ok());
    ASSERT_TRUE((*up)->Append(Bytes(blob_.substr(0, 5000))).ok());
    ASSERT_TRUE((*up)->Persist().ok());
  }
  // Simulate bytes written after the last sync but never acknowledged.
  for (const auto& e : fs::directory_iterator(dir_ + "/uploads")) {
    if (e.path().extension() == ".data") {
      std::ofstream f(e.path(), std::ios::app | std::ios::binary);
      f << "garbage that was never synced";
    }
  }
  auto spool = Open();
  auto q = spool->Query(key_);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->committed_size, 5000u);
  auto up = spool->Acquire(key_, digest_);
  ASSERT_TRUE(up.ok());
  ASSERT_TRUE((*up)->Append(Bytes(blob_.substr(5000))).ok());
  ASSERT_TRUE((*up)->Persist().ok());
  auto again = spool->Acquire(key_, digest_);
  ASSERT_TRUE(again.ok());
  StringWriter w;
  ASSERT_TRUE((*again)->ReplayTo(w).ok());
  EXPECT_EQ(w.bytes, blob_);
}

TEST_F(UploadSpoolTest, ResetAndTruncate) {
  auto spool = Open();
  {
    auto up = spool->Acquire(key_, digest_);
    ASSERT_TRUE((*up)->Append(Bytes(blob_.substr(0, 8000))).ok());
  }  // destroyed without Persist/Discard: kept
  {
    auto up = spool->Acquire(key_, digest_);
    ASSERT_TRUE(up.ok());
    EXPECT_EQ((*up)->durable_size(), 8000u);
    ASSERT_TRUE((*up)->TruncateTo(2000).ok());
    ASSERT_TRUE((*up)->Append(Bytes(blob_.substr(2000, 1000))).ok());
    ASSERT_TRUE((*up)->Persist().ok());
  }
  {
    auto up = spool->Acquire(key_, digest_);
    EXPECT_EQ((*up)->durable_size(), 3000u);
    StringWriter w;
    ASSERT_TRUE((*up)->ReplayTo(w).ok());
    EXPECT_EQ(w.bytes, blob_.substr(0, 3000));
    ASSERT_TRUE((*up)->Reset().ok());
    EXPECT_EQ((*up)->size(), 0u);
    ASSERT_TRUE((*up)->Persist().ok());  // nothing received: forgotten
  }
  EXPECT_EQ(spool->Query(key_).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(FileCount(), 0u);
}

TEST_F(UploadSpoolTest, ZeroRetentionKeepsNothing) {
  auto spool = Open(std::chrono::milliseconds(0));
  auto up = spool->Acquire(key_, digest_);
  ASSERT_TRUE((*up)->Append(Bytes(blob_.substr(0, 5000))).ok());
  ASSERT_TRUE((*up)->Persist().ok());
  EXPECT_EQ(spool->Query(key_).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(FileCount(), 0u);
}

TEST_F(UploadSpoolTest, PrefixLargerThanTheLimitIsNotKept) {
  auto spool = Open(std::chrono::hours(1), 4096);
  auto up = spool->Acquire(key_, digest_);
  ASSERT_TRUE((*up)->Append(Bytes(blob_.substr(0, 5000))).ok());
  ASSERT_TRUE((*up)->Persist().ok());
  EXPECT_EQ(spool->Query(key_).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(FileCount(), 0u);
}

TEST_F(UploadSpoolTest, SweepRemovesOldestBeyondTheLimit) {
  auto spool = Open(std::chrono::hours(1), 12000);
  for (int i = 0; i < 3; i++) {
    auto up = spool->Acquire(key_ + std::to_string(i), digest_);
    ASSERT_TRUE((*up)->Append(Bytes(blob_.substr(0, 5000))).ok());
    ASSERT_TRUE((*up)->Persist().ok());
  }
  // Each kept prefix sweeps: the third pushed the total over the limit.
  EXPECT_EQ(spool->kept_bytes(), 10000u);
  EXPECT_EQ(spool->kept_count(), 2u);
  EXPECT_EQ(spool->Query(key_ + "0").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(spool->Query(key_ + "2").ok());
}

TEST_F(UploadSpoolTest, SweepKeepsAtMostMaxUploads) {
  auto spool = Open(std::chrono::hours(1), 1 << 30, 1024, 3);
  for (int i = 0; i < 5; i++) {
    auto up = spool->Acquire(key_ + std::to_string(i), digest_);
    ASSERT_TRUE((*up)->Append(Bytes(blob_.substr(0, 10))).ok());
    ASSERT_TRUE((*up)->Persist().ok());
  }
  EXPECT_EQ(spool->kept_count(), 3u);
  EXPECT_EQ(spool->Query(key_ + "1").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(spool->Query(key_ + "4").ok());
}

TEST_F(UploadSpoolTest, ExpiredPrefixesAreRemovedAtOpen) {
  {
    auto spool = Open();
    auto up = spool->Acquire(key_, digest_);
    ASSERT_TRUE((*up)->Append(Bytes(blob_.substr(0, 5000))).ok());
    ASSERT_TRUE((*up)->Persist().ok());
  }
  // Age the metadata by two hours.
  for (const auto& e : fs::directory_iterator(dir_ + "/uploads")) {
    fs::last_write_time(e.path(), fs::last_write_time(e.path()) - std::chrono::hours(2));
  }
  auto spool = Open(std::chrono::hours(1));
  EXPECT_EQ(spool->Query(key_).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(FileCount(), 0u);
}

TEST_F(UploadSpoolTest, CorruptMetadataIsRemovedAtOpen) {
  fs::create_directories(dir_ + "/uploads");
  std::ofstream(dir_ + "/uploads/abc.meta") << "not a spool file";
  std::ofstream(dir_ + "/uploads/abc.data") << "bytes";
  std::ofstream(dir_ + "/uploads/orphan.data") << "bytes";
  auto spool = Open();
  EXPECT_EQ(FileCount(), 0u);
  EXPECT_EQ(spool->kept_count(), 0u);
}

}  // namespace
}  // namespace cycas::api::reapi
