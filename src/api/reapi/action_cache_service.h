// REAPI ActionCache: GetActionResult and UpdateActionResult over the CAS
// layer's ActionCache, which keys results by (instance, digest function,
// action digest) and serves a result only when every blob it references is
// present (else NOT_FOUND, so the client re-runs the action instead of failing
// on a lost output). Checking presence touches the blobs, so a result handed
// out stays usable while the client downloads its outputs.
#pragma once

#include <string>
#include <vector>

#include "api/reapi/reapi_options.h"
#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "cas/action_cache.h"
#include "cas/cas_store.h"

namespace cycas::api::reapi {

namespace v2 = build::bazel::remote::execution::v2;

class ActionCacheService final : public v2::ActionCache::Service {
 public:
  ActionCacheService(CasStore* cas, ActionCache* cache, const ReapiOptions* options)
      : cas_(cas), cache_(cache), options_(options) {}

  grpc::Status GetActionResult(grpc::ServerContext* context,
                               const v2::GetActionResultRequest* request,
                               v2::ActionResult* response) override;
  grpc::Status UpdateActionResult(grpc::ServerContext* context,
                                  const v2::UpdateActionResultRequest* request,
                                  v2::ActionResult* response) override;

 private:
  // Fills stdout_raw / stderr_raw / output file contents as the request asks,
  // while the response stays within the gRPC message limit.
  void Inline(const v2::GetActionResultRequest& request, DigestFunction fn,
              v2::ActionResult* result);

  CasStore* cas_;
  ActionCache* cache_;
  const ReapiOptions* options_;
};

}  // namespace cycas::api::reapi
