// TierReport: what a tier beyond the local ones (e.g. the S3 tier) tells
// operators about itself. The HTTP front-end's /metrics and /status render
// every report they are given without knowing which tier it comes from, so a
// new tier appears on both without touching the front-end.
#pragma once

#include <string>
#include <string_view>

namespace cycas {

class TierReport {
 public:
  virtual ~TierReport() = default;
  // A short identifier, used as the key of the tier in /status.json ("s3").
  virtual std::string_view report_name() const = 0;
  // Appends the tier's metrics in Prometheus text format (complete HELP/TYPE blocks).
  virtual void RenderPrometheus(std::string& out) const = 0;
  // One JSON object. Strings in it must not contain '<' unescaped: the status
  // page embeds the JSON inside a <script> element.
  virtual std::string StatusJson() const = 0;
};

}  // namespace cycas
