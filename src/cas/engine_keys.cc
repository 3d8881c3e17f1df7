#include "cas/engine_keys.h"

#include <blake3.h>

#include <cstring>

namespace cycas {

namespace {
// Deriving the key context costs a full BLAKE3 compression; do it once and copy.
const blake3_hasher& ContextFor(const char* context) {
  struct Cache {
    blake3_hasher blob, record;
    Cache() {
      blake3_hasher_init_derive_key(&blob, "cycas 2026 cas blob key v1");
      blake3_hasher_init_derive_key(&record, "cycas 2026 record key v1");
    }
  };
  static const Cache cache;
  return context[0] == 'b' ? cache.blob : cache.record;
}
}  // namespace

engine::Key EngineKeyForBlob(const Digest& digest) {
  uint8_t buf[1 + 8 + kHashLength];
  buf[0] = static_cast<uint8_t>(digest.function());
  uint64_t size = digest.size_bytes();
  std::memcpy(buf + 1, &size, 8);
  std::memcpy(buf + 9, digest.hash().data(), kHashLength);
  blake3_hasher h = ContextFor("blob");
  blake3_hasher_update(&h, buf, sizeof buf);
  engine::Key k;
  blake3_hasher_finalize(&h, k.bytes.data(), k.bytes.size());
  return k;
}

engine::Key EngineKeyForRecord(std::string_view name) {
  blake3_hasher h = ContextFor("record");
  blake3_hasher_update(&h, name.data(), name.size());
  engine::Key k;
  blake3_hasher_finalize(&h, k.bytes.data(), k.bytes.size());
  return k;
}

}  // namespace cycas
