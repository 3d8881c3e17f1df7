// zako.v1.cas.ContentAddressableStorage: NegotiateBlobs and GetTransportDetails.
//
// NegotiateBlobs answers, for each request message, with the digests the
// store lacks, in request order; a message with nothing missing gets no
// response (the zako protocol's rule). Every digest of a message is validated
// before any is checked, so a malformed one fails the whole stream with
// INVALID_ARGUMENT naming the message and field; presence checks run on the
// shared CheckPool and go through CasStore::Contains, which touches what it
// finds. A digest whose presence cannot be determined (a tier returned an
// error) is reported missing: the client then uploads it, which is always
// safe, instead of its build failing on a cache problem.
//
// GetTransportDetails issues a bearer token and says where the Transport
// service listens.
//
// Auth (docs/auth.md): the zako protocol has no instance names, so its calls
// act on the default instance "". NegotiateBlobs and GetTransportDetails need
// the read scope; the transport token carries the caller's read and write
// scopes, which Transport enforces (a read-only caller cannot Upload).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

#include "cas/check_pool.h"
#include "api/zako/token_table.h"
#include "auth/authenticator.h"
#include "cas/cas_store.h"
#include "zako/v1/cas.grpc.pb.h"

namespace cycas::api::zako {

class CasService final : public ::zako::v1::cas::ContentAddressableStorage::Service {
 public:
  // None of the pointers is owned. `recommended_concurrency` must be >= 1.
  // `authenticator` null: auth is off.
  CasService(CasStore* cas, CheckPool* pool, TokenTable* tokens, uint32_t recommended_concurrency,
             const auth::Authenticator* authenticator = nullptr);

  // Where clients reach the Transport service; set once its port is known.
  // Until then GetTransportDetails answers UNAVAILABLE.
  void SetTransportAddress(const ::zako::v1::net::SocketAddress& address);

  grpc::Status NegotiateBlobs(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<::zako::v1::cas::NegotiateBlobsResponse,
                               ::zako::v1::cas::NegotiateBlobsRequest>* stream) override;

  grpc::Status GetTransportDetails(grpc::ServerContext* context,
                                   const ::zako::v1::cas::GetTransportDetailsRequest* request,
                                   ::zako::v1::cas::TransportDetails* response) override;

 private:
  CasStore* cas_;
  CheckPool* pool_;
  TokenTable* tokens_;
  uint32_t recommended_concurrency_;
  const auth::Authenticator* authenticator_;
  std::mutex mu_;
  std::optional<::zako::v1::net::SocketAddress> transport_address_;
};

}  // namespace cycas::api::zako
