// Helpers of the `cycas` command line: argument parsing, file hashing and
// human-readable sizes. Separate from main.cc so they are unit-tested.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "digest/digest.h"
#include "util/status.h"

namespace cycas::client {

// "<blake3-hex>/<size>" (or "blake3:<hex>/<size>"). zako digests are BLAKE3;
// another function is INVALID_ARGUMENT.
Result<Digest> ParseDigestArg(std::string_view text);

// "--range START[:LEN]"; both accept byte units ("4KiB"). LEN must be > 0.
struct RangeArg {
  uint64_t start = 0;
  std::optional<uint64_t> length;
};
Result<RangeArg> ParseRangeArg(std::string_view text);

// The BLAKE3 digest of a file's content, read in 1 MiB pieces; `progress`
// (optional) is told the size of each piece hashed.
Result<Digest> HashFile(const std::string& path,
                        const std::function<void(size_t)>& progress = {});

// "512 B", "4.0 KiB", "1.5 GiB".
std::string FormatBytes(double bytes);

// The digest as written on the command line: "<hex>/<size>".
std::string DigestArg(const Digest& digest);

}  // namespace cycas::client
