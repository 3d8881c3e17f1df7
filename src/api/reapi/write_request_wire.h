// google.bytestream.WriteRequest read straight from its wire bytes.
//
// ByteStream Write is Bazel's upload path: every blob arrives as a stream of
// these messages, nearly all of their bytes in `data`. Parsed by protobuf,
// each message's data is first copied out of gRPC's receive slices into a
// string; reading the wire bytes in place instead lets the data go from those
// slices straight to the hash and the store (one pass over every uploaded
// byte fewer), and lets the upload spool keep the slices themselves.
//
// Kept free of gRPC and the generated protos: the bytes are untrusted, and the
// reader is tested and fuzzed on its own against protobuf's parser.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace cycas::api::reapi {

struct WriteRequestWire {
  std::string resource_name;  // copied: short, and compared across messages
  int64_t write_offset = 0;
  bool finish_write = false;
  // The data, as views into the message's pieces, in order.
  std::vector<std::string_view> data;
  uint64_t data_size = 0;
};

// Reads one WriteRequest whose wire bytes are `pieces` in order (a field may
// straddle pieces); `out->data` points into them. Follows protobuf's rules
// (fields in any order, the last occurrence of a field wins, unknown fields
// skipped, resource_name must be UTF-8) except that groups, a wire type
// proto3 never produces, are refused. INVALID_ARGUMENT says what is malformed.
// `out` may be reused across messages (its buffers are kept).
Status ParseWriteRequest(std::span<const std::string_view> pieces, WriteRequestWire* out);

}  // namespace cycas::api::reapi
