// S3Options: everything the S3 tier is configured with, read from the `s3.*`
// options (server/options.cc) in one place, plus where credentials come from.
//
// Credentials are looked up in order: s3.access_key/s3.secret_key from the
// configuration; the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN); a shared credentials file in the AWS INI format
// (s3.credentials_file, else AWS_SHARED_CREDENTIALS_FILE, else
// ~/.aws/credentials when it exists) under profile s3.profile (or AWS_PROFILE).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "util/config.h"
#include "util/status.h"

namespace cycas::s3 {

enum class Addressing {
  kPath,         // {endpoint}/{bucket}/{key}: Ceph RGW, MinIO, most local gateways
  kVirtualHost,  // {scheme}://{bucket}.{host}/{key}: AWS's default
};

enum class WriteMode {
  kWriteBack,     // acknowledge once durable locally; a durable queue uploads later
  kWriteThrough,  // acknowledge only after S3 has confirmed the upload
};

struct Credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // optional (temporary credentials)
  std::string source;         // "config", "environment" or the file and profile, for logs
};

struct S3Options {
  // Connection.
  std::string endpoint;  // "http://127.0.0.1:7480", "https://s3.eu-west-1.amazonaws.com"
  std::string region = "us-east-1";
  std::string bucket;
  std::string prefix;  // key prefix inside the bucket, without leading/trailing '/'
  Addressing addressing = Addressing::kPath;
  Credentials credentials;
  bool tls_verify = true;
  std::string tls_ca_file;  // extra CA bundle (PEM); empty: the system's

  // Time limits. Small requests (HEAD, DELETE, small GET/PUT, multipart control)
  // must finish within request_timeout; large transfers are bounded by
  // stall_timeout: aborted when no byte moves for that long.
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::milliseconds stall_timeout{30'000};

  // Retries of one request (transport errors, 5xx, 429): `retries` more
  // attempts after the first, with exponential backoff and full jitter
  // between retry_backoff and retry_backoff_max.
  int retries = 3;
  std::chrono::milliseconds retry_backoff{100};
  std::chrono::milliseconds retry_backoff_max{5'000};

  // Requests in flight at once (the connection pool's size).
  int concurrency = 32;

  // Uploads up to multipart_threshold are one PUT; larger ones are multipart
  // uploads of part_size parts (at least 5 MiB, S3's minimum).
  uint64_t multipart_threshold = 64ull << 20;
  uint64_t part_size = 16ull << 20;
  // Largest record (action-cache entry) read back from S3.
  uint64_t max_record_size = 64ull << 20;

  // Composition.
  WriteMode write_mode = WriteMode::kWriteBack;
  uint64_t queue_limit = 1'000'000;  // queued uploads (entries)
  std::chrono::milliseconds queue_full_wait{10'000};
  int upload_workers = 16;
  std::chrono::milliseconds existence_cache_ttl{60'000};
  uint64_t existence_cache_entries = 1'000'000;
  std::string queue_dir;  // durable upload queue; default <server.data_dir>/s3-queue
};

// Reads the s3.* options. The tier is enabled when s3.endpoint is non-empty;
// then bucket and credentials are required and every value is validated, with
// errors naming the option. `getenv` is injectable for tests.
using GetEnv = std::function<const char*(const char*)>;
Result<S3Options> S3OptionsFromConfig(const Config& config, const GetEnv& getenv = nullptr);

// Credentials from the sources above, in order. NOT_FOUND when none gives both keys.
Result<Credentials> ResolveCredentials(const std::string& access_key, const std::string& secret_key,
                                       const std::string& credentials_file,
                                       const std::string& profile, const GetEnv& getenv);

// Parses an AWS shared credentials file's text: [profile] sections of
// key = value lines ('#' and ';' start comments). Returns section -> key -> value.
std::map<std::string, std::map<std::string, std::string>> ParseIniFile(std::string_view text);

}  // namespace cycas::s3
