#include "digest/digest.h"

#include <charconv>
#include <cstdio>
#include <limits>
#include <ostream>

#include "digest/hex.h"

namespace cycas {
namespace {

// Parses a 64-character hex literal at compile time, so the empty-blob hashes
// below are written in the same form as the published test vectors.
constexpr HashBytes HashFromLiteral(const char (&hex)[2 * kHashLength + 1]) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  HashBytes out{};
  for (size_t i = 0; i < kHashLength; ++i) {
    out[i] = static_cast<uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return out;
}

// Published hashes of zero bytes (FIPS 180-4 examples; BLAKE3 test_vectors.json).
constexpr HashBytes kEmptySha256 =
    HashFromLiteral("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
constexpr HashBytes kEmptyBlake3 =
    HashFromLiteral("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");

// `text` in double quotes for an error message: untrusted input may be huge or
// contain control bytes, so cap its length and escape what is not printable.
std::string Quoted(std::string_view text) {
  constexpr size_t kMaxShown = 100;
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (text.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

Status CheckFunction(DigestFunction function) {
  if (IsKnownDigestFunction(function)) return Status::Ok();
  return Status::InvalidArgument("unknown digest function value " +
                                 std::to_string(static_cast<int>(function)));
}

// The hash part of a digest's text form; messages name the part ("hash ...")
// so the caller only adds which digest it was.
Result<HashBytes> ParseHash(std::string_view hex) {
  if (hex.size() != 2 * kHashLength) {
    return Status::InvalidArgument("hash must be " + std::to_string(2 * kHashLength) +
                                   " lowercase hex characters, got " + std::to_string(hex.size()));
  }
  HashBytes hash;
  RETURN_IF_ERROR(HexDecodeTo(hex, hash).WithContext("hash"));
  return hash;
}

// Canonical decimal: digits only, no sign, no leading zeros (except "0"), so
// that "5" and "05" cannot name the same blob twice in logs or keys.
Result<uint64_t> ParseSize(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("size is empty");
  for (char c : text) {
    if (c < '0' || c > '9') {
      return Status::InvalidArgument("size " + Quoted(text) + " is not a decimal number");
    }
  }
  if (text.size() > 1 && text[0] == '0') {
    return Status::InvalidArgument("size " + Quoted(text) + " has leading zeros");
  }
  uint64_t size = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), size);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument("size " + Quoted(text) + " is too large");
  }
  return size;
}

}  // namespace

Result<Digest> Digest::FromHex(DigestFunction function, std::string_view hex, int64_t size_bytes) {
  const auto context = [&] {
    return "invalid digest " + Quoted(hex) + "/" + std::to_string(size_bytes);
  };
  if (Status s = CheckFunction(function); !s.ok()) return s.WithContext(context());
  auto hash = ParseHash(hex);
  if (!hash.ok()) return hash.status().WithContext(context());
  if (size_bytes < 0) {
    return Status::InvalidArgument(context() + ": size must be >= 0, got " +
                                   std::to_string(size_bytes));
  }
  return Digest(function, *hash, static_cast<uint64_t>(size_bytes));
}

Result<Digest> Digest::FromBytes(DigestFunction function, std::span<const uint8_t> hash,
                                 uint64_t size_bytes) {
  RETURN_IF_ERROR(CheckFunction(function));
  if (hash.size() != kHashLength) {
    return Status::InvalidArgument("hash must be " + std::to_string(kHashLength) +
                                   " bytes, got " + std::to_string(hash.size()));
  }
  HashBytes bytes;
  std::memcpy(bytes.data(), hash.data(), kHashLength);
  return Digest(function, bytes, size_bytes);
}

Digest Digest::Of(DigestFunction function, std::span<const uint8_t> bytes) {
  return Digest(function, HashOf(function, bytes), bytes.size());
}

Digest Digest::Of(DigestFunction function, std::string_view bytes) {
  return Digest(function, HashOf(function, bytes), bytes.size());
}

Result<Digest> Digest::Parse(std::string_view text,
                             std::optional<DigestFunction> default_function) {
  const auto fail = [&](const Status& s) { return s.WithContext("invalid digest " + Quoted(text)); };
  std::string_view rest = text;
  DigestFunction function;
  if (size_t colon = text.find(':'); colon != std::string_view::npos) {
    auto parsed = ParseDigestFunction(text.substr(0, colon));
    if (!parsed.ok()) return fail(parsed.status());
    function = *parsed;
    rest = text.substr(colon + 1);
  } else if (default_function.has_value()) {
    function = *default_function;
    if (Status s = CheckFunction(function); !s.ok()) return fail(s);
  } else {
    return fail(Status::InvalidArgument(
        "missing \"<function>:\" prefix (e.g. \"blake3:\") and no default function"));
  }
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return fail(Status::InvalidArgument("missing \"/<size>\" after the hash"));
  }
  auto hash = ParseHash(rest.substr(0, slash));
  if (!hash.ok()) return fail(hash.status());
  auto size = ParseSize(rest.substr(slash + 1));
  if (!size.ok()) return fail(size.status());
  return Digest(function, *hash, *size);
}

std::string Digest::hex() const { return HexEncode(hash_); }

std::string Digest::ToString() const {
  std::string out(DigestFunctionName(function_));
  out += ':';
  out += hex();
  out += '/';
  out += std::to_string(size_bytes_);
  return out;
}

bool Digest::IsEmptyBlob() const {
  if (size_bytes_ != 0) return false;
  switch (function_) {
    case DigestFunction::kSha256: return hash_ == kEmptySha256;
    case DigestFunction::kBlake3: return hash_ == kEmptyBlake3;
  }
  return false;
}

Digest EmptyDigest(DigestFunction function) {
  switch (function) {
    case DigestFunction::kSha256: return Digest(function, kEmptySha256, 0);
    case DigestFunction::kBlake3: return Digest(function, kEmptyBlake3, 0);
  }
  return Digest::Of(function, std::string_view());  // Aborts: unknown function.
}

Digest FinishDigest(Hasher& hasher) {
  const uint64_t size = hasher.bytes_hashed();
  return Digest(hasher.function(), hasher.Finish(), size);
}

std::ostream& operator<<(std::ostream& os, const Digest& digest) {
  return os << digest.ToString();
}

}  // namespace cycas
