#include "api/zako/cas_service.h"

#include <google/protobuf/arena.h>

#include <atomic>
#include <cstring>
#include <vector>

#include "api/grpc_auth.h"
#include "api/grpc_status.h"
#include "api/zako/wire.h"
#include "util/log.h"

namespace cycas::api::zako {

namespace cas_pb = ::zako::v1::cas;

namespace {
// Digests per unit of work handed to the CheckPool: large enough that the
// hand-off is noise next to the checks, small enough to spread a batch of a
// few thousand over every thread.
constexpr size_t kCheckGrain = 512;
}  // namespace

// The zako protocol has no instance names: its calls act on the default instance.
constexpr std::string_view kZakoInstance = "";

CasService::CasService(CasStore* cas, CheckPool* pool, TokenTable* tokens,
                       uint32_t recommended_concurrency, const auth::Authenticator* authenticator)
    : cas_(cas),
      pool_(pool),
      tokens_(tokens),
      recommended_concurrency_(recommended_concurrency),
      authenticator_(authenticator) {}

void CasService::SetTransportAddress(const ::zako::v1::net::SocketAddress& address) {
  std::lock_guard lk(mu_);
  transport_address_ = address;
}

grpc::Status CasService::NegotiateBlobs(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<cas_pb::NegotiateBlobsResponse, cas_pb::NegotiateBlobsRequest>*
        stream) {
  if (auto a = AuthorizeCall(authenticator_, *context, auth::Access::kRead, kZakoInstance);
      !a.ok()) {
    return a;
  }
  // One arena per request message: parsing 100k digests otherwise costs two
  // heap allocations each. The arena is reset after every message, so memory
  // stays bounded by the largest message (server.grpc_max_message).
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = 64 << 10;
  arena_options.max_block_size = 1 << 20;
  google::protobuf::Arena arena(arena_options);
  std::vector<Digest> digests;
  std::vector<uint8_t> missing;
  for (uint64_t message = 0;; ++message) {
    arena.Reset();
    auto* request = google::protobuf::Arena::CreateMessage<cas_pb::NegotiateBlobsRequest>(&arena);
    if (!stream->Read(request)) break;
    const int n = request->blob_digests_size();
    digests.clear();
    digests.reserve(n);
    for (int i = 0; i < n; ++i) {
      const auto& wire = request->blob_digests(i);
      if (wire.blake3().size() == kHashLength) {
        HashBytes hash;
        std::memcpy(hash.data(), wire.blake3().data(), kHashLength);
        Digest d(DigestFunction::kBlake3, hash, wire.size_bytes());
        if (cas_->CheckDigest(d).ok()) {
          digests.push_back(d);
          continue;
        }
      }
      // Slow path, only for a malformed digest: build the error naming it.
      std::string field = "blob_digests[" + std::to_string(i) + "]";
      auto d = DigestFromProto(wire, field);
      Status st = d.ok() ? cas_->CheckDigest(*d).WithContext(field) : d.status();
      return ToGrpcStatus(
          st.WithContext("NegotiateBlobs request message " + std::to_string(message)));
    }
    missing.assign(n, 0);
    std::atomic<uint64_t> errors{0};
    pool_->ParallelFor(n, kCheckGrain, [&](size_t begin, size_t end) {
      std::span<const Digest> range(digests.data() + begin, end - begin);
      std::span<uint8_t> flags(missing.data() + begin, end - begin);
      if (cas_->ContainsMany(range, flags).ok()) {
        for (uint8_t& f : flags) f = !f;  // present -> not missing
        return;
      }
      // Some check failed: one at a time, so only the failing ones count as missing.
      for (size_t i = begin; i < end; ++i) {
        auto present = cas_->Contains(digests[i]);
        if (!present.ok()) {
          if (errors.fetch_add(1) == 0) {
            LOG(kWarn, "presence check failed; reporting the blob missing")
                .kv("digest", digests[i].ToString())
                .kv("error", present.status().ToString());
          }
          missing[i] = 1;
        } else {
          missing[i] = !*present;
        }
      }
    });
    // The response is the request's own digest list with the present ones
    // taken out, moved over without copying a digest (same arena; the
    // repeated fields of both messages have the same wire form).
    auto* list = request->mutable_blob_digests();
    int kept = 0;
    for (int i = 0; i < n; ++i) {
      if (!missing[i]) continue;
      if (i != kept) list->SwapElements(i, kept);
      ++kept;
    }
    if (kept == 0) continue;
    list->DeleteSubrange(kept, n - kept);
    auto* response = google::protobuf::Arena::CreateMessage<cas_pb::NegotiateBlobsResponse>(&arena);
    response->mutable_missing_blob_digests()->Swap(list);
    if (!stream->Write(*response)) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
    }
  }
  if (context->IsCancelled()) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "NegotiateBlobs was cancelled");
  }
  return grpc::Status::OK;
}

grpc::Status CasService::GetTransportDetails(grpc::ServerContext* context,
                                             const cas_pb::GetTransportDetailsRequest* request,
                                             cas_pb::TransportDetails* response) {
  auth::Principal caller;
  if (auto a = AuthorizeCall(authenticator_, *context, auth::Access::kRead, kZakoInstance, &caller);
      !a.ok()) {
    return a;
  }
  // The token carries the caller's scopes, so Transport can refuse an upload
  // from a read-only caller without seeing its credentials again.
  TokenGrant grant{
      .read = true,
      .write = auth::Authenticator::Permit(caller, auth::Access::kWrite, kZakoInstance).ok()};
  bool speaks_grpc = false;
  std::string offered;
  for (int p : request->supported_protocols()) {
    if (p == ::zako::v1::net::grpc) speaks_grpc = true;
    if (!offered.empty()) offered += ", ";
    offered += std::to_string(p);
  }
  if (!speaks_grpc) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "none of the client's protocols is supported (client offered: " +
                            (offered.empty() ? std::string("none") : "[" + offered + "]") +
                            "); this server supports: grpc (zako.v1.net.Protocol value 0)");
  }
  {
    std::lock_guard lk(mu_);
    if (!transport_address_) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the transport service is not up yet");
    }
    *response->mutable_server_addr() = *transport_address_;
  }
  auto token = tokens_->Issue(grant);
  if (!token.ok()) return ToGrpcStatus(token.status());
  response->set_auth_token(std::move(*token));
  response->set_recommended_concurrency(recommended_concurrency_);
  return grpc::Status::OK;
}

}  // namespace cycas::api::zako
