#include "auth/scope.h"

#include <gtest/gtest.h>

namespace cycas::auth {
namespace {

InstanceScope Parsed(std::vector<std::string> patterns) {
  auto s = InstanceScope::Parse(patterns);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : InstanceScope{};
}

TEST(InstanceScopeTest, PrefixMatchesOnSegmentBoundaries) {
  InstanceScope s = Parsed({"team-a/"});
  EXPECT_TRUE(s.Allows("team-a"));
  EXPECT_TRUE(s.Allows("team-a/linux"));
  EXPECT_TRUE(s.Allows("team-a/linux/x86"));
  EXPECT_FALSE(s.Allows("team-ab"));
  EXPECT_FALSE(s.Allows("team-b"));
  EXPECT_FALSE(s.Allows(""));
}

TEST(InstanceScopeTest, EmptyPatternIsTheDefaultInstanceOnly) {
  InstanceScope s = Parsed({""});
  EXPECT_TRUE(s.Allows(""));
  EXPECT_FALSE(s.Allows("x"));
}

TEST(InstanceScopeTest, StarAllowsEverything) {
  InstanceScope s = Parsed({"*"});
  EXPECT_TRUE(s.Allows(""));
  EXPECT_TRUE(s.Allows("any/thing"));
  EXPECT_TRUE(InstanceScope::All().Allows("x"));
}

TEST(InstanceScopeTest, NoPatternsAllowNothing) {
  InstanceScope s = Parsed({});
  EXPECT_FALSE(s.Allows(""));
  EXPECT_FALSE(s.Allows("a"));
}

TEST(InstanceScopeTest, MalformedPatternsAreRefusedByName) {
  for (const std::string& bad : std::vector<std::string>{"/", "a/*", "*b", "/a", "a//b", "a\x01"}) {
    auto s = InstanceScope::Parse({bad});
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  }
  auto s = InstanceScope::Parse({"a/*"});
  EXPECT_NE(s.status().message().find("'a/*'"), std::string::npos) << s.status().message();
}

TEST(ScopeTest, AccessFlags) {
  Scope read_only{.read = true};
  EXPECT_TRUE(read_only.Allows(Access::kRead));
  EXPECT_FALSE(read_only.Allows(Access::kWrite));
  EXPECT_EQ(read_only.DescribeAccess(), "read");
  EXPECT_EQ(Scope{}.DescribeAccess(), "none");
  EXPECT_TRUE(Scope::Unrestricted().Allows(Access::kWrite));
}

}  // namespace
}  // namespace cycas::auth
