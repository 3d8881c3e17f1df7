// How CAS names map to engine keys.
//
// The key is a BLAKE3 hash of a domain tag, the digest function, the size and
// the hash. Mixing in the size makes "present" imply "present with this size",
// and hashing (rather than using the client's hash bytes directly) means a
// client cannot choose digests that aim at a stored blob's bucket and tag.
#pragma once

#include <string_view>

#include "digest/digest.h"
#include "engine/key.h"

namespace cycas {

engine::Key EngineKeyForBlob(const Digest& digest);
engine::Key EngineKeyForRecord(std::string_view name);

}  // namespace cycas
