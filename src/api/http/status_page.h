// The store-wide figures of /metrics, and the status page: /status.json (the
// live figures) and /status (a self-contained HTML page that polls it).
#pragma once

#include <string>
#include <vector>

#include "api/http/http_metrics.h"
#include "cas/memory_blob_store.h"
#include "cas/tier_report.h"
#include "engine/engine.h"

namespace cycas::api::http {

struct StatusPageInputs {
  const HttpMetrics* metrics = nullptr;
  engine::Engine* engine = nullptr;  // may be null
  MemoryBlobStore* ram = nullptr;    // may be null
  uint64_t ram_capacity = 0;
  std::vector<const TierReport*> tier_reports;  // further tiers (S3), each rendered as it reports
  uint64_t grpc_calls = 0;                      // answered by the gRPC front-ends so far
};

// Appends engine and RAM-tier metrics in Prometheus text format.
void AppendStoreMetrics(const StatusPageInputs& in, std::string& out);

// The figures the status page shows, as JSON (see docs/http.md for the fields).
std::string BuildStatusJson(const StatusPageInputs& in);

// The HTML page, with `initial_json` embedded so it shows figures before its first poll.
std::string BuildStatusHtml(const std::string& initial_json);

}  // namespace cycas::api::http
