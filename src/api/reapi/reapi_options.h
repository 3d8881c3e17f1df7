// Settings shared by the REAPI services, filled from the server's
// configuration (reapi.* and the relevant server.* / cas.* options).
#pragma once

#include <cstddef>
#include <cstdint>

#include "api/grpc_metrics.h"
#include "api/reapi/instance_names.h"
#include "api/reapi/upload_spool.h"
#include "auth/authenticator.h"

namespace cycas::api::reapi {

struct ReapiOptions {
  // Where the handlers count blob bytes in and out; null: not counted. Not owned.
  GrpcMetrics::Payload* payload = nullptr;
  // Capabilities.update_enabled; when false UpdateActionResult is PERMISSION_DENIED.
  bool action_cache_update_enabled = true;
  // UpdateActionResult refuses results that reference blobs the CAS lacks
  // (FAILED_PRECONDITION listing them), so the cache only holds results it can serve.
  bool action_cache_require_complete = true;
  // Largest gRPC message the server sends or accepts (server.grpc_max_message).
  size_t max_message_bytes = size_t{4} << 20;
  // Largest sum of blob sizes in one batch call; advertised in Capabilities.
  // Must leave room for the per-blob framing inside max_message_bytes.
  int64_t max_batch_total_size_bytes = (int64_t{4} << 20) - (int64_t{64} << 10);
  // Largest blob accepted (cas.max_blob_size); advertised in Capabilities.
  uint64_t max_blob_size = uint64_t{1} << 40;
  InstanceFilter instances;
  // zstd level for compressed reads (1 = fastest; clients may ask for any blob compressed).
  int zstd_level = 1;
  // Bytes per ByteStream ReadResponse (kept well under clients' 4 MiB limit).
  size_t read_chunk_bytes = size_t{1} << 20;
  // Most directories in one GetTreeResponse (the client's page_size may lower it).
  int get_tree_max_page = 10000;
  UploadSpool::Options uploads;
  // Threads checking FindMissingBlobs digests (negotiate.io_parallelism; 0 = one per core).
  size_t check_threads = 0;
  // Who may call (docs/auth.md); null: auth is off and every call is allowed.
  // Not owned; outlives the services.
  const auth::Authenticator* authenticator = nullptr;
};

}  // namespace cycas::api::reapi
