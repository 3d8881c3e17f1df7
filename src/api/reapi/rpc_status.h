// cycas::Status -> google.rpc.Status, for the per-blob results of the REAPI
// batch calls. Codes and messages go through api/grpc_status.h (the one
// mapping for every gRPC front-end); this only adapts the result to the
// message type and makes the text safe for a proto3 string (valid UTF-8).
#pragma once

#include "google/rpc/status.pb.h"
#include "util/status.h"

namespace cycas::api::reapi {

google::rpc::Status ToRpcStatus(const Status& status);

}  // namespace cycas::api::reapi
