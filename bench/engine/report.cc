#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace cycas::bench {

double Median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string FormatValue(double v, std::string_view unit) {
  char buf[64];
  if (std::isnan(v)) return "n/a";
  if (unit == "ratio") {
    std::snprintf(buf, sizeof buf, "%.3f", v);
  } else if (unit == "/s" || unit == "objects" || unit == "docs" || unit == "/s/core") {
    if (v >= 1e6) {
      std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
    } else if (v >= 1e3) {
      std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
    } else {
      std::snprintf(buf, sizeof buf, "%.0f", v);
    }
  } else if (unit == "s") {
    std::snprintf(buf, sizeof buf, v < 0.01 ? "%.4f" : "%.3f", v);
  } else if (unit == "B" || unit == "x") {
    std::snprintf(buf, sizeof buf, "%.2f", v);
  } else if (unit == "MB/s" || unit == "MB" || unit == "us") {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  }
  return buf;
}

void Report::Add(std::string_view section, std::string_view name, std::string_view unit,
                 double value, std::optional<Target> target) {
  for (auto& f : figures_) {
    if (f.section == section && f.name == name) {
      f.samples.push_back(value);
      return;
    }
  }
  figures_.push_back(
      Figure{std::string(section), std::string(name), std::string(unit), target, {value}});
}

void Report::Note(std::string note) {
  if (std::find(notes_.begin(), notes_.end(), note) == notes_.end())
    notes_.push_back(std::move(note));
}

namespace {
std::string TargetText(const std::optional<Target>& t, std::string_view unit) {
  if (!t) return "";
  return std::string(t->at_least ? ">= " : "<= ") + FormatValue(t->bound, unit);
}
bool Meets(const Target& t, double v) {
  return t.at_least ? v >= t.bound : v <= t.bound;
}
}  // namespace

bool Report::AllTargetsMet() const {
  for (const auto& f : figures_) {
    if (f.target && !Meets(*f.target, Median(f.samples))) return false;
  }
  return true;
}

std::string Report::Render(bool markdown) const {
  std::string out;
  char line[512];
  if (markdown) {
    out += "| section | figure | median | min – max | unit | n | target | |\n";
    out += "|---|---|---:|---:|---|---:|---|---|\n";
  } else {
    std::snprintf(line, sizeof line, "%-6s %-62s %10s  %-21s %-7s %2s  %-10s\n", "section",
                  "figure", "median", "[min - max]", "unit", "n", "target");
    out += line;
  }
  // Grouped by section, in the order sections first appeared.
  std::vector<std::string> sections;
  for (const auto& f : figures_) {
    if (std::find(sections.begin(), sections.end(), f.section) == sections.end())
      sections.push_back(f.section);
  }
  std::vector<const Figure*> ordered;
  for (const auto& s : sections) {
    for (const auto& f : figures_) {
      if (f.section == s) ordered.push_back(&f);
    }
  }
  for (const Figure* fp : ordered) {
    const Figure& f = *fp;
    double med = Median(f.samples);
    auto [lo, hi] = std::minmax_element(f.samples.begin(), f.samples.end());
    std::string range =
        FormatValue(*lo, f.unit) + (markdown ? " – " : " - ") + FormatValue(*hi, f.unit);
    std::string verdict = f.target ? (Meets(*f.target, med) ? "ok" : "MISSED") : "";
    if (markdown) {
      std::snprintf(line, sizeof line, "| %s | %s | %s | %s | %s | %zu | %s | %s |\n",
                    f.section.c_str(), f.name.c_str(), FormatValue(med, f.unit).c_str(),
                    range.c_str(), f.unit.c_str(), f.samples.size(),
                    TargetText(f.target, f.unit).c_str(), verdict.c_str());
    } else {
      std::snprintf(line, sizeof line, "%-6s %-62s %10s  [%-19s] %-7s %2zu  %-10s %s\n",
                    f.section.c_str(), f.name.c_str(), FormatValue(med, f.unit).c_str(),
                    range.c_str(), f.unit.c_str(), f.samples.size(),
                    TargetText(f.target, f.unit).c_str(), verdict.c_str());
    }
    out += line;
  }
  if (!notes_.empty()) {
    out += "\n";
    for (const auto& n : notes_) out += (markdown ? "- " : "  * ") + n + "\n";
  }
  return out;
}

}  // namespace cycas::bench
