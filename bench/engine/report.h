// Report: collects every figure of an engine_bench run, one sample per
// repetition, and prints them as median [min – max] with the figure's baseline
// ratio and target. The machine is shared and noisy, so no single sample is
// trusted: every figure is measured --repeat times and summarised.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cycas::bench {

struct Target {
  bool at_least = true;  // true: value >= bound passes; false: value <= bound passes
  double bound = 0;
};

class Report {
 public:
  // Adds one sample of a figure; the first call fixes its unit, target and order.
  void Add(std::string_view section, std::string_view name, std::string_view unit, double value,
           std::optional<Target> target = std::nullopt);
  // A free-text line printed under the table (conditions, warnings).
  void Note(std::string note);

  // Plain text for a terminal, or a Markdown table for the README.
  std::string Render(bool markdown) const;
  // True when every figure with a target meets it at the median.
  bool AllTargetsMet() const;

 private:
  struct Figure {
    std::string section, name, unit;
    std::optional<Target> target;
    std::vector<double> samples;
  };
  std::vector<Figure> figures_;
  std::vector<std::string> notes_;
};

double Median(std::vector<double> v);
// "5.21M", "812", "0.873": compact, unit-aware formatting of one value.
std::string FormatValue(double v, std::string_view unit);

}  // namespace cycas::bench
