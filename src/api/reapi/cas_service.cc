#include "api/reapi/cas_service.h"

#include <google/protobuf/arena.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "api/grpc_auth.h"
#include "api/grpc_status.h"
#include "api/reapi/call_admission.h"
#include "api/reapi/digest_functions.h"
#include "api/reapi/rpc_status.h"
#include "api/reapi/zstd_codec.h"
#include "cas/action_cache.h"
#include "digest/hex.h"

namespace cycas::api::reapi {

namespace {

// Blobs smaller than this are returned uncompressed even when the client
// accepts zstd: the frame overhead would eat the gain.
constexpr size_t kMinCompressSize = 64;
// Room kept free in a response for framing, digests and statuses.
constexpr size_t kResponseMargin = size_t{64} << 10;

std::string Field(std::string_view name, int index) {
  return std::string(name) + "[" + std::to_string(index) + "]";
}

bool AcceptsZstd(const v2::BatchReadBlobsRequest& request) {
  for (int c : request.acceptable_compressors()) {
    if (c == v2::Compressor::ZSTD) return true;
  }
  return false;
}

// Digests per unit of work handed to the CheckPool (as zako's NegotiateBlobs).
constexpr size_t kCheckGrain = 512;

}  // namespace

CasService::CasService(CasStore* cas, CheckPool* pool, const ReapiOptions* options)
    : cas_(cas), pool_(pool), options_(options) {
  // Method 0 of the service is FindMissingBlobs (its order in the .proto), as
  // the generated WithStreamedUnaryMethod_FindMissingBlobs also assumes.
  MarkMethodStreamed(
      0, new grpc::internal::StreamedUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
             [this](grpc::ServerContext* context,
                    grpc::ServerUnaryStreamer<grpc::ByteBuffer, grpc::ByteBuffer>* stream) {
               return RawFindMissingBlobs(context, stream);
             }));
}

grpc::Status CasService::RawFindMissingBlobs(
    grpc::ServerContext* context,
    grpc::ServerUnaryStreamer<grpc::ByteBuffer, grpc::ByteBuffer>* stream) {
  // Who first, before the request is even read (as ByteStream does).
  auto caller = IdentifyCaller(options_->authenticator, *context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  grpc::ByteBuffer in;
  if (!stream->Read(&in)) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "cannot read the FindMissingBlobsRequest");
  }
  // A request arrives in one slice or several; several are joined (one copy,
  // small next to the lookups).
  grpc::Slice slice;
  if (!in.TrySingleSlice(&slice).ok() && !in.DumpToSingleSlice(&slice).ok()) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "cannot read the FindMissingBlobsRequest");
  }
  FindMissingWire request;
  if (Status st = ParseFindMissingRequest(
          {reinterpret_cast<const char*>(slice.begin()), slice.size()}, &request);
      !st.ok()) {
    return ToGrpcStatus(st);
  }
  std::string response;
  if (grpc::Status st = FindMissing(*caller, request, &response); !st.ok()) return st;
  grpc::Slice out(response);
  grpc::ByteBuffer out_buffer(&out, 1);
  // The streamer must send exactly one response for an OK status.
  if (!stream->Write(out_buffer)) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
  }
  return grpc::Status::OK;
}

