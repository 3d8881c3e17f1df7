// ByteStream (google.bytestream) for REAPI blobs: the hot path of Bazel, which
// uploads and downloads every blob through it.
//
// Read streams a blob (or a range of it: read_offset / read_limit), plain or
// zstd-compressed as the resource name asks. Write streams an upload into the
// CAS, verified against the digest before it becomes visible; a compressed
// upload is decompressed on the way, bounded by the digest's size. An upload
// of a blob the CAS already has ends at once with the full committed_size (-1
// for compressed uploads, as the spec says). An upload whose stream breaks
// before finish_write keeps what it received (UploadSpool), so
// QueryWriteStatus reports it and a new Write with that write_offset resumes
// — also after a restart of the server.
//
// Resource names: see resource_name.h. Offsets of a compressed upload follow
// the spec: the first write_offset is in uncompressed bytes (where the upload
// resumes), later ones add the compressed bytes sent.
#pragma once

#include "api/reapi/reapi_options.h"
#include "api/reapi/upload_spool.h"
#include "cas/cas_store.h"
#include "google/bytestream/bytestream.grpc.pb.h"

namespace cycas::api::reapi {

class ByteStreamService final : public google::bytestream::ByteStream::Service {
 public:
  ByteStreamService(CasStore* cas, UploadSpool* spool, const ReapiOptions* options);

  grpc::Status Read(grpc::ServerContext* context, const google::bytestream::ReadRequest* request,
                    grpc::ServerWriter<google::bytestream::ReadResponse>* writer) override;
  grpc::Status QueryWriteStatus(grpc::ServerContext* context,
                                const google::bytestream::QueryWriteStatusRequest* request,
                                google::bytestream::QueryWriteStatusResponse* response) override;

 private:
  // Write, which reads its requests' wire bytes itself (write_request_wire.h):
  // the data goes from gRPC's receive slices to the CAS writer, and the spool
  // keeps references to the slices rather than copies.
  grpc::Status RawWrite(grpc::ServerContext* context, grpc::ServerReader<grpc::ByteBuffer>* reader,
                        grpc::ByteBuffer* response);
  grpc::Status WriteStream(grpc::ServerContext* context,
                           grpc::ServerReader<grpc::ByteBuffer>* reader,
                           google::bytestream::WriteResponse* response);

  CasStore* cas_;
  UploadSpool* spool_;
  const ReapiOptions* options_;
};

}  // namespace cycas::api::reapi
