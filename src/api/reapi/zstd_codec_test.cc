#include "api/reapi/zstd_codec.h"

#include <gtest/gtest.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getFrameHeader, to check the test frame
#include <zstd.h>

#include <random>

namespace cycas::api::reapi {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string Compressible(size_t n) {
  std::string s;
  while (s.size() < n)
    s += "the same line again and again, number " + std::to_string(s.size() % 7) + "\n";
  s.resize(n);
  return s;
}

TEST(ZstdCodecTest, OneShotRoundTrip) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{1000}, size_t{300000}}) {
    std::string in = Compressible(n);
    auto packed = ZstdCompress(in, 1);
    ASSERT_TRUE(packed.ok());
    auto out = ZstdDecompress(*packed, n);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(*out, in);
  }
}

TEST(ZstdCodecTest, StreamingCompressionDecodesWithLibzstd) {
  std::string in = Random(1 << 20, 7) + Compressible(1 << 20);
  ZstdCompressor enc(3, in.size());
  std::string packed;
  for (size_t off = 0; off < in.size(); off += 100000) {
    ASSERT_TRUE(enc.Feed(Bytes(in.substr(off, 100000)), &packed).ok());
  }
  ASSERT_TRUE(enc.Finish(&packed).ok());
  EXPECT_EQ(ZSTD_getFrameContentSize(packed.data(), packed.size()), in.size());
  std::string out(in.size(), '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), packed.data(), packed.size());
  ASSERT_FALSE(ZSTD_isError(n));
  EXPECT_EQ(out, in);
}

TEST(ZstdCodecTest, IncompressibleDataFedWholeOrInPieces) {
  // Raw blocks: the decoder's output buffer fills exactly at the frame's end.
  std::string in = Random(1 << 20, 16);
  std::string packed = *ZstdCompress(in, 3);
  for (size_t piece : {size_t{1} << 22, size_t{65536}, size_t{16384}}) {
    ZstdDecompressor dec(in.size());
    std::string out;
    for (size_t off = 0; off < packed.size(); off += piece) {
      ASSERT_TRUE(dec.Feed(Bytes(packed.substr(off, piece)),
                           [&](std::span<const uint8_t> b) {
                             out.append(reinterpret_cast<const char*>(b.data()), b.size());
                             return Status::Ok();
                           })
                      .ok());
    }
    ASSERT_TRUE(dec.Finish().ok()) << "piece " << piece << ": " << dec.Finish().ToString();
    EXPECT_EQ(out, in);
  }
}

TEST(ZstdCodecTest, StreamingDecompressionInTinyPieces) {
  std::string in = Compressible(200000);
  std::string packed = *ZstdCompress(in, 5);
  ZstdDecompressor dec(in.size());
  std::string out;
  auto sink = [&](std::span<const uint8_t> b) {
    out.append(reinterpret_cast<const char*>(b.data()), b.size());
    return Status::Ok();
  };
  for (size_t off = 0; off < packed.size(); off += 7) {
    ASSERT_TRUE(dec.Feed(Bytes(packed.substr(off, 7)), sink).ok());
  }
  ASSERT_TRUE(dec.Finish().ok()) << dec.Finish().ToString();
  EXPECT_EQ(out, in);
}

TEST(ZstdCodecTest, ConcatenatedFramesDecodeToTheConcatenation) {
  std::string a = Compressible(5000), b = Random(3000, 1);
  std::string packed = *ZstdCompress(a, 1) + *ZstdCompress(b, 1);
  auto out = ZstdDecompress(packed, a.size() + b.size());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, a + b);
}

TEST(ZstdCodecTest, BombIsStoppedAtTheDigestSize) {
  // 64 MiB of zeros compresses to a few KiB; the digest claims 1000 bytes.
  std::string zeros(64 << 20, '\0');
  std::string packed = *ZstdCompress(zeros, 1);
  ASSERT_LT(packed.size(), 1u << 20);
  ZstdDecompressor dec(1000);
  uint64_t delivered = 0;
  Status st = dec.Feed(Bytes(packed), [&](std::span<const uint8_t> b) {
    delivered += b.size();
    return Status::Ok();
  });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("inflates past"), std::string::npos) << st.message();
  EXPECT_LE(delivered, 1000u);
}

TEST(ZstdCodecTest, ShortOutputIsAnError) {
  std::string in = Compressible(5000);
  auto out = ZstdDecompress(*ZstdCompress(in, 1), 6000);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("5000"), std::string::npos) << out.status().message();
}

TEST(ZstdCodecTest, TruncatedStreamIsAnError) {
  std::string in = Random(50000, 3);
  std::string packed = *ZstdCompress(in, 1);
  auto out = ZstdDecompress(packed.substr(0, packed.size() - 10), in.size());
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
}

TEST(ZstdCodecTest, GarbageIsAnError) {
  auto out = ZstdDecompress(Random(1000, 5), 1000);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("corrupt zstd"), std::string::npos);
}

TEST(ZstdCodecTest, EmptyBlobAcceptsNoDataOrAnEmptyFrame) {
  EXPECT_TRUE(ZstdDecompress("", 0).ok());
  auto out = ZstdDecompress(*ZstdCompress("", 1), 0);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(out->empty());
}

TEST(ZstdCodecTest, OversizedWindowForASmallBlobIsRefused) {
  // A frame declaring a 128 MiB window (no content size) for a 10-byte blob:
  // the decoder would reserve the window, so the bound refuses it.
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 27);
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
  std::string in = "0123456789";
  std::string packed(ZSTD_compressBound(in.size()) + 64, '\0');
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  ZSTD_outBuffer ob{packed.data(), packed.size(), 0};
  // Fed as a stream of unknown length, so zstd keeps the requested window.
  ASSERT_FALSE(ZSTD_isError(ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_continue)));
  ASSERT_EQ(ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end), 0u);
  packed.resize(ob.pos);
  ZSTD_freeCCtx(c);
  ZSTD_frameHeader h;
  ASSERT_EQ(ZSTD_getFrameHeader(&h, packed.data(), packed.size()), 0u);
  ASSERT_GE(h.windowSize, 1ull << 27) << "zstd shrank the window; the test needs a large one";
  auto out = ZstdDecompress(packed, in.size());
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
}

TEST(ZstdCodecTest, SinkErrorsStopDecompression) {
  std::string packed = *ZstdCompress(Compressible(100000), 1);
  ZstdDecompressor dec(100000);
  Status st = dec.Feed(Bytes(packed),
                       [](std::span<const uint8_t>) { return Status::Internal("disk full"); });
  EXPECT_EQ(st.code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace cycas::api::reapi
