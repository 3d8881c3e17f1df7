// Scope: what a principal may do — read, write — and on which REAPI/HTTP
// instance names. Shared by every front-end; see docs/auth.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace cycas::auth {

// What a call needs. Capabilities-like calls need neither (see Authenticator::Identify).
enum class Access { kRead, kWrite };

std::string_view AccessName(Access access);  // "read" / "write"

// The instance names a principal may touch, from a list of patterns:
//   "*"                 every instance name
//   ""                  the default (empty) instance name only
//   "team-a", "team-a/" "team-a" itself and every name below it ("team-a/x"),
//                       never "team-ab"
class InstanceScope {
 public:
  // Every instance name.
  static InstanceScope All();
  // INVALID_ARGUMENT naming the bad pattern (empty segments, '*' inside a name...).
  static Result<InstanceScope> Parse(const std::vector<std::string>& patterns);

  bool Allows(std::string_view instance) const;
  bool allows_all() const { return all_; }
  // The patterns, for error messages: "*", or e.g. "'team-a', ''".
  std::string Describe() const;

 private:
  bool all_ = false;
  std::vector<std::string> prefixes_;  // normalised: no trailing '/'; "" = the default instance
};

struct Scope {
  bool read = false;
  bool write = false;
  InstanceScope instances = InstanceScope::All();

  bool Allows(Access access) const { return access == Access::kRead ? read : write; }
  // "read", "write", "read, write" or "none".
  std::string DescribeAccess() const;
  // Full access to every instance: what every caller has when auth is off.
  static Scope Unrestricted();
};

}  // namespace cycas::auth
