#include "util/config.h"

#include <charconv>
#include <climits>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <toml.hpp>

namespace cycas {
namespace {

// Echoes user input in errors, bounded so a huge value cannot make a huge message.
std::string Quoted(std::string_view text) {
  constexpr size_t kMax = 64;
  std::string out = "'";
  out += text.substr(0, kMax);
  if (text.size() > kMax) out += "...";
  out += "'";
  return out;
}

std::string_view TypeName(OptionType t) {
  switch (t) {
    case OptionType::kString: return "string";
    case OptionType::kInt: return "integer";
    case OptionType::kBytes: return "size";
    case OptionType::kDuration: return "duration";
    case OptionType::kBool: return "bool";
  }
  return "?";
}

Status Validate(const OptionSpec& spec, std::string_view value) {
  Status st;
  switch (spec.type) {
    case OptionType::kString: return Status::Ok();
    case OptionType::kInt: st = ParseInt(value).status(); break;
    case OptionType::kBytes: st = ParseBytes(value).status(); break;
    case OptionType::kDuration: st = ParseDuration(value).status(); break;
    case OptionType::kBool: st = ParseBool(value).status(); break;
  }
  return st.WithContext("option " + spec.key);
}

// Flattens nested TOML tables into dotted keys with string values.
Status Flatten(const toml::value& table, const std::string& prefix,
               std::vector<std::pair<std::string, std::string>>* out) {
  for (const auto& [k, v] : table.as_table()) {
    std::string key = prefix.empty() ? k : prefix + "." + k;
    if (v.is_table()) {
      RETURN_IF_ERROR(Flatten(v, key, out));
    } else if (v.is_string()) {
      out->emplace_back(key, v.as_string().str);
    } else if (v.is_integer()) {
      out->emplace_back(key, std::to_string(v.as_integer()));
    } else if (v.is_boolean()) {
      out->emplace_back(key, v.as_boolean() ? "true" : "false");
    } else {
      return Status::InvalidArgument("option " + key +
                                     ": expected a string, integer or boolean value");
    }
  }
  return Status::Ok();
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (size_t k = 1; k < n; k++) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = cp << 6 | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
      return false;
    }
    i += n;
  }
  return true;
}

Config::Config(std::vector<OptionSpec> specs) : specs_(std::move(specs)) {
  for (const auto& s : specs_) values_[s.key] = s.default_value;
}

const OptionSpec* Config::Find(std::string_view key) const {
  for (const auto& s : specs_) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

Status Config::Set(std::string_view key, std::string_view value) {
  const OptionSpec* spec = Find(key);
  if (spec == nullptr) {
    return Status::InvalidArgument("unknown option '" + std::string(key) +
                                   "' (see --help for the list)");
  }
  RETURN_IF_ERROR(Validate(*spec, value));
  values_[spec->key] = std::string(value);
  return Status::Ok();
}

Status Config::SetFromAssignment(std::string_view assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Status::InvalidArgument("expected key=value, got '" + std::string(assignment) + "'");
  }
  return Set(assignment.substr(0, eq), assignment.substr(eq + 1));
}

Status Config::LoadTomlFile(const std::string& path) {
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::InvalidArgument("config file " + path + ": cannot be opened");
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!IsValidUtf8(bytes)) {
      return Status::InvalidArgument("config file " + path + ": not valid UTF-8");
    }
  }
  toml::value root;
  try {
    root = toml::parse(path);
  } catch (const std::exception& e) {
    return Status::InvalidArgument("config file " + path + ": " + e.what());
  }
  std::vector<std::pair<std::string, std::string>> kvs;
  RETURN_IF_ERROR(Flatten(root, "", &kvs).WithContext("config file " + path));
  for (const auto& [k, v] : kvs) {
    RETURN_IF_ERROR(Set(k, v).WithContext("config file " + path));
  }
  return Status::Ok();
}

