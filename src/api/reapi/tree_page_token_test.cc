#include <gtest/gtest.h>

#include "api/reapi/cas_service.h"

namespace cycas::api::reapi {
namespace {

const std::string kHash(64, 'c');

TEST(TreePageTokenTest, RoundTrips) {
  TreePageToken t{1234, kHash};
  auto back = ParseTreePageToken(FormatTreePageToken(t));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->skip, 1234u);
  EXPECT_EQ(back->next_hash, kHash);
}

TEST(TreePageTokenTest, RejectsAnythingElse) {
  for (std::string bad : {std::string(""), std::string("12"), ":" + kHash, "01:" + kHash,
                          "1x:" + kHash, "1:" + kHash.substr(1), "1:" + std::string(64, 'C'),
                          "99999999999999999999:" + kHash, "1:" + kHash + "0"}) {
    auto r = ParseTreePageToken(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("page_token"), std::string::npos);
  }
}

}  // namespace
}  // namespace cycas::api::reapi
