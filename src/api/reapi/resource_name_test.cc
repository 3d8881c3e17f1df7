#include "api/reapi/resource_name.h"

#include <gtest/gtest.h>

#include <random>

namespace cycas::api::reapi {
namespace {

const std::string kHash = "ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd";
const std::string kUuid = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";

void ExpectInvalid(const Status& st, std::string_view mentions) {
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find(mentions), std::string::npos)
      << "message should mention '" << mentions << "': " << st.message();
}

// ---- Reads ----------------------------------------------------------------

TEST(ResourceNameTest, ReadWithoutInstanceIsSha256) {
  auto r = ParseReadResourceName("blobs/" + kHash + "/42");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->instance, "");
  EXPECT_EQ(r->compressor, Compressor::kIdentity);
  EXPECT_EQ(r->digest.function(), DigestFunction::kSha256);
  EXPECT_EQ(r->digest.hex(), kHash);
  EXPECT_EQ(r->digest.size_bytes(), 42u);
}

TEST(ResourceNameTest, ReadWithMultiSegmentInstance) {
  auto r = ParseReadResourceName("ci/linux/x86/blobs/" + kHash + "/0");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->instance, "ci/linux/x86");
  EXPECT_EQ(r->digest.size_bytes(), 0u);
}

TEST(ResourceNameTest, ReadBlake3NamesTheFunction) {
  auto r = ParseReadResourceName("main/blobs/blake3/" + kHash + "/7");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->instance, "main");
  EXPECT_EQ(r->digest.function(), DigestFunction::kBlake3);
}

TEST(ResourceNameTest, ReadCompressedZstd) {
  auto r = ParseReadResourceName("compressed-blobs/zstd/" + kHash + "/9");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->compressor, Compressor::kZstd);
  auto b = ParseReadResourceName("i/compressed-blobs/zstd/blake3/" + kHash + "/9");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->digest.function(), DigestFunction::kBlake3);
  EXPECT_EQ(b->instance, "i");
}

TEST(ResourceNameTest, LargestSizeAccepted) {
  auto r = ParseReadResourceName("blobs/" + kHash + "/9223372036854775807");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->digest.size_bytes(), 9223372036854775807ull);
}

TEST(ResourceNameTest, ReadRejectsMalformedSizes) {
  for (const char* size : {"", "-1", "+1", "01", "1x", "9223372036854775808",
                           "99999999999999999999", " 1", "0x10", "1.0"}) {
    auto r = ParseReadResourceName("blobs/" + kHash + "/" + size);
    EXPECT_FALSE(r.ok()) << size;
    if (!r.ok() && std::string(size).size() > 0) ExpectInvalid(r.status(), "size");
  }
}

TEST(ResourceNameTest, ReadRejectsMalformedHashes) {
  ExpectInvalid(ParseReadResourceName("blobs/" + kHash.substr(1) + "/1").status(), "hash");
  std::string upper = kHash;
  upper[3] = 'A';
  ExpectInvalid(ParseReadResourceName("blobs/" + upper + "/1").status(), "hash");
  std::string bad = kHash;
  bad[10] = 'g';
  ExpectInvalid(ParseReadResourceName("blobs/" + bad + "/1").status(), "hash");
  ExpectInvalid(ParseReadResourceName("blobs//1").status(), "hash");
}

TEST(ResourceNameTest, LegacyHashLengthsAreNamed) {
  std::string sha1(40, 'a');
  ExpectInvalid(ParseReadResourceName("blobs/" + sha1 + "/1").status(), "SHA-1");
  std::string sha512(128, 'a');
  ExpectInvalid(ParseReadResourceName("blobs/" + sha512 + "/1").status(), "SHA-512");
}

TEST(ResourceNameTest, Sha256SegmentMustBeOmitted) {
  ExpectInvalid(ParseReadResourceName("blobs/sha256/" + kHash + "/1").status(), "must be omitted");
}

TEST(ResourceNameTest, UnsupportedDigestFunctionsAreNamed) {
  for (const char* fn : {"sha1", "md5", "sha384", "sha512", "vso", "murmur3", "sha256tree"}) {
    ExpectInvalid(ParseReadResourceName(std::string("blobs/") + fn + "/" + kHash + "/1").status(),
                  fn);
  }
}

TEST(ResourceNameTest, DigestFunctionNamesAreCaseSensitive) {
  EXPECT_FALSE(ParseReadResourceName("blobs/BLAKE3/" + kHash + "/1").ok());
}

