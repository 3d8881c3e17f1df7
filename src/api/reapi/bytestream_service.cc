#include "api/reapi/bytestream_service.h"

#include <grpcpp/support/method_handler.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "api/grpc_auth.h"
#include "api/grpc_status.h"
#include "api/reapi/call_admission.h"
#include "api/reapi/resource_name.h"
#include "api/reapi/write_request_wire.h"
#include "api/reapi/zstd_codec.h"
#include "util/log.h"

namespace cycas::api::reapi {

namespace bs = google::bytestream;

namespace {

grpc::Status Cancelled() {
  return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
}

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// gRPC 1.51 reads from the network into buffers of at most 64 KiB, and a
// received message's slices are views of them, each keeping its whole buffer
// alive. A piece of data the upload spool keeps by reference is therefore held
// through the one slice it lies in, and counted in the spool's memory budget
// as a whole buffer; pieces under half a buffer are copied instead (all of
// Bazel's, which sends 16 KiB messages), so references never cost the budget
// more than twice the bytes they keep.
constexpr size_t kReceiveBufferBytes = size_t{64} << 10;

// The next WriteRequest of a stream, read in place: `slices` hold its wire
// bytes, `fields` views into them.
struct ReceivedRequest {
  std::vector<grpc::Slice> slices;
  std::vector<std::string_view> pieces;  // the slices' bytes, kept to reuse its capacity
  WriteRequestWire fields;
};

// Hands a piece of a received message's data to the upload spool. `next` is
// where the search for the slice holding the piece starts (pieces come in
// order); it is moved on.
Status KeepInSpool(UploadSpool::Upload& upload, std::string_view part,
                   const std::vector<grpc::Slice>& slices, size_t* next) {
  if (part.size() >= kReceiveBufferBytes / 2) {
    // Compared as addresses: ordering pointers into different objects with `<`
    // is unspecified.
    const auto p = reinterpret_cast<uintptr_t>(part.data());
    for (; *next < slices.size(); ++*next) {
      const grpc::Slice& s = slices[*next];
      if (p < reinterpret_cast<uintptr_t>(s.begin()) ||
          p + part.size() > reinterpret_cast<uintptr_t>(s.end()))
        continue;
      // A copy of a slice shares its bytes (a reference), except for the tiny
      // slices gRPC stores inline, which no piece this large can lie in.
      auto owner = std::make_shared<const grpc::Slice>(s);
      if (owner->begin() != s.begin()) break;
      return upload.Append(part, std::move(owner), std::max(part.size(), kReceiveBufferBytes));
    }
  }
  return upload.Append(Bytes(part));
}

// False at the end of the stream; an error for bytes that are not a WriteRequest.
Result<bool> ReadRequest(grpc::ServerReader<grpc::ByteBuffer>* reader, ReceivedRequest* request) {
  grpc::ByteBuffer buffer;
  if (!reader->Read(&buffer)) return false;
  request->slices.clear();
  if (!buffer.Dump(&request->slices).ok()) {
    return Status::Internal("cannot read the WriteRequest's bytes");
  }
  request->pieces.clear();
  for (const grpc::Slice& s : request->slices) {
    request->pieces.emplace_back(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  RETURN_IF_ERROR(ParseWriteRequest(request->pieces, &request->fields));
  return true;
}

}  // namespace

ByteStreamService::ByteStreamService(CasStore* cas, UploadSpool* spool, const ReapiOptions* options)
    : cas_(cas), spool_(spool), options_(options) {
  // Method 1 of the service is Write (its order in the .proto).
  MarkMethodStreamed(
      1, new grpc::internal::ClientStreamingHandler<ByteStreamService, grpc::ByteBuffer,
                                                    grpc::ByteBuffer>(
             [](ByteStreamService* service, grpc::ServerContext* context,
                grpc::ServerReader<grpc::ByteBuffer>* reader, grpc::ByteBuffer* response) {
               return service->RawWrite(context, reader, response);
             },
             this));
}

grpc::Status ByteStreamService::Read(grpc::ServerContext* context, const bs::ReadRequest* request,
                                     grpc::ServerWriter<bs::ReadResponse>* writer) {
  auto CountSent = [this](uint64_t n) {
    if (options_->payload != nullptr) options_->payload->AddSent(n);
  };
  // Who first (so a stranger learns nothing, not even what parses), then,
  // once the resource name gives the instance, whether they may read it.
  auto caller = IdentifyCaller(options_->authenticator, *context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto res = ParseReadResourceName(request->resource_name());
  if (!res.ok()) return ToGrpcStatus(res.status());
  if (auto a = AdmitInstance(*options_, *caller, auth::Access::kRead, res->instance); !a.ok()) {
    return a;
  }
  const bool compressed = res->compressor == Compressor::kZstd;
  if (request->read_offset() < 0) {
    return ToGrpcStatus(Status::OutOfRange("read_offset must be >= 0, got " +
                                           std::to_string(request->read_offset())));
  }
  if (request->read_limit() < 0) {
    return ToGrpcStatus(Status::InvalidArgument("read_limit must be >= 0, got " +
                                                std::to_string(request->read_limit())));
  }
  if (compressed && request->read_limit() != 0) {
    return ToGrpcStatus(
        Status::InvalidArgument("read_limit must be 0 for compressed-blobs reads (the spec does "
                                "not define a compressed range)"));
  }
  Status st;
  auto reader = cas_->OpenRead(res->digest);
  if (!reader.ok()) {
    if (reader.status().code() == StatusCode::kNotFound) {
      return ToGrpcStatus(Status::NotFound("blob " + res->digest.ToString() + " not found"));
    }
    return ToGrpcStatus(reader.status());
  }
  const uint64_t size = (*reader)->size();
  const auto offset = static_cast<uint64_t>(request->read_offset());
  if (offset > size) {
    return ToGrpcStatus(Status::OutOfRange("read_offset " + std::to_string(offset) +
                                           " is past the end of blob " + res->digest.ToString()));
  }
  uint64_t end = size;
  if (request->read_limit() > 0)
    end = std::min(size, offset + static_cast<uint64_t>(request->read_limit()));
  const size_t chunk = options_->read_chunk_bytes;

  // Reads [pos, pos + n) of the blob into `out` (resized to n).
  auto read_into = [&](uint64_t pos, size_t n, std::string* out) -> Status {
    out->resize(n);
    size_t got = 0;
    while (got < n) {
      ASSIGN_OR_RETURN(
          size_t r,
          (*reader)->Read(pos + got, {reinterpret_cast<uint8_t*>(out->data()) + got, n - got}));
      if (r == 0) return Status::DataLoss("blob " + res->digest.ToString() + " ended early");
      got += r;
    }
    return Status::Ok();
  };

  bs::ReadResponse resp;
  if (!compressed) {
    for (uint64_t pos = offset; pos < end;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(chunk, end - pos));
      st = read_into(pos, n, resp.mutable_data());
      if (!st.ok()) return ToGrpcStatus(st);
      if (!writer->Write(resp)) return Cancelled();
      CountSent(n);
      pos += n;
      if (context->IsCancelled()) return Cancelled();
    }
    return grpc::Status::OK;
  }

  ZstdCompressor encoder(options_->zstd_level, end - offset);
  std::string plain;
  std::string packed;
  auto flush = [&](bool all) -> bool {
    size_t sent = 0;
    while (packed.size() - sent >= chunk || (all && sent < packed.size())) {
      size_t n = std::min(chunk, packed.size() - sent);
      resp.mutable_data()->assign(packed, sent, n);
      if (!writer->Write(resp)) return false;
      CountSent(n);
      sent += n;
    }
    packed.erase(0, sent);
    return true;
  };
  for (uint64_t pos = offset; pos < end;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(chunk, end - pos));
    st = read_into(pos, n, &plain);
    if (st.ok()) st = encoder.Feed(Bytes(plain), &packed);
    if (!st.ok()) return ToGrpcStatus(st);
    if (!flush(false)) return Cancelled();
    pos += n;
    if (context->IsCancelled()) return Cancelled();
  }
  st = encoder.Finish(&packed);
  if (!st.ok()) return ToGrpcStatus(st);
  if (!flush(true)) return Cancelled();
  return grpc::Status::OK;
}

grpc::Status ByteStreamService::RawWrite(grpc::ServerContext* context,
                                         grpc::ServerReader<grpc::ByteBuffer>* reader,
                                         grpc::ByteBuffer* response) {
  bs::WriteResponse message;
  grpc::Status st = WriteStream(context, reader, &message);
  if (!st.ok()) return st;
  grpc::Slice bytes(message.SerializeAsString());
  *response = grpc::ByteBuffer(&bytes, 1);
  return st;
}

grpc::Status ByteStreamService::WriteStream(grpc::ServerContext* context,
                                            grpc::ServerReader<grpc::ByteBuffer>* reader,
                                            bs::WriteResponse* response) {
  // Who first, before the request is even read (a stranger's bytes are not parsed).
  auto caller = IdentifyCaller(options_->authenticator, *context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  ReceivedRequest received;
  const WriteRequestWire& req = received.fields;
  auto got = ReadRequest(reader, &received);
  if (!got.ok()) return ToGrpcStatus(got.status());
  if (!*got) {
    if (context->IsCancelled()) return Cancelled();
    return ToGrpcStatus(Status::InvalidArgument("Write stream ended before its first request"));
  }
  const std::string resource = req.resource_name;
  auto res = ParseWriteResourceName(resource);
  if (!res.ok()) return ToGrpcStatus(res.status());
  if (auto a = AdmitInstance(*options_, *caller, auth::Access::kWrite, res->instance); !a.ok()) {
    return a;
  }
  const Digest digest = res->digest;
  Status st = cas_->CheckDigest(digest);
  if (!st.ok()) return ToGrpcStatus(st);
  const bool compressed = res->compressor == Compressor::kZstd;
  const std::string key = res->UploadKey();
  const auto size = static_cast<int64_t>(digest.size_bytes());

  // The blob is already stored: the spec lets the upload end at once.
  auto already_stored = [&] {
    spool_->Forget(key);
    response->set_committed_size(compressed ? -1 : size);
    return grpc::Status::OK;
  };
  auto present = cas_->Contains(digest);
  if (!present.ok()) return ToGrpcStatus(present.status());
  if (*present) return already_stored();

  const int64_t start = req.write_offset;
  if (start < 0 || start > size) {
    return ToGrpcStatus(Status::InvalidArgument("write_offset " + std::to_string(start) +
                                                " is outside blob " + digest.ToString()));
  }
  auto upload = spool_->Acquire(key, digest);
  if (!upload.ok()) return ToGrpcStatus(upload.status());
  UploadSpool::Upload& up = **upload;
  if (static_cast<uint64_t>(start) > up.durable_size()) {
    return ToGrpcStatus(Status::InvalidArgument(
        "write_offset " + std::to_string(start) + " is past the " +
        std::to_string(up.durable_size()) +
        " bytes this server holds for the upload; resume at QueryWriteStatus's committed_size"));
  }
  // Resuming at or before the kept prefix's end is fine: prefixes of one blob agree.
  st = up.TruncateTo(static_cast<uint64_t>(start));
  if (!st.ok()) return ToGrpcStatus(st);

  auto opened = cas_->OpenWrite(digest);
  if (!opened.ok()) {
    if (opened.status().code() == StatusCode::kAlreadyExists) {
      up.Discard();
      return already_stored();
    }
    return ToGrpcStatus(opened.status());
  }
  BlobWriter& blob = **opened;
  st = up.ReplayTo(blob);
  if (!st.ok()) {
    blob.Abort();
    up.Discard();  // the kept prefix is unusable; the client starts over
    return ToGrpcStatus(st.WithContext("resuming upload of " + digest.ToString()));
  }

  // Every byte of the blob goes to the verifying CAS writer and to the spool.
  // (Large uncompressed pieces go to the spool by reference, below: KeepInSpool.)
  auto sink = [&](std::span<const uint8_t> bytes) -> Status {
    RETURN_IF_ERROR(blob.Append(bytes));
    return up.Append(bytes);
  };
  std::optional<ZstdDecompressor> decoder;
  if (compressed) decoder.emplace(static_cast<uint64_t>(size - start));

  // Data errors (bytes that cannot belong to the blob) discard the upload;
  // other failures keep the prefix, so the client can resume.
  auto fail = [&](const Status& error, bool discard) {
    blob.Abort();
    if (discard) {
      up.Discard();
    } else {
      Status ps = up.Persist();
      if (!ps.ok()) LOG(kWarn, "cannot keep partial upload").kv("error", ps.ToString());
    }
    return ToGrpcStatus(error);
  };

  int64_t next_offset = start;
  bool finished = false;
  for (bool first = true;; first = false) {
    if (!first) {
      got = ReadRequest(reader, &received);
      if (!got.ok()) return fail(got.status(), false);
      if (!*got) break;
    }
    if (!req.resource_name.empty() && req.resource_name != resource) {
      return fail(Status::InvalidArgument("resource_name changed within one Write stream"), false);
    }
    if (req.write_offset != next_offset) {
      return fail(Status::InvalidArgument("write_offset " + std::to_string(req.write_offset) +
                                          ", expected " + std::to_string(next_offset) +
                                          " (the first offset plus the bytes sent since)"),
                  false);
    }
    size_t slice = 0;  // where KeepInSpool looks for the next piece's slice
    for (std::string_view part : req.data) {
      if (compressed) {
        st = decoder->Feed(Bytes(part), sink);
      } else {
        st = blob.Append(Bytes(part));
        if (st.ok()) st = KeepInSpool(up, part, received.slices, &slice);
      }
      if (!st.ok()) return fail(st, st.code() == StatusCode::kInvalidArgument);
    }
    next_offset += static_cast<int64_t>(req.data_size);
    if (options_->payload != nullptr) options_->payload->AddReceived(req.data_size);
    if (req.finish_write) {
      finished = true;
      break;
    }
  }

  if (!finished) {
    // The client cancelled, or half-closed without finish_write: keep what
    // arrived (durably) and report it, so the upload can resume there.
    blob.Abort();
    uint64_t kept = up.size();
    Status ps = up.Persist();
    if (!ps.ok()) {
      LOG(kWarn, "cannot keep partial upload").kv("error", ps.ToString());
      kept = 0;
    }
    if (context->IsCancelled()) return Cancelled();
    response->set_committed_size(static_cast<int64_t>(kept));
    return grpc::Status::OK;
  }
  if (compressed) {
    st = decoder->Finish();
    if (!st.ok()) return fail(st, true);
  }
  st = blob.Commit();
  if (!st.ok()) return fail(st, st.code() == StatusCode::kInvalidArgument);
  up.Discard();
  // Uncompressed: the blob's size. Compressed: the end offset in the stream's
  // offset space (first offset + compressed bytes), which is what clients compare.
  response->set_committed_size(compressed ? next_offset : size);
  return grpc::Status::OK;
}

grpc::Status ByteStreamService::QueryWriteStatus(grpc::ServerContext* context,
                                                 const bs::QueryWriteStatusRequest* request,
                                                 bs::QueryWriteStatusResponse* response) {
  // Part of an upload: the same scope as Write.
  auto caller = IdentifyCaller(options_->authenticator, *context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto res = ParseWriteResourceName(request->resource_name());
  if (!res.ok()) return ToGrpcStatus(res.status());
  if (auto a = AdmitInstance(*options_, *caller, auth::Access::kWrite, res->instance); !a.ok()) {
    return a;
  }
  Status st = cas_->CheckDigest(res->digest);
  if (!st.ok()) return ToGrpcStatus(st);
  auto present = cas_->Contains(res->digest);
  if (!present.ok()) return ToGrpcStatus(present.status());
  if (*present) {
    spool_->Forget(res->UploadKey());  // a kept prefix of a stored blob is of no more use
    response->set_committed_size(static_cast<int64_t>(res->digest.size_bytes()));
    response->set_complete(true);
    return grpc::Status::OK;
  }
  auto progress = spool_->Query(res->UploadKey());
  // An upload the server knows nothing of has committed nothing. (The
  // ByteStream spec suggests NOT_FOUND, but Bazel 5+ turns a failed query into
  // a failed upload; 0 makes every client simply start over.)
  response->set_committed_size(progress.ok() ? static_cast<int64_t>(progress->committed_size) : 0);
  response->set_complete(false);
  return grpc::Status::OK;
}

}  // namespace cycas::api::reapi
