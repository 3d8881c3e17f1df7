#include "cas/tiered_blob_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "cas/cas_store.h"
#include "cas/engine_blob_store.h"
#include "cas/engine_keys.h"

namespace cycas {
namespace {

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class TieredTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = testing::TempDir() + "/cycas_tiered_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    engine::EngineOptions o;
    o.path = path_;
    o.size = 32 << 20;
    o.stripes = 1;
    o.aggregation_bytes = 256 << 10;
    o.fragment_size = 64 << 10;
    engine_ = std::move(*engine::Engine::Open(o));
    local_ = std::make_unique<EngineBlobStore>(engine_.get());
  }
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove(path_);
  }
  std::string path_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<EngineBlobStore> local_;
};

TEST_F(TieredTest, SmallBlobsAreServedFromRamAfterFirstRead) {
  MemoryBlobStore ram(1 << 20, 4096);
  TieredBlobStore tiers(&ram, local_.get(), nullptr, {});
  Digest small = Digest::Of(DigestFunction::kBlake3, "small");
  ASSERT_TRUE(local_->OpenWrite(small).ok());  // open then drop: nothing stored
  CasStore cas(&tiers, nullptr);
  ASSERT_TRUE(cas.Put(small, "small").ok());
  EXPECT_TRUE(*ram.Contains(small));  // written through to RAM
  ASSERT_TRUE(ram.Remove(small).ok());
  EXPECT_EQ(*cas.ReadAll(small, 100), "small");  // from disk, promoted
  EXPECT_TRUE(*ram.Contains(small));
  std::string big(10'000, 'b');
  Digest bigd = Digest::Of(DigestFunction::kBlake3, big);
  ASSERT_TRUE(cas.Put(bigd, big).ok());
  EXPECT_FALSE(*ram.Contains(bigd));  // above the RAM tier's threshold
  EXPECT_EQ(*cas.ReadAll(bigd, 1 << 20), big);
}

// The front-ends' event loops open a blob in place only when that needs no
// I/O; everything else must come back as "not in memory" (nullptr).
TEST_F(TieredTest, OpenReadIfInMemoryOpensOnlyWhatNeedsNoIo) {
  MemoryBlobStore ram(1 << 20, 4096);
  TieredBlobStore tiers(&ram, local_.get(), nullptr, {});
  CasStore cas(&tiers, nullptr);
  Digest small = Digest::Of(DigestFunction::kBlake3, "small");
  ASSERT_TRUE(cas.Put(small, "small").ok());
  auto r = cas.OpenReadIfInMemory(small);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(*ReadWholeBlob(*r), "small");

  ASSERT_TRUE(ram.Remove(small).ok());
  EXPECT_EQ(cas.OpenReadIfInMemory(small), nullptr) << "only on disk";
  EXPECT_EQ(*cas.ReadAll(small, 100), "small");  // promoted back into RAM
  EXPECT_NE(cas.OpenReadIfInMemory(small), nullptr);

  std::string big(10'000, 'b');
  Digest bigd = Digest::Of(DigestFunction::kBlake3, big);
  ASSERT_TRUE(cas.Put(bigd, big).ok());
  EXPECT_EQ(cas.OpenReadIfInMemory(bigd), nullptr) << "above the RAM tier's threshold";
  EXPECT_EQ(cas.OpenReadIfInMemory(Digest::Of(DigestFunction::kBlake3, "absent")), nullptr);
  auto empty = cas.OpenReadIfInMemory(Digest::Of(DigestFunction::kBlake3, ""));
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->size(), 0u);

  CasStore disk_only(local_.get(), nullptr);
  EXPECT_EQ(disk_only.OpenReadIfInMemory(small), nullptr);
}

// A blob read only from RAM keeps its disk copy: reads touch it, so the ring
// copies it forward instead of overwriting it (found by the HTTP load soak).
TEST_F(TieredTest, ReadsServedFromRamKeepTheDiskCopyAlive) {
  MemoryBlobStore ram(1 << 20, 4096);
  TieredBlobStore tiers(&ram, local_.get(), nullptr, {});
  CasStore cas(&tiers, nullptr);
  Digest hot = Digest::Of(DigestFunction::kBlake3, "hot");
  ASSERT_TRUE(cas.Put(hot, "hot").ok());
  CasStore disk(local_.get(), nullptr);  // filler straight to the engine
  std::string filler(100'000, 'f');
  for (int i = 0; i < 1000; i++) {  // ~100 MB through a 32 MB ring: three wraps
    filler[0] = static_cast<char>(i);
    filler[1] = static_cast<char>(i >> 8);
    ASSERT_TRUE(disk.Put(Digest::Of(DigestFunction::kBlake3, filler), filler).ok());
    ASSERT_EQ(*cas.ReadAll(hot, 100), "hot");
    ASSERT_TRUE(*ram.Contains(hot));  // served from RAM
    engine_->DrainCopyForward();
  }
  EXPECT_GT(engine_->Stats().wraps, 2u);
  EXPECT_TRUE(engine_->Contains(EngineKeyForBlob(hot))) << "the disk copy was evicted";
}

// The same through batched existence checks, which touch a RAM hit's disk
// copy with TouchMany instead of asking the local tier about it.
TEST_F(TieredTest, BatchedChecksOfRamHitsKeepTheDiskCopyAlive) {
  MemoryBlobStore ram(1 << 20, 4096);
  TieredBlobStore tiers(&ram, local_.get(), nullptr, {});
  CasStore cas(&tiers, nullptr);
  Digest hot = Digest::Of(DigestFunction::kBlake3, "hot");
  ASSERT_TRUE(cas.Put(hot, "hot").ok());
  CasStore disk(local_.get(), nullptr);
  std::string filler(100'000, 'f');
  std::vector<Digest> ask = {hot};
  std::vector<uint8_t> present(1);
  for (int i = 0; i < 1000; i++) {
    filler[0] = static_cast<char>(i);
    filler[1] = static_cast<char>(i >> 8);
    ASSERT_TRUE(disk.Put(Digest::Of(DigestFunction::kBlake3, filler), filler).ok());
    ASSERT_TRUE(cas.ContainsMany(ask, present).ok());
    ASSERT_EQ(present[0], 1);
    ASSERT_TRUE(*ram.Contains(hot));
    engine_->DrainCopyForward();
  }
  EXPECT_GT(engine_->Stats().wraps, 2u);
  EXPECT_TRUE(engine_->Contains(EngineKeyForBlob(hot))) << "the disk copy was evicted";
}

TEST_F(TieredTest, RemoteHitIsVerifiedAndStoredLocally) {
  MemoryBlobStore remote(1 << 20, 1 << 20);
  TieredBlobStore tiers(nullptr, local_.get(), &remote, {});
  Digest d = Digest::Of(DigestFunction::kSha256, "from far away");
  {
    auto w = remote.OpenWrite(d);
    ASSERT_TRUE((*w)->Append(AsBytes("from far away")).ok());
    ASSERT_TRUE((*w)->Commit().ok());
  }
  EXPECT_FALSE(*local_->Contains(d));
  EXPECT_TRUE(*tiers.Contains(d));
  auto r = tiers.OpenRead(d);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*ReadWholeBlob(**r), "from far away");
  EXPECT_TRUE(*local_->Contains(d));
  EXPECT_EQ(tiers.remote_fetches(), 1u);
}

TEST_F(TieredTest, RemoteReturningWrongBytesIsNotStored) {
  MemoryBlobStore remote(1 << 20, 1 << 20);
  TieredBlobStore tiers(nullptr, local_.get(), &remote, {});
  Digest d = Digest::Of(DigestFunction::kSha256, "genuine");
  {
    // A remote that holds the wrong bytes under this digest (the memory store does not verify).
    auto w = remote.OpenWrite(d);
    ASSERT_TRUE((*w)->Append(AsBytes("forgery")).ok());
    ASSERT_TRUE((*w)->Commit().ok());
  }
  EXPECT_EQ(tiers.OpenRead(d).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(*local_->Contains(d));
}

// A remote that is down: every call fails with UNAVAILABLE.
class DownBlobStore final : public BlobStore {
 public:
  Result<bool> Contains(const Digest&) override { return Status::Unavailable("remote down"); }
  Result<std::unique_ptr<BlobReader>> OpenRead(const Digest&) override {
    return Status::Unavailable("remote down");
  }
  Result<std::unique_ptr<BlobWriter>> OpenWrite(const Digest&) override {
    return Status::Unavailable("remote down");
  }
  Status Remove(const Digest&) override { return Status::Unavailable("remote down"); }
  std::string_view name() const override { return "down"; }
};

TEST_F(TieredTest, FailingRemoteIsUnavailableNotAbsentAndDoesNotBlockUploads) {
  DownBlobStore remote;
  TieredBlobStore tiers(nullptr, local_.get(), &remote, {});
  CasStore cas(&tiers, nullptr);
  Digest d = Digest::Of(DigestFunction::kBlake3, "maybe far away");
  EXPECT_EQ(tiers.OpenRead(d).status().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(cas.Put(d, "maybe far away").ok());
  EXPECT_EQ(*cas.ReadAll(d, 100), "maybe far away");
}

// The batched check used by FindMissingBlobs / NegotiateBlobs answers as
// Contains() does for blobs in each tier, absent ones and the empty blob, and
// reports a failing remote rather than calling its blobs absent.
TEST_F(TieredTest, ContainsManyAgreesWithContainsAcrossTiers) {
  MemoryBlobStore ram(1 << 20, 4096);
  MemoryBlobStore remote(1 << 20, 1 << 20);
  TieredBlobStore tiers(&ram, local_.get(), &remote, {});
  CasStore cas(&tiers, nullptr);
  auto put = [](BlobStore& store, std::string_view bytes) {
    Digest d = Digest::Of(DigestFunction::kBlake3, bytes);
    auto w = store.OpenWrite(d);
    EXPECT_TRUE((*w)->Append(AsBytes(bytes)).ok());
    EXPECT_TRUE((*w)->Commit().ok());
    return d;
  };
  std::vector<Digest> digests = {
      put(ram, "only in ram"),
      put(*local_, "only on disk"),
      put(remote, "only far away"),
      Digest::Of(DigestFunction::kBlake3, "nowhere"),
      Digest::Of(DigestFunction::kBlake3, ""),
  };
  std::vector<uint8_t> present(digests.size(), 9);
  ASSERT_TRUE(cas.ContainsMany(digests, present).ok());
  EXPECT_EQ(present, (std::vector<uint8_t>{1, 1, 1, 0, 1}));
  for (size_t i = 0; i < digests.size(); i++) EXPECT_EQ(*cas.Contains(digests[i]), present[i] != 0);

  DownBlobStore down;
  TieredBlobStore broken(nullptr, local_.get(), &down, {});
  EXPECT_EQ(broken.ContainsMany(std::span(digests).first(4), std::span(present).first(4)).code(),
            StatusCode::kUnavailable);
  CasStore strict(&tiers, nullptr, {.max_blob_size = 4});
  EXPECT_EQ(strict.ContainsMany(digests, present).code(), StatusCode::kInvalidArgument);
}

// A local tier that records what it is asked, in front of the engine's.
class AskedBlobStore final : public BlobStore {
 public:
  explicit AskedBlobStore(BlobStore* base) : base_(base) {}
  Result<bool> Contains(const Digest& d) override {
    asked.push_back(d);
    return base_->Contains(d);
  }
  Status ContainsMany(std::span<const Digest> d, std::span<uint8_t> present) override {
    asked.insert(asked.end(), d.begin(), d.end());
    return base_->ContainsMany(d, present);
  }
  void Touch(const Digest& d) override {
    touched.push_back(d);
    base_->Touch(d);
  }
  void TouchMany(std::span<const Digest> d) override {
    touched.insert(touched.end(), d.begin(), d.end());
    base_->TouchMany(d);
  }
  Result<std::unique_ptr<BlobReader>> OpenRead(const Digest& d) override {
    return base_->OpenRead(d);
  }
  Result<std::unique_ptr<BlobWriter>> OpenWrite(const Digest& d) override {
    return base_->OpenWrite(d);
  }
  Status Remove(const Digest& d) override { return base_->Remove(d); }
  std::string_view name() const override { return "asked"; }
  std::vector<Digest> asked, touched;

 private:
  BlobStore* base_;
};

// A batched check does not ask the local tier about blobs found in RAM (with
// a bucket behind that tier each question can be a HEAD); it only touches
// their disk copies, as Contains() does.
TEST_F(TieredTest, ContainsManyOnlyTouchesTheDiskCopiesOfRamHits) {
  MemoryBlobStore ram(1 << 20, 4096);
  AskedBlobStore local(local_.get());
  TieredBlobStore tiers(&ram, &local, nullptr, {});
  CasStore cas(&tiers, nullptr);
  Digest hot = Digest::Of(DigestFunction::kBlake3, "hot");
  Digest cold = Digest::Of(DigestFunction::kBlake3, "cold");
  Digest none = Digest::Of(DigestFunction::kBlake3, "none");
  ASSERT_TRUE(cas.Put(hot, "hot").ok());  // into RAM and onto the disk
  ASSERT_TRUE(CasStore(local_.get(), nullptr).Put(cold, "cold").ok());  // disk only
  ASSERT_TRUE(*ram.Contains(hot));
  ASSERT_FALSE(*ram.Contains(cold));
  local.asked.clear();
  std::vector<Digest> digests = {hot, cold, none};
  std::vector<uint8_t> present(3, 9);
  ASSERT_TRUE(tiers.ContainsMany(digests, present).ok());
  EXPECT_EQ(present, (std::vector<uint8_t>{1, 1, 0}));
  EXPECT_EQ(local.asked, (std::vector<Digest>{cold, none}));
  EXPECT_EQ(local.touched, (std::vector<Digest>{hot}));
  // All in RAM: the local tier is not asked at all.
  local.asked.clear();
  ASSERT_TRUE(tiers.ContainsMany(std::span(digests).first(1), std::span(present).first(1)).ok());
  EXPECT_EQ(present[0], 1);
  EXPECT_TRUE(local.asked.empty());
}

// The RAM tier answers a batch under a few locks; the answers and the LRU
// refresh must be those of one Contains() per digest.
TEST(MemoryBlobStoreTest, ContainsManyMatchesContainsAndRefreshesTheLru) {
  constexpr int kBlobs = 300;  // more than one batch per lock
  MemoryBlobStore ram(kBlobs * 8, 8);
  std::vector<Digest> digests;
  for (int i = 0; i < 2 * kBlobs; i++) {
    std::string bytes = "blob" + std::to_string(1000 + i);  // 8 bytes each
    Digest d = Digest::Of(DigestFunction::kBlake3, bytes);
    digests.push_back(d);
    if (i % 2 == 0) ram.Insert(d, std::make_shared<const std::string>(bytes));
  }
  std::vector<uint8_t> present(digests.size(), 9);
  ASSERT_TRUE(ram.ContainsMany(digests, present).ok());
  for (size_t i = 0; i < digests.size(); i++) {
    EXPECT_EQ(present[i], i % 2 == 0 ? 1 : 0) << i;
  }
  // The tier is full. Asking about the oldest half makes it the newest, so
  // inserting kBlobs / 2 more evicts the other half instead.
  std::vector<Digest> oldest;
  for (int i = 0; i < kBlobs; i += 2) oldest.push_back(digests[i]);
  std::vector<uint8_t> found(oldest.size());
  ASSERT_TRUE(ram.ContainsMany(oldest, found).ok());
  for (int i = 0; i < kBlobs / 2; i++) {
    std::string bytes = "more" + std::to_string(1000 + i);
    ram.Insert(Digest::Of(DigestFunction::kBlake3, bytes),
               std::make_shared<const std::string>(bytes));
  }
  for (int i = 0; i < 2 * kBlobs; i += 2) {
    EXPECT_EQ(*ram.Contains(digests[i]), i < kBlobs) << i;
  }
}

TEST_F(TieredTest, WriteThroughReachesTheRemote) {
  MemoryBlobStore remote(1 << 20, 1 << 20);
  TieredBlobStore tiers(nullptr, local_.get(), &remote, {.remote_write_through = true});
  CasStore cas(&tiers, nullptr);
  Digest d = Digest::Of(DigestFunction::kBlake3, "shared");
  ASSERT_TRUE(cas.Put(d, "shared").ok());
  EXPECT_TRUE(*remote.Contains(d));
  EXPECT_TRUE(*local_->Contains(d));
}

TEST_F(TieredTest, EngineStoreKeysIncludeTheSize) {
  CasStore cas(local_.get(), nullptr);
  Digest d = Digest::Of(DigestFunction::kBlake3, "sized");
  ASSERT_TRUE(cas.Put(d, "sized").ok());
  Digest wrong_size(d.function(), d.hash(), d.size_bytes() + 1);
  EXPECT_FALSE(*cas.Contains(wrong_size));
  EXPECT_TRUE(*cas.Contains(d));
}

TEST_F(TieredTest, RecordsRoundTripThroughTheEngine) {
  EngineRecordStore records(engine_.get());
  ASSERT_TRUE(records.Put("ac/main/sha256/abc", "v1").ok());
  ASSERT_TRUE(records.Put("ac/main/sha256/abc", "v2").ok());
  EXPECT_EQ(*records.Get("ac/main/sha256/abc"), "v2");
  EXPECT_EQ(records.Get("ac/other/sha256/abc").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(records.Remove("ac/main/sha256/abc").ok());
  EXPECT_EQ(records.Get("ac/main/sha256/abc").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace cycas
