#include "util/prometheus.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

namespace cycas {

void AppendF(std::string& out, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out.append(buf, std::min(static_cast<size_t>(n), sizeof buf - 1));
}

void AppendMetricHeader(std::string& out, std::string_view name, std::string_view type,
                        std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void AppendMetric(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help, uint64_t value) {
  AppendMetricHeader(out, name, type, help);
  out.append(name).append(" ").append(std::to_string(value)).append("\n");
}

void LatencyHistogram::Record(std::chrono::nanoseconds latency) {
  double secs = std::chrono::duration<double>(latency).count();
  size_t b = 0;
  while (b < kLatencyBuckets.size() && secs > kLatencyBuckets[b]) b++;
  buckets_[b].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_nanos_.fetch_add(static_cast<uint64_t>(latency.count() > 0 ? latency.count() : 0),
                       std::memory_order_relaxed);
}

void LatencyHistogram::Render(std::string& out, std::string_view name,
                              std::string_view labels) const {
  const std::string n(name), l(labels), sep = labels.empty() ? "" : ",";
  uint64_t cum = 0;
  for (size_t b = 0; b <= kLatencyBuckets.size(); b++) {
    cum += buckets_[b].load(std::memory_order_relaxed);
    if (b < kLatencyBuckets.size()) {
      AppendF(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", n.c_str(), l.c_str(), sep.c_str(),
              kLatencyBuckets[b], static_cast<unsigned long long>(cum));
    } else {
      AppendF(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", n.c_str(), l.c_str(), sep.c_str(),
              static_cast<unsigned long long>(cum));
    }
  }
  const std::string braced = labels.empty() ? "" : "{" + l + "}";
  AppendF(out, "%s_sum%s %.9f\n", n.c_str(), braced.c_str(),
          static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) / 1e9);
  AppendF(out, "%s_count%s %llu\n", n.c_str(), braced.c_str(),
          static_cast<unsigned long long>(cum));
}

}  // namespace cycas
