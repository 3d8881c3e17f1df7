// Authentication of gRPC calls (REAPI and zako): the one place that reads
// credentials from a call and turns the Authenticator's answer into a gRPC
// status. Every RPC handler calls AuthorizeCall (or IdentifyCaller, then
// PermitCall once it has parsed the instance name) before touching storage.
//
// Credentials: `authorization` metadata ("Bearer <token>" or "Basic <base64
// user:password>"), else the subject CN of a client certificate that gRPC's
// TLS layer verified (tls.client_ca_file). A null Authenticator means auth is
// not configured: every call is allowed, as before auth existed.
#pragma once

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string_view>

#include "auth/authenticator.h"

namespace cycas::api {

// The caller, or UNAUTHENTICATED for wrong/expired/malformed credentials.
Result<auth::Principal> IdentifyCaller(const auth::Authenticator* authenticator,
                                       const grpc::ServerContext& context);

// PERMISSION_DENIED / UNAUTHENTICATED (anonymous) as a gRPC status; OK when permitted.
grpc::Status PermitCall(const auth::Principal& principal, auth::Access access,
                        std::optional<std::string_view> instance);

// IdentifyCaller then PermitCall; `principal` (optional) receives the caller.
grpc::Status AuthorizeCall(const auth::Authenticator* authenticator,
                           const grpc::ServerContext& context, auth::Access access,
                           std::optional<std::string_view> instance,
                           auth::Principal* principal = nullptr);

}  // namespace cycas::api
