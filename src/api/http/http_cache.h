// HttpCache: the storage side of the HTTP cache protocol, kept apart from the
// wire handling so its rules read (and are tested) on their own.
//
// The HTTP layout names things by hash only, while the CAS keys blobs by hash
// *and* size (the size is mixed into the engine key). So:
//  * CAS sizes: every verified HTTP upload writes a small record
//    "http-size/{function}/{hex}" -> decimal size; GET/HEAD resolve the size
//    there (a small in-memory cache in front saves the record read for hot
//    blobs). A blob stored only through gRPC has no such record and is a miss
//    over HTTP until something PUTs it over HTTP.
//  * Action-cache values: records "http-ac/{function}/{hex}/{instance}" whose
//    first byte says how the value is held: 'I' + the value inline (values up to
//    `ac_inline_max`), or 'R' + the digest of a CAS blob holding it (large values,
//    such as ccache results of big object files). They are separate from the gRPC
//    action cache's entries, which are keyed by the action's size as well.
//  * zstd alternates: records "http-alt/zstd/{digest}" -> the digest of a CAS
//    blob holding the zstd-compressed bytes, or "none" when the blob does not
//    compress well. Created on first request; a lost alternate is re-created.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "api/http/body_spool.h"
#include "api/http/http_metrics.h"
#include "cas/action_cache.h"
#include "cas/cas_store.h"
#include "cas/record_store.h"

namespace cycas::api::http {

// An action-cache value: either bytes in memory or a CAS blob.
struct AcValue {
  std::string bytes;           // when !blob
  std::optional<Digest> blob;  // the value is this CAS blob's content
  uint64_t size() const { return blob ? blob->size_bytes() : bytes.size(); }
};

class HttpCache {
 public:
  struct Options {
    bool ac_strict = false;
    // Values up to this size are checked as ActionResults (larger ones are opaque).
    uint64_t ac_parse_limit = 16ull << 20;
    // Values up to this size are stored inline in their record (capped by the record store).
    uint64_t ac_inline_max = 256ull << 10;
    // Blobs larger than this (or smaller than zstd_min_blob) get no zstd alternate; 0 disables.
    uint64_t zstd_max_blob = 16ull << 20;
    uint64_t zstd_min_blob = 512;
    int zstd_level = 3;
    // An alternate is kept only if compressed size <= this fraction of the original.
    double zstd_keep_ratio = 0.9;
    size_t size_cache_entries = 65536;
  };

  HttpCache(CasStore* cas, ActionCache* action_cache, RecordStore* records, HttpMetrics* metrics,
            Options options);

  // The full digest of a blob named by hash: the empty blob, or the size recorded
  // at upload. nullopt when no size is known (the blob counts as absent).
  Result<std::optional<Digest>> ResolveBlob(DigestFunction fn, const HashBytes& hash);
  // The part of ResolveBlob that needs no I/O: the empty blob or a size cached
  // in memory; nullopt when the size record must be read.
  std::optional<Digest> KnownBlob(DigestFunction fn, const HashBytes& hash);
  // Records the size of a verified, stored blob (no-op if already known).
  void RememberSize(const Digest& digest);
  // For a blob just found stored: keeps its size record alive as long as the
  // blob (RecordStore::Keep). The blob is copied forward when it is read near
  // the ring's write cursor; without this its size record, written next to it
  // and served from memory while the blob is hot, would be overwritten, and
  // after a restart the blob could no longer be named over HTTP. Does not wait
  // for the write.
  void KeepSize(const Digest& digest);
  // RememberSize() that never blocks this thread, when the record store can
  // write that way (CanRememberSizeAsync()): `done` runs once the record is
  // durable (or failed, which is logged), on any thread. It writes the record
  // without reading the one stored before: a freshly stored blob has none.
  bool CanRememberSizeAsync() const { return records_->CanPutAsync(); }
  void RememberSizeAsync(const Digest& digest, std::function<void()> done);
  // RememberSizeAsync() for a blob that was just stored, so whose size is
  // almost never cached yet: skips that lookup (two hash-table probes under
  // the cache's lock, ~3 % of an upload's CPU). A size that was cached after
  // all is recorded again, which changes nothing.
  void RecordNewBlobSizeAsync(const Digest& digest, std::function<void()> done);

  // NOT_FOUND when absent, or when the value is an ActionResult that references
  // a missing blob (the message names it).
  Result<AcValue> GetAc(std::string_view instance, DigestFunction fn, const HashBytes& hash);
  // INVALID_ARGUMENT in strict mode when the body is not a well-formed ActionResult.
  Status PutAc(std::string_view instance, DigestFunction fn, const HashBytes& hash,
               const BodySpool& body);

  // Generic key-value namespaces: opaque values under validated keys, stored
  // like action-cache values (inline or as a CAS blob) in records
  // "http-kv/{namespace}/{key}". NOT_FOUND when absent.
  Result<AcValue> GetKv(std::string_view ns, std::string_view key);
  Status PutKv(std::string_view ns, std::string_view key, const BodySpool& body);
  Status RemoveKv(std::string_view ns, std::string_view key);

  // The digest of `blob`'s zstd alternate, created if missing and worthwhile;
  // nullopt when the blob gets none (too small, too large, incompressible).
  Result<std::optional<Digest>> ZstdAlternate(const Digest& blob);

  static std::string SizeRecordName(DigestFunction fn, const HashBytes& hash);
  static std::string AcRecordName(std::string_view instance, DigestFunction fn,
                                  const HashBytes& hash);
  static std::string AltRecordName(const Digest& blob);
  static std::string KvRecordName(std::string_view ns, std::string_view key);

  const Options& options() const { return options_; }

 private:
  // Reads a value record; `check_fn` set: values that parse as an ActionResult
  // must be complete (NOT_FOUND otherwise) and small ones are read into memory.
  Result<AcValue> GetValue(const std::string& name, std::optional<DigestFunction> check_fn);
  Status PutValue(const std::string& name, const BodySpool& body);
  // Applies the completeness rule to bytes that parse as an ActionResult with
  // well-formed digests; other bytes pass unchanged.
  Status CheckAcValue(std::string_view bytes, DigestFunction fn);

  CasStore* cas_;
  ActionCache* action_cache_;
  RecordStore* records_;
  HttpMetrics* metrics_;
  Options options_;
  // Adds to the size cache (takes mu_).
  void CacheSize(const Digest& digest);
  void CacheSizeLocked(const Digest& digest);
  // The cached size of (fn, hash), from either generation (an older one is
  // moved to the current generation); needs mu_.
  std::optional<uint64_t> CachedSizeLocked(DigestFunction fn, const HashBytes& hash);
  // Whether `digest`'s size is cached (takes mu_).
  bool SizeCached(const Digest& digest);
  // Learns the sizes of the blobs a complete ActionResult names (see GetAc).
  void LearnSizes(const reapi::ActionResult& result, DigestFunction fn);

  std::mutex mu_;
  // Sizes of recently seen blobs, keyed by the digest with size 0; guarded by
  // mu_. Two generations of at most size_cache_entries / 2 each: when the
  // current one is full it becomes the older one and the older one is
  // dropped, and a size found in the older one moves back to the current. So
  // sizes in use survive a turnover (clearing everything made every hot blob
  // cost a record read at once, and forgot the sizes learned from action
  // results, which have no record, before their outputs were fetched).
  std::unordered_map<Digest, uint64_t> known_sizes_;
  std::unordered_map<Digest, uint64_t> older_sizes_;
};

}  // namespace cycas::api::http
