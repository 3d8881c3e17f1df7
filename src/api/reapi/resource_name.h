// ByteStream resource names of the Remote Execution API, parsed strictly.
//
// Reads:  {instance}/blobs/{function/}{hash}/{size}
//         {instance}/compressed-blobs/{compressor}/{function/}{hash}/{size}
// Writes: {instance}/uploads/{uuid}/blobs/{function/}{hash}/{size}{/metadata}
//         {instance}/uploads/{uuid}/compressed-blobs/{compressor}/{function/}{hash}/{size}{/metadata}
//
// `{instance}/` is absent for the empty instance. The instance is everything
// before the first `blobs`, `compressed-blobs` or `uploads` segment (those
// words cannot occur inside an instance name). `{function/}` is present only
// for functions the spec does not let a server infer: here `blake3/`; without
// it the hash must be 64 hex characters (SHA-256). `sha256/` and the other
// legacy names MUST be omitted by clients and are refused. `{compressor}` is
// `zstd` (the only one served). `{uuid}` is a UUID (8-4-4-4-12 hex digits,
// either case). `{size}` is canonical decimal. `{metadata}` is free-form and
// ignored. Anything else is INVALID_ARGUMENT with a message naming the part.
//
// The parser sees untrusted bytes and is fuzzed (fuzz/); it never allocates
// more than the input's size and never echoes more than a bounded excerpt.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "digest/digest.h"
#include "util/status.h"

namespace cycas::api::reapi {

enum class Compressor { kIdentity, kZstd };

// "identity" or "zstd".
std::string_view CompressorName(Compressor c);

// Longest resource name parsed (a digest name is ~150 bytes; instance names
// and metadata make it longer, but never this long for a real client).
inline constexpr size_t kMaxResourceNameLength = 4096;

struct ReadResource {
  std::string instance;
  Compressor compressor;
  Digest digest;
};

struct WriteResource {
  std::string instance;
  std::string uuid;
  Compressor compressor;
  Digest digest;
  // Everything after the size, without the separating '/'; empty when absent.
  std::string metadata;

  // Identifies the upload across calls (QueryWriteStatus, resumed Write):
  // instance, uuid and digest. The compressor is deliberately not part of it,
  // because a partial upload is kept uncompressed and may be resumed in either form.
  std::string UploadKey() const;
};

Result<ReadResource> ParseReadResourceName(std::string_view name);
Result<WriteResource> ParseWriteResourceName(std::string_view name);

// The canonical text of a resource name (as a spec-following client would write it).
std::string FormatReadResourceName(std::string_view instance, Compressor compressor,
                                   const Digest& digest);
std::string FormatWriteResourceName(std::string_view instance, std::string_view uuid,
                                    Compressor compressor, const Digest& digest);

}  // namespace cycas::api::reapi
