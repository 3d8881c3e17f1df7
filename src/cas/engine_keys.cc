#include "cas/engine_keys.h"

#include <blake3.h>
// Internal header of the same BLAKE3 sources we compile (for the compression
// function); engine_keys_test pins its behaviour to the public API.
extern "C" {
#include <blake3_impl.h>
}

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
  // The input fits one BLAKE3 block, and the hash of a one-block input is one
  // compression of that block under the context's key: calling the
  // compression directly yields the bytes blake3_hasher_finalize would, without
  // the hasher's bookkeeping, which cost as much as the compression itself
  // (FindMissingBlobs derives a key per digest, thousands per call).
  // engine_keys_test checks that both give the same key.
  uint8_t block[BLAKE3_BLOCK_LEN] = {};
  constexpr size_t kInputLength = 1 + 8 + kHashLength;
  static_assert(kInputLength <= BLAKE3_BLOCK_LEN);
  block[0] = static_cast<uint8_t>(digest.function());
  uint64_t size = digest.size_bytes();
  std::memcpy(block + 1, &size, 8);
  std::memcpy(block + 9, digest.hash().data(), kHashLength);
  uint32_t cv[8];
  std::memcpy(cv, ContextFor("blob").key, sizeof cv);
  blake3_compress_in_place(cv, block, kInputLength, 0,
                           CHUNK_START | CHUNK_END | ROOT | DERIVE_KEY_MATERIAL);
  engine::Key k;
  static_assert(sizeof cv == sizeof k.bytes);
  for (int i = 0; i < 8; i++) {  // BLAKE3 output is the words in little-endian order
    for (int b = 0; b < 4; b++) k.bytes[4 * i + b] = static_cast<uint8_t>(cv[i] >> (8 * b));
  }
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
