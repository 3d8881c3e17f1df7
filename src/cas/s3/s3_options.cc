#include "cas/s3/s3_options.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace cycas::s3 {
namespace {

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

std::string NormalizePrefix(std::string_view p) {
  while (!p.empty() && p.front() == '/') p.remove_prefix(1);
  while (!p.empty() && p.back() == '/') p.remove_suffix(1);
  return std::string(p);
}

}  // namespace

std::map<std::string, std::map<std::string, std::string>> ParseIniFile(std::string_view text) {
  std::map<std::string, std::map<std::string, std::string>> out;
  std::string section;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = Trim(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos
                                                                          : nl - pos));
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = Trim(std::string_view(line).substr(1, line.size() - 2));
      // The AWS config file spells profiles "[profile name]"; accept both.
      if (section.rfind("profile ", 0) == 0) section = Trim(section.substr(8));
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    out[section][Trim(std::string_view(line).substr(0, eq))] =
        Trim(std::string_view(line).substr(eq + 1));
  }
  return out;
}

Result<Credentials> ResolveCredentials(const std::string& access_key, const std::string& secret_key,
                                       const std::string& credentials_file,
                                       const std::string& profile_option, const GetEnv& getenv) {
  auto env = [&](const char* name) -> std::string {
    const char* v = getenv ? getenv(name) : std::getenv(name);
    return v ? v : "";
  };
  if (!access_key.empty() || !secret_key.empty()) {
    if (access_key.empty() || secret_key.empty()) {
      return Status::InvalidArgument("s3.access_key and s3.secret_key must be set together");
    }
    return Credentials{access_key, secret_key, "", "config"};
  }
  if (!env("AWS_ACCESS_KEY_ID").empty() && !env("AWS_SECRET_ACCESS_KEY").empty()) {
    return Credentials{env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"),
                       env("AWS_SESSION_TOKEN"), "environment"};
  }
  std::string file = credentials_file;
  bool explicit_file = !file.empty();
  if (file.empty()) file = env("AWS_SHARED_CREDENTIALS_FILE");
  explicit_file = explicit_file || !file.empty();
  if (file.empty() && !env("HOME").empty()) file = env("HOME") + "/.aws/credentials";
  std::string profile = profile_option;
  if (profile.empty()) profile = env("AWS_PROFILE");
  if (profile.empty()) profile = "default";
  if (!file.empty()) {
    std::ifstream f(file);
    if (!f) {
      if (explicit_file) {
        return Status::InvalidArgument("s3.credentials_file: cannot read " + file);
      }
    } else {
      std::stringstream ss;
      ss << f.rdbuf();
      auto ini = ParseIniFile(ss.str());
      auto it = ini.find(profile);
      if (it == ini.end()) {
        return Status::InvalidArgument("s3: credentials file " + file + " has no profile [" +
                                       profile + "]");
      }
      const auto& kv = it->second;
      auto get = [&](const char* k) {
        auto i = kv.find(k);
        return i == kv.end() ? std::string() : i->second;
      };
      if (get("aws_access_key_id").empty() || get("aws_secret_access_key").empty()) {
        return Status::InvalidArgument("s3: profile [" + profile + "] in " + file +
                                       " lacks aws_access_key_id or aws_secret_access_key");
      }
      return Credentials{get("aws_access_key_id"), get("aws_secret_access_key"),
                         get("aws_session_token"), file + " [" + profile + "]"};
    }
  }
  return Status::NotFound(
      "s3: no credentials: set s3.access_key and s3.secret_key, or AWS_ACCESS_KEY_ID and "
      "AWS_SECRET_ACCESS_KEY, or s3.credentials_file");
}

