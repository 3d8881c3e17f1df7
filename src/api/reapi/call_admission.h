// The checks every REAPI handler makes before it touches storage, in one
// place so that every RPC answers a bad call the same way. The order decides
// which error a call that is wrong in several ways sees: who the caller is
// first (a stranger learns nothing, not even which instance names exist),
// then whether they may use the instance, whether this server serves it,
// which digest function the request's digests use, and — for requests about
// one digest, such as an action or a tree root — that digest.
#pragma once

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string_view>

#include "api/reapi/reapi_options.h"
#include "auth/authenticator.h"
#include "build/bazel/remote/execution/v2/remote_execution.pb.h"
#include "digest/digest.h"
#include "util/status.h"

namespace cycas::api::reapi {

namespace v2 = build::bazel::remote::execution::v2;

// What a request names, as far as admission is concerned.
struct CallTarget {
  CallTarget(std::string_view instance, v2::DigestFunction::Value digest_function)
      : instance(instance), digest_function(digest_function) {}
  // For requests about many digests: the hash of the first ("" when none).
  CallTarget& FirstHash(std::string_view hash) {
    first_hash = hash;
    return *this;
  }
  // For requests about one digest (an action, a tree root).
  CallTarget& About(const v2::Digest& one, std::string_view field) {
    first_hash = one.hash();
    digest = &one;
    digest_field = field;
    return *this;
  }

  std::string_view instance;
  v2::DigestFunction::Value digest_function;
  // The spec lets an unset digest_function be inferred from this hash.
  std::string_view first_hash;
  // The request's one digest, parsed into Admitted::digest; errors name `digest_field`.
  const v2::Digest* digest = nullptr;
  std::string_view digest_field;
  // A refusal that applies to every caller let in (e.g. action-cache updates
  // switched off): checked once the caller is authorized and before the
  // instance name, so a stranger still sees UNAUTHENTICATED.
  Status refusal;
};

struct Admitted {
  DigestFunction digest_function = DigestFunction::kSha256;
  std::optional<Digest> digest;  // set when CallTarget::digest was given
};

// Authorizes `access` for the caller of `context`, then checks `target` as
// described above and fills `admitted`. OK, or the gRPC status to return.
grpc::Status AdmitCall(const ReapiOptions& options, const grpc::ServerContext& context,
                       auth::Access access, const CallTarget& target, Admitted* admitted);

// As AdmitCall, for a caller already identified (IdentifyCaller): a handler
// that reads its request's bytes itself identifies the caller first, so a
// stranger learns nothing, not even what parses, and costs no parsing.
grpc::Status AdmitIdentifiedCall(const ReapiOptions& options, const auth::Principal& caller,
                                 auth::Access access, const CallTarget& target, Admitted* admitted);

// The instance checks alone, for a caller already identified: ByteStream
// names its instance inside a resource name, which it parses only once it
// knows who is asking, and which carries the digest itself.
grpc::Status AdmitInstance(const ReapiOptions& options, const auth::Principal& caller,
                           auth::Access access, std::string_view instance);

}  // namespace cycas::api::reapi
