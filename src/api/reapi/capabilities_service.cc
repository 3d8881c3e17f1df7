#include "api/reapi/capabilities_service.h"

namespace cycas::api::reapi {

grpc::Status CapabilitiesService::GetCapabilities(grpc::ServerContext*,
                                                  const v2::GetCapabilitiesRequest*,
                                                  v2::ServerCapabilities* response) {
  auto* cache = response->mutable_cache_capabilities();
  cache->add_digest_functions(v2::DigestFunction::SHA256);
  cache->add_digest_functions(v2::DigestFunction::BLAKE3);
  cache->mutable_action_cache_update_capabilities()->set_update_enabled(
      options_.action_cache_update_enabled);
  cache->set_max_batch_total_size_bytes(options_.max_batch_total_size_bytes);
  cache->set_symlink_absolute_path_strategy(v2::SymlinkAbsolutePathStrategy::ALLOWED);
  // Cache-only server: no execution_capabilities.
  auto* low = response->mutable_low_api_version();
  low->set_major(2);
  low->set_minor(0);
  auto* high = response->mutable_high_api_version();
  high->set_major(2);
  high->set_minor(0);
  return grpc::Status::OK;
}

}  // namespace cycas::api::reapi
