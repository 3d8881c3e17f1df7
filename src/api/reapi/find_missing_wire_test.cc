#include "api/reapi/find_missing_wire.h"

#include <gtest/gtest.h>

#include "build/bazel/remote/execution/v2/remote_execution.pb.h"

namespace cycas::api::reapi {
namespace {

namespace v2 = build::bazel::remote::execution::v2;

std::string Hash(char c) {
  return std::string(64, c);
}

TEST(FindMissingWireTest, ReadsWhatProtobufWrites) {
  v2::FindMissingBlobsRequest req;
  req.set_instance_name("ci/linux");
  req.set_digest_function(v2::DigestFunction::BLAKE3);
  for (int i = 0; i < 300; i++) {
    auto* d = req.add_blob_digests();
    d->set_hash(Hash(static_cast<char>('a' + i % 6)));
    d->set_size_bytes(i == 7 ? -5 : int64_t{1} << (i % 50));
  }
  const std::string bytes = req.SerializeAsString();
  FindMissingWire wire;
  ASSERT_TRUE(ParseFindMissingRequest(bytes, &wire).ok());
  EXPECT_EQ(wire.instance_name, "ci/linux");
  EXPECT_EQ(wire.digest_function, v2::DigestFunction::BLAKE3);
  ASSERT_EQ(wire.digests.size(), 300u);
  for (int i = 0; i < 300; i++) {
    EXPECT_EQ(wire.digests[i].hash, req.blob_digests(i).hash()) << i;
    EXPECT_EQ(wire.digests[i].size_bytes, req.blob_digests(i).size_bytes()) << i;
  }
}

TEST(FindMissingWireTest, ResponseParsesAsTheDigestsItWasGiven) {
  v2::FindMissingBlobsRequest req;
  for (int i = 0; i < 5; i++) {
    auto* d = req.add_blob_digests();
    d->set_hash(Hash(static_cast<char>('0' + i)));
    d->set_size_bytes(1000 + i);
  }
  const std::string bytes = req.SerializeAsString();  // the views point into it
  FindMissingWire wire;
  ASSERT_TRUE(ParseFindMissingRequest(bytes, &wire).ok());
  std::string out;
  AppendMissingDigest(wire.digests[3], &out);
  AppendMissingDigest(wire.digests[1], &out);
  v2::FindMissingBlobsResponse resp;
  ASSERT_TRUE(resp.ParseFromString(out));
  ASSERT_EQ(resp.missing_blob_digests_size(), 2);
  EXPECT_EQ(resp.missing_blob_digests(0).hash(), Hash('3'));
  EXPECT_EQ(resp.missing_blob_digests(0).size_bytes(), 1003);
  EXPECT_EQ(resp.missing_blob_digests(1).hash(), Hash('1'));
  EXPECT_EQ(resp.missing_blob_digests(1).size_bytes(), 1001);
  EXPECT_TRUE(ParseFindMissingRequest("", &wire).ok());  // the empty request
  EXPECT_TRUE(wire.digests.empty());
}

// Protobuf's rules for what a parser must accept: fields in any order, the
// last value of a scalar wins, unknown fields of every wire type are skipped.
TEST(FindMissingWireTest, FollowsProtobufRulesForOrderRepeatsAndUnknownFields) {
  std::string bytes;
  bytes += std::string("\x18\x01", 2);                         // digest_function = SHA256
  bytes += std::string("\x0a\x03old", 5);                      // instance_name = "old"
  bytes += std::string("\x12\x06\x10\x07\x0a\x02", 6) + "ab";  // {size 7, hash "ab"}
  bytes += std::string("\x28\x96\x01", 3);                     // unknown varint field 5
  bytes += std::string("\x31", 1) + std::string(8, 'x');       // unknown fixed64 field 6
  bytes += std::string("\x3d", 1) + std::string(4, 'y');       // unknown fixed32 field 7
  bytes += std::string("\x42\x02zz", 4);                       // unknown length-delimited field 8
  bytes += std::string("\x0a\x03new", 5);                      // instance_name again: last wins
  bytes += std::string("\x18\x09", 2);                         // digest_function = BLAKE3
  // A digest with an unknown field, a repeated hash and a size sent as a
  // fixed32 (wrong wire type: protobuf keeps it as unknown, size stays 0).
  const std::string digest =
      std::string("\x0a\x01q\x18\x01\x0a\x02", 7) + "cd" + std::string("\x15\0\0\0\0", 5);
  bytes += std::string("\x12") + static_cast<char>(digest.size()) + digest;
  // A 5-byte tag whose bits past 32 protobuf drops: field 6, varint, unknown.
  bytes += std::string("\xb0\x80\x80\x80\x70\x01", 6);
  v2::FindMissingBlobsRequest ref;
  ASSERT_TRUE(ref.ParseFromString(bytes));
  FindMissingWire wire;
  ASSERT_TRUE(ParseFindMissingRequest(bytes, &wire).ok());
  EXPECT_EQ(wire.instance_name, ref.instance_name());
  EXPECT_EQ(wire.instance_name, "new");
  EXPECT_EQ(wire.digest_function, ref.digest_function());
  ASSERT_EQ(static_cast<int>(wire.digests.size()), ref.blob_digests_size());
  for (size_t i = 0; i < wire.digests.size(); i++) {
    EXPECT_EQ(wire.digests[i].hash, ref.blob_digests(i).hash());
    EXPECT_EQ(wire.digests[i].size_bytes, ref.blob_digests(i).size_bytes());
  }
  EXPECT_EQ(wire.digests[1].hash, "cd");
  EXPECT_EQ(wire.digests[1].size_bytes, 0);
}

TEST(FindMissingWireTest, MalformedBytesAreRefusedWithWhatIsWrong) {
  struct Case {
    std::string bytes;
    std::string says;
  };
  const Case cases[] = {
      {std::string("\x0f", 1), "field 1"},                                 // wire type 7
      {std::string("\x00\x00", 2), "field tag"},                           // field number 0
      {std::string("\x0a\x05", 2) + "abc", "instance_name"},               // length past the end
      {std::string("\x12\x04\x0a\x05", 4) + "ab", "blob_digests[0]"},      // hash past its digest
      {std::string("\x12\x02\x10\x80", 4), "blob_digests[0].size_bytes"},  // truncated varint
      {std::string("\x18") + std::string(10, '\xff') + "\x01", "digest_function"},  // 11 bytes
      {std::string("\x1b\x1c", 2), "field 3"},  // a group (wire type 3)
      {std::string("\x12\x00\x12\x01\x07", 5), "field tag in blob_digests[1]"},
      // A length is a 32-bit varint: 8 bytes is too long even for the value 0.
      {std::string("\x12\x80\x80\x80\x80\x80\x80\x80\x00", 9), "blob_digests[0]"},
      {std::string("\xf8\xff\xff\xff\xff\x01\x00", 7), "field tag"},  // a 6-byte tag
  };
  for (const Case& c : cases) {
    FindMissingWire wire;
    Status st = ParseFindMissingRequest(c.bytes, &wire);
    ASSERT_FALSE(st.ok()) << c.says;
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find(c.says), std::string::npos) << st.message();
    // Protobuf refuses the same bytes, except the group, which it skips as an
    // unknown field (proto3 never writes one; refusing it is our choice).
    v2::FindMissingBlobsRequest ref;
    EXPECT_EQ(ref.ParseFromString(c.bytes), c.bytes == std::string("\x1b\x1c", 2)) << c.says;
  }
  // Strings must be UTF-8 wherever they occur, even when a later occurrence
  // replaces them (protobuf refuses such a message too).
  const std::string not_utf8[] = {
      std::string("\x0a\x02\xc3\x28", 4),
      std::string("\x0a\x02\xc3\x28\x0a\x01x", 7),
      std::string("\x12\x07\x0a\x01\xff\x0a\x02", 7) + "ab",
  };
  const std::string field[] = {"instance_name", "instance_name", "blob_digests[0].hash"};
  for (int i = 0; i < 3; i++) {
    FindMissingWire wire;
    Status st = ParseFindMissingRequest(not_utf8[i], &wire);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find(field[i] + " is not valid UTF-8"), std::string::npos)
        << st.message();
    v2::FindMissingBlobsRequest ref;
    EXPECT_FALSE(ref.ParseFromString(not_utf8[i])) << i;
  }
}

}  // namespace
}  // namespace cycas::api::reapi
