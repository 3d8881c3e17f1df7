#include "api/reapi/instance_names.h"

#include <algorithm>
#include <array>
#include <cstdio>

namespace cycas::api::reapi {

bool IsReservedSegment(std::string_view segment) {
  static constexpr std::array<std::string_view, 7> kReserved = {
      "blobs",      "uploads",      "actions",         "actionResults",
      "operations", "capabilities", "compressed-blobs"};
  return std::find(kReserved.begin(), kReserved.end(), segment) != kReserved.end();
}

std::string QuoteForError(std::string_view text, size_t max_chars) {
  std::string out = "'";
  size_t shown = std::min(text.size(), max_chars);
  for (size_t i = 0; i < shown; i++) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  out += '\'';
  if (text.size() > max_chars) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

Status ValidateInstanceName(std::string_view name) {
  if (name.empty()) return Status::Ok();
  if (name.size() > kMaxInstanceNameLength) {
    return Status::InvalidArgument("instance_name is " + std::to_string(name.size()) +
                                   " bytes; at most " + std::to_string(kMaxInstanceNameLength) +
                                   " are accepted");
  }
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("instance_name " + QuoteForError(name) +
                                     " contains a control character");
    }
  }
  size_t start = 0;
  int index = 0;
  while (true) {
    size_t end = name.find('/', start);
    std::string_view seg =
        name.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (seg.empty()) {
      return Status::InvalidArgument("instance_name " + QuoteForError(name) + ": segment " +
                                     std::to_string(index) +
                                     " is empty (no leading, trailing or double '/')");
    }
    if (seg == "." || seg == "..") {
      return Status::InvalidArgument("instance_name " + QuoteForError(name) + ": segment " +
                                     QuoteForError(seg) + " is not allowed");
    }
    if (IsReservedSegment(seg)) {
      return Status::InvalidArgument("instance_name " + QuoteForError(name) + ": segment " +
                                     QuoteForError(seg) +
                                     " is a reserved word and cannot be part of an instance name");
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
    index++;
  }
  return Status::Ok();
}

Result<InstanceFilter> InstanceFilter::Parse(std::string_view spec) {
  InstanceFilter f;
  if (spec == "*") return f;
  f.all_ = false;
  size_t start = 0;
  while (true) {
    size_t end = spec.find(',', start);
    std::string_view item =
        spec.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    Status st = ValidateInstanceName(item);
    if (!st.ok()) return Status::InvalidArgument("reapi.instance_names: " + st.message());
    f.names_.emplace_back(item);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return f;
}

Status InstanceFilter::Check(std::string_view name) const {
  RETURN_IF_ERROR(ValidateInstanceName(name));
  if (all_) return Status::Ok();
  if (std::find(names_.begin(), names_.end(), name) != names_.end()) return Status::Ok();
  return Status::InvalidArgument("unknown instance_name " + QuoteForError(name) +
                                 " (this server is configured to serve only listed instances)");
}

}  // namespace cycas::api::reapi
