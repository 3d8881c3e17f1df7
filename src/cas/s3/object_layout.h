// ObjectLayout: where CAS blobs and records live in the bucket, and how an
// object key becomes a request URL. docs/s3-tier.md documents the layout; this
// file is its implementation, so a change to one is a change to the other.
//
//   {prefix}/cas/{digest-function}/{hash}             a blob, its identity bytes
//   {prefix}/ac/{instance}/{digest-function}/{hash}   an action-cache entry
//   {prefix}/ac/{digest-function}/{hash}              ... of the empty instance
//   {prefix}/kv/{name}                                any other record
//
// Keys are plain readable paths so other tools can use the bucket directly
// (`aws s3 cp s3://bucket/prefix/cas/sha256/<hex> -`). A blob's size is not in
// its key: it is the object's size, checked on every HEAD and GET. An
// action-cache key is parsed from the right (the last two segments are the
// function and hash), so instance names may contain '/'.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cas/s3/s3_options.h"
#include "digest/digest.h"

namespace cycas::s3 {

class ObjectLayout {
 public:
  explicit ObjectLayout(std::string prefix);

  std::string BlobKey(const Digest& digest) const;
  // `record_name` is a RecordStore name: ActionCache::RecordName's
  // "ac/{fn}/{hex}/{size}/{instance}" maps to the ac/ layout, anything else to kv/.
  std::string RecordKey(std::string_view record_name) const;
  const std::string& prefix() const { return prefix_; }

 private:
  std::string prefix_;  // "" or "p" / "p/q" (no leading or trailing '/')
};

// An action-cache record name taken apart (see ActionCache::RecordName).
struct AcRecordName {
  std::string function;  // "sha256", "blake3"
  std::string hex;
  std::string instance;
};
std::optional<AcRecordName> ParseAcRecordName(std::string_view name);

// SigV4's URI encoding: every byte except A-Z a-z 0-9 - _ . ~ as %XX
// (uppercase hex); '/' is kept when `keep_slash`. curl signs the path and
// query exactly as given, so URLs are built already in canonical form.
std::string UriEncode(std::string_view s, bool keep_slash);

// The URL of `key` (empty: the bucket itself) with an optional query that
// must already be canonical (names sorted, values encoded, "uploads=" not "uploads").
std::string ObjectUrl(const S3Options& options, std::string_view key, std::string_view query = {});

}  // namespace cycas::s3
