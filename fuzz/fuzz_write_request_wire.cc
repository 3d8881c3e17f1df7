// fuzz_write_request_wire: ByteStream's WriteRequest read from its wire bytes
// (api/reapi/write_request_wire.h), differentially against protobuf's parser,
// with the bytes cut into pieces the way gRPC's slices cut a message.
//
// Input: byte 0 gives the number of cuts (0..7), the next that many bytes
// where they fall (scaled to the message), the rest is the message.
//
// Checks, for every input:
//   * the same bytes give the same answer whole and cut into pieces;
//   * when protobuf and ours both accept them, they read the same
//     resource_name, write_offset, finish_write and data;
//   * ours accepts nothing protobuf refuses, and refuses nothing protobuf
//     accepts, except a message holding a group (a wire type proto3 never
//     writes; ours refuses groups on purpose);
//   * every refusal is INVALID_ARGUMENT with a short message.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/reapi/write_request_wire.h"
#include "fuzz_check.h"
#include "google/bytestream/bytestream.pb.h"

namespace cycas::fuzz {
namespace {

namespace bs = google::bytestream;
using api::reapi::WriteRequestWire;
using google::protobuf::UnknownField;

[[noreturn]] void Fail(const std::string& what) {
  FailIn("fuzz_write_request_wire", what);
}

bool HasGroup(const bs::WriteRequest& req) {
  const auto& fields = req.GetReflection()->GetUnknownFields(req);
  for (int i = 0; i < fields.field_count(); i++) {
    if (fields.field(i).type() == UnknownField::TYPE_GROUP) return true;
  }
  return false;
}

std::string Joined(const WriteRequestWire& wire) {
  std::string data;
  for (std::string_view part : wire.data) data.append(part);
  return data;
}

void Check(const uint8_t* input, size_t size) {
  if (size == 0) return;
  const size_t ncuts = std::min<size_t>(input[0] % 8, size - 1);
  const std::string_view bytes(reinterpret_cast<const char*>(input) + 1 + ncuts, size - 1 - ncuts);
  std::vector<size_t> cuts;
  for (size_t i = 0; i < ncuts; i++) cuts.push_back(input[1 + i] * (bytes.size() + 1) / 256);
  std::sort(cuts.begin(), cuts.end());
  std::vector<std::string_view> pieces;
  size_t start = 0;
  for (size_t c : cuts) {
    pieces.push_back(bytes.substr(start, c - start));  // empty pieces too
    start = c;
  }
  pieces.push_back(bytes.substr(start));

  WriteRequestWire whole, cut;
  const Status ours_whole = api::reapi::ParseWriteRequest({&bytes, 1}, &whole);
  const Status ours = api::reapi::ParseWriteRequest(pieces, &cut);
  FUZZ_CHECK(ours.code() == ours_whole.code(),
             "cutting changed the answer: " + ours.ToString() + " vs " + ours_whole.ToString());

  bs::WriteRequest ref;
  const bool theirs = ref.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  if (!ours.ok()) {
    FUZZ_CHECK(ours.code() == StatusCode::kInvalidArgument, ours.ToString());
    FUZZ_CHECK(!ours.message().empty() && ours.message().size() <= 256, ours.message());
    FUZZ_CHECK(!theirs || HasGroup(ref), "protobuf accepts what we refuse: " + ours.message());
    return;
  }
  FUZZ_CHECK(theirs, "we accept what protobuf refuses");
  for (const WriteRequestWire* w : {&whole, &cut}) {
    FUZZ_CHECK(w->resource_name == ref.resource_name(), "resource_name differs");
    FUZZ_CHECK(w->write_offset == ref.write_offset(), "write_offset differs");
    FUZZ_CHECK(w->finish_write == ref.finish_write(), "finish_write differs");
    FUZZ_CHECK(w->data_size == ref.data().size(), "data_size differs");
    FUZZ_CHECK(Joined(*w) == ref.data(), "data differs");
  }
}

}  // namespace
}  // namespace cycas::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cycas::fuzz::Check(data, size);
  return 0;
}
