#include "api/reapi/zstd_codec.h"

#include <zstd.h>

#include <algorithm>
#include <bit>

namespace cycas::api::reapi {

namespace {

// Decoder memory is one window; clients compressing small blobs without a
// pledged size use windows up to 8 MiB (zstd levels <= 19), so that is the
// floor, and larger blobs may use zstd's default limit of 128 MiB.
int WindowLogLimit(uint64_t expected_size) {
  int needed = expected_size <= 1 ? 1 : static_cast<int>(std::bit_width(expected_size - 1));
  return std::clamp(needed, 23, 27);
}

Status ZstdError(std::string_view what, size_t code) {
  return Status::InvalidArgument(std::string(what) + ": " + ZSTD_getErrorName(code));
}

}  // namespace

ZstdDecompressor::ZstdDecompressor(uint64_t expected_size)
    : dctx_(ZSTD_createDCtx()), expected_(expected_size) {
  ZSTD_DCtx_setParameter(dctx_, ZSTD_d_windowLogMax, WindowLogLimit(expected_size));
  out_buf_.resize(ZSTD_DStreamOutSize());
}

ZstdDecompressor::~ZstdDecompressor() {
  ZSTD_freeDCtx(dctx_);
}

Status ZstdDecompressor::Feed(std::span<const uint8_t> input, const ByteSink& sink) {
  if (dctx_ == nullptr) return Status::ResourceExhausted("cannot allocate a zstd decoder");
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  if (!input.empty()) fed_any_ = true;
  // Loop until all input is consumed and the decoder has flushed what it can:
  // a full output buffer means more output may be pending.
  while (true) {
    ZSTD_outBuffer out{out_buf_.data(), out_buf_.size(), 0};
    const size_t in_before = in.pos;
    size_t ret = ZSTD_decompressStream(dctx_, &out, &in);
    if (ZSTD_isError(ret)) return ZstdError("corrupt zstd data", ret);
    // A call that made no progress says nothing about the frame (after a
    // frame ends, an empty call reports the next frame's header size).
    if (in.pos != in_before || out.pos > 0) at_frame_boundary_ = ret == 0;
    if (out.pos > 0) {
      if (out.pos > expected_ - produced_) {
        return Status::InvalidArgument("zstd data inflates past the digest's size of " +
                                       std::to_string(expected_) + " bytes");
      }
      produced_ += out.pos;
      RETURN_IF_ERROR(sink({reinterpret_cast<const uint8_t*>(out_buf_.data()), out.pos}));
    }
    // Done when all input is consumed and the decoder has nothing left to
    // flush: a frame ended, or the output buffer was not filled.
    if (in.pos == in.size && (ret == 0 || out.pos < out.size)) return Status::Ok();
  }
}

Status ZstdDecompressor::Finish() const {
  if (!fed_any_ && expected_ == 0) return Status::Ok();
  if (!at_frame_boundary_ || !fed_any_) {
    return Status::InvalidArgument("zstd data is truncated (the stream ended inside a frame)");
  }
  if (produced_ != expected_) {
    return Status::InvalidArgument("zstd data decompressed to " + std::to_string(produced_) +
                                   " bytes; the digest says " + std::to_string(expected_));
  }
  return Status::Ok();
}

ZstdCompressor::ZstdCompressor(int level, uint64_t pledged_size) : cctx_(ZSTD_createCCtx()) {
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setPledgedSrcSize(cctx_, pledged_size);
}

ZstdCompressor::~ZstdCompressor() {
  ZSTD_freeCCtx(cctx_);
}

Status ZstdCompressor::Feed(std::span<const uint8_t> input, std::string* out) {
  if (cctx_ == nullptr) return Status::ResourceExhausted("cannot allocate a zstd encoder");
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  while (in.pos < in.size) {
    size_t old = out->size();
    out->resize(old + ZSTD_CStreamOutSize());
    ZSTD_outBuffer o{out->data() + old, ZSTD_CStreamOutSize(), 0};
    size_t ret = ZSTD_compressStream2(cctx_, &o, &in, ZSTD_e_continue);
    out->resize(old + o.pos);
    if (ZSTD_isError(ret)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(ret));
  }
  return Status::Ok();
}

Status ZstdCompressor::Finish(std::string* out) {
  if (cctx_ == nullptr) return Status::ResourceExhausted("cannot allocate a zstd encoder");
  ZSTD_inBuffer in{nullptr, 0, 0};
  while (true) {
    size_t old = out->size();
    out->resize(old + ZSTD_CStreamOutSize());
    ZSTD_outBuffer o{out->data() + old, ZSTD_CStreamOutSize(), 0};
    size_t remaining = ZSTD_compressStream2(cctx_, &o, &in, ZSTD_e_end);
    out->resize(old + o.pos);
    if (ZSTD_isError(remaining)) {
      return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(remaining));
    }
    if (remaining == 0) return Status::Ok();
  }
}

Result<std::string> ZstdCompress(std::string_view input, int level) {
  std::string out;
  out.resize(ZSTD_compressBound(input.size()));
  size_t n = ZSTD_compress(out.data(), out.size(), input.data(), input.size(), level);
  if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

Result<std::string> ZstdDecompress(std::string_view input, uint64_t expected_size) {
  ZstdDecompressor d(expected_size);
  std::string out;
  // Reserve only what the digest announces, and only as far as output actually arrives.
  out.reserve(std::min<uint64_t>(expected_size, uint64_t{1} << 20));
  RETURN_IF_ERROR(d.Feed({reinterpret_cast<const uint8_t*>(input.data()), input.size()},
                         [&](std::span<const uint8_t> b) {
                           out.append(reinterpret_cast<const char*>(b.data()), b.size());
                           return Status::Ok();
                         }));
  RETURN_IF_ERROR(d.Finish());
  return out;
}

}  // namespace cycas::api::reapi
