// Streaming zstd for REAPI's compressed blobs (libzstd).
//
// Compressed blobs are a wire encoding only: cycas stores the identity bytes
// and verifies uploads against the digest of the uncompressed data. Both
// directions stream with fixed-size buffers, so a blob of any size costs the
// same memory, and decompression is bounded by the size the digest announces:
// a stream that inflates past it (a "zip bomb", or simply the wrong digest) is
// INVALID_ARGUMENT as soon as the excess appears, never an allocation.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "util/status.h"

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;

namespace cycas::api::reapi {

// Receives decompressed (or compressed) output in pieces; an error stops the stream.
using ByteSink = std::function<Status(std::span<const uint8_t>)>;

class ZstdDecompressor {
 public:
  // `expected_size`: the uncompressed size the digest announces (the output bound).
  explicit ZstdDecompressor(uint64_t expected_size);
  ~ZstdDecompressor();
  ZstdDecompressor(const ZstdDecompressor&) = delete;
  ZstdDecompressor& operator=(const ZstdDecompressor&) = delete;

  // Decompresses `input`, passing output to `sink`. INVALID_ARGUMENT on
  // corrupt data, a window too large for the blob, or output beyond the bound.
  Status Feed(std::span<const uint8_t> input, const ByteSink& sink);
  // OK when the input ended at a frame boundary and produced exactly
  // `expected_size` bytes; INVALID_ARGUMENT otherwise.
  Status Finish() const;

  uint64_t produced() const { return produced_; }

 private:
  ZSTD_DCtx_s* dctx_;
  uint64_t expected_;
  uint64_t produced_ = 0;
  bool at_frame_boundary_ = true;
  bool fed_any_ = false;
  std::string out_buf_;
};

class ZstdCompressor {
 public:
  // `pledged_size`: the exact number of bytes that will be fed (recorded in the
  // frame header so that clients can size their buffers).
  ZstdCompressor(int level, uint64_t pledged_size);
  ~ZstdCompressor();
  ZstdCompressor(const ZstdCompressor&) = delete;
  ZstdCompressor& operator=(const ZstdCompressor&) = delete;

  // Compresses `input`, appending output to `*out`.
  Status Feed(std::span<const uint8_t> input, std::string* out);
  // Ends the frame, appending the remaining output to `*out`.
  Status Finish(std::string* out);

 private:
  ZSTD_CCtx_s* cctx_;
};

// One-shot forms for blobs held in memory (batch calls).
Result<std::string> ZstdCompress(std::string_view input, int level);
// Decompresses into a string of exactly `expected_size` bytes (same bounds as above).
Result<std::string> ZstdDecompress(std::string_view input, uint64_t expected_size);

}  // namespace cycas::api::reapi
