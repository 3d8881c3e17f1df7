#include "api/reapi/resource_name.h"

#include <array>
#include <optional>
#include <vector>

#include "api/reapi/digest_inference.h"
#include "api/reapi/instance_names.h"

namespace cycas::api::reapi {

namespace {

using Segments = std::vector<std::string_view>;

Segments Split(std::string_view name) {
  Segments out;
  size_t start = 0;
  while (true) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) {
      out.push_back(name.substr(start));
      return out;
    }
    out.push_back(name.substr(start, end - start));
    start = end + 1;
  }
}

std::string Join(const Segments& segs, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; i++) {
    if (i > begin) out += '/';
    out += segs[i];
  }
  return out;
}

Status Malformed(std::string_view name, const std::string& what) {
  return Status::InvalidArgument("resource_name " + QuoteForError(name) + ": " + what);
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); i++) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHexDigit(s[i])) return false;
  }
  return true;
}

// Canonical decimal: no sign, no leading zero (except "0"), fits in int64.
std::optional<int64_t> ParseSize(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<int64_t>(v);
}

// Names of DigestFunction.Value in lowercase, as they appear in resource names.
constexpr std::array<std::string_view, 8> kLegacyFunctionNames = {
    "sha256", "sha1", "md5", "vso", "sha384", "sha512", "murmur3", "sha256tree"};

bool IsLegacyFunctionName(std::string_view s) {
  for (auto n : kLegacyFunctionNames) {
    if (n == s) return true;
  }
  return false;
}

struct DigestPart {
  Compressor compressor;
  std::optional<Digest> digest;
  size_t next;  // index of the first segment after {size}
};

// Parses from segs[i] = "blobs" | "compressed-blobs" up to and including {size}.
Result<DigestPart> ParseDigestPart(std::string_view name, const Segments& segs, size_t i) {
  DigestPart part{Compressor::kIdentity, std::nullopt, 0};
  if (segs[i] == "compressed-blobs") {
    i++;
    if (i >= segs.size() || segs[i].empty()) {
      return Malformed(name, "missing {compressor} after 'compressed-blobs'");
    }
    if (segs[i] == "zstd") {
      part.compressor = Compressor::kZstd;
    } else if (segs[i] == "identity") {
      return Malformed(name,
                       "compressor 'identity' is not allowed in compressed-blobs (use 'blobs/')");
    } else {
      return Malformed(name, "compressor " + QuoteForError(segs[i], 32) +
                                 " is not supported (this server supports 'zstd')");
    }
  } else if (segs[i] != "blobs") {
    return Malformed(name,
                     "expected 'blobs' or 'compressed-blobs', got " + QuoteForError(segs[i], 32));
  }
  i++;
  if (i >= segs.size())
    return Malformed(name, "missing {hash} after '" + std::string(segs[i - 1]) + "'");

  std::optional<DigestFunction> fn;
  if (segs[i] == "blake3") {
    fn = DigestFunction::kBlake3;
    i++;
    if (i >= segs.size()) return Malformed(name, "missing {hash} after digest function 'blake3'");
  } else if (IsLegacyFunctionName(segs[i])) {
    if (segs[i] == "sha256") {
      return Malformed(name,
                       "digest function 'sha256' must be omitted from resource names "
                       "(the server infers it from the hash length)");
    }
    return Malformed(name, "digest function " + QuoteForError(segs[i], 16) +
                               " is not supported (this server serves sha256 and blake3)");
  }
  std::string_view hash = segs[i];
  if (!fn) {
    auto inferred = InferDigestFunction(hash);
    if (!inferred.ok()) return Malformed(name, "hash: " + inferred.status().message());
    fn = *inferred;
  }
  i++;
  if (i >= segs.size()) return Malformed(name, "missing {size} after the hash");
  std::optional<int64_t> size = ParseSize(segs[i]);
  if (!size) {
    return Malformed(name, "size " + QuoteForError(segs[i], 24) +
                               " is not a canonical non-negative decimal integer");
  }
  auto digest = Digest::FromHex(*fn, hash, *size);
  if (!digest.ok()) return Malformed(name, "hash: " + digest.status().message());
  part.digest = *digest;
  part.next = i + 1;
  return part;
}

// Index of the first segment that starts the non-instance part, or npos.
size_t FindKeyword(const Segments& segs) {
  for (size_t i = 0; i < segs.size(); i++) {
    if (segs[i] == "blobs" || segs[i] == "compressed-blobs" || segs[i] == "uploads") return i;
  }
  return std::string::npos;
}

