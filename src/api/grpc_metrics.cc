#include "api/grpc_metrics.h"

#include <grpcpp/generic/async_generic_service.h>

#include <functional>
#include <tuple>
#include <vector>

namespace cycas::api {
namespace {

namespace ex = grpc::experimental;

// The label for calls of methods no service registered. gRPC hands those to
// an internal generic service, whose method() is the name the client sent, in
// memory of that call: never a label, never a key (a later call's name may
// lie at the same address).
constexpr char kUnimplemented[] = "unimplemented";

class MetricsInterceptor : public ex::Interceptor {
 public:
  MetricsInterceptor(GrpcMetrics* metrics, ex::ServerRpcInfo* info)
      : metrics_(metrics),
        info_(info),
        method_(IsGeneric(info) ? kUnimplemented : info->method()),
        start_(std::chrono::steady_clock::now()) {}
  ~MetricsInterceptor() override {
    if (!recorded_) metrics_->Record(method_, grpc::StatusCode::CANCELLED, Elapsed());
  }

  void Intercept(ex::InterceptorBatchMethods* methods) override {
    // The hook point first: other hooks of a callback call may run on another
    // thread, and only this one touches recorded_.
    if (methods->QueryInterceptionHookPoint(ex::InterceptionHookPoints::PRE_SEND_STATUS) &&
        !recorded_) {
      recorded_ = true;
      metrics_->Record(method_, OutcomeOf(methods->GetSendStatus().error_code()), Elapsed());
    }
    methods->Proceed();
  }

 private:
  static bool IsGeneric(ex::ServerRpcInfo* info) {
    grpc::ServerContextBase* c = info->server_context();
    return dynamic_cast<grpc::GenericServerContext*>(c) != nullptr ||
           dynamic_cast<grpc::GenericCallbackServerContext*>(c) != nullptr;
  }
  // A handler sends its own status even when the client has gone or its
  // deadline has passed (the client then sees CANCELLED or DEADLINE_EXCEEDED,
  // not that status): count what the client saw.
  grpc::StatusCode OutcomeOf(grpc::StatusCode sent) const {
    grpc::ServerContextBase* c = info_->server_context();
    if (c == nullptr || !c->IsCancelled()) return sent;
    return c->deadline() <= std::chrono::system_clock::now() ? grpc::StatusCode::DEADLINE_EXCEEDED
                                                             : grpc::StatusCode::CANCELLED;
  }
  std::chrono::nanoseconds Elapsed() const { return std::chrono::steady_clock::now() - start_; }

  GrpcMetrics* metrics_;
  ex::ServerRpcInfo* info_;
  const char* method_;
  std::chrono::steady_clock::time_point start_;
  bool recorded_ = false;
};

class MetricsInterceptorFactory : public ex::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(GrpcMetrics* metrics) : metrics_(metrics) {}
  ex::Interceptor* CreateServerInterceptor(ex::ServerRpcInfo* info) override {
    return new MetricsInterceptor(metrics_, info);
  }

 private:
  GrpcMetrics* metrics_;
};

const char* CodeName(size_t code) {
  static constexpr const char* kNames[GrpcMetrics::kCodes] = {"OK",
                                                              "CANCELLED",
                                                              "UNKNOWN",
                                                              "INVALID_ARGUMENT",
                                                              "DEADLINE_EXCEEDED",
                                                              "NOT_FOUND",
                                                              "ALREADY_EXISTS",
                                                              "PERMISSION_DENIED",
                                                              "RESOURCE_EXHAUSTED",
                                                              "FAILED_PRECONDITION",
                                                              "ABORTED",
                                                              "OUT_OF_RANGE",
                                                              "UNIMPLEMENTED",
                                                              "INTERNAL",
                                                              "UNAVAILABLE",
                                                              "DATA_LOSS",
                                                              "UNAUTHENTICATED"};
  return code < GrpcMetrics::kCodes ? kNames[code] : "UNKNOWN";
}

// Only registered methods' names (and kUnimplemented) reach this, but Record
// is public: keep only what is safe inside a quoted label value, and never
// "other", the overflow's label.
std::string LabelSafe(std::string_view s) {
  if (s == "other") return "_other";
  std::string out;
  for (char c : s.substr(0, 128)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '.' || c == '_' || c == '-';
    out += ok ? c : '_';
  }
  return out;
}

}  // namespace

void GrpcMetrics::InstallOn(grpc::ServerBuilder& builder) {
  // SetInterceptorCreators replaces what was set before: a second interceptor
  // must be added here, to the same list.
  std::vector<std::unique_ptr<ex::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<MetricsInterceptorFactory>(this));
  builder.experimental().SetInterceptorCreators(std::move(creators));
}

