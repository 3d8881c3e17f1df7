#include "api/http/http_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "cas/memory_blob_store.h"
#include "digest/hex.h"

namespace cycas::api::http {
namespace {

// Records in a map, so the HTTP rules are tested without the engine.
class MapRecords final : public RecordStore {
 public:
  Result<std::string> Get(std::string_view name) override {
    auto it = map.find(std::string(name));
    if (it == map.end()) return Status::NotFound("no record " + std::string(name));
    return it->second;
  }
  Status Put(std::string_view name, std::string_view value) override {
    if (value.size() > max_value_size()) return Status::InvalidArgument("too large");
    map[std::string(name)] = std::string(value);
    return Status::Ok();
  }
  Status Remove(std::string_view name) override {
    map.erase(std::string(name));
    return Status::Ok();
  }
  size_t max_value_size() const override { return 1 << 20; }
  std::map<std::string, std::string> map;
};

class HttpCacheTest : public ::testing::Test {
 protected:
  HttpCacheTest()
      : blobs_(64 << 20, 64 << 20),
        cas_(&blobs_, &records_),
        ac_(&cas_, &records_),
        cache_(&cas_, &ac_, &records_, &metrics_, HttpCache::Options{}) {}

  Digest Store(std::string_view bytes, DigestFunction fn = DigestFunction::kSha256) {
    Digest d = Digest::Of(fn, bytes);
    EXPECT_TRUE(cas_.Put(d, bytes).ok());
    return d;
  }
  // The spool of a request body holding `bytes`.
  const BodySpool& Spool(std::string_view bytes) {
    spools_.push_back(std::make_unique<BodySpool>("/tmp", 1 << 20, DigestFunction::kSha256));
    EXPECT_TRUE(spools_.back()
                    ->Append({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()})
                    .ok());
    return *spools_.back();
  }
  HashBytes Key(std::string_view name) { return HashOf(DigestFunction::kSha256, name); }

  MemoryBlobStore blobs_;
  MapRecords records_;
  CasStore cas_;
  ActionCache ac_;
  HttpMetrics metrics_;
  HttpCache cache_;
  std::vector<std::unique_ptr<BodySpool>> spools_;
};

TEST_F(HttpCacheTest, UnknownHashResolvesToNothing) {
  auto r = cache_.ResolveBlob(DigestFunction::kSha256, Key("x"));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST_F(HttpCacheTest, EmptyBlobAlwaysResolves) {
  Digest empty = EmptyDigest(DigestFunction::kBlake3);
  auto r = cache_.ResolveBlob(DigestFunction::kBlake3, empty.hash());
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, empty);
}

TEST_F(HttpCacheTest, RememberedSizeResolvesAfterCacheIsLost) {
  Digest d = Store("hello world");
  cache_.RememberSize(d);
  EXPECT_EQ(records_.map.at(HttpCache::SizeRecordName(d.function(), d.hash())), "11");
  HttpCache fresh(&cas_, &ac_, &records_, &metrics_, HttpCache::Options{});
  auto r = fresh.ResolveBlob(d.function(), d.hash());
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, d);
}

// The in-memory size cache turns over by generations: a size in use stays
// cached however many others pass through; an unused one is forgotten (and
// then read back from its record).
TEST_F(HttpCacheTest, SizesInUseSurviveTheCacheTurningOver) {
  HttpCache::Options o;
  o.size_cache_entries = 8;
  HttpCache cache(&cas_, &ac_, &records_, &metrics_, o);
  Digest hot = Store("hot blob");
  Digest cold = Store("cold blob");
  cache.RememberSize(hot);
  cache.RememberSize(cold);
  for (int i = 0; i < 40; i++) {
    cache.RememberSize(Store("other " + std::to_string(i)));
    auto known = cache.KnownBlob(hot.function(), hot.hash());
    ASSERT_TRUE(known.has_value()) << i;
    EXPECT_EQ(*known, hot);
  }
  EXPECT_FALSE(cache.KnownBlob(cold.function(), cold.hash()).has_value());
  auto r = cache.ResolveBlob(cold.function(), cold.hash());
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, cold);
  EXPECT_TRUE(cache.KnownBlob(cold.function(), cold.hash()).has_value());  // cached again
}

