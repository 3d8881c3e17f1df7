// Helpers for the zako end-to-end tests: raw gRPC calls against a running
// cycasd, and running the `cycas` client binary.
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "digest/digest.h"
#include "zako/v1/cas.grpc.pb.h"
#include "zako/v1/transport.grpc.pb.h"

namespace cycas::zako_e2e {

namespace zpb = ::zako::v1;

Digest Blake3Of(std::string_view bytes);
// Deterministic pseudo-random bytes.
std::string Bytes(size_t n, uint64_t seed);
zpb::digest::Digest ToProto(const Digest& d);

// The two services of one server, reached over plaintext loopback.
class ZakoConn {
 public:
  // `cas` and `transport` are "127.0.0.1:PORT".
  ZakoConn(const std::string& cas, const std::string& transport);

  zpb::cas::ContentAddressableStorage::Stub& cas() { return *cas_; }
  zpb::transport::Transport::Stub& transport() { return *transport_; }

  // A fresh token (ASSERT-style failure becomes an empty string).
  std::string Token();

  // One NegotiateBlobs stream: sends every message, then collects responses.
  struct Negotiation {
    grpc::Status status;
    std::vector<std::vector<Digest>> responses;
  };
  Negotiation Negotiate(const std::vector<std::vector<Digest>>& messages);
  Negotiation NegotiateRaw(const std::vector<zpb::cas::NegotiateBlobsRequest>& messages);

  struct UploadResult {
    grpc::Status status;
    uint64_t committed_size = 0;
    std::optional<std::string> resume_offset;  // trailer cycas-resume-offset
  };
  // Sends `messages` as they are (metadata and chunks built by the caller).
  UploadResult UploadRaw(const std::vector<zpb::transport::UploadRequest>& messages,
                         const std::optional<std::string>& authorization);
  // Metadata {digest, range start/length}, then `data` in `chunk` pieces.
  UploadResult Upload(const Digest& d, std::string_view data, uint64_t start = 0,
                      std::optional<uint64_t> length = std::nullopt, size_t chunk = 64 << 10);

  struct DownloadResult {
    grpc::Status status;
    std::string data;
    size_t messages = 0;
    size_t largest_message = 0;
  };
  DownloadResult Download(const Digest& d, std::optional<uint64_t> start = std::nullopt,
                          std::optional<uint64_t> length = std::nullopt,
                          const std::optional<std::string>& authorization = std::nullopt);
  DownloadResult DownloadRaw(const zpb::transport::DownloadRequest& req,
                             const std::optional<std::string>& authorization);

  // "Bearer <token>" for a fresh token, cached per connection.
  const std::string& Bearer();

 private:
  std::unique_ptr<zpb::cas::ContentAddressableStorage::Stub> cas_;
  std::unique_ptr<zpb::transport::Transport::Stub> transport_;
  std::string bearer_;
};

zpb::transport::UploadRequest MetadataMessage(const Digest& d, std::optional<uint64_t> start = std::nullopt,
                                              std::optional<uint64_t> length = std::nullopt);
zpb::transport::UploadRequest ChunkMessage(std::string_view bytes);

// Runs the cycas binary to completion (bounded by `timeout_s`).
struct RunResult {
  int exit_code = -1;
  std::string out, err;
};
RunResult RunCycas(const std::vector<std::string>& args, int timeout_s = 60);
// Starts the cycas binary in the background; stdout/stderr go to files.
pid_t SpawnCycas(const std::vector<std::string>& args, const std::string& out_file,
                 const std::string& err_file);
std::string CycasPath();
std::string ReadFileOrEmpty(const std::string& path);
void WriteFile(const std::string& path, std::string_view bytes);

}  // namespace cycas::zako_e2e
