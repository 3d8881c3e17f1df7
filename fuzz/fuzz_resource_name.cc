// fuzz_resource_name: ByteStream resource names (api/reapi/resource_name.h).
//
// Every input is parsed as a read name and as a write name. Checks:
//   * each parser accepts exactly what an independent, literal reading of
//     resource_name.h's grammar (and instance_names.h's instance rules)
//     accepts, and extracts the same instance, uuid, compressor, digest
//     function, hash and size;
//   * an accepted name is already canonical: the Format* functions render the
//     parsed parts back to the input byte for byte (plus "/{metadata}" for
//     writes), and the rendering re-parses to the same result;
//   * a hash is 64 lowercase hex characters, a size fits in int64, an
//     instance name never has an empty, "." or ".." segment, a reserved word
//     or a control character, and is at most kMaxInstanceNameLength bytes;
//   * no name is both a read and a write;
//   * every rejection is INVALID_ARGUMENT with a non-empty message of bounded
//     size that carries no raw control bytes (messages echo untrusted input).

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/reapi/instance_names.h"
#include "api/reapi/resource_name.h"
#include "fuzz_check.h"

namespace cycas::fuzz {
namespace {

using api::reapi::Compressor;

[[noreturn]] void Fail(const std::string& what) {
  FailIn("fuzz_resource_name", what);
}

// The name is quoted at most 128 characters (4 bytes each when escaped) plus
// fixed text and a few quoted excerpts: 2 KiB is generous, and far shorter
// than the longest names tried.
constexpr size_t kMaxMessage = 2048;

std::string Printable(std::string_view s) {
  return api::reapi::QuoteForError(s, 200);
}

void CheckRejection(const Status& st, std::string_view what) {
  FUZZ_CHECK(st.code() == StatusCode::kInvalidArgument, std::string(what) + ": " + st.ToString());
  FUZZ_CHECK(!st.message().empty(), std::string(what) + ": empty error message");
  FUZZ_CHECK(st.message().size() <= kMaxMessage, std::string(what) + ": error message of " +
                                                     std::to_string(st.message().size()) +
                                                     " bytes echoes the input unbounded");
  for (char ch : st.message()) {
    auto c = static_cast<unsigned char>(ch);
    FUZZ_CHECK(c >= 0x20 && c != 0x7f, std::string(what) + ": raw control byte in the message");
  }
}

// ---- The reference grammar, written from the headers' comments -------------

struct RefDigest {
  Compressor compressor = Compressor::kIdentity;
  DigestFunction function = DigestFunction::kSha256;
  std::string hex;
  int64_t size = 0;
};

struct RefParse {
  std::string instance;
  std::string uuid;      // writes only
  std::string metadata;  // writes only
  RefDigest digest;
};

std::vector<std::string> SplitSlash(std::string_view s) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == '/') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

bool IsKeyword(const std::string& s) {
  return s == "blobs" || s == "compressed-blobs" || s == "uploads";
}

bool IsReserved(const std::string& s) {
  for (const char* r : {"blobs", "uploads", "actions", "actionResults", "operations",
                        "capabilities", "compressed-blobs"}) {
    if (s == r) return true;
  }
  return false;
}

bool ValidInstanceSegment(const std::string& s) {
  if (s.empty() || s == "." || s == ".." || IsReserved(s)) return false;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool IsLowerHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsUuid(const std::string& s) {
  static const int kGroups[] = {8, 4, 4, 4, 12};
  size_t pos = 0;
  for (int g = 0; g < 5; g++) {
    if (g > 0) {
      if (pos >= s.size() || s[pos] != '-') return false;
      pos++;
    }
    for (int i = 0; i < kGroups[g]; i++, pos++) {
      if (pos >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[pos]))) return false;
    }
  }
  return pos == s.size();
}

std::optional<int64_t> CanonicalSize(const std::string& s) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  // INT64_MAX has 19 digits: compare as text, no arithmetic to overflow.
  const std::string kMax = "9223372036854775807";
  if (s.size() > kMax.size() || (s.size() == kMax.size() && s > kMax)) return std::nullopt;
  return std::stoll(s);
}

