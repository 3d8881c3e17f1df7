// ActionCache: the rules of the Remote Execution API's action cache, shared by
// the gRPC ActionCache service and the HTTP /ac/ endpoint.
//
// Entries are records named by instance, digest function and action digest.
// An ActionResult is returned only when every blob it references is present
// (stdout/stderr, output files, output trees and every file inside them), so a
// client whose inputs were evicted re-executes instead of failing mid-build.
// Presence checks touch the blobs, so a result handed out stays usable.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "build/bazel/remote/execution/v2/remote_execution.pb.h"
#include "cas/cas_store.h"
#include "cas/record_store.h"
#include "digest/digest.h"

namespace cycas {

namespace reapi = build::bazel::remote::execution::v2;

// Converts a REAPI Digest, naming `field` in errors. The hash must be 64
// lowercase hex characters and the size non-negative.
Result<Digest> DigestFromProto(const reapi::Digest& d, DigestFunction fn, std::string_view field);
reapi::Digest DigestToProto(const Digest& d);

class ActionCache {
 public:
  struct Options {
    // Largest Tree message fetched to check an output directory's files.
    uint64_t max_tree_bytes = 64ull << 20;
  };
  ActionCache(CasStore* cas, RecordStore* records, Options options);
  ActionCache(CasStore* cas, RecordStore* records) : ActionCache(cas, records, Options{}) {}

  static std::string RecordName(std::string_view instance, const Digest& action);

  // Stored bytes as they were put (HTTP stores opaque values too).
  Result<std::string> GetRaw(std::string_view instance, const Digest& action);
  Status PutRaw(std::string_view instance, const Digest& action, std::string_view value);

  // NOT_FOUND when absent or when a referenced blob is missing (the message names it).
  Result<reapi::ActionResult> Get(std::string_view instance, const Digest& action);
  // INVALID_ARGUMENT when a digest in the result is malformed.
  Status Put(std::string_view instance, const Digest& action, const reapi::ActionResult& result);

  // OK when every referenced blob is present; NOT_FOUND naming the first missing one.
  Status CheckComplete(const reapi::ActionResult& result, DigestFunction fn);
  // The referenced blobs that are absent, as "digest (path)", at most `limit`
  // (for UpdateActionResult's check). INVALID_ARGUMENT when an output tree is
  // not an encoded Tree; UNAVAILABLE when a tier cannot answer (never "absent").
  Result<std::vector<std::string>> MissingBlobs(const reapi::ActionResult& result,
                                                DigestFunction fn, size_t limit);
  // INVALID_ARGUMENT naming the first malformed digest field.
  static Status Validate(const reapi::ActionResult& result, DigestFunction fn);

 private:
  // Calls `absent(digest, what)` for each referenced blob the CAS does not hold,
  // reading present output trees to check the files inside; stops early when
  // `absent` returns false. Errors of the CAS pass through; a tree that is not
  // an encoded Tree (or holds a malformed digest) is INVALID_ARGUMENT.
  Status ForEachAbsent(const reapi::ActionResult& result, DigestFunction fn,
                       const std::function<bool(const Digest&, const std::string&)>& absent);

  CasStore* cas_;
  RecordStore* records_;
  Options options_;
};

}  // namespace cycas
