#include "api/http/http_cache.h"

#include <google/protobuf/stubs/logging.h>
#include <zstd.h>

#include <algorithm>

#include "digest/hex.h"
#include "util/config.h"
#include "util/log.h"

namespace cycas::api::http {
namespace {

// Parses `bytes` as an ActionResult without protobuf's error log (opaque values
// such as ccache's routinely fail UTF-8 checks of string fields).
bool ParseActionResult(std::string_view bytes, reapi::ActionResult* out) {
  google::protobuf::LogSilencer silence;
  return out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

}  // namespace

HttpCache::HttpCache(CasStore* cas, ActionCache* action_cache, RecordStore* records,
                     HttpMetrics* metrics, Options options)
    : cas_(cas),
      action_cache_(action_cache),
      records_(records),
      metrics_(metrics),
      options_(options) {
  if (records_ != nullptr && records_->max_value_size() > 64) {
    options_.ac_inline_max =
        std::min<uint64_t>(options_.ac_inline_max, records_->max_value_size() - 64);
  }
}

std::string HttpCache::SizeRecordName(DigestFunction fn, const HashBytes& hash) {
  return "http-size/" + std::string(DigestFunctionName(fn)) + "/" + HexEncode(hash);
}

std::string HttpCache::AcRecordName(std::string_view instance, DigestFunction fn,
                                    const HashBytes& hash) {
  // The instance goes last and may contain '/': the fixed-width parts before it
  // keep names of different instances distinct.
  return "http-ac/" + std::string(DigestFunctionName(fn)) + "/" + HexEncode(hash) + "/" +
         std::string(instance);
}

std::string HttpCache::AltRecordName(const Digest& blob) {
  return "http-alt/zstd/" + blob.ToString();
}

std::string HttpCache::KvRecordName(std::string_view ns, std::string_view key) {
  std::string name = "http-kv/";
  name += ns;
  name += '/';
  name += key;
  return name;
}

Result<AcValue> HttpCache::GetKv(std::string_view ns, std::string_view key) {
  auto v = GetValue(KvRecordName(ns, key), std::nullopt);
  if (!v.ok() && v.status().code() == StatusCode::kNotFound && v.status().message().empty()) {
    return Status::NotFound("no value under " + std::string(ns) + "/" + std::string(key));
  }
  return v;
}

Status HttpCache::PutKv(std::string_view ns, std::string_view key, const BodySpool& body) {
  return PutValue(KvRecordName(ns, key), body);
}

Status HttpCache::RemoveKv(std::string_view ns, std::string_view key) {
  Status st = records_->Remove(KvRecordName(ns, key));
  return st.code() == StatusCode::kNotFound ? Status::Ok() : st;
}

std::optional<Digest> HttpCache::KnownBlob(DigestFunction fn, const HashBytes& hash) {
  Digest empty = EmptyDigest(fn);
  if (hash == empty.hash()) return empty;
  std::lock_guard lk(mu_);
  if (auto size = CachedSizeLocked(fn, hash)) return Digest(fn, hash, *size);
  return std::nullopt;
}

std::optional<uint64_t> HttpCache::CachedSizeLocked(DigestFunction fn, const HashBytes& hash) {
  Digest key(fn, hash, 0);
  if (auto it = known_sizes_.find(key); it != known_sizes_.end()) return it->second;
  auto it = older_sizes_.find(key);
  if (it == older_sizes_.end()) return std::nullopt;
  uint64_t size = it->second;
  older_sizes_.erase(it);
  CacheSizeLocked(Digest(fn, hash, size));
  return size;
}

bool HttpCache::SizeCached(const Digest& digest) {
  std::lock_guard lk(mu_);
  auto size = CachedSizeLocked(digest.function(), digest.hash());
  return size && *size == digest.size_bytes();
}

Result<std::optional<Digest>> HttpCache::ResolveBlob(DigestFunction fn, const HashBytes& hash) {
  if (auto known = KnownBlob(fn, hash)) return known;
  auto rec = records_->Get(SizeRecordName(fn, hash));
  if (!rec.ok()) {
    if (rec.status().code() == StatusCode::kNotFound) return std::optional<Digest>();
    return rec.status();
  }
  auto size = ParseInt(*rec);
  if (!size.ok() || *size < 0) {
    LOG(kWarn, "malformed http size record").kv("hash", HexEncode(hash)).kv("value", *rec);
    return std::optional<Digest>();
  }
  Digest d(fn, hash, static_cast<uint64_t>(*size));
  CacheSize(d);
  return std::optional<Digest>(d);
}

void HttpCache::RememberSize(const Digest& digest) {
  if (digest.IsEmptyBlob() || SizeCached(digest)) return;
  std::string name = SizeRecordName(digest.function(), digest.hash());
  std::string value = std::to_string(digest.size_bytes());
  auto current = records_->Get(name);
  if (!current.ok() || *current != value) {
    Status st = records_->Put(name, value);
    if (!st.ok()) {
      LOG(kWarn, "cannot record blob size")
          .kv("digest", digest.ToString())
          .kv("error", st.ToString());
      return;
    }
  }
  CacheSize(digest);
}

void HttpCache::KeepSize(const Digest& digest) {
  if (digest.IsEmptyBlob()) return;
  records_->Keep(SizeRecordName(digest.function(), digest.hash()),
                 std::to_string(digest.size_bytes()));
}

void HttpCache::RememberSizeAsync(const Digest& digest, std::function<void()> done) {
  if (digest.IsEmptyBlob() || SizeCached(digest)) return done();
  RecordNewBlobSizeAsync(digest, std::move(done));
}

void HttpCache::RecordNewBlobSizeAsync(const Digest& digest, std::function<void()> done) {
  if (digest.IsEmptyBlob()) return done();
  records_->PutAsync(SizeRecordName(digest.function(), digest.hash()),
                     std::to_string(digest.size_bytes()),
                     [this, digest, done = std::move(done)](Status st) {
                       if (st.ok()) {
                         CacheSize(digest);
                       } else {
                         LOG(kWarn, "cannot record blob size")
                             .kv("digest", digest.ToString())
                             .kv("error", st.ToString());
                       }
                       done();
                     });
}

void HttpCache::CacheSize(const Digest& digest) {
  std::lock_guard lk(mu_);
  CacheSizeLocked(digest);
}

void HttpCache::CacheSizeLocked(const Digest& digest) {
  if (known_sizes_.size() >= std::max<size_t>(1, options_.size_cache_entries / 2)) {
    older_sizes_ = std::move(known_sizes_);
    known_sizes_.clear();
  }
  known_sizes_[Digest(digest.function(), digest.hash(), 0)] = digest.size_bytes();
}

void HttpCache::LearnSizes(const reapi::ActionResult& result, DigestFunction fn) {
  auto learn = [&](const reapi::Digest& proto) {
    auto d = DigestFromProto(proto, fn, "");
    if (d.ok() && !d->IsEmptyBlob()) CacheSize(*d);
  };
  for (const auto& f : result.output_files()) learn(f.digest());
  for (const auto& dir : result.output_directories()) learn(dir.tree_digest());
  if (result.has_stdout_digest()) learn(result.stdout_digest());
  if (result.has_stderr_digest()) learn(result.stderr_digest());
}

Status HttpCache::CheckAcValue(std::string_view bytes, DigestFunction fn) {
  reapi::ActionResult result;
  if (!ParseActionResult(bytes, &result)) return Status::Ok();       // opaque value
  if (!ActionCache::Validate(result, fn).ok()) return Status::Ok();  // parses by accident
  RETURN_IF_ERROR(action_cache_->CheckComplete(result, fn));
  // A client that read this result fetches its outputs next, by hash alone.
  // They may have been uploaded through gRPC, which records no hash -> size
  // mapping; the result names their full digests, so remember them (in RAM).
  LearnSizes(result, fn);
  return Status::Ok();
}

Result<AcValue> HttpCache::GetAc(std::string_view instance, DigestFunction fn,
                                 const HashBytes& hash) {
  auto v = GetValue(AcRecordName(instance, fn, hash), fn);
  if (!v.ok() && v.status().code() == StatusCode::kNotFound && v.status().message().empty()) {
    return Status::NotFound("no action-cache entry " + std::string(DigestFunctionName(fn)) + ":" +
                            HexEncode(hash));
  }
  return v;
}

Result<AcValue> HttpCache::GetValue(const std::string& name,
                                    std::optional<DigestFunction> check_fn) {
  auto rec = records_->Get(name);
  if (!rec.ok()) {
    if (rec.status().code() == StatusCode::kNotFound) return Status(StatusCode::kNotFound, "");
    return rec.status();
  }
  const std::string& raw = *rec;
  AcValue v;
  if (!raw.empty() && raw[0] == 'I') {
    v.bytes = raw.substr(1);
    if (check_fn && v.bytes.size() <= options_.ac_parse_limit)
      RETURN_IF_ERROR(CheckAcValue(v.bytes, *check_fn));
    return v;
  }
  if (!raw.empty() && raw[0] == 'R') {
    auto d = Digest::Parse(std::string_view(raw).substr(1));
    if (!d.ok())
      return Status::DataLoss("malformed value record " + name + ": " + d.status().message());
    ASSIGN_OR_RETURN(bool present, cas_->Contains(*d));
    if (!present) return Status::NotFound("value blob " + d->ToString() + " is no longer stored");
    if (check_fn && d->size_bytes() <= options_.ac_parse_limit) {
      ASSIGN_OR_RETURN(std::string bytes, cas_->ReadAll(*d, options_.ac_parse_limit));
      RETURN_IF_ERROR(CheckAcValue(bytes, *check_fn));
      v.bytes = std::move(bytes);  // already in memory: serve from here
      return v;
    }
    v.blob = *d;
    return v;
  }
  return Status::DataLoss("malformed value record " + name + " (unknown tag)");
}

Status HttpCache::PutAc(std::string_view instance, DigestFunction fn, const HashBytes& hash,
                        const BodySpool& body) {
  if (options_.ac_strict) {
    if (body.size() > options_.ac_parse_limit) {
      return Status::InvalidArgument("action-cache value of " + std::to_string(body.size()) +
                                     " bytes is too large for an ActionResult (strict mode)");
    }
    ASSIGN_OR_RETURN(std::string bytes, body.ReadAll(options_.ac_parse_limit));
    reapi::ActionResult result;
    if (!ParseActionResult(bytes, &result)) {
      return Status::InvalidArgument("body is not an ActionResult (http.ac_strict is on)");
    }
    RETURN_IF_ERROR(ActionCache::Validate(result, fn));
  }
  return PutValue(AcRecordName(instance, fn, hash), body);
}

Status HttpCache::PutValue(const std::string& name, const BodySpool& body) {
  std::string record;
  if (body.size() <= options_.ac_inline_max) {
    ASSIGN_OR_RETURN(std::string bytes, body.ReadAll(options_.ac_inline_max));
    record.reserve(bytes.size() + 1);
    record += 'I';
    record += bytes;
  } else {
    // Hash the value as a CAS blob (sha256 whatever the namespace: it is an
    // internal name) and store it through the verifying writer.
    Hasher h(DigestFunction::kSha256);
    std::vector<uint8_t> buf(256 * 1024);
    for (uint64_t off = 0; off < body.size();) {
      ASSIGN_OR_RETURN(size_t n, body.Read(off, buf));
      if (n == 0) return Status::DataLoss("spool shorter than its size");
      h.Update(std::span<const uint8_t>(buf.data(), n));
      off += n;
    }
    Digest d = FinishDigest(h);
    auto w = cas_->OpenWrite(d);
    if (w.ok()) {
      RETURN_IF_ERROR(body.CopyTo(**w));
      RETURN_IF_ERROR((*w)->Commit());
    } else if (w.status().code() != StatusCode::kAlreadyExists) {
      return w.status();
    }
    record.assign(1, 'R');
    record.append(d.ToString());
  }
  return records_->Put(name, record);
}

Result<std::optional<Digest>> HttpCache::ZstdAlternate(const Digest& blob) {
  if (options_.zstd_max_blob == 0 || blob.size_bytes() > options_.zstd_max_blob ||
      blob.size_bytes() < options_.zstd_min_blob) {
    return std::optional<Digest>();
  }
  std::string name = AltRecordName(blob);
  auto rec = records_->Get(name);
  if (rec.ok()) {
    if (*rec == "none") return std::optional<Digest>();
    auto d = Digest::Parse(*rec);
    if (d.ok()) {
      auto present = cas_->Contains(*d);
      if (present.ok() && *present) return std::optional<Digest>(*d);
      // The alternate was evicted while the record survived: make it again.
    }
  } else if (rec.status().code() != StatusCode::kNotFound) {
    return rec.status();
  }
  ASSIGN_OR_RETURN(std::string bytes, cas_->ReadAll(blob, options_.zstd_max_blob));
  std::string compressed(ZSTD_compressBound(bytes.size()), '\0');
  size_t n = ZSTD_compress(compressed.data(), compressed.size(), bytes.data(), bytes.size(),
                           options_.zstd_level);
  if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
  compressed.resize(n);
  if (static_cast<double>(n) > options_.zstd_keep_ratio * static_cast<double>(bytes.size())) {
    RETURN_IF_ERROR(records_->Put(name, "none"));
    return std::optional<Digest>();
  }
  Digest alt = Digest::Of(blob.function(), compressed);
  RETURN_IF_ERROR(cas_->Put(alt, compressed));
  RETURN_IF_ERROR(records_->Put(name, alt.ToString()));
  if (metrics_ != nullptr) metrics_->AlternateCreated();
  return std::optional<Digest>(alt);
}

}  // namespace cycas::api::http