// segs[i..] = ("blobs" | "compressed-blobs" "zstd") ["blake3"] hash size ...
std::optional<RefDigest> RefDigestPart(const std::vector<std::string>& segs, size_t& i) {
  RefDigest d;
  auto at = [&](size_t j) -> const std::string* { return j < segs.size() ? &segs[j] : nullptr; };
  if (at(i) && *at(i) == "compressed-blobs") {
    if (!at(i + 1) || *at(i + 1) != "zstd") return std::nullopt;
    d.compressor = Compressor::kZstd;
    i += 2;
  } else if (at(i) && *at(i) == "blobs") {
    i += 1;
  } else {
    return std::nullopt;
  }
  if (at(i) && *at(i) == "blake3") {
    d.function = DigestFunction::kBlake3;
    i++;
  }
  if (!at(i) || !IsLowerHex64(*at(i))) return std::nullopt;
  d.hex = *at(i);
  i++;
  if (!at(i)) return std::nullopt;
  auto size = CanonicalSize(*at(i));
  if (!size) return std::nullopt;
  d.size = *size;
  i++;
  return d;
}

// Common prefix: length limits and the instance before the first keyword.
std::optional<size_t> RefInstance(std::string_view name, const std::vector<std::string>& segs,
                                  std::string* instance) {
  if (name.empty() || name.size() > api::reapi::kMaxResourceNameLength) return std::nullopt;
  size_t k = 0;
  while (k < segs.size() && !IsKeyword(segs[k])) k++;
  if (k == segs.size()) return std::nullopt;
  for (size_t j = 0; j < k; j++) {
    if (!ValidInstanceSegment(segs[j])) return std::nullopt;
    if (j > 0) *instance += '/';
    *instance += segs[j];
  }
  if (instance->size() > api::reapi::kMaxInstanceNameLength) return std::nullopt;
  return k;
}

std::optional<RefParse> RefRead(std::string_view name) {
  auto segs = SplitSlash(name);
  RefParse out;
  auto k = RefInstance(name, segs, &out.instance);
  if (!k || segs[*k] == "uploads") return std::nullopt;
  size_t i = *k;
  auto d = RefDigestPart(segs, i);
  if (!d || i != segs.size()) return std::nullopt;
  out.digest = *d;
  return out;
}

std::optional<RefParse> RefWrite(std::string_view name) {
  auto segs = SplitSlash(name);
  RefParse out;
  auto k = RefInstance(name, segs, &out.instance);
  if (!k || segs[*k] != "uploads") return std::nullopt;
  size_t i = *k + 1;
  if (i >= segs.size() || !IsUuid(segs[i])) return std::nullopt;
  out.uuid = segs[i];
  i++;
  auto d = RefDigestPart(segs, i);
  if (!d) return std::nullopt;
  out.digest = *d;
  // Metadata: the rest, '/'-joined; present means non-empty.
  size_t rest = segs.size() - i;
  if (rest == 1 && segs[i].empty()) return std::nullopt;
  for (size_t j = i; j < segs.size(); j++) {
    if (j > i) out.metadata += '/';
    out.metadata += segs[j];
  }
  return out;
}

// ---- Checks of an accepted parse ------------------------------------------

void CheckInstance(const std::string& instance, std::string_view what) {
  FUZZ_CHECK(instance.size() <= api::reapi::kMaxInstanceNameLength, std::string(what));
  if (instance.empty()) return;
  for (const auto& seg : SplitSlash(instance)) {
    FUZZ_CHECK(ValidInstanceSegment(seg),
               std::string(what) + ": accepted instance segment " + Printable(seg));
  }
  FUZZ_CHECK(api::reapi::ValidateInstanceName(instance).ok(), std::string(what));
}

void CheckDigest(const Digest& got, const RefDigest& want, Compressor compressor,
                 std::string_view what) {
  std::string hex = got.hex();
  FUZZ_CHECK(hex.size() == 64, std::string(what) + ": hex of " + std::to_string(hex.size()));
  FUZZ_CHECK(got.size_bytes() <= static_cast<uint64_t>(INT64_MAX), std::string(what));
  FUZZ_CHECK(got.function() == want.function, std::string(what) + ": digest function");
  FUZZ_CHECK(hex == want.hex, std::string(what) + ": hash " + hex + " != " + want.hex);
  FUZZ_CHECK(got.size_bytes() == static_cast<uint64_t>(want.size), std::string(what) + ": size");
  FUZZ_CHECK(compressor == want.compressor, std::string(what) + ": compressor");
}

