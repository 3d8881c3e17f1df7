#include "api/http/http_metrics.h"

#include <cstdio>

namespace cycas::api::http {
namespace {

// Ten minutes of history at one sample every five seconds.
constexpr size_t kHistoryLength = 120;

size_t StatusSlot(int code) {
  for (size_t i = 0; i < kStatusCodes.size(); i++) {
    if (kStatusCodes[i] == code) return i;
  }
  return kStatusCodes.size();
}

}  // namespace

std::string_view MethodName(Method m) {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPut:
      return "PUT";
    case Method::kOther:
      return "other";
  }
  return "other";
}

std::string_view EndpointSlotName(size_t slot) {
  if (slot >= kOtherEndpoint) return "other";
  return EndpointName(static_cast<Endpoint>(slot));
}

HttpMetrics::HttpMetrics() : started_(std::chrono::steady_clock::now()) {}

void HttpMetrics::Record(size_t slot, Method method, int status, std::chrono::nanoseconds latency) {
  if (slot >= kEndpointSlots) slot = kOtherEndpoint;
  latency_[slot].Record(latency);
  requests_[slot][static_cast<size_t>(method)][StatusSlot(status)]++;
}

uint64_t HttpMetrics::requests_total() const {
  uint64_t n = 0;
  for (const auto& by_method : requests_) {
    for (const auto& by_code : by_method) {
      for (const auto& c : by_code) n += c;
    }
  }
  return n;
}

uint64_t HttpMetrics::errors_total() const {
  uint64_t n = 0;
  for (const auto& by_method : requests_) {
    for (const auto& by_code : by_method) {
      for (size_t i = 0; i < by_code.size(); i++) {
        // 4xx and 5xx other than 404 (a miss is not an error); "other" codes too.
        bool error = i == kStatusCodes.size() || (kStatusCodes[i] >= 400 && kStatusCodes[i] != 404);
        if (error) n += by_code[i];
      }
    }
  }
  return n;
}

uint64_t HttpMetrics::hits_total() const {
  uint64_t n = 0;
  for (const auto& h : hits_) n += h;
  return n;
}

uint64_t HttpMetrics::misses_total() const {
  uint64_t n = 0;
  for (const auto& m : misses_) n += m;
  return n;
}

std::map<int, uint64_t> HttpMetrics::StatusCounts() const {
  std::map<int, uint64_t> out;
  for (const auto& by_method : requests_) {
    for (const auto& by_code : by_method) {
      for (size_t i = 0; i < by_code.size(); i++) {
        uint64_t v = by_code[i];
        if (v > 0) out[i < kStatusCodes.size() ? kStatusCodes[i] : 0] += v;  // 0: other codes
      }
    }
  }
  return out;
}

uint64_t HttpMetrics::EndpointRequests(size_t slot) const {
  return latency_[slot].count();
}

void HttpMetrics::TakeSample(uint64_t grpc_calls) {
  MetricsSample s;
  s.grpc_calls = grpc_calls;
  s.unix_seconds =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  s.requests = requests_total();
  s.hits = hits_total();
  s.misses = misses_total();
  s.errors = errors_total();
  s.bytes_in = bytes_in_;
  s.bytes_out = bytes_out_;
  std::lock_guard lk(mu_);
  history_.push_back(s);
  while (history_.size() > kHistoryLength) history_.pop_front();
}

std::deque<MetricsSample> HttpMetrics::History() const {
  std::lock_guard lk(mu_);
  return history_;
}

void HttpMetrics::RenderPrometheus(std::string& out) const {
  out += "# HELP cycas_http_requests_total HTTP requests by endpoint, method and status code.\n";
  out += "# TYPE cycas_http_requests_total counter\n";
  for (size_t slot = 0; slot < kEndpointSlots; slot++) {
    for (size_t m = 0; m < kMethodSlots; m++) {
      for (size_t i = 0; i <= kStatusCodes.size(); i++) {
        uint64_t v = requests_[slot][m][i];
        if (v == 0) continue;
        std::string code = i < kStatusCodes.size() ? std::to_string(kStatusCodes[i]) : "other";
        AppendF(out, "cycas_http_requests_total{endpoint=\"%s\",method=\"%s\",code=\"%s\"} %llu\n",
                std::string(EndpointSlotName(slot)).c_str(),
                std::string(MethodName(static_cast<Method>(m))).c_str(), code.c_str(),
                static_cast<unsigned long long>(v));
      }
    }
  }
  out +=
      "# HELP cycas_http_request_duration_seconds Time from the request header to the end of the "
      "response.\n";
  out += "# TYPE cycas_http_request_duration_seconds histogram\n";
  for (size_t slot = 0; slot < kEndpointSlots; slot++) {
    if (latency_[slot].count() == 0) continue;
    latency_[slot].Render(out, "cycas_http_request_duration_seconds",
                          "endpoint=\"" + std::string(EndpointSlotName(slot)) + "\"");
  }
  out += "# HELP cycas_http_cache_hits_total Cache reads (GET/HEAD) answered from the store.\n";
  out += "# TYPE cycas_http_cache_hits_total counter\n";
  for (size_t slot : {EndpointSlot(Endpoint::kCas), EndpointSlot(Endpoint::kAc)}) {
    AppendF(out, "cycas_http_cache_hits_total{endpoint=\"%s\"} %llu\n",
            std::string(EndpointSlotName(slot)).c_str(),
            static_cast<unsigned long long>(hits_[slot].load()));
  }
  out += "# HELP cycas_http_cache_misses_total Cache reads (GET/HEAD) answered 404.\n";
  out += "# TYPE cycas_http_cache_misses_total counter\n";
  for (size_t slot : {EndpointSlot(Endpoint::kCas), EndpointSlot(Endpoint::kAc)}) {
    AppendF(out, "cycas_http_cache_misses_total{endpoint=\"%s\"} %llu\n",
            std::string(EndpointSlotName(slot)).c_str(),
            static_cast<unsigned long long>(misses_[slot].load()));
  }
  auto counter = [&](const char* name, const char* help, uint64_t v, const char* type = "counter") {
    AppendF(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
            static_cast<unsigned long long>(v));
  };
  counter("cycas_http_received_bytes_total",
          "Request body bytes received (after content decoding).", bytes_in_);
  counter("cycas_http_sent_bytes_total", "Response body bytes sent.", bytes_out_);
  counter("cycas_http_connections_total", "Connections accepted.", connections_total_);
  counter("cycas_http_connections_open", "Connections open now.", connections_open_, "gauge");
  counter("cycas_http_zstd_alternates_created_total", "zstd alternates created on first request.",
          alternates_created_);
  counter("cycas_http_zstd_alternates_served_total", "Responses served from a zstd alternate.",
          alternates_served_);
  counter("cycas_http_uploads_skipped_total",
          "PUTs of blobs already stored (answered without storing).", uploads_skipped_);
}

}  // namespace cycas::api::http
