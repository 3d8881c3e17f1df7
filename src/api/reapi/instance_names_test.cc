#include "api/reapi/instance_names.h"

#include <gtest/gtest.h>

namespace cycas::api::reapi {
namespace {

TEST(InstanceNamesTest, ValidNames) {
  for (const char* n : {"", "main", "ci/linux", "a/b/c", "blobsx", "my-instance_1.2"}) {
    EXPECT_TRUE(ValidateInstanceName(n).ok()) << n << ": " << ValidateInstanceName(n).ToString();
  }
}

TEST(InstanceNamesTest, InvalidNamesSayWhy) {
  struct Case {
    std::string name;
    std::string why;
  };
  for (const auto& c :
       std::vector<Case>{{"/a", "empty"},
                         {"a/", "empty"},
                         {"a//b", "empty"},
                         {"a/./b", "not allowed"},
                         {"..", "not allowed"},
                         {"blobs", "reserved"},
                         {"a/uploads", "reserved"},
                         {"compressed-blobs/x", "reserved"},
                         {"actionResults", "reserved"},
                         {std::string("a\nb"), "control"},
                         {std::string(kMaxInstanceNameLength + 1, 'a'), "at most"}}) {
    Status st = ValidateInstanceName(c.name);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(st.message().find(c.why), std::string::npos) << st.message();
  }
}

TEST(InstanceNamesTest, FilterStarAllowsEveryValidName) {
  auto f = InstanceFilter::Parse("*");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->allows_all());
  EXPECT_TRUE(f->Check("anything/at/all").ok());
  EXPECT_FALSE(f->Check("blobs").ok());
}

TEST(InstanceNamesTest, FilterListAllowsOnlyListed) {
  auto f = InstanceFilter::Parse("main, ci/linux");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_TRUE(f->Check("main").ok());
  EXPECT_TRUE(f->Check("ci/linux").ok());
  Status st = f->Check("other");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("unknown instance_name 'other'"), std::string::npos) << st.message();
  EXPECT_FALSE(f->Check("").ok());
}

TEST(InstanceNamesTest, EmptyElementIsTheEmptyInstance) {
  auto only_empty = InstanceFilter::Parse("");
  ASSERT_TRUE(only_empty.ok());
  EXPECT_TRUE(only_empty->Check("").ok());
  EXPECT_FALSE(only_empty->Check("main").ok());
  auto both = InstanceFilter::Parse(",main");
  ASSERT_TRUE(both.ok());
  EXPECT_TRUE(both->Check("").ok());
  EXPECT_TRUE(both->Check("main").ok());
}

TEST(InstanceNamesTest, FilterRejectsMalformedConfig) {
  auto f = InstanceFilter::Parse("main,a//b");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("reapi.instance_names"), std::string::npos);
}

TEST(InstanceNamesTest, QuoteForErrorEscapesAndCuts) {
  EXPECT_EQ(QuoteForError("ab"), "'ab'");
  EXPECT_EQ(QuoteForError(std::string("a\x01", 2)), "'a\\x01'");
  std::string q = QuoteForError(std::string(300, 'x'), 10);
  EXPECT_EQ(q, "'xxxxxxxxxx'... (300 bytes)");
}

}  // namespace
}  // namespace cycas::api::reapi
