// REAPI Capabilities: tells clients which digest functions, compressors and
// limits this server supports, so they configure themselves before uploading.
#pragma once

#include <cstdint>

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"

namespace cycas::api::reapi {

namespace v2 = build::bazel::remote::execution::v2;

struct CapabilitiesOptions {
  bool action_cache_update_enabled = true;
  // Must match the largest gRPC message the server accepts (never 0: clients
  // would read 0 as "no limit" and send batches the server then rejects).
  int64_t max_batch_total_size_bytes = 4 << 20;
};

class CapabilitiesService final : public v2::Capabilities::Service {
 public:
  explicit CapabilitiesService(CapabilitiesOptions options) : options_(options) {}

  grpc::Status GetCapabilities(grpc::ServerContext* context, const v2::GetCapabilitiesRequest* request,
                               v2::ServerCapabilities* response) override;

 private:
  CapabilitiesOptions options_;
};

}  // namespace cycas::api::reapi
