// REAPI ContentAddressableStorage: FindMissingBlobs, BatchUpdateBlobs,
// BatchReadBlobs and GetTree over the CAS layer (CasStore), which verifies
// every upload, answers for the empty blob, and collapses concurrent uploads.
//
// The CAS is shared by all instance names (content addressing makes that safe);
// the instance name is still validated and must be one the server serves.
#pragma once

#include <grpcpp/support/byte_buffer.h>

#include <string>

#include "api/reapi/find_missing_wire.h"
#include "api/reapi/reapi_options.h"
#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "cas/cas_store.h"
#include "cas/check_pool.h"

namespace cycas::api::reapi {

namespace v2 = build::bazel::remote::execution::v2;

// FindMissingBlobs is served as a "streamed unary" method over raw bytes: still
// unary on the wire and on the synchronous server's threads, but the handler
// reads the request's bytes itself (find_missing_wire.h says why).
class CasService final : public v2::ContentAddressableStorage::Service {
 public:
  CasService(CasStore* cas, CheckPool* pool, const ReapiOptions* options);

  // Registered in place of the generated FindMissingBlobs, which is never called.
  grpc::Status RawFindMissingBlobs(
      grpc::ServerContext* context,
      grpc::ServerUnaryStreamer<grpc::ByteBuffer, grpc::ByteBuffer>* stream);
  grpc::Status BatchUpdateBlobs(grpc::ServerContext* context,
                                const v2::BatchUpdateBlobsRequest* request,
                                v2::BatchUpdateBlobsResponse* response) override;
  grpc::Status BatchReadBlobs(grpc::ServerContext* context,
                              const v2::BatchReadBlobsRequest* request,
                              v2::BatchReadBlobsResponse* response) override;
  grpc::Status GetTree(grpc::ServerContext* context, const v2::GetTreeRequest* request,
                       grpc::ServerWriter<v2::GetTreeResponse>* writer) override;

 private:
  // FindMissingBlobs' work on a parsed request: on OK, `response` holds the
  // serialized FindMissingBlobsResponse.
  grpc::Status FindMissing(const auth::Principal& caller, const FindMissingWire& request,
                           std::string* response);
  // Stores one blob of a batch: verified, decompressed when `compressor` is ZSTD.
  Status UpdateOne(const v2::BatchUpdateBlobsRequest::Request& blob, DigestFunction fn, int index);

  CasStore* cas_;
  CheckPool* pool_;
  const ReapiOptions* options_;
};

// GetTree's page token: "<directories already sent>:<hex of the next directory's hash>".
// Exposed for tests.
struct TreePageToken {
  uint64_t skip = 0;
  std::string next_hash;
};
std::string FormatTreePageToken(const TreePageToken& token);
Result<TreePageToken> ParseTreePageToken(std::string_view text);

}  // namespace cycas::api::reapi
