#include "api/reapi/write_request_wire.h"

#include <gtest/gtest.h>

#include <random>

#include "google/bytestream/bytestream.pb.h"

namespace cycas::api::reapi {
namespace {

namespace bs = google::bytestream;

// Cuts `bytes` into pieces at every position in `cuts` (ascending), as gRPC's
// slices cut a received message; empty pieces are kept, as they may occur.
std::vector<std::string_view> Cut(std::string_view bytes, const std::vector<size_t>& cuts) {
  std::vector<std::string_view> pieces;
  size_t start = 0;
  for (size_t c : cuts) {
    pieces.push_back(bytes.substr(start, c - start));
    start = c;
  }
  pieces.push_back(bytes.substr(start));
  return pieces;
}

std::string Join(const std::vector<std::string_view>& parts) {
  std::string s;
  for (auto p : parts) s.append(p);
  return s;
}

bs::WriteRequest Sample() {
  bs::WriteRequest req;
  req.set_resource_name("ci/uploads/5b1e/blobs/" + std::string(64, 'a') + "/70000");
  req.set_write_offset(65536);
  req.set_finish_write(true);
  std::string data(70000, '\0');
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<char>(i * 7 + i / 256);
  req.set_data(data);
  return req;
}

TEST(WriteRequestWireTest, ReadsWhatProtobufWritesInOnePiece) {
  const bs::WriteRequest req = Sample();
  const std::string bytes = req.SerializeAsString();
  std::string_view piece = bytes;
  WriteRequestWire wire;
  ASSERT_TRUE(ParseWriteRequest({&piece, 1}, &wire).ok());
  EXPECT_EQ(wire.resource_name, req.resource_name());
  EXPECT_EQ(wire.write_offset, 65536);
  EXPECT_TRUE(wire.finish_write);
  EXPECT_EQ(wire.data_size, req.data().size());
  ASSERT_EQ(wire.data.size(), 1u);
  EXPECT_EQ(wire.data[0], req.data());
  // The data is a view into the message, not a copy.
  EXPECT_GE(wire.data[0].data(), bytes.data());
  EXPECT_LE(wire.data[0].data() + wire.data[0].size(), bytes.data() + bytes.size());
}

TEST(WriteRequestWireTest, ReadsFieldsThatStraddlePieces) {
  const bs::WriteRequest req = Sample();
  const std::string bytes = req.SerializeAsString();
  // Every cut position within the header (tags, varints and the name split
  // anywhere), plus one inside the data.
  const size_t header = bytes.size() - req.data().size();
  WriteRequestWire wire;  // reused across messages, as the service does
  for (size_t c = 0; c <= header + 1; c++) {
    auto pieces = Cut(bytes, {c, c, header + 1000});
    ASSERT_TRUE(ParseWriteRequest(pieces, &wire).ok()) << c;
    EXPECT_EQ(wire.resource_name, req.resource_name()) << c;
    EXPECT_EQ(wire.write_offset, 65536) << c;
    EXPECT_TRUE(wire.finish_write) << c;
    EXPECT_EQ(wire.data_size, req.data().size()) << c;
    EXPECT_EQ(Join(wire.data), req.data()) << c;
  }
}

TEST(WriteRequestWireTest, AgreesWithProtobufOnRandomPiecesAndOrders) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 300; round++) {
    // Fields in any order, repeated (the last wins) and unknown ones between.
    std::string bytes;
    bs::WriteRequest last;
    const int fields = 1 + static_cast<int>(rng() % 6);
    for (int f = 0; f < fields; f++) {
      bs::WriteRequest one;
      switch (rng() % 4) {
        case 0:
          one.set_resource_name(std::to_string(rng() % 1000));
          break;
        case 1:
          one.set_write_offset(static_cast<int64_t>(rng()));  // negative ones too
          break;
        case 2:
          one.set_finish_write(rng() % 2 == 0);
          break;
        default:
          one.set_data(std::string(rng() % 3000, static_cast<char>(rng())));
      }
      bytes += one.SerializeAsString();
      if (rng() % 3 == 0) bytes += std::string("\x28\x05", 2);  // field 5, unknown
    }
    ASSERT_TRUE(last.ParseFromString(bytes));
    std::vector<size_t> cuts;
    for (int k = static_cast<int>(rng() % 5); k > 0; k--)
      cuts.push_back(rng() % (bytes.size() + 1));
    std::sort(cuts.begin(), cuts.end());
    WriteRequestWire wire;
    ASSERT_TRUE(ParseWriteRequest(Cut(bytes, cuts), &wire).ok()) << round;
    EXPECT_EQ(wire.resource_name, last.resource_name()) << round;
    EXPECT_EQ(wire.write_offset, last.write_offset()) << round;
    EXPECT_EQ(wire.finish_write, last.finish_write()) << round;
    EXPECT_EQ(Join(wire.data), last.data()) << round;
    EXPECT_EQ(wire.data_size, last.data().size()) << round;
  }
}

