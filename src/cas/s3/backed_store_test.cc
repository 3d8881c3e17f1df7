// The local store in front of a shared remote: read-through with
// verification and single-flight, write-back through the durable queue,
// write-through, and the absent/unavailable distinction when the remote is down.
#include "cas/s3/backed_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "cas/memory_blob_store.h"
#include "cas/tiered_blob_store.h"

namespace cycas::s3 {
namespace {

using Clock = std::chrono::steady_clock;

// A remote that can be taken down, counts its calls, and can hold reads back.
class FakeRemote final : public BlobStore, public BatchContains {
 public:
  MemoryBlobStore mem{1ull << 30, 1ull << 30};
  std::atomic<bool> down{false};
  std::atomic<int> contains_calls{0}, open_reads{0};
  std::atomic<bool> hold_reads{false};

  Result<bool> Contains(const Digest& d) override {
    contains_calls++;
    if (down) return Status::Unavailable("remote is down");
    return mem.Contains(d);
  }
  std::vector<Result<bool>> ContainsMany(std::span<const Digest> ds) override {
    std::vector<Result<bool>> out;
    for (const auto& d : ds) out.push_back(Contains(d));
    return out;
  }
  Result<std::unique_ptr<BlobReader>> OpenRead(const Digest& d) override {
    open_reads++;
    while (hold_reads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (down) return Status::Unavailable("remote is down");
    return mem.OpenRead(d);
  }
  Result<std::unique_ptr<BlobWriter>> OpenWrite(const Digest& d) override {
    if (down) return Status::Unavailable("remote is down");
    return mem.OpenWrite(d);
  }
  Status Remove(const Digest& d) override { return mem.Remove(d); }
  std::string_view name() const override { return "fake-remote"; }
};

class MapRecords final : public RecordStore {
 public:
  std::mutex mu;
  std::map<std::string, std::string, std::less<>> map;
  std::atomic<bool> down{false};
  Result<std::string> Get(std::string_view name) override {
    if (down) return Status::Unavailable("records down");
    std::lock_guard lk(mu);
    auto it = map.find(name);
    if (it == map.end()) return Status::NotFound("no record");
    return it->second;
  }
  Status Put(std::string_view name, std::string_view value) override {
    if (down) return Status::Unavailable("records down");
    std::lock_guard lk(mu);
    map[std::string(name)] = std::string(value);
    return Status::Ok();
  }
  Status Remove(std::string_view name) override {
    if (down) return Status::Unavailable("records down");
    std::lock_guard lk(mu);
    map.erase(std::string(name));
    return Status::Ok();
  }
  size_t max_value_size() const override { return 1 << 20; }
};

Status Put(BlobStore& s, const std::string& bytes) {
  Digest d = Digest::Of(DigestFunction::kSha256, bytes);
  ASSIGN_OR_RETURN(auto w, s.OpenWrite(d));
  RETURN_IF_ERROR(w->Append({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}));
  return w->Commit();
}

Digest D(const std::string& bytes) { return Digest::Of(DigestFunction::kSha256, bytes); }

class BackedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/backed-store-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Build(WriteMode::kWriteBack);
  }
  void TearDown() override {
    uploader_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Build(WriteMode mode, bool start_uploader = false) {
    records_.reset();
    store_.reset();
    uploader_.reset();
    queue_.reset();
    UploadQueue::Options qo;
    qo.dir = dir_;
    qo.limit = 1000;
    queue_ = std::move(*UploadQueue::Open(qo));
    Uploader::Options uo;
    uo.workers = 2;
    uo.backoff = std::chrono::milliseconds(5);
    uo.backoff_max = std::chrono::milliseconds(20);
    uploader_ = std::make_unique<Uploader>(queue_.get(), &local_, &local_records_, &remote_, &remote_records_, uo);
    BackedBlobStore::Options bo;
    bo.write_mode = mode;
    store_ = std::make_unique<BackedBlobStore>(&local_, &remote_, &remote_, queue_.get(), uploader_.get(), bo);
    records_ = std::make_unique<BackedRecordStore>(&local_records_, &remote_records_, queue_.get(),
                                                   uploader_.get(), mode);
    if (start_uploader) uploader_->Start();
  }
  std::string ReadAll(BlobStore& s, const Digest& d) {
    auto r = s.OpenRead(d);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "";
    auto bytes = ReadWholeBlob(**r);
    return bytes.ok() ? *bytes : "";
  }

  std::string dir_;
  MemoryBlobStore local_{1ull << 30, 1ull << 30};
  MapRecords local_records_, remote_records_;
  FakeRemote remote_;
  std::unique_ptr<UploadQueue> queue_;
  std::unique_ptr<Uploader> uploader_;
  std::unique_ptr<BackedBlobStore> store_;
  std::unique_ptr<BackedRecordStore> records_;
};

TEST_F(BackedStoreTest, LocalMissReadsThroughAndKeepsTheBlobLocally) {
  ASSERT_TRUE(Put(remote_.mem, "from another node").ok());
  EXPECT_EQ(ReadAll(*store_, D("from another node")), "from another node");
  EXPECT_TRUE(*local_.Contains(D("from another node")));
  EXPECT_EQ(store_->Stats().remote_hits, 1u);
  EXPECT_EQ(ReadAll(*store_, D("from another node")), "from another node");
  EXPECT_EQ(remote_.open_reads, 1);
}

TEST_F(BackedStoreTest, AbsentEverywhereIsNotFound) {
  auto r = store_->OpenRead(D("nowhere"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST_F(BackedStoreTest, RemoteDownIsUnavailableNotNotFound) {
  remote_.down = true;
  auto r = store_->OpenRead(D("unknown"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("unavailable"), std::string::npos) << r.status().message();
}

TEST_F(BackedStoreTest, LocalHitsWorkWhileRemoteIsDown) {
  ASSERT_TRUE(Put(*store_, "local blob").ok());
  remote_.down = true;
  EXPECT_EQ(ReadAll(*store_, D("local blob")), "local blob");
  EXPECT_TRUE(*store_->Contains(D("local blob")));
  EXPECT_TRUE(*store_->strict()->Contains(D("local blob")));
}

TEST_F(BackedStoreTest, RemoteBytesThatDoNotMatchTheDigestAreRefusedAndRemoved) {
  Digest claimed = D("the real bytes");
  auto w = remote_.mem.OpenWrite(claimed);
  ASSERT_TRUE(w.ok());
  std::string fake = "other  bytes!!";  // same length, other content
  ASSERT_EQ(fake.size(), claimed.size_bytes());
  ASSERT_TRUE((*w)->Append({reinterpret_cast<const uint8_t*>(fake.data()), fake.size()}).ok());
  ASSERT_TRUE((*w)->Commit().ok());
  auto r = store_->OpenRead(claimed);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(*local_.Contains(claimed));
  EXPECT_FALSE(*remote_.mem.Contains(claimed));
  EXPECT_EQ(store_->Stats().corrupt, 1u);
}

TEST_F(BackedStoreTest, ConcurrentMissesOfOneDigestMakeOneRemoteRead) {
  ASSERT_TRUE(Put(remote_.mem, std::string(100000, 'x')).ok());
  Digest d = D(std::string(100000, 'x'));
  remote_.hold_reads = true;
  std::vector<std::thread> readers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; i++) {
    readers.emplace_back([&] {
      auto r = store_->OpenRead(d);
      if (r.ok() && (*r)->size() == 100000) ok++;
    });
  }
  // Let every reader reach the flight before the first fetch proceeds.
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (store_->Stats().joined_fetches < 7 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  remote_.hold_reads = false;
  for (auto& t : readers) t.join();
  EXPECT_EQ(ok, 8);
  EXPECT_EQ(remote_.open_reads, 1);
  EXPECT_EQ(store_->Stats().joined_fetches, 7u);
}

TEST_F(BackedStoreTest, ExistenceIsLocalFirstThenCachedThenAsked) {
  ASSERT_TRUE(Put(*store_, "local").ok());
  ASSERT_TRUE(Put(remote_.mem, "remote").ok());
  EXPECT_TRUE(*store_->Contains(D("local")));
  EXPECT_EQ(remote_.contains_calls, 0);
  EXPECT_TRUE(*store_->Contains(D("remote")));
  EXPECT_TRUE(*store_->Contains(D("remote")));
  EXPECT_EQ(remote_.contains_calls, 1);  // the second answer came from the cache
  EXPECT_FALSE(*store_->Contains(D("absent")));
  EXPECT_FALSE(*store_->Contains(D("absent")));
  EXPECT_EQ(remote_.contains_calls, 3);  // "absent" is never cached
  auto many = store_->ContainsMany(std::vector<Digest>{D("local"), D("remote"), D("absent")});
  EXPECT_TRUE(*many[0]);
  EXPECT_TRUE(*many[1]);
  EXPECT_FALSE(*many[2]);
}

TEST_F(BackedStoreTest, UnaskableExistenceIsAbsentButUnavailableWhenStrict) {
  remote_.down = true;
  auto lenient = store_->Contains(D("x"));
  ASSERT_TRUE(lenient.ok());
  EXPECT_FALSE(*lenient);
  auto strict = store_->strict()->Contains(D("x"));
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.status().code(), StatusCode::kUnavailable);
  auto many = static_cast<BatchContains*>(store_.get())->ContainsMany(std::vector<Digest>{D("x")});
  EXPECT_TRUE(many[0].ok());
}

TEST_F(BackedStoreTest, WriteBackAcknowledgesLocallyAndUploadsLater) {
  ASSERT_TRUE(Put(*store_, "queued").ok());
  EXPECT_TRUE(*local_.Contains(D("queued")));
  EXPECT_FALSE(*remote_.mem.Contains(D("queued")));
  EXPECT_EQ(queue_->depth(), 1u);
  uploader_->Start();
  ASSERT_TRUE(queue_->WaitEmpty(Clock::now() + std::chrono::seconds(5)));
  EXPECT_TRUE(*remote_.mem.Contains(D("queued")));
  EXPECT_EQ(uploader_->Stats().blobs_uploaded, 1u);
}

TEST_F(BackedStoreTest, AbortedWritesLeaveNothingQueued) {
  auto w = store_->OpenWrite(D("never"));
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(queue_->depth(), 1u);
  (*w)->Abort();
  EXPECT_EQ(queue_->depth(), 0u);
}

TEST_F(BackedStoreTest, QueuedUploadsSurviveARestartOfTheNode) {
  ASSERT_TRUE(Put(*store_, "before crash").ok());
  ASSERT_TRUE(records_->Put("ac/rec", "value").ok());
  Build(WriteMode::kWriteBack, /*start_uploader=*/true);  // the queue is reopened from disk
  ASSERT_TRUE(queue_->WaitEmpty(Clock::now() + std::chrono::seconds(5)));
  EXPECT_TRUE(*remote_.mem.Contains(D("before crash")));
  EXPECT_EQ(remote_records_.map["ac/rec"], "value");
}

TEST_F(BackedStoreTest, UploadsWaitForTheRemoteAndThenDrain) {
  remote_.down = true;
  uploader_->Start();
  ASSERT_TRUE(Put(*store_, "during outage").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(queue_->depth(), 1u);
  EXPECT_GE(uploader_->Stats().failures, 1u);
  remote_.down = false;
  ASSERT_TRUE(queue_->WaitEmpty(Clock::now() + std::chrono::seconds(5)));
  EXPECT_TRUE(*remote_.mem.Contains(D("during outage")));
}

TEST_F(BackedStoreTest, UploadsOfBlobsTheRemoteHasAreSkipped) {
  ASSERT_TRUE(Put(remote_.mem, "everywhere").ok());
  auto w = store_->OpenWrite(D("everywhere"));  // locally absent: accepted
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append({reinterpret_cast<const uint8_t*>("everywhere"), 10}).ok());
  ASSERT_TRUE((*w)->Commit().ok());
  uploader_->Start();
  ASSERT_TRUE(queue_->WaitEmpty(Clock::now() + std::chrono::seconds(5)));
  EXPECT_EQ(uploader_->Stats().already_present, 1u);
  EXPECT_EQ(uploader_->Stats().blobs_uploaded, 0u);
}

TEST_F(BackedStoreTest, EvictedBeforeUploadIsCountedLost) {
  ASSERT_TRUE(Put(*store_, "evicted").ok());
  ASSERT_TRUE(local_.Remove(D("evicted")).ok());
  uploader_->Start();
  ASSERT_TRUE(queue_->WaitEmpty(Clock::now() + std::chrono::seconds(5)));
  EXPECT_EQ(uploader_->Stats().lost, 1u);
}

TEST_F(BackedStoreTest, WriteThroughAcknowledgesAfterTheRemoteHasIt) {
  Build(WriteMode::kWriteThrough);
  ASSERT_TRUE(Put(*store_, "through").ok());
  EXPECT_TRUE(*remote_.mem.Contains(D("through")));
  EXPECT_EQ(queue_->depth(), 0u);
}

TEST_F(BackedStoreTest, FailedWriteThroughIsAnErrorButStaysQueued) {
  Build(WriteMode::kWriteThrough);
  remote_.down = true;
  Status st = Put(*store_, "through later");
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("queued"), std::string::npos) << st.message();
  EXPECT_TRUE(*local_.Contains(D("through later")));
  EXPECT_EQ(queue_->depth(), 1u);
  remote_.down = false;
  uploader_->Start();
  ASSERT_TRUE(queue_->WaitEmpty(Clock::now() + std::chrono::seconds(5)));
  EXPECT_TRUE(*remote_.mem.Contains(D("through later")));
}

TEST_F(BackedStoreTest, RecordsReadThroughAndDistinguishAbsentFromUnavailable) {
  remote_records_.map["ac/x"] = "result";
  auto got = records_->Get("ac/x");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "result");
  EXPECT_EQ(local_records_.map["ac/x"], "result");
  EXPECT_EQ(records_->Get("ac/none").status().code(), StatusCode::kNotFound);
  remote_records_.down = true;
  EXPECT_EQ(records_->Get("ac/none").status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(records_->Get("ac/x").ok());  // local copy
}

TEST_F(BackedStoreTest, RecordsAreUploadedWithTheirNewestLocalValue) {
  ASSERT_TRUE(records_->Put("ac/y", "v1").ok());
  ASSERT_TRUE(records_->Put("ac/y", "v2").ok());
  uploader_->Start();
  ASSERT_TRUE(queue_->WaitEmpty(Clock::now() + std::chrono::seconds(5)));
  EXPECT_EQ(remote_records_.map["ac/y"], "v2");
}

TEST_F(BackedStoreTest, ComposesUnderTheTieredStoreWithRam) {
  MemoryBlobStore ram(1 << 20, 1 << 16);
  TieredBlobStore tiers(&ram, store_.get(), nullptr, {});
  ASSERT_TRUE(Put(remote_.mem, "via tiers").ok());
  EXPECT_EQ(ReadAll(tiers, D("via tiers")), "via tiers");
  EXPECT_TRUE(*ram.Contains(D("via tiers")));
  remote_.down = true;
  auto miss = tiers.OpenRead(D("not here"));
  EXPECT_EQ(miss.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace cycas::s3
