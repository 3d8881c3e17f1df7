#include "api/grpc_status.h"

namespace cycas::api {

grpc::Status ToGrpcStatus(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message());
}

Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return Status::Ok();
  int code = static_cast<int>(status.error_code());
  if (code <= 0 || code > static_cast<int>(StatusCode::kUnauthenticated)) {
    return Status(StatusCode::kUnknown, status.error_message());
  }
  return Status(static_cast<StatusCode>(code), status.error_message());
}

}  // namespace cycas::api
