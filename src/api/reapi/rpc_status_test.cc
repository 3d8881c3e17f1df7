#include "api/reapi/rpc_status.h"

#include <gtest/gtest.h>

namespace cycas::api::reapi {
namespace {

TEST(RpcStatusTest, KeepsCodeAndMessage) {
  auto s = ToRpcStatus(Status::InvalidArgument("digest blake3:ab/1 does not match"));
  EXPECT_EQ(s.code(), 3);
  EXPECT_EQ(s.message(), "digest blake3:ab/1 does not match");
  EXPECT_EQ(ToRpcStatus(Status::NotFound("x")).code(), 5);
  EXPECT_EQ(ToRpcStatus(Status::ResourceExhausted("x")).code(), 8);
}

TEST(RpcStatusTest, OkHasCodeZeroAndNoMessage) {
  auto s = ToRpcStatus(Status::Ok());
  EXPECT_EQ(s.code(), 0);
  EXPECT_TRUE(s.message().empty());
}

TEST(RpcStatusTest, NonUtf8BytesAreEscapedSoTheMessageSerializes) {
  auto s = ToRpcStatus(Status::InvalidArgument(std::string("bad \xff\xfe name", 11)));
  EXPECT_EQ(s.message(), "bad \\xff\\xfe name");
  std::string wire;
  EXPECT_TRUE(s.SerializeToString(&wire));
  google::rpc::Status back;
  EXPECT_TRUE(back.ParseFromString(wire));
  EXPECT_EQ(back.message(), s.message());
}

}  // namespace
}  // namespace cycas::api::reapi
