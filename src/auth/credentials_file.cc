#include "auth/credentials_file.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <toml.hpp>

#include "auth/password_hash.h"
#include "digest/hasher.h"
#include "digest/hex.h"
#include "util/config.h"

namespace cycas::auth {
namespace {

constexpr size_t kMaxNameLength = 256;
// A plaintext token shorter than this is guessable; `openssl rand -hex 32` gives 64.
constexpr size_t kMinTokenLength = 16;

// Echoes operator input in errors, bounded.
std::string Quoted(std::string_view text) {
  constexpr size_t kMax = 64;
  std::string out = "'";
  for (char c : text.substr(0, kMax)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  if (text.size() > kMax) out += "...";
  return out + "'";
}

bool IsPrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// Errors name the file, the line and the field, e.g.
// "users.toml: line 12: token[1].sha256: must be 64 hex digits".
class Parser {
 public:
  explicit Parser(const std::string& source) : source_(source) {}

  Status Error(const toml::value& at, const std::string& field, const std::string& msg) const {
    std::string where = source_;
    auto line = at.location().line();
    if (line > 0) where += ": line " + std::to_string(line);
    return Status::InvalidArgument(where + ": " + field + ": " + msg);
  }

  Result<std::string> String(const toml::value& v, const std::string& field) const {
    if (!v.is_string()) return Error(v, field, "must be a string");
    return v.as_string().str;
  }

  Result<std::vector<std::string>> Strings(const toml::value& v, const std::string& field) const {
    if (!v.is_array()) return Error(v, field, "must be an array of strings");
    std::vector<std::string> out;
    const auto& arr = v.as_array();
    for (size_t i = 0; i < arr.size(); i++) {
      ASSIGN_OR_RETURN(std::string s, String(arr[i], field + "[" + std::to_string(i) + "]"));
      out.push_back(std::move(s));
    }
    return out;
  }

  // scopes = ["read", "write"] and instances = [...] of one table.
  Result<Scope> ScopeOf(const toml::value& table, const std::string& field, bool scopes_required,
                        const std::string& scopes_key = "scopes",
                        const std::string& instances_key = "instances") const {
    Scope scope;
    const auto& t = table.as_table();
    auto s = t.find(scopes_key);
    if (s == t.end()) {
      if (scopes_required) {
        return Error(table, field,
                     "'" + scopes_key + "' is missing (e.g. [\"read\"] or [\"read\", \"write\"])");
      }
    } else {
      ASSIGN_OR_RETURN(auto list, Strings(s->second, field + "." + scopes_key));
      for (const std::string& item : list) {
        if (item == "read") {
          scope.read = true;
        } else if (item == "write") {
          scope.write = true;
        } else {
          return Error(s->second, field + "." + scopes_key,
                       "unknown scope " + Quoted(item) + " (read or write)");
        }
      }
    }
    auto i = t.find(instances_key);
    if (i != t.end()) {
      ASSIGN_OR_RETURN(auto patterns, Strings(i->second, field + "." + instances_key));
      auto parsed = InstanceScope::Parse(patterns);
      if (!parsed.ok())
        return Error(i->second, field + "." + instances_key, parsed.status().message());
      scope.instances = std::move(*parsed);
    }
    return scope;
  }

  Status CheckKeys(const toml::value& table, const std::string& field,
                   std::initializer_list<std::string_view> allowed) const {
    for (const auto& [k, v] : table.as_table()) {
      bool ok = false;
      for (std::string_view a : allowed) ok = ok || k == a;
      if (!ok) {
        std::string list;
        for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        return Error(v, field, "unknown key " + Quoted(k) + " (known: " + list + ")");
      }
    }
    return Status::Ok();
  }

  Result<std::string> Name(const toml::value& table, const std::string& field,
                           const std::string& key) const {
    const auto& t = table.as_table();
    auto it = t.find(key);
    if (it == t.end()) return Error(table, field, "'" + key + "' is missing");
    ASSIGN_OR_RETURN(std::string name, String(it->second, field + "." + key));
    if (name.empty() || name.size() > kMaxNameLength) {
      return Error(it->second, field + "." + key, "must be 1 to 256 characters");
    }
    for (char c : name) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        return Error(it->second, field + "." + key, "contains a control character");
      }
    }
    return name;
  }

