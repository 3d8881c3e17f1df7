#include "auth/scope.h"

namespace cycas::auth {

std::string_view AccessName(Access access) {
  return access == Access::kRead ? "read" : "write";
}

InstanceScope InstanceScope::All() {
  InstanceScope s;
  s.all_ = true;
  return s;
}

Result<InstanceScope> InstanceScope::Parse(const std::vector<std::string>& patterns) {
  InstanceScope s;
  for (const std::string& raw : patterns) {
    if (raw == "*") {
      s.all_ = true;
      continue;
    }
    std::string_view p = raw;
    // "team-a/" reads naturally as "under team-a"; it means the same as "team-a".
    if (!p.empty() && p.back() == '/') p.remove_suffix(1);
    if (!raw.empty() && p.empty()) {
      return Status::InvalidArgument(
          "instance pattern '/' is not valid: use \"\" for the "
          "default instance or \"*\" for all");
    }
    if (p.find('*') != std::string_view::npos) {
      return Status::InvalidArgument("instance pattern '" + raw +
                                     "': '*' is only valid alone (every instance)");
    }
    if (!p.empty() && (p.front() == '/' || p.find("//") != std::string_view::npos)) {
      return Status::InvalidArgument("instance pattern '" + raw + "' has an empty segment");
    }
    for (char c : p) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        return Status::InvalidArgument("instance pattern contains a control character");
      }
    }
    s.prefixes_.emplace_back(p);
  }
  return s;
}

bool InstanceScope::Allows(std::string_view instance) const {
  if (all_) return true;
  for (const std::string& p : prefixes_) {
    if (p.empty()) {
      if (instance.empty()) return true;
      continue;
    }
    if (instance.size() >= p.size() && instance.compare(0, p.size(), p) == 0 &&
        (instance.size() == p.size() || instance[p.size()] == '/')) {
      return true;
    }
  }
  return false;
}

std::string InstanceScope::Describe() const {
  if (all_) return "*";
  if (prefixes_.empty()) return "none";
  std::string out;
  for (const std::string& p : prefixes_) {
    if (!out.empty()) out += ", ";
    out += "'" + p + "'";
  }
  return out;
}

std::string Scope::DescribeAccess() const {
  if (read && write) return "read, write";
  if (read) return "read";
  if (write) return "write";
  return "none";
}

Scope Scope::Unrestricted() {
  return Scope{.read = true, .write = true, .instances = InstanceScope::All()};
}

}  // namespace cycas::auth