void FuzzRead(std::string_view name) {
  auto got = api::reapi::ParseReadResourceName(name);
  auto want = RefRead(name);
  if (!got.ok()) {
    FUZZ_CHECK(!want, "read parser rejects what the grammar accepts: " + Printable(name) + ": " +
                          got.status().message());
    CheckRejection(got.status(), "ParseReadResourceName");
    return;
  }
  FUZZ_CHECK(want.has_value(), "read parser accepts what the grammar rejects: " + Printable(name));
  FUZZ_CHECK(got->instance == want->instance, "read instance " + Printable(got->instance));
  CheckInstance(got->instance, "read");
  CheckDigest(got->digest, want->digest, got->compressor, "read");

  std::string text =
      api::reapi::FormatReadResourceName(got->instance, got->compressor, got->digest);
  FUZZ_CHECK(text == name, "read name does not render back to itself: " + Printable(text));
  auto again = api::reapi::ParseReadResourceName(text);
  FUZZ_CHECK(again.ok(), "rendered read name does not parse: " + again.status().ToString());
  FUZZ_CHECK(again->instance == got->instance && again->compressor == got->compressor &&
                 again->digest == got->digest,
             "rendered read name parses differently");
}

void FuzzWrite(std::string_view name) {
  auto got = api::reapi::ParseWriteResourceName(name);
  auto want = RefWrite(name);
  if (!got.ok()) {
    FUZZ_CHECK(!want, "write parser rejects what the grammar accepts: " + Printable(name) + ": " +
                          got.status().message());
    CheckRejection(got.status(), "ParseWriteResourceName");
    return;
  }
  FUZZ_CHECK(want.has_value(), "write parser accepts what the grammar rejects: " + Printable(name));
  FUZZ_CHECK(got->instance == want->instance, "write instance " + Printable(got->instance));
  FUZZ_CHECK(got->uuid == want->uuid, "write uuid " + Printable(got->uuid));
  FUZZ_CHECK(got->metadata == want->metadata, "write metadata " + Printable(got->metadata));
  CheckInstance(got->instance, "write");
  CheckDigest(got->digest, want->digest, got->compressor, "write");
  FUZZ_CHECK(!api::reapi::ParseReadResourceName(name).ok(), "a name is both a read and a write");

  std::string text =
      api::reapi::FormatWriteResourceName(got->instance, got->uuid, got->compressor, got->digest);
  if (!got->metadata.empty()) text += "/" + got->metadata;
  FUZZ_CHECK(text == name, "write name does not render back to itself: " + Printable(text));
  auto again = api::reapi::ParseWriteResourceName(text);
  FUZZ_CHECK(again.ok(), "rendered write name does not parse: " + again.status().ToString());
  FUZZ_CHECK(again->instance == got->instance && again->uuid == got->uuid &&
                 again->compressor == got->compressor && again->digest == got->digest &&
                 again->metadata == got->metadata,
             "rendered write name parses differently");
  // The upload key names the upload, not the encoding: the same name with the
  // other compressor must give the same key.
  Compressor other =
      got->compressor == Compressor::kZstd ? Compressor::kIdentity : Compressor::kZstd;
  std::string other_text =
      api::reapi::FormatWriteResourceName(got->instance, got->uuid, other, got->digest);
  if (other_text.size() <= api::reapi::kMaxResourceNameLength) {
    auto flipped = api::reapi::ParseWriteResourceName(other_text);
    FUZZ_CHECK(flipped.ok(), "write name with the other compressor does not parse");
    FUZZ_CHECK(flipped->UploadKey() == got->UploadKey(), "upload key depends on the compressor");
  }
}

}  // namespace
}  // namespace cycas::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view name(reinterpret_cast<const char*>(data), size);
  cycas::fuzz::FuzzRead(name);
  cycas::fuzz::FuzzWrite(name);
  return 0;
}