Status CheckLength(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("resource_name is empty");
  if (name.size() > kMaxResourceNameLength) {
    return Status::InvalidArgument("resource_name is " + std::to_string(name.size()) +
                                   " bytes; at most " + std::to_string(kMaxResourceNameLength) +
                                   " are accepted");
  }
  return Status::Ok();
}

Result<std::string> ParseInstance(std::string_view name, const Segments& segs, size_t k) {
  std::string instance = Join(segs, 0, k);
  if (k > 0 && instance.empty()) {
    return Malformed(name, "instance_name: segment 0 is empty (no leading '/')");
  }
  Status st = ValidateInstanceName(instance);
  if (!st.ok()) return Malformed(name, st.message());
  return instance;
}

}  // namespace

std::string_view CompressorName(Compressor c) {
  return c == Compressor::kZstd ? "zstd" : "identity";
}

std::string WriteResource::UploadKey() const {
  // '\n' cannot occur in a valid instance name, uuid or hex, so the parts
  // cannot run into each other.
  std::string key = instance;
  key += '\n';
  key += uuid;
  key += '\n';
  key += digest.ToString();
  return key;
}

Result<ReadResource> ParseReadResourceName(std::string_view name) {
  RETURN_IF_ERROR(CheckLength(name));
  Segments segs = Split(name);
  size_t k = FindKeyword(segs);
  if (k == std::string::npos) {
    return Malformed(name,
                     "no 'blobs/' or 'compressed-blobs/' part; expected "
                     "{instance}/blobs/{hash}/{size}");
  }
  if (segs[k] == "uploads") {
    return Malformed(name, "'uploads/' names a write; Read takes {instance}/blobs/{hash}/{size}");
  }
  ASSIGN_OR_RETURN(std::string instance, ParseInstance(name, segs, k));
  ASSIGN_OR_RETURN(DigestPart part, ParseDigestPart(name, segs, k));
  if (part.next != segs.size()) {
    return Malformed(name, "unexpected " + QuoteForError(Join(segs, part.next, segs.size()), 64) +
                               " after {size} (reads take no trailing metadata)");
  }
  return ReadResource{std::move(instance), part.compressor, *part.digest};
}

Result<WriteResource> ParseWriteResourceName(std::string_view name) {
  RETURN_IF_ERROR(CheckLength(name));
  Segments segs = Split(name);
  size_t k = FindKeyword(segs);
  if (k == std::string::npos || segs[k] != "uploads") {
    return Malformed(name,
                     "no 'uploads/' part; expected {instance}/uploads/{uuid}/blobs/{hash}/{size}");
  }
  ASSIGN_OR_RETURN(std::string instance, ParseInstance(name, segs, k));
  size_t i = k + 1;
  if (i >= segs.size()) return Malformed(name, "missing {uuid} after 'uploads'");
  if (!IsUuid(segs[i])) {
    return Malformed(
        name, "uuid " + QuoteForError(segs[i], 40) + " is not a UUID (8-4-4-4-12 hex digits)");
  }
  std::string uuid(segs[i]);
  i++;
  if (i >= segs.size())
    return Malformed(name, "missing 'blobs' or 'compressed-blobs' after {uuid}");
  ASSIGN_OR_RETURN(DigestPart part, ParseDigestPart(name, segs, i));
  std::string metadata;
  if (part.next < segs.size()) {
    metadata = Join(segs, part.next, segs.size());
    if (metadata.empty()) return Malformed(name, "empty metadata after a trailing '/'");
  }
  return WriteResource{std::move(instance), std::move(uuid), part.compressor, *part.digest,
                       std::move(metadata)};
}

namespace {
std::string DigestSuffix(Compressor compressor, const Digest& digest) {
  std::string out = compressor == Compressor::kZstd ? "compressed-blobs/zstd/" : "blobs/";
  if (digest.function() == DigestFunction::kBlake3) out += "blake3/";
  out += digest.hex();
  out += '/';
  out += std::to_string(digest.size_bytes());
  return out;
}
}  // namespace

std::string FormatReadResourceName(std::string_view instance, Compressor compressor,
                                   const Digest& digest) {
  std::string out;
  if (!instance.empty()) {
    out += instance;
    out += '/';
  }
  return out + DigestSuffix(compressor, digest);
}

std::string FormatWriteResourceName(std::string_view instance, std::string_view uuid,
                                    Compressor compressor, const Digest& digest) {
  std::string out;
  if (!instance.empty()) {
    out += instance;
    out += '/';
  }
  out += "uploads/";
  out += uuid;
  out += '/';
  return out + DigestSuffix(compressor, digest);
}

}  // namespace cycas::api::reapi
