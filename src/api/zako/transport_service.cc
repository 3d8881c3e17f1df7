#include "api/zako/transport_service.h"

#include <algorithm>
#include <string>

#include "api/grpc_status.h"
#include "api/zako/wire.h"
#include "util/log.h"

namespace cycas::api::zako {

namespace tpb = ::zako::v1::transport;

namespace {

grpc::Status InvalidArgument(std::string message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
}

// The digest of a transfer's metadata, validated and checked for plausibility.
Result<Digest> MetadataDigest(const tpb::BlobResource& metadata, const CasStore& cas) {
  if (!metadata.has_digest()) return Status::InvalidArgument("metadata.digest is missing");
  ASSIGN_OR_RETURN(Digest d, DigestFromProto(metadata.digest(), "metadata.digest"));
  RETURN_IF_ERROR(cas.CheckDigest(d).WithContext("metadata.digest"));
  return d;
}

}  // namespace

TransportService::TransportService(CasStore* cas, TokenTable* tokens, ParkedUploads* parked,
                                   TransportOptions options)
    : cas_(cas), tokens_(tokens), parked_(parked), options_(options) {
  options_.chunk_size = std::max<size_t>(options_.chunk_size, 1);
}

grpc::Status TransportService::Authorize(grpc::ServerContext* context, bool write) const {
  const auto& md = context->client_metadata();
  auto it = md.find(grpc::string_ref(kAuthorizationKey.data(), kAuthorizationKey.size()));
  if (it == md.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing 'authorization: Bearer <token>' metadata; get a token from "
                        "zako.v1.cas.ContentAddressableStorage/GetTransportDetails");
  }
  auto token = BearerToken(std::string_view(it->second.data(), it->second.size()));
  if (!token) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "the authorization metadata must be 'Bearer <token>'");
  }
  auto grant = tokens_->Lookup(*token);
  if (!grant) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "the transport token is unknown or expired; call GetTransportDetails "
                        "for a fresh one");
  }
  if (write ? !grant->write : !grant->read) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        std::string("the transport token was issued to a caller without the ") +
                            (write ? "write" : "read") + " scope this call needs");
  }
  return grpc::Status::OK;
}

grpc::Status TransportService::Download(grpc::ServerContext* context,
                                        const tpb::DownloadRequest* request,
                                        grpc::ServerWriter<tpb::DownloadResponse>* writer) {
  if (auto st = Authorize(context, /*write=*/false); !st.ok()) return st;
  if (!request->has_metadata()) return InvalidArgument("metadata is missing");
  auto digest = MetadataDigest(request->metadata(), *cas_);
  if (!digest.ok()) return ToGrpcStatus(digest.status());
  auto reader = cas_->OpenRead(*digest);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  const auto& md = request->metadata();
  auto range =
      ResolveRange(md.has_range() ? &md.range() : nullptr, (*reader)->size(), digest->ToString());
  if (!range.ok()) return ToGrpcStatus(range.status());

  uint64_t off = range->offset;
  const uint64_t end = range->offset + range->length;
  tpb::DownloadResponse response;
  std::string* data = response.mutable_data();
  while (off < end) {
    if (context->IsCancelled()) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "download cancelled");
    }
    size_t want = static_cast<size_t>(std::min<uint64_t>(options_.chunk_size, end - off));
    data->resize(want);
    auto n = (*reader)->Read(off, {reinterpret_cast<uint8_t*>(data->data()), want});
    if (!n.ok()) return ToGrpcStatus(n.status().WithContext("blob " + digest->ToString()));
    if (*n == 0) {
      return ToGrpcStatus(Status::DataLoss("blob " + digest->ToString() + " ended at byte " +
                                           std::to_string(off) + " before its stored size"));
    }
    data->resize(*n);
    if (!writer->Write(response)) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
    }
    if (options_.payload != nullptr) options_.payload->AddSent(*n);
    off += *n;
  }
  return grpc::Status::OK;
}