grpc::Status CasService::FindMissing(const auth::Principal& caller, const FindMissingWire& request,
                                     std::string* response) {
  const int n = static_cast<int>(request.digests.size());
  Admitted call;
  if (auto a = AdmitIdentifiedCall(
          *options_, caller, auth::Access::kRead,
          CallTarget(request.instance_name,
                     static_cast<v2::DigestFunction::Value>(request.digest_function))
              .FirstHash(n > 0 ? request.digests[0].hash : ""),
          &call);
      !a.ok()) {
    return a;
  }
  std::vector<Digest> digests;
  digests.reserve(n);
  for (int i = 0; i < n; i++) {
    const WireDigest& wire = request.digests[i];
    // Fast path for a well-formed digest; DigestFromProto builds the error
    // that names the field only for a bad one (building "blob_digests[i]"
    // and a Result for each of thousands of good ones was a visible share of
    // the call).
    HashBytes hash;
    if (wire.size_bytes >= 0 && HexDecodeTo(wire.hash, hash).ok()) {
      digests.emplace_back(call.digest_function, hash, static_cast<uint64_t>(wire.size_bytes));
      continue;
    }
    v2::Digest proto;
    proto.set_hash(std::string(wire.hash));
    proto.set_size_bytes(wire.size_bytes);
    return ToGrpcStatus(
        DigestFromProto(proto, call.digest_function, Field("blob_digests", i)).status());
  }
  // Checked in parallel like zako's NegotiateBlobs (the pool bounds how many run
  // server-wide). Contains() touches what it finds, so a blob reported present
  // stays for the build that relies on it.
  enum : uint8_t { kMissing, kPresent, kFailed };  // kMissing/kPresent as ContainsMany sets them
  std::vector<uint8_t> state(n, kPresent);
  std::mutex error_mu;
  std::optional<std::pair<int, Status>> first_error;
  pool_->ParallelFor(n, kCheckGrain, [&](size_t begin, size_t end) {
    std::span<const Digest> range(digests.data() + begin, end - begin);
    if (cas_->ContainsMany(range, std::span(state).subspan(begin, end - begin)).ok()) return;
    // Some check failed: one at a time, to name the first digest at fault.
    for (size_t i = begin; i < end; i++) {
      auto present = cas_->Contains(digests[i]);
      if (present.ok()) {
        state[i] = *present ? kPresent : kMissing;
        continue;
      }
      state[i] = kFailed;
      std::lock_guard lk(error_mu);
      if (!first_error || first_error->first > static_cast<int>(i)) {
        first_error.emplace(static_cast<int>(i), present.status());
      }
    }
  });
  if (first_error) {
    return ToGrpcStatus(first_error->second.WithContext(Field("blob_digests", first_error->first)));
  }
  // The response lists the missing digests in request order, each as the
  // bytes the client sent for it.
  size_t missing_bytes = 0;
  for (int i = 0; i < n; i++) {
    if (state[i] == kMissing) missing_bytes += request.digests[i].encoded.size() + 4;
  }
  response->reserve(missing_bytes);
  for (int i = 0; i < n; i++) {
    if (state[i] == kMissing) AppendMissingDigest(request.digests[i], response);
  }
  return grpc::Status::OK;
}

Status CasService::UpdateOne(const v2::BatchUpdateBlobsRequest::Request& blob, DigestFunction fn,
                             int index) {
  ASSIGN_OR_RETURN(Digest digest,
                   DigestFromProto(blob.digest(), fn, Field("requests", index) + ".digest"));
  RETURN_IF_ERROR(cas_->CheckDigest(digest));
  const std::string& data = blob.data();
  switch (blob.compressor()) {
    case v2::Compressor::IDENTITY:
      if (data.size() != digest.size_bytes()) {
        return Status::InvalidArgument("blob " + digest.ToString() + ": data is " +
                                       std::to_string(data.size()) + " bytes, the digest says " +
                                       std::to_string(digest.size_bytes()));
      }
      return cas_->Put(digest, data);
    case v2::Compressor::ZSTD: {
      auto writer = cas_->OpenWrite(digest);
      if (!writer.ok()) {
        return writer.status().code() == StatusCode::kAlreadyExists ? Status::Ok()
                                                                    : writer.status();
      }
      // Decompressed straight into the verifying writer, bounded by the digest's size.
      ZstdDecompressor decoder(digest.size_bytes());
      Status st =
          decoder.Feed({reinterpret_cast<const uint8_t*>(data.data()), data.size()},
                       [&](std::span<const uint8_t> out) { return (*writer)->Append(out); });
      if (st.ok()) st = decoder.Finish();
      if (!st.ok()) {
        (*writer)->Abort();
        return Status(st.code(), "blob " + digest.ToString() + ": " + st.message());
      }
      return (*writer)->Commit();
    }
    default:
      return Status::InvalidArgument(Field("requests", index) + ".compressor " +
                                     std::to_string(static_cast<int>(blob.compressor())) +
                                     " is not supported (IDENTITY and ZSTD are)");
  }
}

grpc::Status CasService::BatchUpdateBlobs(grpc::ServerContext* context,
                                          const v2::BatchUpdateBlobsRequest* request,
                                          v2::BatchUpdateBlobsResponse* response) {
  Admitted call;
  if (auto a = AdmitCall(
          *options_, *context, auth::Access::kWrite,
          CallTarget(request->instance_name(), request->digest_function())
              .FirstHash(request->requests_size() > 0 ? request->requests(0).digest().hash() : ""),
          &call);
      !a.ok()) {
    return a;
  }
  uint64_t total = 0;
  for (const auto& r : request->requests()) total += r.data().size();
  if (total > static_cast<uint64_t>(options_->max_batch_total_size_bytes)) {
    return ToGrpcStatus(Status::InvalidArgument(
        "batch carries " + std::to_string(total) + " bytes of blob data; the limit is " +
        std::to_string(options_->max_batch_total_size_bytes) +
        " (Capabilities.max_batch_total_size_bytes): split the batch or use ByteStream"));
  }
  if (options_->payload != nullptr) options_->payload->AddReceived(total);
  for (int i = 0; i < request->requests_size(); i++) {
    const auto& r = request->requests(i);
    auto* out = response->add_responses();
    *out->mutable_digest() = r.digest();
    *out->mutable_status() = ToRpcStatus(UpdateOne(r, call.digest_function, i));
  }
  return grpc::Status::OK;
}

