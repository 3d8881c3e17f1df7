// fuzz_digest_parse: the text and wire forms of digests (digest/digest.h, hex.h).
//
// Every input is tried as:
//   * Digest::Parse text, without a default function and with each default
//     (including an invalid enum value taken from the input);
//   * HexDecode / HexDecodeTo text;
//   * Digest::FromHex / FromBytes arguments: byte 0 is the function value,
//     bytes 1..8 the (signed) size, the rest the hex or raw hash.
// Checks: each call accepts exactly what an independent, literal reading of
// its documented grammar accepts (so a digest has exactly one text form);
// whatever is accepted formats back to the same canonical text and re-parses
// to the same digest; every rejection is INVALID_ARGUMENT with a short
// message, however large the input (messages echo untrusted bytes).

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "digest/digest.h"
#include "digest/hex.h"
#include "fuzz_check.h"

namespace cycas::fuzz {
namespace {

[[noreturn]] void Fail(const std::string& what) {
  FailIn("fuzz_digest_parse", what);
}

// Long enough for every message about one digest; far shorter than the inputs.
constexpr size_t kMaxMessage = 1024;

void CheckRejection(const Status& st, std::string_view what) {
  FUZZ_CHECK(st.code() == StatusCode::kInvalidArgument, std::string(what) + ": " + st.ToString());
  FUZZ_CHECK(!st.message().empty(), std::string(what) + ": empty error message");
  FUZZ_CHECK(st.message().size() <= kMaxMessage, std::string(what) + ": error message of " +
                                                     std::to_string(st.message().size()) +
                                                     " bytes echoes the input unbounded");
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The reference grammar, written from digest.h's comments:
//   [<function> ":"] <64 lowercase hex> "/" <canonical decimal fitting in u64>
struct RefDigest {
  DigestFunction function;
  std::string hex;
  uint64_t size;
};

std::optional<uint64_t> RefSize(std::string_view s) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  unsigned __int128 v = 0;
  for (char c : s) {
    v = v * 10 + static_cast<unsigned>(c - '0');
    if (v > UINT64_MAX) return std::nullopt;
  }
  return static_cast<uint64_t>(v);
}

std::optional<RefDigest> RefParse(std::string_view text, std::optional<DigestFunction> def) {
  DigestFunction fn;
  std::string_view rest = text;
  if (size_t colon = text.find(':'); colon != std::string_view::npos) {
    std::string_view name = text.substr(0, colon);
    if (name == "sha256") {
      fn = DigestFunction::kSha256;
    } else if (name == "blake3") {
      fn = DigestFunction::kBlake3;
    } else {
      return std::nullopt;
    }
    rest = text.substr(colon + 1);
  } else if (def && IsKnownDigestFunction(*def)) {
    fn = *def;
  } else {
    return std::nullopt;
  }
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view hex = rest.substr(0, slash);
  if (hex.size() != 64 || !IsLowerHex(hex)) return std::nullopt;
  auto size = RefSize(rest.substr(slash + 1));
  if (!size) return std::nullopt;
  return RefDigest{fn, std::string(hex), *size};
}

void CheckCanonical(const Digest& d, std::string_view what) {
  const std::string text = d.ToString();
  FUZZ_CHECK(d.hex().size() == 64 && IsLowerHex(d.hex()), std::string(what) + ": hex()");
  FUZZ_CHECK(IsKnownDigestFunction(d.function()), std::string(what) + ": function");
  auto again = Digest::Parse(text);
  FUZZ_CHECK(again.ok(), std::string(what) + ": ToString() does not parse: " + text);
  FUZZ_CHECK(*again == d, std::string(what) + ": ToString() parses to another digest: " + text);
  FUZZ_CHECK(again->ToString() == text, std::string(what) + ": ToString() is not stable");
  auto from_hex = Digest::FromHex(d.function(), d.hex(), static_cast<int64_t>(d.size_bytes()));
  if (d.size_bytes() <= static_cast<uint64_t>(INT64_MAX)) {
    FUZZ_CHECK(from_hex.ok() && *from_hex == d, std::string(what) + ": FromHex(hex())");
  }
  auto from_bytes = Digest::FromBytes(d.function(), d.hash(), d.size_bytes());
  FUZZ_CHECK(from_bytes.ok() && *from_bytes == d, std::string(what) + ": FromBytes(hash())");
  FUZZ_CHECK(d.IsEmptyBlob() == (d == EmptyDigest(d.function())),
             std::string(what) + ": IsEmptyBlob");
}

void FuzzParse(std::string_view text, std::optional<DigestFunction> def) {
  const std::string what =
      "Parse with default " + (def ? std::to_string(static_cast<int>(*def)) : std::string("none"));
  auto got = Digest::Parse(text, def);
  auto want = RefParse(text, def);
  if (!want) {
    FUZZ_CHECK(!got.ok(), what + ": accepted a non-canonical digest: " + got->ToString());
    CheckRejection(got.status(), what);
    return;
  }
  FUZZ_CHECK(got.ok(), what + ": rejected a valid digest: " + got.status().ToString());
  FUZZ_CHECK(got->function() == want->function && got->hex() == want->hex &&
                 got->size_bytes() == want->size,
             what + ": parsed to the wrong digest " + got->ToString());
  // One text form: the input is the canonical text, minus the default prefix.
  const std::string canonical = got->ToString();
  if (text.find(':') != std::string_view::npos) {
    FUZZ_CHECK(canonical == text, what + ": ToString() differs from the parsed text");
  } else {
    FUZZ_CHECK(canonical == std::string(DigestFunctionName(*def)) + ":" + std::string(text),
               what + ": ToString() differs from the parsed text");
  }
  CheckCanonical(*got, what);
}

void FuzzHex(std::string_view text) {
  const bool valid = text.size() % 2 == 0 && IsLowerHex(text);
  auto got = HexDecode(text);
  if (!valid) {
    FUZZ_CHECK(!got.ok(), "HexDecode accepted non-canonical hex");
    CheckRejection(got.status(), "HexDecode");
  } else {
    FUZZ_CHECK(got.ok(), "HexDecode rejected valid hex: " + got.status().ToString());
    FUZZ_CHECK(got->size() == text.size() / 2, "HexDecode length");
    FUZZ_CHECK(HexEncode(*got) == text, "HexEncode(HexDecode(x)) != x");
  }
  HashBytes hash;
  Status st = HexDecodeTo(text, hash);
  if (valid && text.size() == 2 * kHashLength) {
    FUZZ_CHECK(st.ok(), "HexDecodeTo rejected valid hex: " + st.ToString());
    FUZZ_CHECK(HexEncode(hash) == text, "HexDecodeTo round trip");
  } else {
    FUZZ_CHECK(!st.ok(), "HexDecodeTo accepted a wrong length or character");
    CheckRejection(st, "HexDecodeTo");
  }
  // HexEncodeTo never writes past a short buffer.
  std::vector<char> out(text.size() / 3);
  HexEncodeTo({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, out);
}

void FuzzWire(const uint8_t* data, size_t size) {
  if (size < 9) return;
  const uint8_t fn_byte = data[0];
  const auto fn = static_cast<DigestFunction>(fn_byte);
  int64_t size_bytes;
  std::memcpy(&size_bytes, data + 1, 8);
  std::string_view rest(reinterpret_cast<const char*>(data + 9), size - 9);

  auto by_byte = DigestFunctionFromByte(fn_byte);
  FUZZ_CHECK(by_byte.ok() == IsKnownDigestFunction(fn), "DigestFunctionFromByte");
  if (!by_byte.ok()) CheckRejection(by_byte.status(), "DigestFunctionFromByte");

  auto from_hex = Digest::FromHex(fn, rest, size_bytes);
  const bool hex_valid =
      IsKnownDigestFunction(fn) && rest.size() == 64 && IsLowerHex(rest) && size_bytes >= 0;
  if (!hex_valid) {
    FUZZ_CHECK(!from_hex.ok(), "FromHex accepted invalid arguments");
    CheckRejection(from_hex.status(), "FromHex");
  } else {
    FUZZ_CHECK(from_hex.ok(), "FromHex rejected valid arguments: " + from_hex.status().ToString());
    FUZZ_CHECK(from_hex->hex() == rest &&
                   from_hex->size_bytes() == static_cast<uint64_t>(size_bytes) &&
                   from_hex->function() == fn,
               "FromHex built another digest");
    CheckCanonical(*from_hex, "FromHex");
  }

  std::span<const uint8_t> raw(data + 9, size - 9);
  auto from_bytes = Digest::FromBytes(fn, raw, static_cast<uint64_t>(size_bytes));
  if (!IsKnownDigestFunction(fn) || raw.size() != kHashLength) {
    FUZZ_CHECK(!from_bytes.ok(), "FromBytes accepted invalid arguments");
    CheckRejection(from_bytes.status(), "FromBytes");
  } else {
    FUZZ_CHECK(from_bytes.ok(), "FromBytes rejected valid arguments");
    FUZZ_CHECK(from_bytes->hex() == HexEncode(raw), "FromBytes hash");
    CheckCanonical(*from_bytes, "FromBytes");
  }

  auto by_name = ParseDigestFunction(rest);
  FUZZ_CHECK(by_name.ok() == (rest == "sha256" || rest == "blake3"), "ParseDigestFunction");
  if (by_name.ok()) {
    FUZZ_CHECK(DigestFunctionName(*by_name) == rest, "DigestFunctionName(ParseDigestFunction(x))");
  } else {
    CheckRejection(by_name.status(), "ParseDigestFunction");
  }
}

}  // namespace
}  // namespace cycas::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cycas::DigestFunction;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  cycas::fuzz::FuzzParse(text, std::nullopt);
  cycas::fuzz::FuzzParse(text, DigestFunction::kSha256);
  cycas::fuzz::FuzzParse(text, DigestFunction::kBlake3);
  if (size > 0) cycas::fuzz::FuzzParse(text.substr(1), static_cast<DigestFunction>(data[0]));
  cycas::fuzz::FuzzHex(text);
  cycas::fuzz::FuzzWire(data, size);
  return 0;
}
