#include "api/reapi/capabilities_service.h"

#include "api/grpc_auth.h"
#include "api/grpc_status.h"

namespace cycas::api::reapi {

grpc::Status CapabilitiesService::GetCapabilities(grpc::ServerContext* context,
                                                  const v2::GetCapabilitiesRequest* request,
                                                  v2::ServerCapabilities* response) {
  // Any caller may ask (anonymous too, whatever its scope): clients call this
  // first, and it reveals nothing stored. Credentials, when sent, must be valid.
  if (auto who = IdentifyCaller(options_.authenticator, *context); !who.ok()) {
    return ToGrpcStatus(who.status());
  }
  if (options_.instances != nullptr) {
    Status st = options_.instances->Check(request->instance_name());
    if (!st.ok()) return ToGrpcStatus(st);
  }
  auto* cache = response->mutable_cache_capabilities();
  cache->add_digest_functions(v2::DigestFunction::SHA256);
  cache->add_digest_functions(v2::DigestFunction::BLAKE3);
  cache->mutable_action_cache_update_capabilities()->set_update_enabled(
      options_.action_cache_update_enabled);
  cache->set_max_batch_total_size_bytes(options_.max_batch_total_size_bytes);
  cache->set_symlink_absolute_path_strategy(v2::SymlinkAbsolutePathStrategy::ALLOWED);
  // zstd for ByteStream compressed-blobs and for inline batch data (both directions).
  cache->add_supported_compressors(v2::Compressor::ZSTD);
  cache->add_supported_batch_update_compressors(v2::Compressor::ZSTD);
  cache->set_max_cas_blob_size_bytes(options_.max_cas_blob_size_bytes);
  // Cache-only server: no execution_capabilities.
  auto* low = response->mutable_low_api_version();
  low->set_major(2);
  low->set_minor(0);
  // 2.3: digest_function in every request and in resource names (BLAKE3),
  // compressed blobs, and the committed_size -1 of a compressed upload that
  // finds its blob already stored.
  auto* high = response->mutable_high_api_version();
  high->set_major(2);
  high->set_minor(3);
  return grpc::Status::OK;
}

}  // namespace cycas::api::reapi
