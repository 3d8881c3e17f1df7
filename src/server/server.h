// Server: wires configuration, the storage stack and the protocol front-ends
// together, and runs them until shutdown. The only place that knows every layer.
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>

#include "api/reapi/capabilities_service.h"
#include "cas/action_cache.h"
#include "cas/cas_store.h"
#include "cas/engine_blob_store.h"
#include "cas/memory_blob_store.h"
#include "cas/tiered_blob_store.h"
#include "engine/engine.h"
#include "util/config.h"
#include "util/status.h"

namespace cycas::server {

class Server {
 public:
  explicit Server(const Config& config) : config_(config) {}
  ~Server();

  Status Start();
  // Stops accepting calls, lets in-flight calls finish within the grace period,
  // flushes the engine. Safe to call from another thread than Wait().
  void Shutdown();
  void Wait();

  // The port the gRPC listener is bound to (useful with port 0).
  int port() const { return port_; }
  // Every listener's bound port by name ("grpc", ...), as written to server.ready_file.
  const std::map<std::string, int>& ports() const { return ports_; }

 private:
  engine::EngineOptions EngineOptionsFromConfig() const;

  Status BuildStorage();
  Status WriteReadyFile() const;

  const Config& config_;
  // Storage stack, bottom to top (DESIGN.md §2): engine -> tiers -> CAS layer.
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<EngineBlobStore> local_tier_;
  std::unique_ptr<EngineRecordStore> records_;
  std::unique_ptr<MemoryBlobStore> ram_tier_;
  std::unique_ptr<BlobStore> remote_tier_;
  std::unique_ptr<TieredBlobStore> tiers_;
  std::unique_ptr<CasStore> cas_;
  std::unique_ptr<ActionCache> action_cache_;
  std::map<std::string, int> ports_;
  // Front-ends.
  std::unique_ptr<api::reapi::CapabilitiesService> reapi_capabilities_;
  std::unique_ptr<grpc::Server> grpc_;
  int port_ = 0;
};

}  // namespace cycas::server