GrpcMetrics::MethodStats* GrpcMetrics::StatsFor(const char* method) {
  if (method == nullptr) return &other_;
  const size_t home = std::hash<const void*>{}(method) % kPointerSlots;
  for (size_t i = 0; i < kPointerSlots; i++) {
    const size_t slot = (home + i) % kPointerSlots;
    const char* key = pointer_keys_[slot].load(std::memory_order_acquire);
    if (key == method) return pointer_values_[slot].load(std::memory_order_relaxed);
    if (key == nullptr) break;
  }
  // Keyed by the label it is rendered as, so no two series can look alike.
  std::string name = LabelSafe(method);
  std::lock_guard lk(mu_);
  MethodStats* stats;
  auto it = by_name_.find(name);
  if (it != by_name_.end()) {
    stats = it->second.get();
  } else if (by_name_.size() < kMaxMethods) {
    stats = by_name_.emplace(std::move(name), std::make_unique<MethodStats>()).first->second.get();
  } else {
    return &other_;
  }
  // Remember the pointer, unless the table is full (names that do not come
  // from registered methods may each have a pointer of their own).
  for (size_t i = 0; i < kPointerSlots; i++) {
    const size_t slot = (home + i) % kPointerSlots;
    const char* key = pointer_keys_[slot].load(std::memory_order_relaxed);
    if (key == method) break;
    if (key == nullptr) {
      pointer_values_[slot].store(stats, std::memory_order_relaxed);
      pointer_keys_[slot].store(method, std::memory_order_release);
      break;
    }
  }
  return stats;
}

void GrpcMetrics::Record(const char* method, grpc::StatusCode code,
                         std::chrono::nanoseconds latency) {
  MethodStats* s = StatsFor(method);
  size_t c = static_cast<size_t>(code);
  s->calls[c < kCodes ? c : static_cast<size_t>(grpc::StatusCode::UNKNOWN)].fetch_add(
      1, std::memory_order_relaxed);
  s->latency.Record(latency);
}

uint64_t GrpcMetrics::Calls(const std::string& method, grpc::StatusCode code) const {
  std::lock_guard lk(mu_);
  auto it = by_name_.find(LabelSafe(method));
  if (it == by_name_.end()) return 0;
  return it->second->calls[static_cast<size_t>(code)].load(std::memory_order_relaxed);
}

uint64_t GrpcMetrics::TotalCalls() const {
  auto sum = [](const MethodStats& s) {
    uint64_t n = 0;
    for (const auto& c : s.calls) n += c.load(std::memory_order_relaxed);
    return n;
  };
  std::lock_guard lk(mu_);
  uint64_t total = sum(other_);
  for (const auto& [name, stats] : by_name_) total += sum(*stats);
  return total;
}

void GrpcMetrics::RenderPrometheus(std::string& out) const {
  std::lock_guard lk(mu_);
  std::vector<std::pair<std::string, const MethodStats*>> all;
  for (const auto& [name, stats] : by_name_) all.emplace_back(name, stats.get());
  if (other_.latency.count() > 0) all.emplace_back("other", &other_);

  AppendMetricHeader(out, "cycas_grpc_requests_total", "counter",
                     "gRPC calls by method and status code.");
  for (const auto& [name, stats] : all) {
    for (size_t c = 0; c < kCodes; c++) {
      uint64_t v = stats->calls[c].load(std::memory_order_relaxed);
      if (v == 0) continue;
      AppendF(out, "cycas_grpc_requests_total{method=\"%s\",code=\"%s\"} %llu\n", name.c_str(),
              CodeName(c), static_cast<unsigned long long>(v));
    }
  }
  for (const auto& [name, help, pick] :
       {std::tuple{"cycas_grpc_received_bytes_total", "Blob bytes received in gRPC messages.",
                   &Payload::received},
        std::tuple{"cycas_grpc_sent_bytes_total", "Blob bytes sent in gRPC messages.",
                   &Payload::sent}}) {
    AppendMetricHeader(out, name, "counter", help);
    AppendF(out, "%s{service=\"reapi\"} %llu\n", name,
            static_cast<unsigned long long>((reapi_payload_.*pick).load()));
    AppendF(out, "%s{service=\"zako\"} %llu\n", name,
            static_cast<unsigned long long>((zako_payload_.*pick).load()));
  }
  AppendMetricHeader(out, "cycas_grpc_request_duration_seconds", "histogram",
                     "Time from the call's arrival to its status being sent.");
  for (const auto& [name, stats] : all) {
    stats->latency.Render(out, "cycas_grpc_request_duration_seconds", "method=\"" + name + "\"");
  }
}

}  // namespace cycas::api
