#include "api/reapi/find_missing_wire.h"

#include <cstdint>

#include "util/config.h"  // IsValidUtf8

namespace cycas::api::reapi {

namespace {

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// Field numbers of remote_execution.proto.
constexpr uint32_t kRequestInstanceName = 1;
constexpr uint32_t kRequestBlobDigests = 2;
constexpr uint32_t kRequestDigestFunction = 3;
constexpr uint32_t kDigestHash = 1;
constexpr uint32_t kDigestSizeBytes = 2;
constexpr uint32_t kResponseMissingBlobDigests = 2;

// A cursor over protobuf wire bytes. Every read fails, rather than reading past
// the end, on bytes that end too early.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes)
      : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  bool done() const { return p_ == end_; }

  // Base-128, at most `max_bytes` bytes (10 for a 64-bit value); bits beyond
  // 64 are dropped, as protobuf does.
  bool Varint(uint64_t* value, int max_bytes = 10) {
    uint64_t v = 0;
    for (int shift = 0; shift < 7 * max_bytes; shift += 7) {
      if (p_ == end_) return false;
      const auto byte = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *value = v;
        return true;
      }
    }
    return false;
  }

  // A tag is a varint of at most 5 bytes whose low 32 bits count (protobuf
  // drops the rest); field number 0 does not exist.
  bool Tag(uint32_t* field, uint32_t* wire_type) {
    uint32_t tag = 0;
    for (int i = 0;; i++) {
      if (i == 5 || p_ == end_) return false;
      const auto byte = static_cast<uint8_t>(*p_++);
      tag |= static_cast<uint32_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) break;
    }
    if ((tag >> 3) == 0) return false;
    *field = tag >> 3;
    *wire_type = tag & 7;
    return true;
  }

  // Protobuf reads a length as a 32-bit varint (at most 5 bytes) and refuses
  // one above INT32_MAX - 16.
  bool LengthDelimited(std::string_view* out) {
    uint64_t n;
    if (!Varint(&n, 5) || n > uint64_t{INT32_MAX - 16} || n > static_cast<uint64_t>(end_ - p_)) {
      return false;
    }
    *out = std::string_view(p_, static_cast<size_t>(n));
    p_ += n;
    return true;
  }

  // Skips the value of a field this reader does not need.
  bool Skip(uint32_t wire_type) {
    uint64_t ignored;
    std::string_view ignored_bytes;
    switch (wire_type) {
      case kVarint:
        return Varint(&ignored);
      case kFixed64:
        return Advance(8);
      case kLengthDelimited:
        return LengthDelimited(&ignored_bytes);
      case kFixed32:
        return Advance(4);
      default:  // groups (3, 4) and the undefined wire types 6 and 7
        return false;
    }
  }

 private:
  bool Advance(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }

  const char* p_;
  const char* end_;
};

std::string DigestField(size_t index) {
  return "blob_digests[" + std::to_string(index) + "]";
}

Status Malformed(std::string_view where) {
  return Status::InvalidArgument("FindMissingBlobsRequest is not valid protobuf: malformed " +
                                 std::string(where));
}

// proto3 strings must be UTF-8, every occurrence of them (protobuf refuses
// the message otherwise). Hashes are ASCII, so that case is checked first.
bool Utf8(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return IsValidUtf8(s);
  }
  return true;
}

Status NotUtf8(std::string_view field) {
  return Status::InvalidArgument("FindMissingBlobsRequest." + std::string(field) +
                                 " is not valid UTF-8");
}

Status ParseDigest(std::string_view bytes, size_t index, WireDigest* digest) {
  digest->encoded = bytes;
  WireReader r(bytes);
  while (!r.done()) {
    uint32_t field, wire_type;
    if (!r.Tag(&field, &wire_type)) return Malformed("field tag in " + DigestField(index));
    if (field == kDigestHash && wire_type == kLengthDelimited) {
      if (!r.LengthDelimited(&digest->hash)) return Malformed(DigestField(index) + ".hash");
      if (!Utf8(digest->hash)) return NotUtf8(DigestField(index) + ".hash");
    } else if (field == kDigestSizeBytes && wire_type == kVarint) {
      uint64_t v;
      if (!r.Varint(&v)) return Malformed(DigestField(index) + ".size_bytes");
      digest->size_bytes = static_cast<int64_t>(v);  // int64 is two's complement on the wire
    } else if (!r.Skip(wire_type)) {
      return Malformed("field " + std::to_string(field) + " in " + DigestField(index));
    }
  }
  return Status::Ok();
}

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

}  // namespace

Status ParseFindMissingRequest(std::string_view bytes, FindMissingWire* out) {
  *out = FindMissingWire{};
  WireReader r(bytes);
  while (!r.done()) {
    uint32_t field, wire_type;
    if (!r.Tag(&field, &wire_type)) return Malformed("field tag");
    if (field == kRequestInstanceName && wire_type == kLengthDelimited) {
      if (!r.LengthDelimited(&out->instance_name)) return Malformed("instance_name");
      if (!Utf8(out->instance_name)) return NotUtf8("instance_name");
    } else if (field == kRequestBlobDigests && wire_type == kLengthDelimited) {
      std::string_view encoded;
      if (!r.LengthDelimited(&encoded)) return Malformed(DigestField(out->digests.size()));
      WireDigest d;
      RETURN_IF_ERROR(ParseDigest(encoded, out->digests.size(), &d));
      out->digests.push_back(d);
    } else if (field == kRequestDigestFunction && wire_type == kVarint) {
      uint64_t v;
      if (!r.Varint(&v)) return Malformed("digest_function");
      out->digest_function = static_cast<int32_t>(static_cast<uint32_t>(v));  // int32: low 32 bits
    } else if (!r.Skip(wire_type)) {
      return Malformed("field " + std::to_string(field));
    }
  }
  return Status::Ok();
}

void AppendMissingDigest(const WireDigest& digest, std::string* response) {
  AppendVarint((kResponseMissingBlobDigests << 3) | kLengthDelimited, response);
  AppendVarint(digest.encoded.size(), response);
  response->append(digest.encoded);
}

}  // namespace cycas::api::reapi
