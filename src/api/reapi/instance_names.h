// REAPI instance names: their syntax, and which of them this server serves.
//
// An instance name selects a namespace. In cycas the CAS is shared by every
// instance (content addressing makes sharing safe and saves space) while the
// action cache is separate per instance. An instance name is empty or
// '/'-separated segments; the spec reserves the segments `blobs`, `uploads`,
// `actions`, `actionResults`, `operations`, `capabilities` and
// `compressed-blobs` so that ByteStream resource names parse unambiguously.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace cycas::api::reapi {

// Longest instance name accepted (it is echoed in errors and stored in keys).
inline constexpr size_t kMaxInstanceNameLength = 1024;

// True for a segment the spec forbids in instance names.
bool IsReservedSegment(std::string_view segment);

// OK for "" and for '/'-separated non-empty segments that are not reserved,
// not "." or "..", and free of control characters. INVALID_ARGUMENT names the
// offending segment.
Status ValidateInstanceName(std::string_view name);

// Which instance names are served: every syntactically valid one, or a fixed list.
class InstanceFilter {
 public:
  // Every valid instance name.
  InstanceFilter() = default;
  // Parses the `reapi.instance_names` option: "*" for all, or a comma-separated
  // list where an empty element (e.g. the whole value "" or ",ci") stands for
  // the empty instance name. INVALID_ARGUMENT when a listed name is malformed.
  static Result<InstanceFilter> Parse(std::string_view spec);

  // ValidateInstanceName, then INVALID_ARGUMENT "unknown instance name" when
  // the name is not in the list.
  Status Check(std::string_view name) const;

  bool allows_all() const { return all_; }

 private:
  bool all_ = true;
  std::vector<std::string> names_;
};

// For error messages: the name quoted, with bytes outside printable ASCII
// escaped and long names cut, so an error never carries raw client bytes.
std::string QuoteForError(std::string_view text, size_t max_chars = 128);

}  // namespace cycas::api::reapi