  // Each array-of-tables section ([[token]], ...) as a list of tables.
  Result<std::vector<const toml::value*>> Tables(const toml::value& v,
                                                 const std::string& field) const {
    if (!v.is_array()) return Error(v, field, "must be an array of tables ([[" + field + "]])");
    std::vector<const toml::value*> out;
    for (const auto& item : v.as_array()) {
      if (!item.is_table())
        return Error(item, field, "must be an array of tables ([[" + field + "]])");
      out.push_back(&item);
    }
    return out;
  }

  Result<TokenEntry> Token(const toml::value& table, const std::string& field) const {
    RETURN_IF_ERROR(
        CheckKeys(table, field, {"name", "sha256", "token", "expires", "scopes", "instances"}));
    TokenEntry e;
    ASSIGN_OR_RETURN(e.name, Name(table, field, "name"));
    const std::string f = field + " (" + Quoted(e.name) + ")";
    const auto& t = table.as_table();
    auto hash = t.find("sha256");
    auto plain = t.find("token");
    if ((hash == t.end()) == (plain == t.end())) {
      return Error(table, f,
                   "needs exactly one of 'sha256' (the token's SHA-256, preferred) or "
                   "'token' (the token itself)");
    }
    if (hash != t.end()) {
      ASSIGN_OR_RETURN(std::string hex, String(hash->second, f + ".sha256"));
      for (char& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (hex.size() != 64 || !HexDecodeTo(hex, e.sha256).ok()) {
        return Error(hash->second, f + ".sha256",
                     "must be 64 hex digits (e.g. printf %s \"$TOKEN\" | sha256sum)");
      }
    } else {
      ASSIGN_OR_RETURN(std::string token, String(plain->second, f + ".token"));
      if (token.size() < kMinTokenLength || !IsPrintableAscii(token)) {
        return Error(plain->second, f + ".token",
                     "must be at least 16 printable ASCII characters without spaces (e.g. "
                     "openssl rand -hex 32)");
      }
      e.sha256 = HashOf(DigestFunction::kSha256, token);
    }
    if (auto ex = t.find("expires"); ex != t.end()) {
      if (ex->second.is_offset_datetime()) {
        const toml::offset_datetime& when = ex->second.as_offset_datetime();
        // system_clock counts nanoseconds in 64 bits (years 1678-2262): a date
        // outside would overflow in the conversion.
        if (when.date.year < 1970 || when.date.year > 2200) {
          return Error(ex->second, f + ".expires", "year must be between 1970 and 2200");
        }
        e.expires = static_cast<std::chrono::system_clock::time_point>(when);
      } else {
        return Error(ex->second, f + ".expires",
                     "must be a TOML date-time with a UTC offset, e.g. 2027-01-31T00:00:00Z");
      }
    }
    ASSIGN_OR_RETURN(e.scope, ScopeOf(table, f, true));
    return e;
  }

  Result<UserEntry> User(const toml::value& table, const std::string& field) const {
    RETURN_IF_ERROR(CheckKeys(table, field, {"name", "password", "scopes", "instances"}));
    UserEntry e;
    ASSIGN_OR_RETURN(e.name, Name(table, field, "name"));
    const std::string f = field + " (" + Quoted(e.name) + ")";
    const auto& t = table.as_table();
    // Basic credentials are "user:password": a ':' in a name could never be sent.
    if (e.name.find(':') != std::string::npos) {
      return Error(t.at("name"), f + ".name", "must not contain ':'");
    }
    if (auto pw = t.find("password"); pw != t.end()) {
      ASSIGN_OR_RETURN(e.password_hash, String(pw->second, f + ".password"));
      Status st = CheckPasswordHashForm(e.password_hash);
      if (!st.ok()) return Error(pw->second, f + ".password", st.message());
    }
    ASSIGN_OR_RETURN(e.scope, ScopeOf(table, f, true));
    return e;
  }

  Result<CertEntry> Cert(const toml::value& table, const std::string& field) const {
    RETURN_IF_ERROR(CheckKeys(table, field, {"cn", "scopes", "instances"}));
    CertEntry e;
    ASSIGN_OR_RETURN(e.common_name, Name(table, field, "cn"));
    ASSIGN_OR_RETURN(e.scope, ScopeOf(table, field + " (" + Quoted(e.common_name) + ")", true));
    return e;
  }

  Result<Credentials> File(const toml::value& root) const {
    Credentials c;
    RETURN_IF_ERROR(
        CheckKeys(root, "top level",
                  {"anonymous", "anonymous_instances", "token", "user", "htpasswd", "cert"}));
    const auto& t = root.as_table();
    if (auto a = t.find("anonymous"); a != t.end()) {
      ASSIGN_OR_RETURN(std::string mode, String(a->second, "anonymous"));
      if (mode == "none") {
      } else if (mode == "read") {
        c.anonymous.read = true;
      } else if (mode == "read-write") {
        c.anonymous.read = c.anonymous.write = true;
      } else {
        return Error(a->second, "anonymous",
                     "must be \"none\", \"read\" or \"read-write\", got " + Quoted(mode));
      }
    }
    if (auto a = t.find("anonymous_instances"); a != t.end()) {
      ASSIGN_OR_RETURN(auto patterns, Strings(a->second, "anonymous_instances"));
      auto parsed = InstanceScope::Parse(patterns);
      if (!parsed.ok()) return Error(a->second, "anonymous_instances", parsed.status().message());
      c.anonymous.instances = std::move(*parsed);
    }
    if (auto s = t.find("token"); s != t.end()) {
      ASSIGN_OR_RETURN(auto tables, Tables(s->second, "token"));
      std::set<std::string> names;
      std::set<std::array<uint8_t, 32>> hashes;
      for (size_t i = 0; i < tables.size(); i++) {
        std::string field = "token[" + std::to_string(i) + "]";
        ASSIGN_OR_RETURN(TokenEntry e, Token(*tables[i], field));
        if (!names.insert(e.name).second) {
          return Error(*tables[i], field, "the name " + Quoted(e.name) + " is used twice");
        }
        if (!hashes.insert(e.sha256).second) {
          return Error(*tables[i], field, "the same token is listed twice");
        }
        c.tokens.push_back(std::move(e));
      }
    }
    if (auto s = t.find("user"); s != t.end()) {
      ASSIGN_OR_RETURN(auto tables, Tables(s->second, "user"));
      std::set<std::string> names;
      for (size_t i = 0; i < tables.size(); i++) {
        std::string field = "user[" + std::to_string(i) + "]";
        ASSIGN_OR_RETURN(UserEntry e, User(*tables[i], field));
        if (!names.insert(e.name).second) {
          return Error(*tables[i], field, "the user " + Quoted(e.name) + " is listed twice");
        }
        c.users.push_back(std::move(e));
      }
    }
    if (auto s = t.find("cert"); s != t.end()) {
      ASSIGN_OR_RETURN(auto tables, Tables(s->second, "cert"));
      std::set<std::string> names;
      for (size_t i = 0; i < tables.size(); i++) {
        std::string field = "cert[" + std::to_string(i) + "]";
        ASSIGN_OR_RETURN(CertEntry e, Cert(*tables[i], field));
        if (!names.insert(e.common_name).second) {
          return Error(*tables[i], field, "the cn " + Quoted(e.common_name) + " is listed twice");
        }
        c.certs.push_back(std::move(e));
      }
    }
    if (auto h = t.find("htpasswd"); h != t.end()) {
      if (!h->second.is_table())
        return Error(h->second, "htpasswd", "must be a table ([htpasswd])");
      RETURN_IF_ERROR(CheckKeys(h->second, "htpasswd", {"file", "scopes", "instances"}));
      const auto& ht = h->second.as_table();
      auto file = ht.find("file");
      if (file == ht.end()) return Error(h->second, "htpasswd", "'file' is missing");
      ASSIGN_OR_RETURN(c.htpasswd_file, String(file->second, "htpasswd.file"));
      if (c.htpasswd_file.empty()) return Error(file->second, "htpasswd.file", "is empty");
      ASSIGN_OR_RETURN(c.htpasswd_scope, ScopeOf(h->second, "htpasswd", true));
    }
    return c;
  }

 private:
  const std::string& source_;
};

}  // namespace

Result<Credentials> ParseCredentials(std::string_view text, const std::string& source) {
  if (!IsValidUtf8(text)) return Status::InvalidArgument(source + ": not valid UTF-8");
  toml::value root;
  try {
    std::istringstream in{std::string(text)};
    root = toml::parse(in, source);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(source + ": " + e.what());
  }
  try {
    return Parser(source).File(root);
  } catch (const std::exception& e) {
    // toml11 throws on unexpected shapes the checks above did not foresee.
    return Status::InvalidArgument(source + ": " + e.what());
  }
}

Status MergeHtpasswd(std::string_view text, const std::string& source, Credentials* credentials) {
  std::set<std::string> seen;
  size_t line_no = 0;
  while (!text.empty()) {
    line_no++;
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    auto where = [&] { return source + ": line " + std::to_string(line_no) + ": "; };
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Status::InvalidArgument(where() + "expected 'user:hash'");
    }
    std::string name(line.substr(0, colon));
    std::string hash(line.substr(colon + 1));
    if (name.size() > kMaxNameLength)
      return Status::InvalidArgument(where() + "user name too long");
    for (char c : name) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        return Status::InvalidArgument(where() + "user name contains a control character");
      }
    }
    if (Status st = CheckPasswordHashForm(hash); !st.ok()) {
      return Status::InvalidArgument(where() + "user " + Quoted(name) + ": " + st.message());
    }
    if (!seen.insert(name).second) {
      return Status::InvalidArgument(where() + "user " + Quoted(name) + " is listed twice");
    }
    bool listed = false;
    for (UserEntry& u : credentials->users) {
      if (u.name != name) continue;
      listed = true;
      if (!u.password_hash.empty()) {
        return Status::InvalidArgument(where() + "user " + Quoted(name) +
                                       " also has a password in the credentials file; keep one");
      }
      u.password_hash = hash;
    }
    if (!listed) credentials->users.push_back({name, hash, credentials->htpasswd_scope});
  }
  return Status::Ok();
}

namespace {

Result<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(what + " " + path + ": cannot be opened");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::InvalidArgument(what + " " + path + ": read failed");
  return bytes;
}

}  // namespace

Result<Credentials> LoadCredentialsFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, "credentials file"));
  ASSIGN_OR_RETURN(Credentials c, ParseCredentials(text, "credentials file " + path));
  if (!c.htpasswd_file.empty()) {
    std::filesystem::path p(c.htpasswd_file);
    if (p.is_relative()) p = std::filesystem::path(path).parent_path() / p;
    ASSIGN_OR_RETURN(std::string ht, ReadFile(p.string(), "htpasswd file"));
    RETURN_IF_ERROR(MergeHtpasswd(ht, "htpasswd file " + p.string(), &c));
  }
  for (const UserEntry& u : c.users) {
    if (u.password_hash.empty()) {
      return Status::InvalidArgument("credentials file " + path + ": user " + Quoted(u.name) +
                                     " has no password: give 'password' or list the user in "
                                     "the [htpasswd] file");
    }
  }
  return c;
}

}  // namespace cycas::auth
