#include "engine/doc.h"

#include <xxhash.h>

#include <cstring>

namespace cycas::engine {
namespace {
uint64_t Checksum(const DocHeader& h, const uint8_t* data, size_t len) {
  DocHeader copy = h;
  copy.checksum = 0;
  // The header's hash seeds the data's hash, so both are covered by one value.
  return XXH3_64bits_withSeed(data, len, XXH3_64bits(&copy, sizeof copy));
}
}  // namespace

void EncodeDoc(DocHeader h, std::span<const uint8_t> data, uint8_t* out) {
  h.magic = kDocMagic;
  h.version = kDocVersion;
  h.header_len = kDocHeaderSize;
  h.data_len = static_cast<uint32_t>(data.size());
  std::memset(h.reserved, 0, sizeof h.reserved);
  h.checksum = Checksum(h, data.data(), data.size());
  std::memcpy(out, &h, sizeof h);
  if (!data.empty()) std::memcpy(out + kDocHeaderSize, data.data(), data.size());
  size_t total = DocSectors(data.size()) * kSectorSize;
  std::memset(out + kDocHeaderSize + data.size(), 0, total - kDocHeaderSize - data.size());
}

void VoidDoc(uint8_t* doc) {
  DocHeader h;
  std::memcpy(&h, doc, sizeof h);
  if (h.type == static_cast<uint8_t>(DocType::kVoid)) return;
  h.type = static_cast<uint8_t>(DocType::kVoid);
  h.flags = 0;
  h.first_key = Key();
  h.key = Key();
  h.checksum = Checksum(h, doc + kDocHeaderSize, h.data_len);
  std::memcpy(doc, &h, sizeof h);
}

Result<uint32_t> CheckDocHeader(const DocHeader& h, uint64_t max_len) {
  if (h.magic != kDocMagic) return Status::DataLoss("bad doc magic");
  if (h.version != kDocVersion) {
    return Status::DataLoss("unsupported doc version " + std::to_string(h.version));
  }
  if (h.header_len != kDocHeaderSize) return Status::DataLoss("bad doc header length");
  if (h.type < static_cast<uint8_t>(DocType::kBlob) ||
      h.type > static_cast<uint8_t>(DocType::kVoid)) {
    return Status::DataLoss("bad doc type " + std::to_string(h.type));
  }
  for (uint8_t b : h.reserved) {
    if (b != 0) return Status::DataLoss("doc reserved bytes are not zero");
  }
  uint64_t len = uint64_t{h.header_len} + h.data_len;
  if (len > max_len)
    return Status::DataLoss("doc length " + std::to_string(len) + " out of bounds");
  return static_cast<uint32_t>(len);
}

Status VerifyDoc(const uint8_t* doc, uint64_t available) {
  if (available < kDocHeaderSize) return Status::DataLoss("doc truncated");
  DocHeader h;
  std::memcpy(&h, doc, sizeof h);
  auto len = CheckDocHeader(h, available);
  if (!len.ok()) return len.status();
  if (Checksum(h, doc + kDocHeaderSize, h.data_len) != h.checksum) {
    return Status::DataLoss("doc checksum mismatch");
  }
  return Status::Ok();
}

}  // namespace cycas::engine