Result<S3Options> S3OptionsFromConfig(const Config& config, const GetEnv& getenv) {
  S3Options o;
  o.endpoint = config.GetString("s3.endpoint");
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  if (o.endpoint.empty()) return o;
  if (o.endpoint.rfind("http://", 0) != 0 && o.endpoint.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("s3.endpoint must start with http:// or https://, got '" +
                                   o.endpoint + "'");
  }
  if (o.endpoint.find('/', o.endpoint.find("//") + 2) != std::string::npos) {
    return Status::InvalidArgument("s3.endpoint must be scheme://host[:port] without a path, got '" +
                                   o.endpoint + "' (use s3.prefix for a key prefix)");
  }
  o.region = config.GetString("s3.region");
  if (o.region.empty()) return Status::InvalidArgument("s3.region must not be empty");
  o.bucket = config.GetString("s3.bucket");
  if (o.bucket.size() < 3 || o.bucket.size() > 63 ||
      o.bucket.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string::npos) {
    return Status::InvalidArgument(
        "s3.bucket must be a bucket name of 3-63 lowercase letters, digits, '.' or '-', got '" +
        o.bucket + "'");
  }
  o.prefix = NormalizePrefix(config.GetString("s3.prefix"));
  const std::string& addressing = config.GetString("s3.addressing");
  if (addressing == "path") {
    o.addressing = Addressing::kPath;
  } else if (addressing == "virtual") {
    o.addressing = Addressing::kVirtualHost;
  } else {
    return Status::InvalidArgument("s3.addressing must be 'path' or 'virtual', got '" + addressing +
                                   "'");
  }
  ASSIGN_OR_RETURN(o.credentials,
                   ResolveCredentials(config.GetString("s3.access_key"),
                                      config.GetString("s3.secret_key"),
                                      config.GetString("s3.credentials_file"),
                                      config.GetString("s3.profile"), getenv));
  o.tls_verify = config.GetBool("s3.tls_verify");
  o.tls_ca_file = config.GetString("s3.tls_ca_file");
  o.connect_timeout = config.GetDuration("s3.connect_timeout");
  o.request_timeout = config.GetDuration("s3.request_timeout");
  o.stall_timeout = config.GetDuration("s3.stall_timeout");
  for (auto [name, v] : {std::pair{"s3.connect_timeout", o.connect_timeout},
                         std::pair{"s3.request_timeout", o.request_timeout},
                         std::pair{"s3.stall_timeout", o.stall_timeout}}) {
    if (v.count() <= 0) return Status::InvalidArgument(std::string(name) + " must be positive");
  }
  if (o.stall_timeout < std::chrono::seconds(1)) {
    return Status::InvalidArgument("s3.stall_timeout must be at least 1s");
  }
  int64_t retries = config.GetInt("s3.retries");
  if (retries < 0 || retries > 20) return Status::InvalidArgument("s3.retries must be 0..20");
  o.retries = static_cast<int>(retries);
  o.retry_backoff = config.GetDuration("s3.retry_backoff");
  o.retry_backoff_max = config.GetDuration("s3.retry_backoff_max");
  if (o.retry_backoff.count() <= 0 || o.retry_backoff_max < o.retry_backoff) {
    return Status::InvalidArgument(
        "s3.retry_backoff must be positive and s3.retry_backoff_max at least as large");
  }
  int64_t concurrency = config.GetInt("s3.concurrency");
  if (concurrency < 1 || concurrency > 1024) {
    return Status::InvalidArgument("s3.concurrency must be 1..1024");
  }
  o.concurrency = static_cast<int>(concurrency);
  o.max_record_size = config.GetBytes("s3.max_record_size");
  if (o.max_record_size == 0) return Status::InvalidArgument("s3.max_record_size must be positive");
  o.multipart_threshold = config.GetBytes("s3.multipart_threshold");
  o.part_size = config.GetBytes("s3.part_size");
  if (o.part_size < (5ull << 20) || o.part_size > (5ull << 30)) {
    return Status::InvalidArgument("s3.part_size must be between 5MiB and 5GiB (S3's limits)");
  }
  if (o.multipart_threshold < o.part_size || o.multipart_threshold > (5ull << 30)) {
    return Status::InvalidArgument(
        "s3.multipart_threshold must be at least s3.part_size and at most 5GiB");
  }
  const std::string& mode = config.GetString("s3.write_mode");
  if (mode == "write-back") {
    o.write_mode = WriteMode::kWriteBack;
  } else if (mode == "write-through") {
    o.write_mode = WriteMode::kWriteThrough;
  } else {
    return Status::InvalidArgument("s3.write_mode must be 'write-back' or 'write-through', got '" +
                                   mode + "'");
  }
  int64_t limit = config.GetInt("s3.queue_limit");
  if (limit < 1) return Status::InvalidArgument("s3.queue_limit must be at least 1");
  o.queue_limit = static_cast<uint64_t>(limit);
  o.queue_full_wait = config.GetDuration("s3.queue_full_wait");
  int64_t workers = config.GetInt("s3.upload_workers");
  if (workers < 1 || workers > 256) return Status::InvalidArgument("s3.upload_workers must be 1..256");
  o.upload_workers = static_cast<int>(workers);
  o.existence_cache_ttl = config.GetDuration("s3.existence_cache_ttl");
  o.queue_dir = config.GetString("s3.queue_dir");
  if (o.queue_dir.empty()) o.queue_dir = config.GetString("server.data_dir") + "/s3-queue";
  return o;
}

}  // namespace cycas::s3
