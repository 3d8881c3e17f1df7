#include "api/reapi/rpc_status.h"

#include "api/grpc_status.h"
#include "api/reapi/instance_names.h"

namespace cycas::api::reapi {

namespace {

bool IsPrintableAscii(const std::string& s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return false;
  }
  return true;
}

}  // namespace

google::rpc::Status ToRpcStatus(const Status& status) {
  grpc::Status g = ToGrpcStatus(status);
  google::rpc::Status out;
  out.set_code(static_cast<int32_t>(g.error_code()));
  const std::string& msg = g.error_message();
  if (IsPrintableAscii(msg)) {
    out.set_message(msg);
  } else {
    // Escapes bytes outside printable ASCII (QuoteForError adds quotes; drop them).
    std::string quoted = QuoteForError(msg, msg.size());
    out.set_message(quoted.substr(1, quoted.size() - 2));
  }
  return out;
}

}  // namespace cycas::api::reapi
