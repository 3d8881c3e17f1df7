#include "util/status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace cycas {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Status Quarter(int x, int* out) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(*out, Half(h));
  return Status::Ok();
}

TEST(StatusTest, ToStringNamesCodeAndMessage) {
  EXPECT_EQ(Status::Ok().ToString(), "OK");
  EXPECT_EQ(Status::NotFound("blob x").ToString(), "NOT_FOUND: blob x");
  EXPECT_EQ(Status::DataLoss("checksum").WithContext("stripe 3").message(), "stripe 3: checksum");
}

TEST(StatusTest, MacrosPropagateTheFirstError) {
  int out = 0;
  EXPECT_TRUE(Quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  Status st = Quarter(6, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "odd: 3");
}

TEST(StatusTest, NoSpaceIsResourceExhausted) {
  EXPECT_EQ(Status::IoError("write", ENOSPC).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(Status::IoError("write", EIO).code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace cycas
