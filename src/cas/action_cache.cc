#include "cas/action_cache.h"

#include "digest/hex.h"

namespace cycas {

Result<Digest> DigestFromProto(const reapi::Digest& d, DigestFunction fn, std::string_view field) {
  auto r = Digest::FromHex(fn, d.hash(), d.size_bytes());
  if (!r.ok()) return Status::InvalidArgument(std::string(field) + ": " + r.status().message());
  return r;
}

reapi::Digest DigestToProto(const Digest& d) {
  reapi::Digest p;
  p.set_hash(d.hex());
  p.set_size_bytes(static_cast<int64_t>(d.size_bytes()));
  return p;
}

ActionCache::ActionCache(CasStore* cas, RecordStore* records, Options options)
    : cas_(cas), records_(records), options_(options) {}

std::string ActionCache::RecordName(std::string_view instance, const Digest& action) {
  std::string name = "ac/";
  name += DigestFunctionName(action.function());
  name += '/';
  name += action.hex();
  name += '/';
  name += std::to_string(action.size_bytes());
  name += '/';
  // The instance goes last and may contain '/': the fixed-width parts before it
  // keep names of different instances distinct.
  name += instance;
  return name;
}

Result<std::string> ActionCache::GetRaw(std::string_view instance, const Digest& action) {
  auto r = records_->Get(RecordName(instance, action));
  if (!r.ok() && r.status().code() == StatusCode::kNotFound) {
    return Status::NotFound("no action result for " + action.ToString());
  }
  return r;
}

Status ActionCache::PutRaw(std::string_view instance, const Digest& action,
                           std::string_view value) {
  return records_->Put(RecordName(instance, action), value);
}

Status ActionCache::Validate(const reapi::ActionResult& result, DigestFunction fn) {
  for (int i = 0; i < result.output_files_size(); i++) {
    const auto& f = result.output_files(i);
    RETURN_IF_ERROR(
        DigestFromProto(f.digest(), fn, "output_files[" + std::to_string(i) + "].digest").status());
  }
  for (int i = 0; i < result.output_directories_size(); i++) {
    const auto& d = result.output_directories(i);
    RETURN_IF_ERROR(DigestFromProto(d.tree_digest(), fn,
                                    "output_directories[" + std::to_string(i) + "].tree_digest")
                        .status());
  }
  if (result.has_stdout_digest()) {
    RETURN_IF_ERROR(DigestFromProto(result.stdout_digest(), fn, "stdout_digest").status());
  }
  if (result.has_stderr_digest()) {
    RETURN_IF_ERROR(DigestFromProto(result.stderr_digest(), fn, "stderr_digest").status());
  }
  return Status::Ok();
}

Status ActionCache::ForEachAbsent(
    const reapi::ActionResult& result, DigestFunction fn,
    const std::function<bool(const Digest&, const std::string&)>& absent) {
  bool more = true;
  // Returns whether `d` is present; records it (and maybe stops) when it is not.
  auto check = [&](const Digest& d, const std::string& what) -> Result<bool> {
    ASSIGN_OR_RETURN(bool present, cas_->Contains(d));
    if (!present && more) more = absent(d, what);
    return present;
  };
  auto field = [&](const reapi::Digest& proto, const std::string& what) -> Status {
    ASSIGN_OR_RETURN(Digest d, DigestFromProto(proto, fn, what));
    return check(d, what).status();
  };
  for (const auto& f : result.output_files()) {
    if (more) RETURN_IF_ERROR(field(f.digest(), f.path()));
  }
  if (more && result.has_stdout_digest()) RETURN_IF_ERROR(field(result.stdout_digest(), "stdout"));
  if (more && result.has_stderr_digest()) RETURN_IF_ERROR(field(result.stderr_digest(), "stderr"));
  for (const auto& dir : result.output_directories()) {
    if (!more) break;
    std::string what = dir.path().empty() ? "output directory tree" : dir.path() + " (tree)";
    ASSIGN_OR_RETURN(Digest tree_digest, DigestFromProto(dir.tree_digest(), fn, what));
    ASSIGN_OR_RETURN(bool present, check(tree_digest, what));
    if (!present) continue;
    // The files inside the tree must be present too, or the client fails
    // downloading outputs of a "hit".
    ASSIGN_OR_RETURN(std::string bytes, cas_->ReadAll(tree_digest, options_.max_tree_bytes));
    reapi::Tree tree;
    if (!tree.ParseFromString(bytes)) {
      return Status::InvalidArgument("output directory " + what + ": tree_digest " +
                                     tree_digest.ToString() + " is not an encoded Tree");
    }
    auto check_dir = [&](const reapi::Directory& d) -> Status {
      for (const auto& f : d.files()) {
        if (more) RETURN_IF_ERROR(field(f.digest(), dir.path() + "/" + f.name()));
      }
      return Status::Ok();
    };
    RETURN_IF_ERROR(check_dir(tree.root()));
    for (const auto& child : tree.children()) RETURN_IF_ERROR(check_dir(child));
  }
  return Status::Ok();
}

Status ActionCache::CheckComplete(const reapi::ActionResult& result, DigestFunction fn) {
  RETURN_IF_ERROR(Validate(result, fn));
  std::string first;
  Status st = ForEachAbsent(result, fn, [&](const Digest& d, const std::string& what) {
    first = d.ToString() + " (" + what + ")";
    return false;
  });
  if (st.code() == StatusCode::kUnavailable) return st;  // a tier is down: not "absent"
  if (!st.ok()) {
    // An output tree that is unreadable, too large or not a Tree: the client
    // would fail on it, so the entry is a miss.
    return Status::NotFound("action result unusable: " + st.message());
  }
  if (!first.empty()) return Status::NotFound("action result references missing blob " + first);
  return Status::Ok();
}

Result<std::vector<std::string>> ActionCache::MissingBlobs(const reapi::ActionResult& result,
                                                           DigestFunction fn, size_t limit) {
  std::vector<std::string> missing;
  RETURN_IF_ERROR(ForEachAbsent(result, fn, [&](const Digest& d, const std::string& what) {
    missing.push_back(d.ToString() + " (" + what + ")");
    return missing.size() < limit;
  }));
  return missing;
}

Result<reapi::ActionResult> ActionCache::Get(std::string_view instance, const Digest& action) {
  ASSIGN_OR_RETURN(std::string raw, GetRaw(instance, action));
  reapi::ActionResult result;
  if (!result.ParseFromString(raw)) {
    return Status::NotFound("stored value for " + action.ToString() + " is not an ActionResult");
  }
  RETURN_IF_ERROR(CheckComplete(result, action.function()));
  return result;
}

Status ActionCache::Put(std::string_view instance, const Digest& action,
                        const reapi::ActionResult& result) {
  RETURN_IF_ERROR(Validate(result, action.function()));
  std::string bytes;
  if (!result.SerializeToString(&bytes)) return Status::Internal("cannot serialize ActionResult");
  return PutRaw(instance, action, bytes);
}

}  // namespace cycas
