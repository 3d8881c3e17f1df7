// Calls of gRPC methods with raw bytes instead of generated messages: how the
// end-to-end tests send requests no generated client would (bytes that are not
// valid protobuf), to the methods the server reads from their wire bytes.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

namespace cycas::testing {

// A unary call of `method` ("/package.Service/Method") whose request is `request`.
grpc::Status RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel,
                          grpc::ClientContext* context, const std::string& method,
                          const std::string& request);

// A client-streaming call: sends each of `messages` in order (stopping early
// if the server has ended the call), half-closes, and returns the status.
grpc::Status RawClientStreamingCall(const std::shared_ptr<grpc::Channel>& channel,
                                    grpc::ClientContext* context, const std::string& method,
                                    const std::vector<std::string>& messages);

}  // namespace cycas::testing