TEST_F(HttpCacheTest, OpaqueAcValueRoundTrips) {
  std::string value = "ccache result \xff\xfe not a protobuf";
  ASSERT_TRUE(cache_.PutAc("", DigestFunction::kSha256, Key("k"), Spool(value)).ok());
  auto got = cache_.GetAc("", DigestFunction::kSha256, Key("k"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->bytes, value);
}

TEST_F(HttpCacheTest, AcIsNamespacedByInstanceAndFunction) {
  ASSERT_TRUE(cache_.PutAc("a", DigestFunction::kSha256, Key("k"), Spool("1")).ok());
  EXPECT_FALSE(cache_.GetAc("b", DigestFunction::kSha256, Key("k")).ok());
  EXPECT_FALSE(cache_.GetAc("a", DigestFunction::kBlake3, Key("k")).ok());
  EXPECT_TRUE(cache_.GetAc("a", DigestFunction::kSha256, Key("k")).ok());
}

TEST_F(HttpCacheTest, ActionResultWithMissingBlobIsNotFound) {
  Digest present = Store("present output");
  Digest absent = Digest::Of(DigestFunction::kSha256, std::string_view("never stored"));
  reapi::ActionResult result;
  auto* f = result.add_output_files();
  f->set_path("out/a");
  *f->mutable_digest() = DigestToProto(present);
  std::string complete;
  ASSERT_TRUE(result.SerializeToString(&complete));
  ASSERT_TRUE(cache_.PutAc("", DigestFunction::kSha256, Key("ok"), Spool(complete)).ok());
  EXPECT_TRUE(cache_.GetAc("", DigestFunction::kSha256, Key("ok")).ok());

  auto* g = result.add_output_files();
  g->set_path("out/b");
  *g->mutable_digest() = DigestToProto(absent);
  std::string incomplete;
  ASSERT_TRUE(result.SerializeToString(&incomplete));
  ASSERT_TRUE(cache_.PutAc("", DigestFunction::kSha256, Key("bad"), Spool(incomplete)).ok());
  auto got = cache_.GetAc("", DigestFunction::kSha256, Key("bad"));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
  EXPECT_NE(got.status().message().find(absent.hex()), std::string::npos) << got.status().message();
}

TEST_F(HttpCacheTest, StrictModeRefusesNonActionResults) {
  HttpCache::Options o;
  o.ac_strict = true;
  HttpCache strict(&cas_, &ac_, &records_, &metrics_, o);
  Status st = strict.PutAc("", DigestFunction::kSha256, Key("k"), Spool("\xff\xff\xff"));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  reapi::ActionResult result;
  result.set_exit_code(0);
  std::string bytes;
  ASSERT_TRUE(result.SerializeToString(&bytes));
  EXPECT_TRUE(strict.PutAc("", DigestFunction::kSha256, Key("k"), Spool(bytes)).ok());
}

TEST_F(HttpCacheTest, LargeAcValueIsStoredAsBlob) {
  std::string value(600 * 1024, 'v');
  for (size_t i = 0; i < value.size(); i += 7) value[i] = static_cast<char>(i);
  ASSERT_TRUE(cache_.PutAc("", DigestFunction::kSha256, Key("big"), Spool(value)).ok());
  EXPECT_EQ(records_.map.at(HttpCache::AcRecordName("", DigestFunction::kSha256, Key("big")))[0],
            'R');
  auto got = cache_.GetAc("", DigestFunction::kSha256, Key("big"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->bytes, value);  // small enough to be read for the completeness check
}

TEST_F(HttpCacheTest, CompressibleBlobGetsZstdAlternate) {
  std::string text;
  for (int i = 0; i < 2000; i++)
    text += "line " + std::to_string(i % 10) + " of a compressible text\n";
  Digest d = Store(text);
  auto alt = cache_.ZstdAlternate(d);
  ASSERT_TRUE(alt.ok()) << alt.status().ToString();
  ASSERT_TRUE(alt->has_value());
  EXPECT_LT((*alt)->size_bytes(), d.size_bytes() / 4);
  auto again = cache_.ZstdAlternate(d);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(**again, **alt);
}

TEST_F(HttpCacheTest, IncompressibleBlobGetsNone) {
  std::mt19937_64 rng(42);
  std::string noise(8192, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  Digest d = Store(noise);
  auto alt = cache_.ZstdAlternate(d);
  ASSERT_TRUE(alt.ok());
  EXPECT_FALSE(alt->has_value());
  EXPECT_EQ(records_.map.at(HttpCache::AltRecordName(d)), "none");
}

}  // namespace
}  // namespace cycas::api::http
