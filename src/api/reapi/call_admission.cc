#include "api/reapi/call_admission.h"

#include "api/grpc_auth.h"
#include "api/grpc_status.h"
#include "api/reapi/digest_functions.h"
#include "cas/action_cache.h"

namespace cycas::api::reapi {

grpc::Status AdmitCall(const ReapiOptions& options, const grpc::ServerContext& context,
                       auth::Access access, const CallTarget& target, Admitted* admitted) {
  auto caller = IdentifyCaller(options.authenticator, context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  return AdmitIdentifiedCall(options, *caller, access, target, admitted);
}

grpc::Status AdmitIdentifiedCall(const ReapiOptions& options, const auth::Principal& caller,
                                 auth::Access access, const CallTarget& target,
                                 Admitted* admitted) {
  if (auto a = PermitCall(caller, access, target.instance); !a.ok()) return a;
  if (!target.refusal.ok()) return ToGrpcStatus(target.refusal);
  if (Status st = options.instances.Check(target.instance); !st.ok()) return ToGrpcStatus(st);
  auto fn = ResolveDigestFunction(target.digest_function, target.first_hash);
  if (!fn.ok()) return ToGrpcStatus(fn.status());
  admitted->digest_function = *fn;
  if (target.digest != nullptr) {
    auto digest = DigestFromProto(*target.digest, *fn, target.digest_field);
    if (!digest.ok()) return ToGrpcStatus(digest.status());
    admitted->digest = *digest;
  }
  return grpc::Status::OK;
}

grpc::Status AdmitInstance(const ReapiOptions& options, const auth::Principal& caller,
                           auth::Access access, std::string_view instance) {
  if (auto a = PermitCall(caller, access, instance); !a.ok()) return a;
  if (Status st = options.instances.Check(instance); !st.ok()) return ToGrpcStatus(st);
  return grpc::Status::OK;
}

}  // namespace cycas::api::reapi