TEST(ResourceNameTest, UnsupportedCompressorsAreNamed) {
  ExpectInvalid(ParseReadResourceName("compressed-blobs/deflate/" + kHash + "/1").status(),
                "deflate");
  ExpectInvalid(ParseReadResourceName("compressed-blobs/brotli/" + kHash + "/1").status(),
                "brotli");
  ExpectInvalid(ParseReadResourceName("compressed-blobs/identity/" + kHash + "/1").status(),
                "identity");
  ExpectInvalid(ParseReadResourceName("compressed-blobs/ZSTD/" + kHash + "/1").status(), "ZSTD");
  ExpectInvalid(ParseReadResourceName("compressed-blobs").status(), "compressor");
  ExpectInvalid(ParseReadResourceName("compressed-blobs//" + kHash + "/1").status(), "compressor");
}

TEST(ResourceNameTest, ReadRejectsTrailingParts) {
  ExpectInvalid(ParseReadResourceName("blobs/" + kHash + "/1/extra").status(), "after {size}");
  ExpectInvalid(ParseReadResourceName("blobs/" + kHash + "/1/").status(), "after {size}");
}

TEST(ResourceNameTest, ReadRejectsMissingParts) {
  ExpectInvalid(ParseReadResourceName("").status(), "empty");
  ExpectInvalid(ParseReadResourceName("blobs").status(), "missing {hash}");
  ExpectInvalid(ParseReadResourceName("blobs/" + kHash).status(), "missing {size}");
  ExpectInvalid(ParseReadResourceName("blobs/blake3").status(), "missing {hash}");
  ExpectInvalid(ParseReadResourceName("instance/only").status(), "blobs");
}

TEST(ResourceNameTest, ReadRejectsUploadNames) {
  ExpectInvalid(ParseReadResourceName("uploads/" + kUuid + "/blobs/" + kHash + "/1").status(),
                "uploads");
}

TEST(ResourceNameTest, ReadRejectsBadInstances) {
  ExpectInvalid(ParseReadResourceName("/blobs/" + kHash + "/1").status(), "instance_name");
  ExpectInvalid(ParseReadResourceName("a//b/blobs/" + kHash + "/1").status(), "empty");
  ExpectInvalid(ParseReadResourceName("a/../blobs/" + kHash + "/1").status(), "..");
  ExpectInvalid(ParseReadResourceName("actions/blobs/" + kHash + "/1").status(), "reserved");
  ExpectInvalid(ParseReadResourceName("x/operations/blobs/" + kHash + "/1").status(), "reserved");
  ExpectInvalid(ParseReadResourceName(std::string("a\x01/blobs/") + kHash + "/1").status(),
                "control");
}

TEST(ResourceNameTest, OverlongNamesAreRefusedBeforeParsing) {
  std::string name(kMaxResourceNameLength + 1, 'a');
  ExpectInvalid(ParseReadResourceName(name).status(), "at most");
  ExpectInvalid(ParseWriteResourceName(name).status(), "at most");
}

TEST(ResourceNameTest, ErrorsDoNotEchoRawBytes) {
  std::string name = std::string("\xff\xfe\x00zz", 5) + "/blobs/" + kHash + "/1";
  auto r = ParseReadResourceName(name);
  ASSERT_FALSE(r.ok());
  for (char c : r.status().message()) {
    auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u >= 0x20 && u < 0x7f) << "raw byte " << int(u) << " in: " << r.status().message();
  }
}

// ---- Writes ---------------------------------------------------------------

TEST(ResourceNameTest, WriteWithoutInstance) {
  auto w = ParseWriteResourceName("uploads/" + kUuid + "/blobs/" + kHash + "/42");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->instance, "");
  EXPECT_EQ(w->uuid, kUuid);
  EXPECT_EQ(w->compressor, Compressor::kIdentity);
  EXPECT_EQ(w->digest.size_bytes(), 42u);
  EXPECT_EQ(w->metadata, "");
}

TEST(ResourceNameTest, WriteWithInstanceMetadataAndBlake3) {
  auto w = ParseWriteResourceName("a/b/uploads/" + kUuid + "/blobs/blake3/" + kHash +
                                  "/5/foo/bar/baz.cc");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->instance, "a/b");
  EXPECT_EQ(w->digest.function(), DigestFunction::kBlake3);
  EXPECT_EQ(w->metadata, "foo/bar/baz.cc");
}

TEST(ResourceNameTest, MetadataMayLookLikeAnything) {
  // Anything after the size is ignored, even words that are reserved elsewhere.
  auto w = ParseWriteResourceName("uploads/" + kUuid + "/blobs/" + kHash + "/5/blobs/uploads/x");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->metadata, "blobs/uploads/x");
}

TEST(ResourceNameTest, WriteCompressed) {
  auto w = ParseWriteResourceName("uploads/" + kUuid + "/compressed-blobs/zstd/" + kHash + "/5");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->compressor, Compressor::kZstd);
}

TEST(ResourceNameTest, UppercaseUuidAccepted) {
  std::string upper = "3F2504E0-4F89-41D3-9A0C-0305E82C3301";
  EXPECT_TRUE(ParseWriteResourceName("uploads/" + upper + "/blobs/" + kHash + "/5").ok());
}

