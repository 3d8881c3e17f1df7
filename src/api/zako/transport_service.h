// zako.v1.transport.Transport: Download and Upload of blob bytes.
//
// Every call must carry `authorization: Bearer <token>` with a live token from
// GetTransportDetails, else UNAUTHENTICATED (checked once, when the call
// starts; a transfer that outlives its token is not cut off). The token must
// also carry the scope the call needs (docs/auth.md): read for Download,
// write for Upload, else PERMISSION_DENIED.
//
// Download streams the requested range in chunks of at most `chunk_size`
// bytes. The synchronous gRPC writer blocks until HTTP/2 flow control accepts
// each message, so a slow reader holds at most a chunk or two in server
// memory, never the blob.
//
// Upload takes a metadata message, then chunks. The bytes go through
// CasStore's verifying writer, so they are hashed as they arrive and the blob
// is committed only if size and BLAKE3 hash match the digest. An upload that
// stops short of the blob's end (client gone, or a range that ends early) is
// parked in ParkedUploads and can be resumed by an Upload whose range starts
// at the number of bytes held; see docs/zako-protocol.md.
#pragma once

#include <cstddef>

#include "api/grpc_metrics.h"
#include "api/zako/parked_uploads.h"
#include "api/zako/token_table.h"
#include "cas/cas_store.h"
#include "zako/v1/transport.grpc.pb.h"

namespace cycas::api::zako {

struct TransportOptions {
  // Largest data message of a Download.
  size_t chunk_size = 1 << 20;
  // Where blob bytes in and out are counted; null: not counted. Not owned.
  GrpcMetrics::Payload* payload = nullptr;
};

class TransportService final : public ::zako::v1::transport::Transport::Service {
 public:
  // None of the pointers is owned.
  TransportService(CasStore* cas, TokenTable* tokens, ParkedUploads* parked,
                   TransportOptions options);

  grpc::Status Download(
      grpc::ServerContext* context, const ::zako::v1::transport::DownloadRequest* request,
      grpc::ServerWriter<::zako::v1::transport::DownloadResponse>* writer) override;

  grpc::Status Upload(grpc::ServerContext* context,
                      grpc::ServerReader<::zako::v1::transport::UploadRequest>* reader,
                      ::zako::v1::transport::UploadResponse* response) override;

 private:
  grpc::Status Authorize(grpc::ServerContext* context, bool write) const;

  CasStore* cas_;
  TokenTable* tokens_;
  ParkedUploads* parked_;
  TransportOptions options_;
};

}  // namespace cycas::api::zako
