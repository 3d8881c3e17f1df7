// REAPI Capabilities: tells clients which digest functions, compressors and
// limits this server supports, so they configure themselves before uploading.
#pragma once

#include <cstdint>

#include "api/reapi/instance_names.h"
#include "auth/authenticator.h"
#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"

namespace cycas::api::reapi {

namespace v2 = build::bazel::remote::execution::v2;

struct CapabilitiesOptions {
  bool action_cache_update_enabled = true;
  // Must fit in the largest gRPC message the server accepts, with room for
  // the per-blob framing (never 0: clients would read 0 as "no limit" and send
  // batches the server then rejects).
  int64_t max_batch_total_size_bytes = (int64_t{4} << 20) - (int64_t{64} << 10);
  // Largest blob the CAS accepts (cas.max_blob_size); 0 announces no limit.
  int64_t max_cas_blob_size_bytes = 0;
  // Instance names served (null: any); others are INVALID_ARGUMENT, so a
  // client with a wrong --remote_instance_name fails at its first call.
  const InstanceFilter* instances = nullptr;
  // Capabilities needs no scope, only credentials that are valid when given.
  const auth::Authenticator* authenticator = nullptr;
};

class CapabilitiesService final : public v2::Capabilities::Service {
 public:
  explicit CapabilitiesService(CapabilitiesOptions options) : options_(options) {}

  grpc::Status GetCapabilities(grpc::ServerContext* context,
                               const v2::GetCapabilitiesRequest* request,
                               v2::ServerCapabilities* response) override;

 private:
  CapabilitiesOptions options_;
};

}  // namespace cycas::api::reapi
