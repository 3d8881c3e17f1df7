#include "engine/alternates.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace cycas::engine {
namespace {

std::span<const uint8_t> B(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string ReadAll(ObjectReader& r) {
  std::string s(r.size(), '\0');
  uint64_t off = 0;
  while (off < s.size())
    off += *r.Read(off, {reinterpret_cast<uint8_t*>(s.data()) + off, s.size() - off});
  return s;
}

class AlternatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = testing::TempDir() + "/cycas_alt_" + std::to_string(getpid());
    std::filesystem::remove(path_);
    EngineOptions o;
    o.path = path_;
    o.size = 16 << 20;
    o.stripes = 1;
    o.aggregation_bytes = 256 << 10;
    o.fragment_size = 64 << 10;
    engine_ = std::move(*Engine::Open(o));
    first_.bytes.fill(0x42);
  }
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove(path_);
  }
  std::string path_;
  std::unique_ptr<Engine> engine_;
  Key first_;
};

TEST_F(AlternatesTest, SelectsTheFirstAcceptableStoredVariant) {
  AlternatesStore alt(engine_.get());
  ASSERT_TRUE(alt.Put(first_, "identity", B("plain bytes")).ok());
  ASSERT_TRUE(alt.Put(first_, "zstd", B("squeezed")).ok());
  std::vector<std::string> prefer_zstd = {"zstd", "identity"};
  auto s = alt.Select(first_, prefer_zstd);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->alternate.encoding, "zstd");
  EXPECT_EQ(ReadAll(*s->reader), "squeezed");
  std::vector<std::string> identity_only = {"identity"};
  s = alt.Select(first_, identity_only);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(ReadAll(*s->reader), "plain bytes");
  std::vector<std::string> brotli = {"br"};
  EXPECT_EQ(alt.Select(first_, brotli).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(alt.List(first_)->size(), 2u);
}

TEST_F(AlternatesTest, MissingVariantBytesFallBackToNextPreference) {
  AlternatesStore alt(engine_.get());
  ASSERT_TRUE(alt.Put(first_, "identity", B("plain")).ok());
  ASSERT_TRUE(alt.Put(first_, "zstd", B("z")).ok());
  ASSERT_TRUE(engine_->Remove(AlternatesStore::VariantKey(first_, "zstd")).ok());
  std::vector<std::string> prefer = {"zstd", "identity"};
  auto s = alt.Select(first_, prefer);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->alternate.encoding, "identity");
}

TEST_F(AlternatesTest, DecodeRejectsTruncatedVectors) {
  std::vector<Alternate> v = {{"identity", 5, first_}};
  std::string enc = EncodeAlternates(v);
  EXPECT_TRUE(DecodeAlternates(enc).ok());
  for (size_t cut = 0; cut < enc.size(); cut++) {
    EXPECT_FALSE(DecodeAlternates(std::string_view(enc).substr(0, cut)).ok()) << cut;
  }
}

}  // namespace
}  // namespace cycas::engine
