#include "api/grpc_auth.h"

#include "api/grpc_status.h"

namespace cycas::api {

Result<auth::Principal> IdentifyCaller(const auth::Authenticator* authenticator,
                                       const grpc::ServerContext& context) {
  if (authenticator == nullptr) return auth::Principal::Unrestricted();
  auth::Presented presented;
  const auto& md = context.client_metadata();
  if (auto it = md.find("authorization"); it != md.end()) {
    presented.authorization = std::string_view(it->second.data(), it->second.size());
  }
  // gRPC sets x509_common_name only for a peer certificate it verified.
  std::string cn;
  if (auto ac = context.auth_context(); ac && ac->IsPeerAuthenticated()) {
    auto values = ac->FindPropertyValues("x509_common_name");
    if (!values.empty()) cn.assign(values.front().data(), values.front().size());
  }
  presented.cert_common_name = cn;
  return authenticator->Identify(presented);
}

grpc::Status PermitCall(const auth::Principal& principal, auth::Access access,
                        std::optional<std::string_view> instance) {
  Status st = auth::Authenticator::Permit(principal, access, instance);
  return st.ok() ? grpc::Status::OK : ToGrpcStatus(st);
}

grpc::Status AuthorizeCall(const auth::Authenticator* authenticator,
                           const grpc::ServerContext& context, auth::Access access,
                           std::optional<std::string_view> instance, auth::Principal* principal) {
  if (authenticator == nullptr) {
    if (principal != nullptr) *principal = auth::Principal::Unrestricted();
    return grpc::Status::OK;
  }
  auto who = IdentifyCaller(authenticator, context);
  if (!who.ok()) return ToGrpcStatus(who.status());
  grpc::Status st = PermitCall(*who, access, instance);
  if (st.ok() && principal != nullptr) *principal = std::move(*who);
  return st;
}

}  // namespace cycas::api
