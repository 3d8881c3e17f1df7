#include "api/grpc_metrics.h"

#include <functional>
#include <vector>

namespace cycas::api {
namespace {

namespace ex = grpc::experimental;

class MetricsInterceptor : public ex::Interceptor {
 public:
  MetricsInterceptor(GrpcMetrics* metrics, const char* method)
      : metrics_(metrics), method_(method), start_(std::chrono::steady_clock::now()) {}
  ~MetricsInterceptor() override {
    if (!recorded_) metrics_->Record(method_, grpc::StatusCode::CANCELLED, Elapsed());
  }

  void Intercept(ex::InterceptorBatchMethods* methods) override {
    if (!recorded_ &&
        methods->QueryInterceptionHookPoint(ex::InterceptionHookPoints::PRE_SEND_STATUS)) {
      recorded_ = true;
      metrics_->Record(method_, methods->GetSendStatus().error_code(), Elapsed());
    }
    methods->Proceed();
  }

 private:
  std::chrono::nanoseconds Elapsed() const { return std::chrono::steady_clock::now() - start_; }

  GrpcMetrics* metrics_;
  const char* method_;
  std::chrono::steady_clock::time_point start_;
  bool recorded_ = false;
};

class MetricsInterceptorFactory : public ex::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(GrpcMetrics* metrics) : metrics_(metrics) {}
  ex::Interceptor* CreateServerInterceptor(ex::ServerRpcInfo* info) override {
    return new MetricsInterceptor(metrics_, info->method());
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

// Method names come from clients (an unknown method's name is whatever was
// asked for): keep only what is safe inside a quoted label value.
std::string LabelSafe(std::string_view s) {
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
  AppendMetricHeader(out, "cycas_grpc_request_duration_seconds", "histogram",
                     "Time from the call's arrival to its status being sent.");
  for (const auto& [name, stats] : all) {
    stats->latency.Render(out, "cycas_grpc_request_duration_seconds", "method=\"" + name + "\"");
  }
}

}  // namespace cycas::api
