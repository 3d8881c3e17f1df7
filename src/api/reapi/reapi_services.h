// ReapiServices: the REAPI cache front-end as one unit — Capabilities,
// ContentAddressableStorage, ActionCache and ByteStream — built over the CAS
// layer and registered on the server's main gRPC listener.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "api/reapi/action_cache_service.h"
#include "api/reapi/bytestream_service.h"
#include "api/reapi/capabilities_service.h"
#include "api/reapi/cas_service.h"
#include "api/reapi/reapi_options.h"
#include "api/reapi/upload_spool.h"
#include "cas/action_cache.h"
#include "cas/cas_store.h"
#include "util/config.h"
#include "util/prometheus.h"

namespace cycas::api::reapi {

// Reads the reapi.* options (and server.grpc_max_message, server.data_dir,
// cas.max_blob_size) into ReapiOptions; INVALID_ARGUMENT names a bad option.
Result<ReapiOptions> ReapiOptionsFromConfig(const Config& config);

// Also a MetricsSource: the upload spool's figures, for /metrics.
class ReapiServices : public MetricsSource {
 public:
  // Opens the upload spool (options.uploads.dir), recovering kept partial uploads.
  static Result<std::unique_ptr<ReapiServices>> Create(ReapiOptions options, CasStore* cas,
                                                       ActionCache* action_cache);

  // Registers every service; `this` must outlive the built server.
  void Register(grpc::ServerBuilder& builder);

  const ReapiOptions& options() const { return options_; }
  UploadSpool& uploads() { return *spool_; }

  void RenderPrometheus(std::string& out) const override;

 private:
  ReapiServices(ReapiOptions options, CasStore* cas, ActionCache* action_cache,
                std::unique_ptr<UploadSpool> spool);

  ReapiOptions options_;
  std::unique_ptr<UploadSpool> spool_;
  CheckPool pool_;  // before cas_, which uses it
  CapabilitiesService capabilities_;
  CasService cas_;
  ActionCacheService action_cache_;
  ByteStreamService bytestream_;
};

}  // namespace cycas::api::reapi
