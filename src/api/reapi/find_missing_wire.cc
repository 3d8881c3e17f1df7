#include "api/reapi/find_missing_wire.h"

#include <cstdint>

#include "api/reapi/wire_reader.h"
#include "util/config.h"  // IsValidUtf8

namespace cycas::api::reapi {

namespace {

// Field numbers of remote_execution.proto.
constexpr uint32_t kRequestInstanceName = 1;
constexpr uint32_t kRequestBlobDigests = 2;
constexpr uint32_t kRequestDigestFunction = 3;
constexpr uint32_t kDigestHash = 1;
constexpr uint32_t kDigestSizeBytes = 2;
constexpr uint32_t kResponseMissingBlobDigests = 2;

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
      if (!r.LengthDelimitedInOnePiece(&digest->hash))
        return Malformed(DigestField(index) + ".hash");
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
      if (!r.LengthDelimitedInOnePiece(&out->instance_name)) return Malformed("instance_name");
      if (!Utf8(out->instance_name)) return NotUtf8("instance_name");
    } else if (field == kRequestBlobDigests && wire_type == kLengthDelimited) {
      std::string_view encoded;
      if (!r.LengthDelimitedInOnePiece(&encoded))
        return Malformed(DigestField(out->digests.size()));
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
