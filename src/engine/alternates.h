// Alternates: several variants of one object under one first_key, as ATS keeps
// per-encoding alternates of a cached document.
//
// The alternates vector is a mutable record under the object's key listing each
// variant's encoding name, length and key; each variant is an ordinary object
// under a key derived from (first_key, encoding), so variants are written,
// fragmented, read and evicted like any object. A reader asks for the best
// variant among the encodings it accepts, in its order of preference; a variant
// whose bytes were evicted is skipped.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "engine/key.h"
#include "util/status.h"

namespace cycas::engine {

struct Alternate {
  std::string encoding;  // e.g. "identity", "zstd"
  uint64_t length = 0;
  Key key;
};

// Serialised form: u32 count, then per variant: u8 name length, name, u64 length, key[32].
std::string EncodeAlternates(const std::vector<Alternate>& alternates);
Result<std::vector<Alternate>> DecodeAlternates(std::string_view bytes);

class AlternatesStore {
 public:
  explicit AlternatesStore(Engine* engine) : engine_(engine) {}

  static Key VariantKey(const Key& first_key, std::string_view encoding);

  // Stores one variant and records it in the object's alternates vector.
  Status Put(const Key& first_key, std::string_view encoding, std::span<const uint8_t> bytes);

  struct Selection {
    Alternate alternate;
    std::unique_ptr<ObjectReader> reader;
  };
  // The first encoding of `acceptable` (in preference order) that is stored and
  // whole. NOT_FOUND when none is.
  Result<Selection> Select(const Key& first_key, std::span<const std::string> acceptable);

  // The variants currently listed for the object.
  Result<std::vector<Alternate>> List(const Key& first_key);

 private:
  Engine* engine_;
  // Updates of alternates vectors are read-modify-write; one at a time is plenty.
  std::mutex update_mu_;
};

}  // namespace cycas::engine