grpc::Status CasService::BatchReadBlobs(grpc::ServerContext* context,
                                        const v2::BatchReadBlobsRequest* request,
                                        v2::BatchReadBlobsResponse* response) {
  Admitted call;
  if (auto a =
          AdmitCall(*options_, *context, auth::Access::kRead,
                    CallTarget(request->instance_name(), request->digest_function())
                        .FirstHash(request->digests_size() > 0 ? request->digests(0).hash() : ""),
                    &call);
      !a.ok()) {
    return a;
  }
  const auto limit = static_cast<uint64_t>(options_->max_batch_total_size_bytes);
  uint64_t total = 0;
  for (const auto& d : request->digests()) {
    // Sizes are client-chosen: stop summing once over the limit (no overflow).
    total += d.size_bytes() > 0 ? std::min(static_cast<uint64_t>(d.size_bytes()), limit + 1) : 0;
    if (total > limit) break;
  }
  if (total > limit) {
    return ToGrpcStatus(
        Status::InvalidArgument("batch asks for more than the limit of " + std::to_string(limit) +
                                " bytes of blobs (Capabilities.max_batch_total_size_bytes): split "
                                "the batch or use ByteStream"));
  }
  bool zstd = AcceptsZstd(*request);
  for (int i = 0; i < request->digests_size(); i++) {
    const auto& proto = request->digests(i);
    auto* out = response->add_responses();
    *out->mutable_digest() = proto;
    auto digest = DigestFromProto(proto, call.digest_function, "");
    if (!digest.ok()) {  // named only when bad, as in FindMissingBlobs
      digest = DigestFromProto(proto, call.digest_function, Field("digests", i));
      *out->mutable_status() = ToRpcStatus(digest.status());
      continue;
    }
    auto bytes =
        cas_->ReadAll(*digest, static_cast<uint64_t>(options_->max_batch_total_size_bytes));
    if (!bytes.ok()) {
      // Short message for the common miss: a batch may hold thousands of them.
      *out->mutable_status() = ToRpcStatus(bytes.status().code() == StatusCode::kNotFound
                                               ? Status::NotFound("blob not found")
                                               : bytes.status());
      continue;
    }
    if (zstd && bytes->size() >= kMinCompressSize) {
      auto packed = ZstdCompress(*bytes, options_->zstd_level);
      if (packed.ok() && packed->size() < bytes->size()) {
        out->set_data(std::move(*packed));
        out->set_compressor(v2::Compressor::ZSTD);
        out->mutable_status();
        continue;
      }
    }
    out->set_data(std::move(*bytes));
    out->mutable_status();
  }
  size_t size = response->ByteSizeLong();
  if (size > options_->max_message_bytes) {
    response->Clear();
    return ToGrpcStatus(Status::InvalidArgument("the response would be " + std::to_string(size) +
                                                " bytes, over the gRPC message limit of " +
                                                std::to_string(options_->max_message_bytes) +
                                                ": split the batch"));
  }
  if (options_->payload != nullptr) {
    uint64_t sent = 0;
    for (const auto& r : response->responses()) sent += r.data().size();
    options_->payload->AddSent(sent);
  }
  return grpc::Status::OK;
}

std::string FormatTreePageToken(const TreePageToken& token) {
  return std::to_string(token.skip) + ":" + token.next_hash;
}

Result<TreePageToken> ParseTreePageToken(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("page_token is not one this server issued: " + why);
  };
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 19)
    return bad("no '<count>:' prefix");
  std::string_view count = text.substr(0, colon);
  if (count.size() > 1 && count[0] == '0') return bad("count has a leading zero");
  uint64_t skip = 0;
  for (char c : count) {
    if (c < '0' || c > '9') return bad("count is not decimal");
    skip = skip * 10 + static_cast<uint64_t>(c - '0');
  }
  std::string_view hash = text.substr(colon + 1);
  HashBytes bytes;
  if (!HexDecodeTo(hash, bytes).ok()) return bad("hash is not 64 lowercase hex characters");
  return TreePageToken{skip, std::string(hash)};
}

