// ZakoClient: a client of the zako CAS protocol (docs/zako-protocol.md), used
// by the `cycas` command, the remote tier (cas/remote) and the tests.
//
// It negotiates (FindMissing), fetches transport details and keeps the token
// and the Transport connection for reuse, and moves bytes with Download and
// Upload. Transfers recover by themselves from what the protocol allows: an
// expired token is refreshed once, and a transfer broken by a transient error
// (UNAVAILABLE, ABORTED, INTERNAL) is retried, a download from the byte where
// it stopped and an upload from the prefix the server says it holds
// (cycas-resume-offset). Safe for concurrent use by many threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "digest/digest.h"
#include "util/status.h"
#include "zako/v1/cas.grpc.pb.h"
#include "zako/v1/transport.grpc.pb.h"

namespace cycas::client {

struct ClientOptions {
  // host:port of the ContentAddressableStorage service.
  std::string server = "127.0.0.1:9092";
  // TLS: on when `tls` is set or any file is given. Without a CA file the
  // system's roots are used. Cert and key: a client certificate (mTLS).
  bool tls = false;
  std::string tls_ca_file, tls_cert_file, tls_key_file;
  // Connect to this host:port for Transport instead of the advertised address
  // (e.g. behind NAT or a port forward).
  std::string transport_override;
  // Sent as `authorization` metadata on ContentAddressableStorage calls, for
  // servers with auth.credentials_file: "Bearer <token>" or "Basic <base64>".
  // Empty: none. Transport calls use the token GetTransportDetails returns.
  std::string authorization;
  // Deadline of unary calls and of each NegotiateBlobs stream.
  std::chrono::milliseconds rpc_timeout{std::chrono::seconds(60)};
  // Digests per NegotiateBlobs message (keep the message well under the
  // server's server.grpc_max_message: ~40 bytes per digest).
  size_t negotiate_batch = 10'000;
  // Bytes per Upload chunk message.
  size_t chunk_size = 1 << 20;
  // Fetch a new token when the cached one is older than this.
  std::chrono::milliseconds token_refresh_after{std::chrono::minutes(5)};
  // Retries of a transfer broken by a transient error.
  int transfer_retries = 3;
  // Separate TCP connections for Transport calls (large transfers spread
  // over them); 0: one per recommended concurrency, at most 8.
  int transport_connections = 0;
};

// What GetTransportDetails returned.
struct TransportDetails {
  std::string address;  // "ip:port" (the override, when one is set)
  std::string token;
  uint32_t recommended_concurrency = 1;
};

// One Download call, read piece by piece (used by the remote tier's reader).
class DownloadStream {
 public:
  ~DownloadStream();
  // Moves the next piece into `data`; false at the end of the range.
  Result<bool> Next(std::string* data);

 private:
  friend class ZakoClient;
  DownloadStream() = default;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReader<::zako::v1::transport::DownloadResponse>> reader_;
  std::optional<std::string> pending_;  // the first piece, read when the stream opened
  bool finished_ = false;
};

// One Upload call, fed piece by piece (used by the remote tier's writer).
class UploadStream {
 public:
  ~UploadStream();  // cancels an unfinished upload
  Status Append(std::span<const uint8_t> data);
  // Ends the stream; the committed size, or the server's error
  // (ALREADY_EXISTS when the blob was stored meanwhile).
  Result<uint64_t> Finish();
  void Cancel();

 private:
  friend class ZakoClient;
  UploadStream() = default;
  Status Flush();
  size_t chunk_size_ = 1 << 20;
  std::unique_ptr<grpc::ClientContext> context_;
  ::zako::v1::transport::UploadResponse response_;
  std::unique_ptr<grpc::ClientWriter<::zako::v1::transport::UploadRequest>> writer_;
  std::string buffer_;
  bool broken_ = false;
  bool finished_ = false;
};

class ZakoClient {
 public:
  static Result<std::unique_ptr<ZakoClient>> Connect(ClientOptions options);

  const ClientOptions& options() const { return options_; }

  // The digests among `digests` the server lacks, in their order (duplicates
  // are asked about, and answered, as often as they occur).
  Result<std::vector<Digest>> FindMissing(std::span<const Digest> digests);

  // Calls GetTransportDetails (always; see also RecommendedConcurrency).
  Result<TransportDetails> GetTransportDetails();
  // From the cached transport details (fetched if needed).
  Result<uint32_t> RecommendedConcurrency();

  // Streams bytes [offset, offset + length) of the blob (length unset: to the
  // end) to `sink`, which sees every byte exactly once, in order, even across
  // retries. An error from `sink` stops the download and is returned.
  using Sink = std::function<Status(std::span<const uint8_t>)>;
  Status Download(const Digest& digest, uint64_t offset, std::optional<uint64_t> length,
                  const Sink& sink);
  // A download from `offset` to the end, opened eagerly: NOT_FOUND and range
  // errors are returned here, not by the first Next().
  Result<std::unique_ptr<DownloadStream>> OpenDownload(const Digest& digest, uint64_t offset);

  // Uploads the blob whose bytes `source` returns (source(offset, out) fills
  // `out` from blob offset `offset` and returns how many it copied).
  // `progress` is told how many bytes were sent (negative after a retry
  // rewinds). kAlreadyPresent when the server had it.
  using Source = std::function<Result<size_t>(uint64_t offset, std::span<uint8_t> out)>;
  using Progress = std::function<void(int64_t delta)>;
  enum class UploadOutcome { kStored, kAlreadyPresent };
  Result<UploadOutcome> Upload(const Digest& digest, const Source& source,
                               const Progress& progress = {});
  // An upload fed by Append; the metadata is sent at once.
  Result<std::unique_ptr<UploadStream>> OpenUpload(const Digest& digest);

 private:
  struct Transport {
    std::shared_ptr<::zako::v1::transport::Transport::Stub> stub;
    std::string token;
  };
  explicit ZakoClient(ClientOptions options) : options_(std::move(options)) {}
  Status Init();
  std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, bool unlimited_receive,
                                             int connection_index) const;
  // The cached transport, refreshed when `refresh` or when the token is old.
  Result<Transport> GetTransport(bool refresh);
  void Authorize(grpc::ClientContext* context, const Transport& t) const;
  // One Upload attempt from `start`; sets *sent to the offset reached.
  grpc::Status UploadAttempt(const Transport& t, const Digest& digest, uint64_t start,
                             const Source& source, const Progress& progress, uint64_t* sent,
                             std::string* resume_trailer, Status* source_error);

  ClientOptions options_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::string tls_target_name_;
  std::unique_ptr<::zako::v1::cas::ContentAddressableStorage::Stub> cas_stub_;

  std::mutex mu_;
  std::optional<TransportDetails> details_;
  std::chrono::steady_clock::time_point details_time_;
  std::string transport_address_;  // address the stubs below connect to
  std::vector<std::shared_ptr<::zako::v1::transport::Transport::Stub>> transport_stubs_;
  size_t next_stub_ = 0;
};

// True for gRPC codes worth retrying a transfer on.
bool IsTransientTransferError(grpc::StatusCode code);

}  // namespace cycas::client
