// Conversion between cycas::Status and grpc::Status: the one place where the
// gRPC front-ends (zako, REAPI) and gRPC clients (the cycas client, the remote
// tier) translate errors.
//
// cycas::StatusCode uses the gRPC canonical code numbers, so the mapping keeps
// the code and the message unchanged in both directions; it exists as a
// function so that a future change (e.g. hiding INTERNAL details from clients)
// is made once.
#pragma once

#include <grpcpp/support/status.h>

#include "util/status.h"

namespace cycas::api {

// The same code and message. OK maps to grpc::Status::OK.
grpc::Status ToGrpcStatus(const Status& status);

// The same code and message; a code outside the canonical range becomes UNKNOWN.
Status FromGrpcStatus(const grpc::Status& status);

}  // namespace cycas::api
