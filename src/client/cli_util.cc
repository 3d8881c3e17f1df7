#include "client/cli_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "digest/hasher.h"
#include "util/config.h"

namespace cycas::client {

Result<Digest> ParseDigestArg(std::string_view text) {
  auto d = Digest::Parse(text, DigestFunction::kBlake3);
  if (!d.ok()) {
    return d.status().WithContext("digest '" + std::string(text.substr(0, 200)) +
                                  "' (expected <blake3-hex>/<size>)");
  }
  if (d->function() != DigestFunction::kBlake3) {
    return Status::InvalidArgument("digest '" + std::string(text) +
                                   "': the zako protocol uses BLAKE3 digests only");
  }
  return d;
}

Result<RangeArg> ParseRangeArg(std::string_view text) {
  RangeArg r;
  size_t colon = text.find(':');
  auto start = ParseBytes(text.substr(0, colon));
  if (!start.ok()) return start.status().WithContext("--range start");
  r.start = *start;
  if (colon != std::string_view::npos) {
    auto len = ParseBytes(text.substr(colon + 1));
    if (!len.ok()) return len.status().WithContext("--range length");
    if (*len == 0) return Status::InvalidArgument("--range length must be > 0");
    r.length = *len;
  }
  return r;
}

Result<Digest> HashFile(const std::string& path, const std::function<void(size_t)>& progress) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError(path, errno);
  Hasher h(DigestFunction::kBlake3);
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return Status::IoError(path, err);
    }
    if (n == 0) break;
    h.Update({buf.data(), static_cast<size_t>(n)});
    if (progress) progress(static_cast<size_t>(n));
  }
  close(fd);
  return FinishDigest(h);
}

std::string FormatBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof(buf), "%.0f B", bytes);
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f %s", bytes, units[u]);
  }
  return buf;
}

std::string DigestArg(const Digest& digest) {
  return digest.hex() + "/" + std::to_string(digest.size_bytes());
}

}  // namespace cycas::client
