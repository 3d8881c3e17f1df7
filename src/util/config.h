// Config: typed options declared once, filled from defaults, a TOML file and
// command-line overrides, in that order.
//
// Every option is declared in one table (see server/options.cc) with its type,
// default and help text; that table drives validation, `--help` and the sample
// config file, so the documentation cannot drift from what is accepted.
// Unknown keys are errors, not silently ignored: a typo in a cache server's
// config should stop it, not run it with defaults.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace cycas {

enum class OptionType { kString, kInt, kBytes, kDuration, kBool };

struct OptionSpec {
  std::string key;            // dotted, e.g. "engine.stripes"
  OptionType type;
  std::string default_value;  // in the same syntax a user writes
  std::string help;
};

class Config {
 public:
  explicit Config(std::vector<OptionSpec> specs);

  // Reads a TOML file; tables become dotted prefixes ([engine] size = ... -> engine.size).
  Status LoadTomlFile(const std::string& path);
  // Parses "key=value" as given on a command line.
  Status SetFromAssignment(std::string_view assignment);
  Status Set(std::string_view key, std::string_view value);

  const std::string& GetString(std::string_view key) const;
  int64_t GetInt(std::string_view key) const;
  uint64_t GetBytes(std::string_view key) const;
  std::chrono::milliseconds GetDuration(std::string_view key) const;
  bool GetBool(std::string_view key) const;

  // One paragraph per option, for --help.
  std::string HelpText() const;
  // A complete TOML file with every option commented and set to its default.
  std::string SampleToml() const;
  const std::vector<OptionSpec>& specs() const { return specs_; }

 private:
  const OptionSpec* Find(std::string_view key) const;
  const std::string& Raw(std::string_view key, OptionType type) const;

  std::vector<OptionSpec> specs_;
  std::map<std::string, std::string, std::less<>> values_;
};

// Parsers shared with the client; each returns InvalidArgument naming the input.
Result<uint64_t> ParseBytes(std::string_view text);  // "4096", "64KiB", "1GiB", "2G"
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);  // "500ms", "30s", "1h"
Result<int64_t> ParseInt(std::string_view text);
Result<bool> ParseBool(std::string_view text);

// TOML files must be UTF-8; checking first also keeps malformed bytes away from
// toml11 (3.7 reads out of bounds on some invalid sequences). Every reader of a
// TOML file calls this before toml::parse.
bool IsValidUtf8(std::string_view s);

}  // namespace cycas