TEST(WriteRequestWireTest, AnEmptyMessageIsAllDefaults) {
  WriteRequestWire wire;
  wire.finish_write = true;
  wire.resource_name = "stale";
  ASSERT_TRUE(ParseWriteRequest({}, &wire).ok());
  EXPECT_EQ(wire.resource_name, "");
  EXPECT_EQ(wire.write_offset, 0);
  EXPECT_FALSE(wire.finish_write);
  EXPECT_EQ(wire.data_size, 0u);
  EXPECT_TRUE(wire.data.empty());
}

TEST(WriteRequestWireTest, RefusesWhatProtobufRefuses) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {std::string("\x0a\x05"
                   "ab",
                   4),
       "resource_name"},                                     // ends inside the name
      {std::string("\x52\x80\x80\x80\x80\x01", 6), "data"},  // longer than the message
      {std::string("\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11), "write_offset"},
      {std::string("\x52\x03xy", 4), "data"},                     // data shorter than said
      {std::string("\x0a\x02\xc3\x28", 4), "UTF-8"},              // invalid UTF-8 name
      {std::string("\x00", 1), "field tag"},                      // field 0
      {std::string("\xff\xff\xff\xff\xff\x01", 6), "field tag"},  // 6-byte tag
      {std::string("\x2f", 1), "field 5"},                        // wire type 7
      {std::string("\x31\x01\x02", 3), "field 6"},                // fixed64 cut short
  };
  for (const auto& [bytes, what] : cases) {
    bs::WriteRequest ref;
    EXPECT_FALSE(ref.ParseFromString(bytes)) << what;
    // The same bytes split after every position.
    for (size_t c = 0; c <= bytes.size(); c++) {
      WriteRequestWire wire;
      Status st = ParseWriteRequest(Cut(bytes, {c}), &wire);
      EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << what << " cut " << c;
      EXPECT_NE(st.message().find(what), std::string::npos) << st.message();
    }
  }
}

// Limits and leniencies of protobuf's reader that ours must share.
TEST(WriteRequestWireTest, AcceptsWhatProtobufAccepts) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      // A 10-byte varint whose last byte has bits beyond 64: dropped.
      {std::string("\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 11), "long varint"},
      // A 5-byte tag with bits beyond 32 (0x7f in the 5th byte): only the low 32 count.
      {std::string("\x90\x80\x80\x80\x70\x05", 6), "wide tag"},
      // Known fields with the wrong wire type are skipped as unknown.
      {std::string("\x50\x07", 2), "data as a varint"},
      {std::string("\x12\x02\x01\x02", 4), "write_offset as bytes"},
      {std::string("\x1d\x01\x00\x00\x00", 5), "finish_write as fixed32"},
      {std::string("\x09\x01\x02\x03\x04\x05\x06\x07\x08", 9), "resource_name as fixed64"},
  };
  for (const auto& [bytes, what] : cases) {
    bs::WriteRequest ref;
    ASSERT_TRUE(ref.ParseFromString(bytes)) << what;
    for (size_t c = 0; c <= bytes.size(); c++) {
      WriteRequestWire wire;
      Status st = ParseWriteRequest(Cut(bytes, {c}), &wire);
      ASSERT_TRUE(st.ok()) << what << " cut " << c << ": " << st.ToString();
      EXPECT_EQ(wire.resource_name, ref.resource_name()) << what;
      EXPECT_EQ(wire.write_offset, ref.write_offset()) << what;
      EXPECT_EQ(wire.finish_write, ref.finish_write()) << what;
      EXPECT_EQ(Join(wire.data), ref.data()) << what;
    }
  }
}

TEST(WriteRequestWireTest, RefusesMoreOfWhatProtobufRefuses) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      // A 5-byte length whose 5th byte sets bits beyond 32.
      {std::string("\x52\xff\xff\xff\xff\x0f", 6), "data"},
      // An end-group tag with no group open.
      {std::string("\x34", 1), "field 6"},
      // An invalid name, then a valid one: the first occurrence already fails.
      {std::string("\x0a\x01\xff\x0a\x01"
                   "a",
                   6),
       "UTF-8"},
  };
  for (const auto& [bytes, what] : cases) {
    bs::WriteRequest ref;
    EXPECT_FALSE(ref.ParseFromString(bytes)) << what;
    WriteRequestWire wire;
    Status st = ParseWriteRequest(Cut(bytes, {}), &wire);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << what;
    EXPECT_NE(st.message().find(what), std::string::npos) << st.message();
  }
}

TEST(WriteRequestWireTest, RefusesGroupsThatProtobufWouldSkip) {
  // Field 6 as a start group and its end: protobuf keeps it as an unknown
  // group; proto3 never writes one, so it is refused.
  const std::string bytes("\x33\x34", 2);
  bs::WriteRequest ref;
  EXPECT_TRUE(ref.ParseFromString(bytes));
  WriteRequestWire wire;
  std::string_view piece = bytes;
  EXPECT_EQ(ParseWriteRequest({&piece, 1}, &wire).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cycas::api::reapi
