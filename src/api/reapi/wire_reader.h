// WireReader: a cursor over protobuf wire bytes, for the requests this
// front-end reads without protobuf's parser (find_missing_wire.h,
// write_request_wire.h).
//
// The bytes are one or more pieces in order: gRPC hands a received message
// over as a list of slices, and reading across them in place is what spares a
// ByteStream upload the copy into a contiguous buffer. A field, a tag or even
// a varint may straddle two pieces.
//
// It applies protobuf's limits: tags are varints of at most 5 bytes, lengths
// varints of at most 5 bytes and at most INT32_MAX - 16. Every read fails,
// rather than reading past the end, on bytes that end too early.
#pragma once

#include <algorithm>
#include <climits>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace cycas::api::reapi {

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : single_(bytes) { Start(std::span(&single_, 1)); }
  // `pieces` must outlive the reader.
  explicit WireReader(std::span<const std::string_view> pieces) { Start(pieces); }
  WireReader(const WireReader&) = delete;  // may point into itself
  WireReader& operator=(const WireReader&) = delete;

  bool done() const { return remaining_ == 0; }

  // Base-128, at most `max_bytes` bytes (10 for a 64-bit value); bits beyond
  // 64 are dropped, as protobuf does.
  bool Varint(uint64_t* value, int max_bytes = 10) {
    uint64_t v = 0;
    for (int shift = 0; shift < 7 * max_bytes; shift += 7) {
      uint8_t byte;
      if (!Byte(&byte)) return false;
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *value = v;
        return true;
      }
    }
    return false;
  }

  // A tag's low 32 bits count (protobuf drops the rest); field 0 does not exist.
  bool Tag(uint32_t* field, uint32_t* wire_type) {
    uint64_t tag;
    if (!Varint(&tag, 5)) return false;
    const auto low = static_cast<uint32_t>(tag);
    if ((low >> 3) == 0) return false;
    *field = low >> 3;
    *wire_type = low & 7;
    return true;
  }

  // A length-delimited value as one view, for a reader over one piece (a
  // value that straddles pieces fails).
  bool LengthDelimitedInOnePiece(std::string_view* out) {
    uint64_t n;
    if (!Length(&n) || n > static_cast<uint64_t>(end_ - p_)) return false;
    *out = std::string_view(p_, static_cast<size_t>(n));
    Advance(n);
    return true;
  }

  // A length-delimited value as views of the pieces it lies in, in order
  // (none for an empty value). Replaces what `out` held.
  bool LengthDelimited(std::vector<std::string_view>* out) {
    uint64_t n;
    if (!Length(&n)) return false;
    out->clear();
    while (n > 0) {
      const auto take = static_cast<size_t>(std::min<uint64_t>(n, end_ - p_));
      out->emplace_back(p_, take);
      Advance(take);
      n -= take;
    }
    return true;
  }

  // Skips the value of a field the caller does not need.
  bool Skip(uint32_t wire_type) {
    uint64_t n;
    switch (wire_type) {
      case kVarint:
        return Varint(&n);
      case kFixed64:
        return Skip(uint64_t{8});
      case kLengthDelimited:
        return Length(&n) && Skip(n);
      case kFixed32:
        return Skip(uint64_t{4});
      default:  // groups (3, 4) and the undefined wire types 6 and 7
        return false;
    }
  }

 private:
  void Start(std::span<const std::string_view> pieces) {
    pieces_ = pieces;
    for (std::string_view p : pieces) remaining_ += p.size();
    Enter(0);
  }

  // Protobuf reads a length as a 32-bit varint (at most 5 bytes) and refuses
  // one above INT32_MAX - 16.
  bool Length(uint64_t* n) {
    return Varint(n, 5) && *n <= uint64_t{INT32_MAX - 16} && *n <= remaining_;
  }

  bool Byte(uint8_t* byte) {
    if (remaining_ == 0) return false;
    *byte = static_cast<uint8_t>(*p_);
    Advance(1);
    return true;
  }

  bool Skip(uint64_t n) {
    if (n > remaining_) return false;
    while (n > 0) {
      const auto take = static_cast<size_t>(std::min<uint64_t>(n, end_ - p_));
      Advance(take);
      n -= take;
    }
    return true;
  }

  // Moves `n` bytes on within the current piece (n <= its rest), then past
  // any exhausted or empty pieces.
  void Advance(uint64_t n) {
    p_ += n;
    remaining_ -= n;
    if (p_ == end_ && remaining_ > 0) Enter(piece_ + 1);
  }

  void Enter(size_t index) {
    while (index < pieces_.size() && pieces_[index].empty()) index++;
    piece_ = index;
    if (index < pieces_.size()) {
      p_ = pieces_[index].data();
      end_ = p_ + pieces_[index].size();
    } else {
      p_ = end_ = nullptr;
    }
  }

  std::string_view single_;  // the one piece of a reader over contiguous bytes
  std::span<const std::string_view> pieces_;
  size_t piece_ = 0;
  const char* p_ = nullptr;
  const char* end_ = nullptr;
  uint64_t remaining_ = 0;  // bytes left in all pieces
};

}  // namespace cycas::api::reapi