grpc::Status TransportService::Upload(grpc::ServerContext* context,
                                      grpc::ServerReader<tpb::UploadRequest>* reader,
                                      tpb::UploadResponse* response) {
  if (auto st = Authorize(context, /*write=*/true); !st.ok()) return st;
  tpb::UploadRequest message;
  if (!reader->Read(&message)) {
    return InvalidArgument("the upload stream ended before its first (metadata) message");
  }
  if (message.payload_case() != tpb::UploadRequest::kMetadata) {
    return InvalidArgument("the first message of an upload must carry metadata, got " +
                           std::string(message.payload_case() == tpb::UploadRequest::kChunk
                                           ? "a chunk"
                                           : "an empty message"));
  }
  auto digest = MetadataDigest(message.metadata(), *cas_);
  if (!digest.ok()) return ToGrpcStatus(digest.status());
  const Digest d = *digest;
  const auto& md = message.metadata();
  auto range = ResolveRange(md.has_range() ? &md.range() : nullptr, d.size_bytes(), d.ToString());
  if (!range.ok()) return ToGrpcStatus(range.status());
  const uint64_t start = range->offset;
  const uint64_t end = range->offset + range->length;
  auto set_resume_trailer = [&](uint64_t held) {
    context->AddTrailingMetadata(std::string(kResumeOffsetTrailer), std::to_string(held));
  };

  std::unique_ptr<BlobWriter> writer;
  if (start == 0) {
    // A fresh upload replaces an interrupted one of the same blob.
    parked_->BeginFresh(d);
    auto w = cas_->OpenWrite(d);
    parked_->EndFresh(d);
    if (!w.ok()) return ToGrpcStatus(w.status());
    writer = std::move(*w);
  } else {
    auto present = cas_->Contains(d);
    if (present.ok() && *present) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                          "blob " + d.ToString() + " already exists");
    }
    auto taken = parked_->Take(d, start);
    if (!taken.writer) {
      set_resume_trailer(taken.held);
      return grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          "cannot resume the upload of " + d.ToString() + " at byte " + std::to_string(start) +
              ": " +
              (taken.held > 0 ? "the server holds its first " + std::to_string(taken.held) +
                                    " bytes; resume from there"
                              : std::string("the server holds no interrupted upload of it")) +
              ", or upload from offset 0");
    }
    writer = std::move(taken.writer);
  }

  uint64_t received = start;  // position in the blob
  for (uint64_t index = 1; reader->Read(&message); ++index) {
    if (message.payload_case() != tpb::UploadRequest::kChunk) {
      writer->Abort();
      return InvalidArgument("upload message " + std::to_string(index) +
                             " must carry a chunk; only the first message carries metadata");
    }
    const std::string& chunk = message.chunk();
    if (chunk.size() > end - received) {
      writer->Abort();
      return InvalidArgument("upload of " + d.ToString() + " sent more than the " +
                             std::to_string(end - start) + " bytes its range [" +
                             std::to_string(start) + ", " + std::to_string(end) + ") allows");
    }
    Status st = writer->Append({reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()});
    if (!st.ok()) {
      writer->Abort();
      return ToGrpcStatus(st);
    }
    if (options_.payload != nullptr) options_.payload->AddReceived(chunk.size());
    received += chunk.size();
  }

  if (context->IsCancelled()) {
    // The client disconnected, its deadline passed, or the server is stopping.
    if (received > 0) {
      LOG(kDebug, "upload interrupted").kv("digest", d.ToString()).kv("held", received);
      parked_->Park(d, std::move(writer), received);
    } else {
      writer->Abort();
    }
    return grpc::Status(grpc::StatusCode::CANCELLED, "upload interrupted");
  }
  if (received < end) {
    // The client half-closed early: keep what arrived for a resumed upload.
    bool keep = received > 0 && parked_->enabled();
    if (keep) {
      parked_->Park(d, std::move(writer), received);
      set_resume_trailer(received);
    } else {
      writer->Abort();
    }
    return InvalidArgument(
        "upload of " + d.ToString() + " ended after " + std::to_string(received - start) +
        " of the " + std::to_string(end - start) + " bytes of its range" +
        (keep ? "; the first " + std::to_string(received) + " bytes are held for a resumed upload"
              : std::string()));
  }
  if (end < d.size_bytes()) {
    // A range that stops before the end: a partial upload, continued later.
    if (!parked_->enabled()) {
      writer->Abort();
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "partial uploads need resumable uploads, which this server disables "
                          "(zako.resume_ttl=0); upload the whole blob");
    }
    parked_->Park(d, std::move(writer), received);
    set_resume_trailer(received);
    response->set_committed_size(received);
    return grpc::Status::OK;
  }
  Status st = writer->Commit();
  if (!st.ok()) return ToGrpcStatus(st);
  response->set_committed_size(d.size_bytes());
  return grpc::Status::OK;
}

}  // namespace cycas::api::zako
