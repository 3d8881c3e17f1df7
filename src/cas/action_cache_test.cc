#include "cas/action_cache.h"

#include <gtest/gtest.h>

#include <map>

#include "cas/memory_blob_store.h"

namespace cycas {
namespace {

// A RecordStore in a map, so the action-cache rules are tested alone.
class MapRecords final : public RecordStore {
 public:
  Result<std::string> Get(std::string_view name) override {
    auto it = m_.find(std::string(name));
    if (it == m_.end()) return Status::NotFound("absent");
    return it->second;
  }
  Status Put(std::string_view name, std::string_view value) override {
    m_[std::string(name)] = value;
    return Status::Ok();
  }
  Status Remove(std::string_view name) override {
    m_.erase(std::string(name));
    return Status::Ok();
  }
  size_t max_value_size() const override { return 1 << 20; }

 private:
  std::map<std::string, std::string> m_;
};

class ActionCacheTest : public ::testing::Test {
 protected:
  MemoryBlobStore mem_{1 << 20, 1 << 20};
  CasStore cas_{&mem_, nullptr};
  MapRecords records_;
  ActionCache ac_{&cas_, &records_};
  const DigestFunction fn_ = DigestFunction::kSha256;
  Digest action_ = Digest::Of(DigestFunction::kSha256, "action");

  Digest Store(std::string_view bytes) {
    Digest d = Digest::Of(fn_, bytes);
    EXPECT_TRUE(cas_.Put(d, bytes).ok());
    return d;
  }
};

TEST_F(ActionCacheTest, CompleteResultIsReturned) {
  reapi::ActionResult r;
  auto* f = r.add_output_files();
  f->set_path("out/a.o");
  *f->mutable_digest() = DigestToProto(Store("object code"));
  *r.mutable_stdout_digest() = DigestToProto(Store("compiler said hi"));
  ASSERT_TRUE(ac_.Put("main", action_, r).ok());
  auto got = ac_.Get("main", action_);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->output_files(0).path(), "out/a.o");
  // Instances are separate namespaces.
  EXPECT_EQ(ac_.Get("other", action_).status().code(), StatusCode::kNotFound);
}

TEST_F(ActionCacheTest, MissingOutputMakesTheEntryAMissNamingTheBlob) {
  reapi::ActionResult r;
  auto* f = r.add_output_files();
  f->set_path("out/lost.o");
  Digest lost = Digest::Of(fn_, "never uploaded");
  *f->mutable_digest() = DigestToProto(lost);
  ASSERT_TRUE(ac_.Put("", action_, r).ok());
  Status st = ac_.Get("", action_).status();
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find(lost.hex()), std::string::npos);
  EXPECT_NE(st.message().find("out/lost.o"), std::string::npos);
}

TEST_F(ActionCacheTest, FilesInsideOutputTreesMustBePresent) {
  reapi::Tree tree;
  auto* file = tree.mutable_root()->add_files();
  file->set_name("gen.h");
  Digest missing = Digest::Of(fn_, "generated header");
  *file->mutable_digest() = DigestToProto(missing);
  std::string tree_bytes = tree.SerializeAsString();
  reapi::ActionResult r;
  auto* d = r.add_output_directories();
  d->set_path("gen");
  *d->mutable_tree_digest() = DigestToProto(Store(tree_bytes));
  ASSERT_TRUE(ac_.Put("", action_, r).ok());
  EXPECT_EQ(ac_.Get("", action_).status().code(), StatusCode::kNotFound);
  Store("generated header");
  EXPECT_TRUE(ac_.Get("", action_).ok());
}

TEST_F(ActionCacheTest, MalformedDigestIsRejectedNamingTheField) {
  reapi::ActionResult r;
  auto* f = r.add_output_files();
  f->set_path("x");
  f->mutable_digest()->set_hash("XYZ");
  Status st = ac_.Put("", action_, r);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("output_files[0].digest"), std::string::npos) << st.message();
}

TEST_F(ActionCacheTest, MissingBlobsListsAbsentBlobsUpToTheLimit) {
  reapi::ActionResult r;
  for (int i = 0; i < 5; i++) {
    auto* f = r.add_output_files();
    f->set_path("out/" + std::to_string(i));
    *f->mutable_digest() =
        DigestToProto(i == 2 ? Store("present") : Digest::Of(fn_, "lost " + std::to_string(i)));
  }
  auto all = ac_.MissingBlobs(r, fn_, 10);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 4u);
  EXPECT_NE((*all)[0].find("(out/0)"), std::string::npos) << (*all)[0];
  EXPECT_NE((*all)[2].find("(out/3)"), std::string::npos) << (*all)[2];
  auto two = ac_.MissingBlobs(r, fn_, 2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);
}

// A store that cannot be asked (a remote tier that is down).
class DownStore final : public BlobStore {
 public:
  Result<bool> Contains(const Digest&) override {
    return Status::Unavailable("backing store down");
  }
  Result<std::unique_ptr<BlobReader>> OpenRead(const Digest&) override {
    return Status::Unavailable("backing store down");
  }
  Result<std::unique_ptr<BlobWriter>> OpenWrite(const Digest&) override {
    return Status::Unavailable("backing store down");
  }
  Status Remove(const Digest&) override { return Status::Unavailable("backing store down"); }
  std::string_view name() const override { return "down"; }
};

TEST_F(ActionCacheTest, UnreachableTierIsUnavailableNeverAbsent) {
  DownStore down;
  CasStore cas(&down, nullptr);
  ActionCache ac(&cas, &records_);
  reapi::ActionResult r;
  auto* f = r.add_output_files();
  f->set_path("out/a");
  *f->mutable_digest() = DigestToProto(Digest::Of(fn_, "somewhere"));
  ASSERT_TRUE(ac.Put("", action_, r).ok());
  EXPECT_EQ(ac.Get("", action_).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(ac.MissingBlobs(r, fn_, 10).status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace cycas