TEST(ResourceNameTest, WriteRejectsBadUuids) {
  for (std::string uuid :
       {"", "x", "3f2504e0-4f89-41d3-9a0c-0305e82c330", "3f2504e04f8941d39a0c0305e82c3301",
        "3f2504e0-4f89-41d3-9a0c-0305e82c330g", "3f2504e0_4f89-41d3-9a0c-0305e82c3301", "blobs"}) {
    auto w = ParseWriteResourceName("uploads/" + uuid + "/blobs/" + kHash + "/5");
    ASSERT_FALSE(w.ok()) << uuid;
    ExpectInvalid(w.status(), uuid.empty() ? "uuid" : "uuid");
  }
}

TEST(ResourceNameTest, WriteRejectsReadNamesAndMissingParts) {
  ExpectInvalid(ParseWriteResourceName("blobs/" + kHash + "/5").status(), "uploads");
  ExpectInvalid(ParseWriteResourceName("uploads").status(), "uuid");
  ExpectInvalid(ParseWriteResourceName("uploads/" + kUuid).status(), "blobs");
  ExpectInvalid(ParseWriteResourceName("uploads/" + kUuid + "/things/" + kHash + "/5").status(),
                "expected 'blobs'");
  ExpectInvalid(ParseWriteResourceName("uploads/" + kUuid + "/blobs/" + kHash).status(), "size");
  ExpectInvalid(ParseWriteResourceName("uploads/" + kUuid + "/blobs/" + kHash + "/5/").status(),
                "metadata");
}

TEST(ResourceNameTest, WriteRejectsReservedInstanceSegments) {
  ExpectInvalid(
      ParseWriteResourceName("capabilities/uploads/" + kUuid + "/blobs/" + kHash + "/5").status(),
      "reserved");
}

TEST(ResourceNameTest, UploadKeyIgnoresCompressorAndMetadata) {
  auto a = ParseWriteResourceName("i/uploads/" + kUuid + "/blobs/" + kHash + "/5");
  auto b =
      ParseWriteResourceName("i/uploads/" + kUuid + "/compressed-blobs/zstd/" + kHash + "/5/m");
  auto c = ParseWriteResourceName("j/uploads/" + kUuid + "/blobs/" + kHash + "/5");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->UploadKey(), b->UploadKey());
  EXPECT_NE(a->UploadKey(), c->UploadKey());
}

TEST(ResourceNameTest, FormatRoundTrips) {
  auto d = Digest::FromHex(DigestFunction::kBlake3, kHash, 77);
  ASSERT_TRUE(d.ok());
  for (auto comp : {Compressor::kIdentity, Compressor::kZstd}) {
    for (std::string inst : {"", "a", "a/b"}) {
      auto r = ParseReadResourceName(FormatReadResourceName(inst, comp, *d));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->instance, inst);
      EXPECT_EQ(r->compressor, comp);
      EXPECT_EQ(r->digest, *d);
      auto w = ParseWriteResourceName(FormatWriteResourceName(inst, kUuid, comp, *d));
      ASSERT_TRUE(w.ok()) << w.status().ToString();
      EXPECT_EQ(w->instance, inst);
      EXPECT_EQ(w->compressor, comp);
      EXPECT_EQ(w->digest, *d);
    }
  }
}

// Random mutations of valid names must never crash, and any name that parses
// must format back to a name that parses to the same thing.
TEST(ResourceNameTest, RandomMutationsParseOrFailCleanly) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const std::vector<std::string> bases = {
      "blobs/" + kHash + "/12", "a/b/compressed-blobs/zstd/blake3/" + kHash + "/3",
      "uploads/" + kUuid + "/blobs/" + kHash + "/5/meta",
      "x/uploads/" + kUuid + "/compressed-blobs/zstd/" + kHash + "/5"};
  const std::string alphabet("/abz09-.\x00\xff", 10);
  for (int i = 0; i < 20000; i++) {
    std::string s = bases[rng() % bases.size()];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); e++) {
      size_t pos = rng() % s.size();
      switch (rng() % 3) {
        case 0:
          s[pos] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          s.erase(pos, 1);
          break;
        default:
          s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
      }
    }
    if (auto r = ParseReadResourceName(s); r.ok()) {
      auto again =
          ParseReadResourceName(FormatReadResourceName(r->instance, r->compressor, r->digest));
      ASSERT_TRUE(again.ok()) << s;
      EXPECT_EQ(again->digest, r->digest);
    }
    if (auto w = ParseWriteResourceName(s); w.ok()) {
      auto again = ParseWriteResourceName(
          FormatWriteResourceName(w->instance, w->uuid, w->compressor, w->digest));
      ASSERT_TRUE(again.ok()) << s;
      EXPECT_EQ(again->UploadKey(), w->UploadKey());
    }
  }
}

}  // namespace
}  // namespace cycas::api::reapi
