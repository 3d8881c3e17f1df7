#include "cas/blob_store.h"

#include <algorithm>

namespace cycas {

Result<std::span<const uint8_t>> BlobReader::ReadView(uint64_t offset, size_t max) {
  const uint64_t total = size();
  if (offset >= total || max == 0) return std::span<const uint8_t>();
  view_buffer_.resize(static_cast<size_t>(std::min<uint64_t>(max, total - offset)));
  size_t got = 0;
  while (got < view_buffer_.size()) {
    auto n = Read(offset + got, std::span<uint8_t>(view_buffer_).subspan(got));
    if (!n.ok()) return n.status();
    if (*n == 0) return Status::DataLoss("blob ended before its size");
    got += *n;
  }
  return std::span<const uint8_t>(view_buffer_.data(), got);
}

}  // namespace cycas
