#include "raw_grpc.h"

#include <grpcpp/generic/generic_stub.h>

namespace cycas::testing {

namespace {

grpc::ByteBuffer BufferOf(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// Waits for the completion of the operation started with `tag`; returns its ok.
bool Await(grpc::CompletionQueue& cq, void* tag) {
  void* got = nullptr;
  bool ok = false;
  while (cq.Next(&got, &ok)) {
    if (got == tag) return ok;
  }
  return false;
}

void Drain(grpc::CompletionQueue& cq) {
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace

grpc::Status RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel,
                          grpc::ClientContext* context, const std::string& method,
                          const std::string& request) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ByteBuffer response;
  grpc::Status status;
  {
    auto call = stub.PrepareUnaryCall(context, method, BufferOf(request), &cq);
    call->StartCall();
    call->Finish(&response, &status, reinterpret_cast<void*>(1));
    Await(cq, reinterpret_cast<void*>(1));
  }
  Drain(cq);
  return status;
}

grpc::Status RawClientStreamingCall(const std::shared_ptr<grpc::Channel>& channel,
                                    grpc::ClientContext* context, const std::string& method,
                                    const std::vector<std::string>& messages) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::Status status;
  {
    auto call = stub.PrepareCall(context, method, &cq);
    int next_tag = 1;
    auto tag = [&] { return reinterpret_cast<void*>(static_cast<intptr_t>(next_tag++)); };
    void* t = tag();
    call->StartCall(t);
    bool open = Await(cq, t);
    for (const std::string& m : messages) {
      if (!open) break;
      t = tag();
      call->Write(BufferOf(m), t);
      open = Await(cq, t);
    }
    if (open) {
      t = tag();
      call->WritesDone(t);
      Await(cq, t);
    }
    // The status arrives only after the response (if any) has been read.
    grpc::ByteBuffer message;
    for (bool more = true; more;) {
      t = tag();
      call->Read(&message, t);
      more = Await(cq, t);
    }
    t = tag();
    call->Finish(&status, t);
    Await(cq, t);
  }
  Drain(cq);
  return status;
}

}  // namespace cycas::testing
