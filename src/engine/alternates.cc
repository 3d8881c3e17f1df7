#include "engine/alternates.h"

#include <xxhash.h>

#include <cstring>

namespace cycas::engine {

std::string EncodeAlternates(const std::vector<Alternate>& alternates) {
  std::string out;
  uint32_t n = static_cast<uint32_t>(alternates.size());
  out.append(reinterpret_cast<const char*>(&n), 4);
  for (const auto& a : alternates) {
    out.push_back(static_cast<char>(a.encoding.size()));
    out += a.encoding;
    out.append(reinterpret_cast<const char*>(&a.length), 8);
    out.append(reinterpret_cast<const char*>(a.key.bytes.data()), a.key.bytes.size());
  }
  return out;
}

Result<std::vector<Alternate>> DecodeAlternates(std::string_view bytes) {
  auto bad = [] { return Status::DataLoss("malformed alternates vector"); };
  if (bytes.size() < 4) return bad();
  uint32_t n;
  std::memcpy(&n, bytes.data(), 4);
  bytes.remove_prefix(4);
  if (n > 256) return bad();
  std::vector<Alternate> out;
  for (uint32_t i = 0; i < n; i++) {
    if (bytes.empty()) return bad();
    size_t len = static_cast<uint8_t>(bytes[0]);
    if (bytes.size() < 1 + len + 8 + 32) return bad();
    Alternate a;
    a.encoding.assign(bytes.data() + 1, len);
    std::memcpy(&a.length, bytes.data() + 1 + len, 8);
    std::memcpy(a.key.bytes.data(), bytes.data() + 1 + len + 8, 32);
    bytes.remove_prefix(1 + len + 8 + 32);
    out.push_back(std::move(a));
  }
  if (!bytes.empty()) return bad();
  return out;
}

Key AlternatesStore::VariantKey(const Key& first_key, std::string_view encoding) {
  // Derived like fragment keys: seeded hashes of the first key and the encoding,
  // keeping the first key's stripe bits so an object's variants share a stripe.
  std::string buf(reinterpret_cast<const char*>(first_key.bytes.data()), first_key.bytes.size());
  buf += encoding;
  XXH128_hash_t a = XXH3_128bits_withSeed(buf.data(), buf.size(), 0x616c7465726e6174ull);
  XXH128_hash_t b = XXH3_128bits_withSeed(buf.data(), buf.size(), 0x76617269616e7473ull);
  Key k;
  std::memcpy(k.bytes.data(), &a.low64, 8);
  std::memcpy(k.bytes.data() + 8, &a.high64, 8);
  std::memcpy(k.bytes.data() + 16, first_key.bytes.data() + 16, 8);
  std::memcpy(k.bytes.data() + 24, &b.high64, 8);
  return k;
}

Result<std::vector<Alternate>> AlternatesStore::List(const Key& first_key) {
  auto r = engine_->OpenRead(first_key, RecordKind::kRecord);
  if (!r.ok()) return r.status();
  std::string bytes((*r)->size(), '\0');
  uint64_t off = 0;
  while (off < bytes.size()) {
    ASSIGN_OR_RETURN(size_t n, (*r)->Read(off, {reinterpret_cast<uint8_t*>(bytes.data()) + off,
                                                bytes.size() - off}));
    if (n == 0) return Status::DataLoss("alternates vector ended early");
    off += n;
  }
  return DecodeAlternates(bytes);
}

Status AlternatesStore::Put(const Key& first_key, std::string_view encoding,
                            std::span<const uint8_t> bytes) {
  if (encoding.empty() || encoding.size() > 64) {
    return Status::InvalidArgument("encoding name must be 1 to 64 bytes");
  }
  Key vk = VariantKey(first_key, encoding);
  Status st = engine_->Put(vk, bytes);
  if (!st.ok() && st.code() != StatusCode::kAlreadyExists) return st;
  std::lock_guard lk(update_mu_);
  std::vector<Alternate> list;
  auto existing = List(first_key);
  if (existing.ok()) list = std::move(*existing);
  bool found = false;
  for (auto& a : list) {
    if (a.encoding == encoding) {
      a.length = bytes.size();
      a.key = vk;
      found = true;
    }
  }
  if (!found) list.push_back(Alternate{std::string(encoding), bytes.size(), vk});
  std::string encoded = EncodeAlternates(list);
  return engine_->Put(first_key, {reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size()},
                      RecordKind::kRecord);
}

Result<AlternatesStore::Selection> AlternatesStore::Select(
    const Key& first_key, std::span<const std::string> acceptable) {
  ASSIGN_OR_RETURN(auto list, List(first_key));
  for (const auto& want : acceptable) {
    for (const auto& a : list) {
      if (a.encoding != want) continue;
      auto r = engine_->OpenRead(a.key);
      if (!r.ok()) continue;  // evicted or invalid: try the next preference
      if ((*r)->size() != a.length) continue;
      return Selection{a, std::move(*r)};
    }
  }
  return Status::NotFound("no acceptable variant stored");
}

}  // namespace cycas::engine
