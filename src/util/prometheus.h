// Helpers for the Prometheus text format, shared by every component that
// exports metrics (the HTTP front-end renders them all on /metrics).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace cycas {

// Something that appends complete metric families (HELP, TYPE, samples) to
// /metrics. The HTTP front-end renders every source it is given without
// knowing what it measures, so a component's metrics need no change there.
class MetricsSource {
 public:
  virtual ~MetricsSource() = default;
  virtual void RenderPrometheus(std::string& out) const = 0;
};

// printf into `out`; a line longer than 511 bytes is cut.
[[gnu::format(printf, 2, 3)]] void AppendF(std::string& out, const char* fmt, ...);

// Appends "# HELP name help\n# TYPE name type\n".
void AppendMetricHeader(std::string& out, std::string_view name, std::string_view type,
                        std::string_view help);

// Appends a whole family with one unlabelled sample.
void AppendMetric(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help, uint64_t value);

// Upper bounds of the latency histograms' buckets, in seconds: 100 µs (a RAM
// hit) to 30 s (a stalled upload).
inline constexpr std::array<double, 14> kLatencyBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30};

// A latency histogram over kLatencyBuckets; lock-free, safe for concurrent use.
class LatencyHistogram {
 public:
  void Record(std::chrono::nanoseconds latency);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  // Appends the _bucket, _sum and _count samples of `name`; `labels` (e.g.
  // `endpoint="cas"`, may be empty) go before `le` in each. No header.
  void Render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> buckets_{};  // last: +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_nanos_{0};
};

}  // namespace cycas
