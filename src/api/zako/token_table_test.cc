#include "api/zako/token_table.h"

#include <gtest/gtest.h>

#include <set>

namespace cycas::api::zako {
namespace {

using namespace std::chrono_literals;
using Clock = TokenTable::Clock;

TEST(TokenTableTest, IssuedTokenIsValidUntilItsTtl) {
  TokenTable t({10s, 100});
  auto now = Clock::now();
  auto tok = t.Issue(now);
  ASSERT_TRUE(tok.ok());
  EXPECT_TRUE(t.Validate(*tok, now));
  EXPECT_TRUE(t.Validate(*tok, now + 9s));
  EXPECT_FALSE(t.Validate(*tok, now + 10s));
  EXPECT_EQ(t.size(), 0u);  // the expired token was purged
}

TEST(TokenTableTest, TokensAreLongRandomHex) {
  TokenTable t({1h, 1000});
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto tok = t.Issue();
    ASSERT_TRUE(tok.ok());
    EXPECT_EQ(tok->size(), 2 * TokenTable::kTokenBytes);  // 256 bits
    EXPECT_EQ(tok->find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_TRUE(seen.insert(*tok).second);
  }
}

TEST(TokenTableTest, UnknownAndAlteredTokensAreRejected) {
  TokenTable t({1h, 10});
  auto tok = *t.Issue();
  EXPECT_FALSE(t.Validate(""));
  EXPECT_FALSE(t.Validate("not-a-token"));
  std::string altered = tok;
  altered.back() = altered.back() == '0' ? '1' : '0';
  EXPECT_FALSE(t.Validate(altered));
  EXPECT_FALSE(t.Validate(tok + "0"));
  EXPECT_TRUE(t.Validate(tok));
}

TEST(TokenTableTest, FullTableEvictsTheOldest) {
  TokenTable t({1h, 3});
  auto now = Clock::now();
  std::string a = *t.Issue(now), b = *t.Issue(now + 1s), c = *t.Issue(now + 2s);
  std::string d = *t.Issue(now + 3s);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_FALSE(t.Validate(a, now + 3s));
  EXPECT_TRUE(t.Validate(b, now + 3s));
  EXPECT_TRUE(t.Validate(c, now + 3s));
  EXPECT_TRUE(t.Validate(d, now + 3s));
}

TEST(TokenTableTest, ExpiredTokensDoNotCountAgainstTheBound) {
  TokenTable t({1s, 2});
  auto now = Clock::now();
  (void)*t.Issue(now);
  (void)*t.Issue(now);
  auto late = *t.Issue(now + 2s);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_TRUE(t.Validate(late, now + 2s));
}

}  // namespace
TEST(TokenTableTest, TokensCarryTheirGrant) {
  TokenTable t(TokenTableOptions{});
  auto read_only = *t.Issue(TokenGrant{.read = true, .write = false});
  auto both = *t.Issue();
  auto g = t.Lookup(read_only);
  ASSERT_TRUE(g.has_value());
  EXPECT_TRUE(g->read);
  EXPECT_FALSE(g->write);
  g = t.Lookup(both);
  ASSERT_TRUE(g.has_value());
  EXPECT_TRUE(g->write);
  EXPECT_FALSE(t.Lookup("unknown").has_value());
}

}  // namespace cycas::api::zako
