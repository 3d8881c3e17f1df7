// Structured logging: one line per event, "time level message key=value ...".
//
// Lines are logfmt so they are both readable and machine-parsable. Logging is
// thread-safe; each line is written with a single write(2) so concurrent lines
// never interleave.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

namespace cycas::log {

enum class Level : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

// Parses "debug", "info", "warn", "error", "off".
bool ParseLevel(std::string_view name, Level* out);
void SetLevel(Level level);
Level GetLevel();
inline bool Enabled(Level level) { return level >= GetLevel(); }

// Builds one log line; emitted when destroyed.
class Line {
 public:
  Line(Level level, std::string_view message);
  ~Line();
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;

  template <typename T>
  Line& kv(std::string_view key, const T& value) {
    std::ostringstream os;
    os << value;
    AppendField(key, os.str());
    return *this;
  }
  Line& kv(std::string_view key, std::string_view value) {
    AppendField(key, value);
    return *this;
  }
  Line& kv(std::string_view key, const char* value) { return kv(key, std::string_view(value)); }
  Line& kv(std::string_view key, const std::string& value) {
    return kv(key, std::string_view(value));
  }

 private:
  void AppendField(std::string_view key, std::string_view value);
  std::string buf_;
};

}  // namespace cycas::log

// Usage: LOG(kInfo, "engine opened").kv("stripes", 4);
// The arguments are not evaluated when the level is disabled.
// Written as a one-shot loop so it nests safely under an unbraced `if`.
#define LOG(level, msg)                                                              \
  for (bool _cycas_log_once = ::cycas::log::Enabled(::cycas::log::Level::level);     \
       _cycas_log_once; _cycas_log_once = false)                                     \
  ::cycas::log::Line(::cycas::log::Level::level, msg)
