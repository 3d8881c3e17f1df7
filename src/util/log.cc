#include "util/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>

namespace cycas::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "DEBUG";
    case Level::kInfo: return "INFO";
    case Level::kWarn: return "WARN";
    case Level::kError: return "ERROR";
    case Level::kOff: return "OFF";
  }
  return "?";
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') return true;
  }
  return false;
}
}  // namespace

bool ParseLevel(std::string_view name, Level* out) {
  if (name == "debug") *out = Level::kDebug;
  else if (name == "info") *out = Level::kInfo;
  else if (name == "warn") *out = Level::kWarn;
  else if (name == "error") *out = Level::kError;
  else if (name == "off") *out = Level::kOff;
  else return false;
  return true;
}

void SetLevel(Level level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }
Level GetLevel() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

Line::Line(Level level, std::string_view message) {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  buf_.reserve(128);
  buf_ += ts;
  buf_ += ' ';
  buf_ += LevelName(level);
  buf_ += ' ';
  AppendField("msg", message);
}

void Line::AppendField(std::string_view key, std::string_view value) {
  if (buf_.back() != ' ') buf_ += ' ';
  buf_ += key;
  buf_ += '=';
  if (!NeedsQuotes(value)) {
    buf_ += value;
    return;
  }
  buf_ += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') buf_ += '\\';
    if (c == '\n') {
      buf_ += "\\n";
      continue;
    }
    buf_ += c;
  }
  buf_ += '"';
}

Line::~Line() {
  buf_ += '\n';
  // A single write keeps lines whole when several threads log at once.
  ssize_t unused = ::write(STDERR_FILENO, buf_.data(), buf_.size());
  (void)unused;
}

}  // namespace cycas::log
