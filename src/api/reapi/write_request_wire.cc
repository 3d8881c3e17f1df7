#include "api/reapi/write_request_wire.h"

#include "api/reapi/wire_reader.h"
#include "util/config.h"  // IsValidUtf8

namespace cycas::api::reapi {

namespace {

// Field numbers of google/bytestream/bytestream.proto.
constexpr uint32_t kResourceName = 1;
constexpr uint32_t kWriteOffset = 2;
constexpr uint32_t kFinishWrite = 3;
constexpr uint32_t kData = 10;

Status Malformed(std::string_view where) {
  return Status::InvalidArgument("WriteRequest is not valid protobuf: malformed " +
                                 std::string(where));
}

}  // namespace

Status ParseWriteRequest(std::span<const std::string_view> pieces, WriteRequestWire* out) {
  out->resource_name.clear();
  out->write_offset = 0;
  out->finish_write = false;
  out->data.clear();
  out->data_size = 0;
  WireReader r(pieces);
  std::vector<std::string_view> name;
  while (!r.done()) {
    uint32_t field, wire_type;
    if (!r.Tag(&field, &wire_type)) return Malformed("field tag");
    uint64_t v;
    if (field == kResourceName && wire_type == kLengthDelimited) {
      if (!r.LengthDelimited(&name)) return Malformed("resource_name");
      out->resource_name.clear();
      for (std::string_view part : name) out->resource_name.append(part);
      // proto3 refuses a string that is not UTF-8, at every occurrence.
      if (!IsValidUtf8(out->resource_name)) {
        return Status::InvalidArgument("WriteRequest.resource_name is not valid UTF-8");
      }
    } else if (field == kWriteOffset && wire_type == kVarint) {
      if (!r.Varint(&v)) return Malformed("write_offset");
      out->write_offset = static_cast<int64_t>(v);  // int64 is two's complement on the wire
    } else if (field == kFinishWrite && wire_type == kVarint) {
      if (!r.Varint(&v)) return Malformed("finish_write");
      out->finish_write = v != 0;
    } else if (field == kData && wire_type == kLengthDelimited) {
      if (!r.LengthDelimited(&out->data)) return Malformed("data");
      out->data_size = 0;
      for (std::string_view part : out->data) out->data_size += part.size();
    } else if (!r.Skip(wire_type)) {
      return Malformed("field " + std::to_string(field));
    }
  }
  return Status::Ok();
}

}  // namespace cycas::api::reapi
