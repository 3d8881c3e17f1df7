// fuzz_find_missing_wire: FindMissingBlobsRequest read from its wire bytes
// (api/reapi/find_missing_wire.h), differentially against protobuf's parser.
//
// Checks, for every input:
//   * when both accept it, they read the same instance name, digest function
//     and digests (hash and size, in order);
//   * ours accepts nothing protobuf refuses;
//   * protobuf accepts nothing ours refuses, except a message holding a group
//     (a wire type proto3 never writes; ours refuses groups on purpose);
//   * the response built from every accepted digest parses, with protobuf, to
//     the same digests;
//   * every refusal is INVALID_ARGUMENT with a short message.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/reapi/find_missing_wire.h"
#include "build/bazel/remote/execution/v2/remote_execution.pb.h"
#include "fuzz_check.h"

namespace cycas::fuzz {
namespace {

namespace v2 = build::bazel::remote::execution::v2;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

[[noreturn]] void Fail(const std::string& what) {
  FailIn("fuzz_find_missing_wire", what);
}

bool HasGroup(const UnknownFieldSet& fields) {
  for (int i = 0; i < fields.field_count(); i++) {
    if (fields.field(i).type() == UnknownField::TYPE_GROUP) return true;
  }
  return false;
}

bool RequestHasGroup(const v2::FindMissingBlobsRequest& req) {
  const auto* refl = req.GetReflection();
  if (HasGroup(refl->GetUnknownFields(req))) return true;
  for (const auto& d : req.blob_digests()) {
    if (HasGroup(d.GetReflection()->GetUnknownFields(d))) return true;
  }
  return false;
}

void Check(std::string_view bytes) {
  api::reapi::FindMissingWire wire;
  const Status ours = api::reapi::ParseFindMissingRequest(bytes, &wire);
  v2::FindMissingBlobsRequest ref;
  const bool theirs = ref.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));

  if (!ours.ok()) {
    FUZZ_CHECK(ours.code() == StatusCode::kInvalidArgument, ours.ToString());
    FUZZ_CHECK(!ours.message().empty() && ours.message().size() <= 256, ours.message());
    FUZZ_CHECK(!theirs || RequestHasGroup(ref),
               "protobuf accepts what we refuse: " + ours.message());
    return;
  }
  FUZZ_CHECK(theirs, "we accept what protobuf refuses");
  FUZZ_CHECK(wire.instance_name == ref.instance_name(), "instance_name differs");
  FUZZ_CHECK(wire.digest_function == static_cast<int32_t>(ref.digest_function()),
             "digest_function differs");
  FUZZ_CHECK(static_cast<int>(wire.digests.size()) == ref.blob_digests_size(),
             "digest count differs");
  for (size_t i = 0; i < wire.digests.size(); i++) {
    const auto& r = ref.blob_digests(static_cast<int>(i));
    FUZZ_CHECK(wire.digests[i].hash == r.hash(), "hash differs at " + std::to_string(i));
    FUZZ_CHECK(wire.digests[i].size_bytes == r.size_bytes(),
               "size differs at " + std::to_string(i));
  }

  std::string response;
  for (const auto& d : wire.digests) api::reapi::AppendMissingDigest(d, &response);
  v2::FindMissingBlobsResponse parsed;
  FUZZ_CHECK(parsed.ParseFromString(response), "response does not parse");
  FUZZ_CHECK(static_cast<int>(wire.digests.size()) == parsed.missing_blob_digests_size(),
             "response digest count differs");
  for (size_t i = 0; i < wire.digests.size(); i++) {
    const auto& r = parsed.missing_blob_digests(static_cast<int>(i));
    FUZZ_CHECK(wire.digests[i].hash == r.hash(), "response hash differs at " + std::to_string(i));
    FUZZ_CHECK(wire.digests[i].size_bytes == r.size_bytes(),
               "response size differs at " + std::to_string(i));
  }
}

}  // namespace
}  // namespace cycas::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cycas::fuzz::Check({reinterpret_cast<const char*>(data), size});
  return 0;
}
