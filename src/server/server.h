// Server: wires configuration, the storage stack and the protocol front-ends
// together, and runs them until shutdown. The only place that knows every layer.
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>

#include "api/grpc_metrics.h"
#include "api/http/http_server.h"
#include "api/reapi/reapi_services.h"
#include "api/zako/frontend.h"
#include "auth/authenticator.h"
#include "cas/action_cache.h"
#include "cas/cas_store.h"
#include "cas/engine_blob_store.h"
#include "cas/memory_blob_store.h"
#include "cas/s3/s3_tier.h"
#include "cas/tiered_blob_store.h"
#include "engine/engine.h"
#include "util/config.h"
#include "util/status.h"

namespace cycas::server {

// Parses engine.spans ("PATH=SIZE,PATH=SIZE").
Status ParseSpans(const std::string& text, std::vector<engine::SpanSpec>* spans);

class Server {
 public:
  explicit Server(const Config& config) : config_(config) {}
  ~Server();

  Status Start();
  // Stops accepting calls, lets in-flight calls finish within the grace period,
  // flushes the engine. Safe to call from another thread than Wait().
  void Shutdown();
  void Wait();
  // Re-reads auth.credentials_file (SIGHUP). A malformed file is logged and
  // the previous credentials stay in force. Safe to call from any thread.
  void ReloadCredentials();

  // The port the gRPC listener is bound to (useful with port 0).
  int port() const { return port_; }
  // Every listener's bound port by name ("grpc", ...), as written to server.ready_file.
  const std::map<std::string, int>& ports() const { return ports_; }

 private:
  engine::EngineOptions EngineOptionsFromConfig() const;

  Status BuildStorage();
  Status WriteReadyFile() const;
  void LogCredentials(const char* what) const;
  // The HTTP front-end (docs/http.md); a no-op when http.listen is empty.
  Status StartHttp();

  const Config& config_;
  // Who may call (docs/auth.md); null when auth.credentials_file is empty.
  // Declared first among the owned parts: every front-end points at it.
  std::unique_ptr<auth::Authenticator> authenticator_;
  // Storage stack, bottom to top (DESIGN.md §2): engine -> tiers -> CAS layer.
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<EngineBlobStore> local_tier_;
  std::unique_ptr<EngineRecordStore> records_;
  std::unique_ptr<MemoryBlobStore> ram_tier_;
  std::unique_ptr<BlobStore> remote_tier_;
  // The S3 tier (docs/s3-tier.md), when s3.endpoint is set: the local engine in
  // front of a shared bucket, with its upload queue. Exclusive with remote_tier_.
  std::unique_ptr<s3::S3Tier> s3_tier_;
  // The records every front-end uses: records_, or the S3 tier's over them.
  RecordStore* serving_records_ = nullptr;
  std::unique_ptr<TieredBlobStore> tiers_;
  std::unique_ptr<CasStore> cas_;
  // With the S3 tier, the action cache checks completeness through a view that
  // answers UNAVAILABLE (not "absent") when S3 cannot be asked.
  std::unique_ptr<TieredBlobStore> strict_tiers_;
  std::unique_ptr<CasStore> strict_cas_;
  std::unique_ptr<ActionCache> action_cache_;
  std::map<std::string, int> ports_;
  // Front-ends.
  // Counts the calls of the gRPC listeners below, so it is declared before them.
  api::GrpcMetrics grpc_metrics_;
  // REAPI cache services (docs/reapi.md); declared before grpc_ so they outlive it.
  std::unique_ptr<api::reapi::ReapiServices> reapi_;
  // zako CAS + Transport (docs/zako-protocol.md); declared before grpc_ so it outlives it.
  std::unique_ptr<api::zako::ZakoFrontend> zako_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<api::http::HttpServer> http_;
  int port_ = 0;
};

}  // namespace cycas::server
