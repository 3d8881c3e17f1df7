#include "api/grpc_status.h"

#include <gtest/gtest.h>

namespace cycas::api {
namespace {

TEST(GrpcStatusTest, EveryCodeKeepsItsNumberAndMessage) {
  for (int c = 1; c <= 16; ++c) {
    Status st(static_cast<StatusCode>(c), "what failed " + std::to_string(c));
    grpc::Status g = ToGrpcStatus(st);
    EXPECT_EQ(static_cast<int>(g.error_code()), c);
    EXPECT_EQ(g.error_message(), st.message());
    Status back = FromGrpcStatus(g);
    EXPECT_EQ(back.code(), st.code());
    EXPECT_EQ(back.message(), st.message());
  }
}

TEST(GrpcStatusTest, OkMapsToOk) {
  EXPECT_TRUE(ToGrpcStatus(Status::Ok()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(GrpcStatusTest, CodesNamedTheSameOnBothSides) {
  EXPECT_EQ(ToGrpcStatus(Status::NotFound("x")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcStatus(Status::Unauthenticated("x")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ToGrpcStatus(Status::FailedPrecondition("x")).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

// (No test with an out-of-range grpc::StatusCode: building one is itself
// undefined behaviour, which UBSan rightly rejects in the sanitizer pass.)

}  // namespace
}  // namespace cycas::api
