#include "util/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace cycas {
namespace {

Config MakeConfig() {
  return Config({
      {"server.listen", OptionType::kString, "127.0.0.1:9092", "address"},
      {"engine.size", OptionType::kBytes, "1GiB", "store size"},
      {"engine.stripes", OptionType::kInt, "0", "stripes"},
      {"engine.sync_interval", OptionType::kDuration, "5s", "sync"},
      {"engine.direct_io", OptionType::kBool, "true", "O_DIRECT"},
  });
}

TEST(ConfigTest, DefaultsApplyWithoutAFile) {
  Config c = MakeConfig();
  EXPECT_EQ(c.GetString("server.listen"), "127.0.0.1:9092");
  EXPECT_EQ(c.GetBytes("engine.size"), 1ull << 30);
  EXPECT_EQ(c.GetDuration("engine.sync_interval"), std::chrono::seconds(5));
  EXPECT_TRUE(c.GetBool("engine.direct_io"));
}

TEST(ConfigTest, TomlTablesBecomeDottedKeys) {
  std::string path = testing::TempDir() + "/cycas_config_test.toml";
  {
    std::ofstream f(path);
    f << "[server]\nlisten = \"[::1]:1234\"\n[engine]\nsize = \"64MiB\"\nstripes = 8\n"
         "direct_io = false\n";
  }
  Config c = MakeConfig();
  ASSERT_TRUE(c.LoadTomlFile(path).ok());
  EXPECT_EQ(c.GetString("server.listen"), "[::1]:1234");
  EXPECT_EQ(c.GetBytes("engine.size"), 64ull << 20);
  EXPECT_EQ(c.GetInt("engine.stripes"), 8);
  EXPECT_FALSE(c.GetBool("engine.direct_io"));
  std::remove(path.c_str());
}

TEST(ConfigTest, UnknownKeyIsRejectedByName) {
  Config c = MakeConfig();
  Status st = c.SetFromAssignment("engine.sise=1GiB");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("engine.sise"), std::string::npos);
}

TEST(ConfigTest, BadValuesNameTheOption) {
  Config c = MakeConfig();
  Status st = c.Set("engine.size", "12 parsecs");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("engine.size"), std::string::npos);
  EXPECT_FALSE(c.Set("engine.sync_interval", "5").ok());  // unit required
  EXPECT_FALSE(c.Set("engine.direct_io", "yes").ok());
  EXPECT_FALSE(c.Set("engine.stripes", "4x").ok());
}

TEST(ConfigTest, SampleTomlListsEveryOptionAndParsesBack) {
  Config c = MakeConfig();
  std::string sample = c.SampleToml();
  for (const auto& s : c.specs()) {
    auto name = s.key.substr(s.key.rfind('.') + 1);
    EXPECT_NE(sample.find("# " + name + " = "), std::string::npos) << s.key;
  }
}

TEST(ParseTest, SizesAndDurations) {
  EXPECT_EQ(ParseBytes("4096").value(), 4096u);
  EXPECT_EQ(ParseBytes("4K").value(), 4096u);
  EXPECT_EQ(ParseBytes("2GiB").value(), 2ull << 30);
  EXPECT_FALSE(ParseBytes("-1").ok());
  EXPECT_FALSE(ParseBytes("99999999999999T").ok());
  EXPECT_EQ(ParseDuration("1h").value(), std::chrono::hours(1));
  EXPECT_EQ(ParseDuration("250ms").value(), std::chrono::milliseconds(250));
  EXPECT_EQ(ParseDuration("0").value(), std::chrono::milliseconds(0));
  // Found by fuzz_config: these used to wrap around silently.
  EXPECT_FALSE(ParseDuration("5124095576030432h").ok());
  EXPECT_FALSE(ParseDuration("9999999999999999h").ok());
}

TEST(ConfigTest, InvalidUtf8FileIsRejectedBeforeParsing) {
  std::string path = testing::TempDir() + "/cycas_config_utf8.toml";
  {
    std::ofstream f(path, std::ios::binary);
    f << "a = 'x\xee'\n";
  }
  Config c = MakeConfig();
  Status st = c.LoadTomlFile(path);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("UTF-8"), std::string::npos) << st.message();
  std::remove(path.c_str());
}

TEST(ParseTest, ErrorsDoNotEchoUnboundedInput) {
  Status st = ParseBytes(std::string(100000, '9') + "X").status();
  EXPECT_LT(st.message().size(), 200u);
}

}  // namespace
}  // namespace cycas
