// ZakoFrontend: the zako protocol front-end as the server wires it.
//
// Owns everything the two zako services share (the token table, the check
// pool, parked uploads) and, when `zako.transport_listen` is set, the separate
// gRPC server for the Transport service. Built from the configuration in one
// place so server.cc only registers, starts and stops it.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "api/grpc_metrics.h"
#include "api/zako/cas_service.h"
#include "api/zako/parked_uploads.h"
#include "api/zako/token_table.h"
#include "api/zako/transport_service.h"
#include "cas/cas_store.h"
#include "cas/check_pool.h"
#include "util/config.h"

namespace cycas::api::zako {

class ZakoFrontend {
 public:
  // Reads the zako.* and negotiate.* options. `cas` and `authenticator` are
  // not owned; `authenticator` null: auth is off.
  // `payload` (may be null, not owned) counts Transport's blob bytes.
  static Result<std::unique_ptr<ZakoFrontend>> Create(
      const Config& config, CasStore* cas, const auth::Authenticator* authenticator = nullptr,
      GrpcMetrics::Payload* payload = nullptr);
  ~ZakoFrontend();

  // Registers ContentAddressableStorage, and Transport too when it shares the
  // main listener, with the main server's builder.
  void RegisterServices(grpc::ServerBuilder* builder);

  // Call once the main server is listening on `main_port` (its configured
  // address is `main_listen`). Starts the separate Transport listener if one
  // is configured, with the same credentials and message limit, and fixes
  // the address GetTransportDetails advertises.
  // `metrics` (may be null) counts the separate listener's calls too.
  Status Start(const std::shared_ptr<grpc::ServerCredentials>& credentials, int max_message_size,
               const std::string& main_listen, int main_port, GrpcMetrics* metrics = nullptr);

  // Listener ports by name: {"transport": port}.
  std::map<std::string, int> ports() const;
  // The "ip:port" GetTransportDetails returns.
  const std::string& advertised_address() const { return advertised_; }

  // Stops parking uploads (aborting those parked) and begins stopping the
  // Transport listener in the background, so the caller can stop the main
  // listener meanwhile: calls still running at `deadline` are cancelled.
  // Idempotent.
  void Shutdown(std::chrono::system_clock::time_point deadline);
  // Returns once the Transport listener (if any) has stopped and its calls
  // have returned. Call before closing the storage they use.
  void Wait();

 private:
  ZakoFrontend() = default;

  CasStore* cas_ = nullptr;
  std::string transport_listen_;   // empty: Transport is on the main listener
  std::string advertise_address_;  // empty: derived from the listener
  std::unique_ptr<TokenTable> tokens_;
  std::unique_ptr<CheckPool> pool_;
  std::unique_ptr<ParkedUploads> parked_;
  std::unique_ptr<CasService> cas_service_;
  std::unique_ptr<TransportService> transport_service_;
  std::unique_ptr<grpc::Server> transport_server_;
  int transport_port_ = 0;
  std::string advertised_;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;
  std::thread shutdown_thread_;
};

}  // namespace cycas::api::zako
