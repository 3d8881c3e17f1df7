// The s3.* options (the server's option table) and where credentials come from.
#include "cas/s3/s3_options.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include "server/options.h"

namespace cycas::s3 {
namespace {

struct FakeEnv {
  std::map<std::string, std::string> vars;
  GetEnv fn() {
    return [this](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

Config BaseConfig() {
  Config c(server::ServerOptionSpecs());
  EXPECT_TRUE(c.Set("s3.endpoint", "http://127.0.0.1:7480").ok());
  EXPECT_TRUE(c.Set("s3.bucket", "cycas-cache").ok());
  EXPECT_TRUE(c.Set("server.data_dir", "/data").ok());
  return c;
}

std::string WriteTemp(const std::string& text) {
  char path[] = "/tmp/s3-options-test-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  return path;
}

TEST(S3OptionsTest, DisabledWhenEndpointIsEmpty) {
  Config c(server::ServerOptionSpecs());
  auto o = S3OptionsFromConfig(c);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_TRUE(o->endpoint.empty());
}

TEST(S3OptionsTest, ConfigKeysWinOverEnvironment) {
  Config c = BaseConfig();
  ASSERT_TRUE(c.Set("s3.access_key", "AK").ok());
  ASSERT_TRUE(c.Set("s3.secret_key", "SK").ok());
  FakeEnv env{{{"AWS_ACCESS_KEY_ID", "envak"}, {"AWS_SECRET_ACCESS_KEY", "envsk"}}};
  auto o = S3OptionsFromConfig(c, env.fn());
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->credentials.access_key, "AK");
  EXPECT_EQ(o->credentials.source, "config");
  EXPECT_EQ(o->queue_dir, "/data/s3-queue");
  EXPECT_EQ(o->write_mode, WriteMode::kWriteBack);
  EXPECT_EQ(o->addressing, Addressing::kPath);
}

TEST(S3OptionsTest, EnvironmentCredentialsIncludeTheSessionToken) {
  FakeEnv env{{{"AWS_ACCESS_KEY_ID", "a"}, {"AWS_SECRET_ACCESS_KEY", "s"}, {"AWS_SESSION_TOKEN", "t"}}};
  auto o = S3OptionsFromConfig(BaseConfig(), env.fn());
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->credentials.secret_key, "s");
  EXPECT_EQ(o->credentials.session_token, "t");
  EXPECT_EQ(o->credentials.source, "environment");
}

TEST(S3OptionsTest, CredentialsFileProfileIsRead) {
  std::string path = WriteTemp(
      "# comment\n[default]\naws_access_key_id = d1\naws_secret_access_key = d2\n\n"
      "[ci]\naws_access_key_id=c1\naws_secret_access_key=c2\naws_session_token = c3\n");
  Config c = BaseConfig();
  ASSERT_TRUE(c.Set("s3.credentials_file", path).ok());
  FakeEnv env;
  auto o = S3OptionsFromConfig(c, env.fn());
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->credentials.access_key, "d1");
  env.vars["AWS_PROFILE"] = "ci";
  o = S3OptionsFromConfig(c, env.fn());
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->credentials.access_key, "c1");
  EXPECT_EQ(o->credentials.session_token, "c3");
  ASSERT_TRUE(c.Set("s3.profile", "nope").ok());
  o = S3OptionsFromConfig(c, env.fn());
  EXPECT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("[nope]"), std::string::npos) << o.status().message();
  unlink(path.c_str());
}

TEST(S3OptionsTest, MissingCredentialsSayWhereTheyCanComeFrom) {
  FakeEnv env;
  auto o = S3OptionsFromConfig(BaseConfig(), env.fn());
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos) << o.status().message();
}

TEST(S3OptionsTest, BadValuesNameTheOption) {
  FakeEnv env{{{"AWS_ACCESS_KEY_ID", "a"}, {"AWS_SECRET_ACCESS_KEY", "s"}}};
  struct Case {
    const char* key;
    const char* value;
  };
  for (Case k : {Case{"s3.endpoint", "127.0.0.1:7480"}, Case{"s3.endpoint", "http://h/path"},
                 Case{"s3.bucket", "B"}, Case{"s3.addressing", "vhost"}, Case{"s3.write_mode", "lazy"},
                 Case{"s3.part_size", "1MiB"}, Case{"s3.multipart_threshold", "8MiB"},
                 Case{"s3.concurrency", "0"}, Case{"s3.retries", "-1"}, Case{"s3.stall_timeout", "100ms"},
                 Case{"s3.queue_limit", "0"}}) {
    Config c = BaseConfig();
    ASSERT_TRUE(c.Set(k.key, k.value).ok()) << k.key;
    auto o = S3OptionsFromConfig(c, env.fn());
    ASSERT_FALSE(o.ok()) << k.key << "=" << k.value;
    EXPECT_NE(o.status().message().find(k.key), std::string::npos) << o.status().message();
  }
}

TEST(IniTest, SectionsKeysCommentsAndProfilePrefix) {
  auto ini = ParseIniFile("; c\n[a]\nk = v \n[profile b]\nx=1\ny\n");
  EXPECT_EQ(ini["a"]["k"], "v");
  EXPECT_EQ(ini["b"]["x"], "1");
  EXPECT_EQ(ini["b"].count("y"), 0u);
}

}  // namespace
}  // namespace cycas::s3
