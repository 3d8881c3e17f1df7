// HttpMetrics: counters of the HTTP front-end, rendered with the engine's and
// the RAM tier's statistics as Prometheus text (/metrics) and sampled over
// time for the status page (/status.json).
//
// Updates are lock-free (atomics indexed by endpoint, method and status code);
// only the history for the status page takes a mutex. Safe for concurrent use.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "api/http/request_path.h"
#include "util/prometheus.h"

namespace cycas::api::http {

enum class Method { kGet, kHead, kPut, kOther };
std::string_view MethodName(Method m);

// Endpoints plus "other" (unparseable or unknown targets).
inline constexpr size_t kEndpointSlots = 7;
inline constexpr size_t kOtherEndpoint = 6;
inline size_t EndpointSlot(Endpoint e) {
  return static_cast<size_t>(e);
}
std::string_view EndpointSlotName(size_t slot);

// Status codes counted individually; any other code is counted as "other".
inline constexpr std::array<int, 24> kStatusCodes = {200, 201, 204, 206, 207, 304, 400, 401,
                                                     403, 404, 405, 406, 408, 409, 412, 413,
                                                     415, 416, 431, 499, 500, 501, 503, 504};
inline constexpr size_t kMethodSlots = 4;

// One point of the status page's history.
struct MetricsSample {
  double unix_seconds = 0;
  uint64_t requests = 0, hits = 0, misses = 0, errors = 0, bytes_in = 0, bytes_out = 0;
  uint64_t grpc_calls = 0;  // of the gRPC front-ends, as HttpDeps::grpc_calls counts them
};

class HttpMetrics {
 public:
  HttpMetrics();

  // One finished request. `hit`/`miss` are for cache reads (GET/HEAD of cas/ac).
  void Record(size_t endpoint_slot, Method method, int status, std::chrono::nanoseconds latency);
  void AddHit(size_t endpoint_slot) { hits_[endpoint_slot]++; }
  void AddMiss(size_t endpoint_slot) { misses_[endpoint_slot]++; }
  void AddBytesIn(uint64_t n) { bytes_in_ += n; }
  void AddBytesOut(uint64_t n) { bytes_out_ += n; }
  void ConnectionOpened() { connections_total_++, connections_open_++; }
  void ConnectionClosed() { connections_open_--; }
  void AlternateCreated() { alternates_created_++; }
  void AlternateServed() { alternates_served_++; }
  void ExistingUploadSkipped() { uploads_skipped_++; }

  // Appends the HTTP metrics in Prometheus text format.
  void RenderPrometheus(std::string& out) const;

  // Takes a sample for the history (called periodically), with the gRPC
  // front-ends' calls so far.
  void TakeSample(uint64_t grpc_calls);
  std::deque<MetricsSample> History() const;

  uint64_t requests_total() const;
  uint64_t hits_total() const;
  uint64_t misses_total() const;
  uint64_t errors_total() const;
  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }
  uint64_t connections_open() const { return connections_open_; }
  std::map<int, uint64_t> StatusCounts() const;
  uint64_t EndpointRequests(size_t slot) const;
  std::chrono::steady_clock::time_point started() const { return started_; }

 private:
  const std::chrono::steady_clock::time_point started_;
  std::array<LatencyHistogram, kEndpointSlots> latency_;
  std::array<std::atomic<uint64_t>, kEndpointSlots> hits_{}, misses_{};
  std::atomic<uint64_t> bytes_in_{0}, bytes_out_{0};
  std::atomic<uint64_t> connections_total_{0}, connections_open_{0};
  std::atomic<uint64_t> alternates_created_{0}, alternates_served_{0}, uploads_skipped_{0};
  // Requests by endpoint, method and status code (last slot: other codes).
  std::array<std::array<std::array<std::atomic<uint64_t>, kStatusCodes.size() + 1>, kMethodSlots>,
             kEndpointSlots>
      requests_{};
  mutable std::mutex mu_;
  std::deque<MetricsSample> history_;  // guarded by mu_
};

}  // namespace cycas::api::http
