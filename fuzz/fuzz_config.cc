// fuzz_config: the configuration parsers (util/config.h).
//
// Every input is tried as:
//   * the text of a size, duration, integer and bool (ParseBytes, ParseDuration,
//     ParseInt, ParseBool), each compared with an independent reading of the
//     grammar in config.h: accepted exactly when the grammar says so, with the
//     value the text denotes, and an error (never a wrapped-around value) when
//     that value does not fit the result type;
//   * a command-line "key=value" (Config::SetFromAssignment);
//   * a TOML file (Config::LoadTomlFile on the input written to a temp file),
//     against the server's real option table. After a successful load every
//     option's typed getter must work: the loader promised validated values.
// toml11 reports syntax errors by throwing; LoadTomlFile must turn them into a
// Status, so any exception escaping it, and any crash inside toml11, is a finding.

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "server/options.h"
#include "util/config.h"

namespace cycas::fuzz {
namespace {

[[noreturn]] void Fail(const std::string& what) {
  FailIn("fuzz_config", what);
}

using u128 = unsigned __int128;

std::string Shown(std::string_view text) {
  std::string s;
  for (char c : text.substr(0, 80)) {
    char buf[8];
    if (c >= 0x20 && c < 0x7f) {
      s += c;
    } else {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      s += buf;
    }
  }
  return "\"" + s + (text.size() > 80 ? "...\"" : "\"");
}

// Leading decimal digits, as std::from_chars reads an unsigned integer; nullopt
// when there are none. `value` saturates above 2^64 (anything that large is an error).
struct Number {
  u128 value;
  std::string_view rest;
};
std::optional<Number> LeadingDigits(std::string_view s) {
  size_t i = 0;
  u128 v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    v = std::min<u128>(v * 10 + static_cast<unsigned>(s[i] - '0'), u128{1} << 100);
    i++;
  }
  if (i == 0) return std::nullopt;
  return Number{v, s.substr(i)};
}

std::optional<uint64_t> RefBytes(std::string_view s) {
  auto n = LeadingDigits(s);
  if (!n || n->value > UINT64_MAX) return std::nullopt;
  u128 mult;
  std::string_view u = n->rest;
  if (u.empty() || u == "B")
    mult = 1;
  else if (u == "K" || u == "KiB")
    mult = u128{1} << 10;
  else if (u == "M" || u == "MiB")
    mult = u128{1} << 20;
  else if (u == "G" || u == "GiB")
    mult = u128{1} << 30;
  else if (u == "T" || u == "TiB")
    mult = u128{1} << 40;
  else
    return std::nullopt;
  u128 v = n->value * mult;
  if (v > UINT64_MAX) return std::nullopt;
  return static_cast<uint64_t>(v);
}

// The milliseconds a duration denotes, exactly (saturating far above
// INT64_MAX), or nullopt when the text is not a duration.
std::optional<u128> RefDurationMs(std::string_view s) {
  auto n = LeadingDigits(s);
  if (!n || n->value > UINT64_MAX) return std::nullopt;
  u128 mult;
  std::string_view u = n->rest;
  if (u == "ms")
    mult = 1;
  else if (u == "s" || (u.empty() && n->value == 0))
    mult = 1000;
  else if (u == "m")
    mult = 60'000;
  else if (u == "h")
    mult = 3'600'000;
  else
    return std::nullopt;
  return n->value * mult;
}

std::optional<int64_t> RefInt(std::string_view s) {
  bool neg = !s.empty() && s[0] == '-';
  auto n = LeadingDigits(neg ? s.substr(1) : s);
  if (!n || !n->rest.empty()) return std::nullopt;
  if (!neg && n->value > static_cast<u128>(INT64_MAX)) return std::nullopt;
  if (neg && n->value > static_cast<u128>(INT64_MAX) + 1) return std::nullopt;
  return neg ? static_cast<int64_t>(-static_cast<__int128>(n->value))
             : static_cast<int64_t>(n->value);
}

void CheckRejected(const Status& st, std::string_view what, std::string_view text) {
  FUZZ_CHECK(st.code() == StatusCode::kInvalidArgument,
             std::string(what) + "(" + Shown(text) + "): " + st.ToString());
  FUZZ_CHECK(!st.message().empty(), std::string(what) + ": empty message");
}

void FuzzScalars(std::string_view text) {
  const std::string arg = Shown(text);
  {
    auto got = ParseBytes(text);
    auto want = RefBytes(text);
    if (want) {
      FUZZ_CHECK(got.ok() && *got == *want,
                 "ParseBytes(" + arg +
                     ") = " + (got.ok() ? std::to_string(*got) : got.status().ToString()) +
                     ", want " + std::to_string(*want));
    } else {
      FUZZ_CHECK(!got.ok(), "ParseBytes(" + arg + ") accepted, = " + std::to_string(*got));
      CheckRejected(got.status(), "ParseBytes", text);
    }
  }
  {
    auto got = ParseDuration(text);
    auto denoted = RefDurationMs(text);
    // The result is a std::chrono::milliseconds (int64 count): larger is an error.
    const bool overflow = denoted && *denoted > static_cast<u128>(INT64_MAX);
    if (denoted && !overflow) {
      const auto want = static_cast<int64_t>(*denoted);
      FUZZ_CHECK(got.ok() && got->count() == want,
                 "ParseDuration(" + arg + ") = " +
                     (got.ok() ? std::to_string(got->count()) + "ms" : got.status().ToString()) +
                     ", want " + std::to_string(want) + "ms");
    } else {
      FUZZ_CHECK(!got.ok(),
                 "ParseDuration(" + arg + ") accepted, = " + std::to_string(got->count()) +
                     "ms (want an error" +
                     (overflow ? ": the value does not fit in int64 milliseconds)" : ")"));
      CheckRejected(got.status(), "ParseDuration", text);
    }
  }
  {
    auto got = ParseInt(text);
    auto want = RefInt(text);
    if (want) {
      FUZZ_CHECK(got.ok() && *got == *want, "ParseInt(" + arg + ")");
    } else {
      FUZZ_CHECK(!got.ok(), "ParseInt(" + arg + ") accepted, = " + std::to_string(*got));
      CheckRejected(got.status(), "ParseInt", text);
    }
  }
  {
    auto got = ParseBool(text);
    FUZZ_CHECK(got.ok() == (text == "true" || text == "false"), "ParseBool(" + arg + ")");
    if (got.ok()) FUZZ_CHECK(*got == (text == "true"), "ParseBool value");
  }
}

// Every typed getter must work after a load or Set that succeeded.
void CheckGetters(const Config& config, std::string_view after) {
  for (const auto& spec : config.specs()) {
    try {
      switch (spec.type) {
        case OptionType::kString:
          (void)config.GetString(spec.key);
          break;
        case OptionType::kInt:
          (void)config.GetInt(spec.key);
          break;
        case OptionType::kBytes:
          (void)config.GetBytes(spec.key);
          break;
        case OptionType::kDuration:
          (void)config.GetDuration(spec.key);
          break;
        case OptionType::kBool:
          (void)config.GetBool(spec.key);
          break;
      }
    } catch (const std::exception& e) {
      Fail("after " + std::string(after) + ", option " + spec.key + " cannot be read: " + e.what());
    }
  }
}

std::string g_path;

Status LoadToml(std::string_view bytes, Config* config) {
  {
    std::ofstream out(g_path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    FUZZ_CHECK(out.good(), "cannot write " + g_path);
  }
  try {
    Status st = config->LoadTomlFile(g_path);
    std::remove(g_path.c_str());  // nothing left behind, even when a later input crashes
    return st;
  } catch (const std::exception& e) {
    Fail(std::string("LoadTomlFile let an exception escape: ") + e.what());
  } catch (...) {
    Fail("LoadTomlFile let a non-std exception escape");
  }
}

// The sample file with every option uncommented: must load as it stands.
std::string DefaultsToml(const Config& config) {
  std::string out;
  std::string sample = config.SampleToml();
  size_t pos = 0;
  while (pos < sample.size()) {
    size_t nl = sample.find('\n', pos);
    if (nl == std::string::npos) nl = sample.size();
    std::string line = sample.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.rfind("# ", 0) == 0 && line.find(" = ") != std::string::npos) line = line.substr(2);
    out += line + "\n";
  }
  return out;
}

void Init() {
  const char* dir = std::getenv("TMPDIR");
  std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (dir ? dir : "/tmp");
  g_path = base + "/cycas_fuzz_config_" + std::to_string(getpid()) + ".toml";
  std::atexit([] { std::remove(g_path.c_str()); });

  Config config(server::ServerOptionSpecs());
  Status st = LoadToml(config.SampleToml(), &config);
  FUZZ_CHECK(st.ok(), "the sample config does not load: " + st.ToString());
  const std::string defaults = DefaultsToml(config);
  st = LoadToml(defaults, &config);
  FUZZ_CHECK(st.ok(), "the sample config with every option set does not load: " + st.ToString());
  CheckGetters(config, "loading the defaults");
  if (const char* seeds = std::getenv("CYCAS_FUZZ_WRITE_SEEDS")) {
    std::ofstream(std::string(seeds) + "/sample-defaults.toml", std::ios::binary) << defaults;
  }
}

void RunOne(std::string_view text) {
  FuzzScalars(text);

  Config config(server::ServerOptionSpecs());
  Status st = config.SetFromAssignment(text);
  if (st.ok()) CheckGetters(config, "SetFromAssignment(" + Shown(text) + ")");

  Config from_file(server::ServerOptionSpecs());
  st = LoadToml(text, &from_file);
  if (st.ok()) {
    CheckGetters(from_file, "LoadTomlFile");
  } else {
    FUZZ_CHECK(st.code() == StatusCode::kInvalidArgument, st.ToString());
  }
}

}  // namespace
}  // namespace cycas::fuzz

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  cycas::fuzz::Init();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cycas::fuzz::RunOne(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
