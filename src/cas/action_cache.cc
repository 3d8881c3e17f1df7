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

Status ActionCache::PutRaw(std::string_view instance, const Digest& action, std::string_view value) {
  return records_->Put(RecordName(instance, action), value);
}

Status ActionCache::Validate(const reapi::ActionResult& result, DigestFunction fn) {
  for (int i = 0; i < result.output_files_size(); i++) {
    const auto& f = result.output_files(i);
    RETURN_IF_ERROR(DigestFromProto(f.digest(), fn, "output_files[" + std::to_string(i) + "].digest").status());
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

Status ActionCache::RequirePresent(const Digest& d, std::string_view what) {
  ASSIGN_OR_RETURN(bool present, cas_->Contains(d));
  if (!present) {
    return Status::NotFound("action result references missing blob " + d.ToString() + " (" +
                            std::string(what) + ")");
  }
  return Status::Ok();
}

Status ActionCache::CheckComplete(const reapi::ActionResult& result, DigestFunction fn) {
  RETURN_IF_ERROR(Validate(result, fn));
  for (const auto& f : result.output_files()) {
    RETURN_IF_ERROR(RequirePresent(*DigestFromProto(f.digest(), fn, ""), f.path()));
  }
  if (result.has_stdout_digest()) {
    RETURN_IF_ERROR(RequirePresent(*DigestFromProto(result.stdout_digest(), fn, ""), "stdout"));
  }
  if (result.has_stderr_digest()) {
    RETURN_IF_ERROR(RequirePresent(*DigestFromProto(result.stderr_digest(), fn, ""), "stderr"));
  }
  for (const auto& dir : result.output_directories()) {
    Digest tree_digest = *DigestFromProto(dir.tree_digest(), fn, "");
    RETURN_IF_ERROR(RequirePresent(tree_digest, dir.path()));
    // The files inside the tree must be present too, or the client fails
    // downloading outputs of a "hit".
    auto bytes = cas_->ReadAll(tree_digest, options_.max_tree_bytes);
    if (!bytes.ok()) {
      return Status::NotFound("output tree " + tree_digest.ToString() + " unreadable: " +
                              bytes.status().message());
    }
    reapi::Tree tree;
    if (!tree.ParseFromString(*bytes)) {
      // Not a Tree message: nothing more can be checked, and the client would
      // fail on it; treat the entry as a miss.
      return Status::NotFound("output tree " + tree_digest.ToString() + " is not a valid Tree");
    }
    auto check_dir = [&](const reapi::Directory& d) -> Status {
      for (const auto& f : d.files()) {
        auto fd = DigestFromProto(f.digest(), fn, "tree file digest");
        if (!fd.ok()) return Status::NotFound("output tree has a malformed file digest");
        RETURN_IF_ERROR(RequirePresent(*fd, dir.path() + "/" + f.name()));
      }
      return Status::Ok();
    };
    RETURN_IF_ERROR(check_dir(tree.root()));
    for (const auto& child : tree.children()) RETURN_IF_ERROR(check_dir(child));
  }
  return Status::Ok();
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