grpc::Status CasService::GetTree(grpc::ServerContext* context, const v2::GetTreeRequest* request,
                                 grpc::ServerWriter<v2::GetTreeResponse>* writer) {
  Admitted call;
  if (auto a = AdmitCall(*options_, *context, auth::Access::kRead,
                         CallTarget(request->instance_name(), request->digest_function())
                             .About(request->root_digest(), "root_digest"),
                         &call);
      !a.ok()) {
    return a;
  }
  const Digest& root = *call.digest;
  const DigestFunction fn = call.digest_function;
  if (request->page_size() < 0) {
    return ToGrpcStatus(Status::InvalidArgument("page_size must be >= 0, got " +
                                                std::to_string(request->page_size())));
  }
  int page_limit = options_->get_tree_max_page;
  if (request->page_size() > 0 && request->page_size() < page_limit)
    page_limit = request->page_size();
  std::optional<TreePageToken> token;
  if (!request->page_token().empty()) {
    auto t = ParseTreePageToken(request->page_token());
    if (!t.ok()) return ToGrpcStatus(t.status());
    token = *t;
  }
  const size_t byte_budget = options_->max_message_bytes > 2 * kResponseMargin
                                 ? options_->max_message_bytes - kResponseMargin
                                 : options_->max_message_bytes / 2;

  // Breadth-first over distinct directories, in the order their parents list
  // them; the order is deterministic, so a page token (a count of directories
  // already sent plus the next one's hash, as a check) resumes it exactly.
  std::deque<Digest> queue{root};
  std::set<Digest> seen{root};  // ordered: digests here are client-chosen
  uint64_t index = 0;           // directories found so far
  v2::GetTreeResponse page;
  size_t page_bytes = 0;
  bool first = true;
  while (!queue.empty()) {
    if (context->IsCancelled())
      return grpc::Status(grpc::StatusCode::CANCELLED, "client cancelled");
    Digest d = queue.front();
    queue.pop_front();
    auto bytes = cas_->ReadAll(d, byte_budget);
    v2::Directory dir;
    if (!bytes.ok() || !dir.ParseFromString(*bytes)) {
      if (first) {
        if (!bytes.ok() && bytes.status().code() == StatusCode::kNotFound) {
          return ToGrpcStatus(
              Status::NotFound("root directory " + d.ToString() + " is not in the CAS"));
        }
        if (!bytes.ok())
          return ToGrpcStatus(bytes.status().WithContext("root directory " + d.ToString()));
        return ToGrpcStatus(Status::InvalidArgument("root_digest " + d.ToString() +
                                                    " is not an encoded Directory"));
      }
      if (!bytes.ok() && bytes.status().code() != StatusCode::kNotFound &&
          bytes.status().code() != StatusCode::kResourceExhausted) {
        return ToGrpcStatus(bytes.status().WithContext("directory " + d.ToString()));
      }
      // The spec: the portion of the tree that is present is returned, the
      // rest (missing or unreadable subdirectories) omitted.
      continue;
    }
    first = false;
    for (const auto& child : dir.directories()) {
      auto cd = DigestFromProto(child.digest(), fn, "directory");
      if (cd.ok() && seen.insert(*cd).second) queue.push_back(*cd);
    }
    uint64_t i = index++;
    if (token && i < token->skip) continue;
    if (token && i == token->skip && d.hex() != token->next_hash) {
      return ToGrpcStatus(
          Status::InvalidArgument("page_token does not match this tree (it was issued for another "
                                  "root, or the tree changed)"));
    }
    size_t dir_bytes = bytes->size() + 8;
    if (page.directories_size() > 0 &&
        (page.directories_size() >= page_limit || page_bytes + dir_bytes > byte_budget)) {
      page.set_next_page_token(FormatTreePageToken({i, d.hex()}));
      if (!writer->Write(page))
        return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      page.Clear();
      page_bytes = 0;
    }
    *page.add_directories() = std::move(dir);
    page_bytes += dir_bytes;
  }
  if (token && index <= token->skip) {
    return ToGrpcStatus(Status::InvalidArgument("page_token points past the end of this tree"));
  }
  if (!writer->Write(page)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
  return grpc::Status::OK;
}

}  // namespace cycas::api::reapi