const std::string& Config::Raw(std::string_view key, OptionType type) const {
  const OptionSpec* spec = Find(key);
  if (spec == nullptr || spec->type != type) {
    // A programming error: the code asked for an option it never declared.
    throw std::logic_error("config option not declared with this type: " + std::string(key));
  }
  return values_.find(key)->second;
}

const std::string& Config::GetString(std::string_view key) const {
  return Raw(key, OptionType::kString);
}
int64_t Config::GetInt(std::string_view key) const {
  return ParseInt(Raw(key, OptionType::kInt)).value();
}
uint64_t Config::GetBytes(std::string_view key) const {
  return ParseBytes(Raw(key, OptionType::kBytes)).value();
}
std::chrono::milliseconds Config::GetDuration(std::string_view key) const {
  return ParseDuration(Raw(key, OptionType::kDuration)).value();
}
bool Config::GetBool(std::string_view key) const {
  return ParseBool(Raw(key, OptionType::kBool)).value();
}

std::string Config::HelpText() const {
  std::ostringstream os;
  for (const auto& s : specs_) {
    os << "  " << s.key << " (" << TypeName(s.type) << ", default: "
       << (s.default_value.empty() ? "\"\"" : s.default_value) << ")\n      " << s.help << "\n";
  }
  return os.str();
}

std::string Config::SampleToml() const {
  std::ostringstream os;
  os << "# cycas configuration. Every option is shown with its default.\n"
        "# Sizes accept suffixes KiB, MiB, GiB, TiB (or K, M, G, T); durations ms, s, m, h.\n";
  std::string table;
  for (const auto& s : specs_) {
    auto dot = s.key.rfind('.');
    std::string t = dot == std::string::npos ? "" : s.key.substr(0, dot);
    std::string name = dot == std::string::npos ? s.key : s.key.substr(dot + 1);
    if (t != table) {
      os << "\n[" << t << "]\n";
      table = t;
    }
    os << "# " << s.help << "\n";
    bool quoted = s.type != OptionType::kInt && s.type != OptionType::kBool;
    os << "# " << name << " = " << (quoted ? "\"" : "") << s.default_value << (quoted ? "\"" : "")
       << "\n";
  }
  return os.str();
}

Result<int64_t> ParseInt(std::string_view text) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) {
    return Status::InvalidArgument(Quoted(text) + " is not an integer");
  }
  return v;
}

Result<bool> ParseBool(std::string_view text) {
  if (text == "true") return true;
  if (text == "false") return false;
  return Status::InvalidArgument(Quoted(text) + " is not true or false");
}

Result<uint64_t> ParseBytes(std::string_view text) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p == text.data()) {
    return Status::InvalidArgument(Quoted(text) + " is not a size (e.g. 64MiB)");
  }
  std::string_view unit(p, text.data() + text.size() - p);
  uint64_t mult = 1;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "K" || unit == "KiB") mult = 1ull << 10;
  else if (unit == "M" || unit == "MiB") mult = 1ull << 20;
  else if (unit == "G" || unit == "GiB") mult = 1ull << 30;
  else if (unit == "T" || unit == "TiB") mult = 1ull << 40;
  else {
    return Status::InvalidArgument(Quoted(text) + ": unknown size unit (use KiB, MiB, GiB or TiB)");
  }
  if (v > UINT64_MAX / mult) return Status::InvalidArgument(Quoted(text) + " is too large");
  return v * mult;
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p == text.data()) {
    return Status::InvalidArgument(Quoted(text) + " is not a duration (e.g. 30s)");
  }
  std::string_view unit(p, text.data() + text.size() - p);
  uint64_t mult;
  if (unit == "ms") mult = 1;
  else if (unit == "s" || (unit.empty() && v == 0)) mult = 1000;
  else if (unit == "m") mult = 60'000;
  else if (unit == "h") mult = 3'600'000;
  else {
    return Status::InvalidArgument(Quoted(text) + ": duration needs a unit (ms, s, m or h)");
  }
  if (v > static_cast<uint64_t>(INT64_MAX) / mult) {
    return Status::InvalidArgument(Quoted(text) + " is too large a duration");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(v * mult));
}

}  // namespace cycas
