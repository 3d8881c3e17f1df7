// GrpcMetrics: the calls of every gRPC front-end (REAPI, zako, health) by
// method and status code, and how long they took, for /metrics.
//
// Counted by a server interceptor rather than in the handlers, so that every
// call is seen the same way, including those that auth refuses. The latency is
// from the moment gRPC hands the call to the server to the moment the status
// is sent. The code is what the client saw: a call it cancelled, or whose
// deadline passed, counts as CANCELLED or DEADLINE_EXCEEDED whatever status
// the handler sent (and as CANCELLED if none was sent).
//
// Bounded: calls of methods no service registered (names a client may invent)
// all count as method="unimplemented"; at most kMaxMethods names are kept (a
// server registers about twenty), and calls beyond them count as "other".
// Updates are lock-free once a method has been seen. Thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "util/prometheus.h"

namespace cycas::api {

class GrpcMetrics : public MetricsSource {
 public:
  static constexpr size_t kMaxMethods = 64;

  // Blob bytes carried in a front-end's messages, as sent (compressed bytes
  // when compressed). Counted by the handlers: gRPC does not tell an
  // interceptor the size of a message it received.
  struct Payload {
    std::atomic<uint64_t> received{0}, sent{0};
    void AddReceived(uint64_t n) { received.fetch_add(n, std::memory_order_relaxed); }
    void AddSent(uint64_t n) { sent.fetch_add(n, std::memory_order_relaxed); }
  };
  enum class FrontEnd { kReapi, kZako };
  Payload& payload(FrontEnd f) { return f == FrontEnd::kReapi ? reapi_payload_ : zako_payload_; }
  static constexpr size_t kCodes = 17;  // grpc::StatusCode 0 (OK) .. 16 (UNAUTHENTICATED)

  // Makes every call of the server that `builder` builds counted here. The
  // metrics must outlive that server.
  void InstallOn(grpc::ServerBuilder& builder);

  // One finished call of `method` (gRPC's full name, "/package.Service/Method").
  // The pointer is remembered: it must stay valid, and name the same method,
  // as long as this object lives (as registered methods' names do).
  void Record(const char* method, grpc::StatusCode code, std::chrono::nanoseconds latency);

  void RenderPrometheus(std::string& out) const override;

  // Calls of every method so far, whatever their outcome (the status page's rate).
  uint64_t TotalCalls() const;
  // Calls of `method` that ended with `code`, for tests.
  uint64_t Calls(const std::string& method, grpc::StatusCode code) const;

 private:
  struct MethodStats {
    std::array<std::atomic<uint64_t>, kCodes> calls{};
    LatencyHistogram latency;
  };
  MethodStats* StatsFor(const char* method);

  // Fast path: gRPC passes the same name pointer for every call of a
  // registered method, so a small open-addressed table maps pointers to stats.
  // Entries are only ever added (value first, then key), never changed.
  static constexpr size_t kPointerSlots = 2 * kMaxMethods;
  std::array<std::atomic<const char*>, kPointerSlots> pointer_keys_{};
  std::array<std::atomic<MethodStats*>, kPointerSlots> pointer_values_{};

  mutable std::mutex mu_;
  // By the method's name as rendered (LabelSafe); guarded by mu_.
  std::map<std::string, std::unique_ptr<MethodStats>> by_name_;
  MethodStats other_;  // beyond kMaxMethods
  Payload reapi_payload_, zako_payload_;
};

}  // namespace cycas::api
