#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <iostream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "api/zako/wire.h"
#include "client/cli_util.h"
#include "client/commands.h"
#include "client/progress.h"
#include "digest/hasher.h"
#include "util/config.h"

namespace cycas::client {

namespace {

bool Quiet(const Args& args) { return args.Has("q") || args.Has("quiet"); }

// Parses every positional argument as a digest; prints the first error.
bool ParseDigests(const Args& args, std::vector<Digest>* out) {
  if (args.positional.empty()) {
    std::cerr << "cycas: give at least one digest (<blake3-hex>/<size>)\n";
    return false;
  }
  for (const auto& a : args.positional) {
    auto d = ParseDigestArg(a);
    if (!d.ok()) {
      std::cerr << "cycas: " << d.status().message() << "\n";
      return false;
    }
    out->push_back(*d);
  }
  return true;
}

Status WriteAll(int fd, std::span<const uint8_t> data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError("write", errno);
    }
    data = data.subspan(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// Paces one transfer to `rate` bytes per second.
class RateLimiter {
 public:
  explicit RateLimiter(uint64_t rate) : rate_(rate), start_(std::chrono::steady_clock::now()) {}
  void Account(uint64_t bytes) {
    if (rate_ == 0) return;
    sent_ += bytes;
    auto due = start_ + std::chrono::duration<double>(static_cast<double>(sent_) / rate_);
    std::this_thread::sleep_until(
        std::chrono::time_point_cast<std::chrono::steady_clock::duration>(due));
  }

 private:
  uint64_t rate_;
  uint64_t sent_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

int CmdPut(ZakoClient& client, const Args& args) {
  if (args.positional.empty()) {
    std::cerr << "cycas put: give at least one file\n";
    return 2;
  }
  uint64_t rate = 0;
  if (args.Has("limit-rate")) {
    auto r = ParseBytes(args.Get("limit-rate"));
    if (!r.ok()) {
      std::cerr << "cycas put: --limit-rate: " << r.status().message() << "\n";
      return 2;
    }
    rate = *r;
  }
  struct Item {
    std::string path;
    std::optional<Digest> digest;
    std::string result;
  };
  std::vector<Item> items;
  bool failed = false;
  uint64_t to_hash = 0;
  for (const auto& path : args.positional) {
    struct stat st;
    if (stat(path.c_str(), &st) == 0) to_hash += static_cast<uint64_t>(st.st_size);
  }
  ProgressBar hash_bar("hash  ", to_hash, args.positional.size(),
                       to_hash > (64 << 20) && !Quiet(args) && isatty(2));
  for (const auto& path : args.positional) {
    Item it{path, std::nullopt, ""};
    auto d = HashFile(path, [&](size_t n) { hash_bar.Add(static_cast<int64_t>(n)); });
    hash_bar.ItemDone();
    if (d.ok()) {
      it.digest = *d;
    } else {
      it.result = "error: " + d.status().message();
      failed = true;
    }
    items.push_back(std::move(it));
  }
  hash_bar.Finish();
  std::vector<Digest> unique;
  std::unordered_set<Digest> seen;
  for (const auto& it : items) {
    if (it.digest && seen.insert(*it.digest).second) unique.push_back(*it.digest);
  }
  auto missing = client.FindMissing(unique);
  if (!missing.ok()) {
    std::cerr << "cycas put: " << missing.status().ToString() << "\n";
    return 1;
  }
  // One upload per missing digest, from the first file that has it.
  std::unordered_map<Digest, std::string> outcome;
  std::vector<std::pair<Digest, std::string>> todo;
  std::unordered_set<Digest> missing_set(missing->begin(), missing->end());
  uint64_t total = 0;
  for (const auto& it : items) {
    if (!it.digest) continue;
    if (!missing_set.contains(*it.digest)) {
      outcome.emplace(*it.digest, "present");
    } else if (!outcome.contains(*it.digest)) {
      outcome.emplace(*it.digest, "");
      todo.emplace_back(*it.digest, it.path);
      total += it.digest->size_bytes();
    }
  }
  uint32_t concurrency = 1;
  if (args.Has("concurrency")) {
    auto c = ParseInt(args.Get("concurrency"));
    if (!c.ok() || *c < 1) {
      std::cerr << "cycas put: --concurrency must be a positive number\n";
      return 2;
    }
    concurrency = static_cast<uint32_t>(*c);
  } else if (!todo.empty()) {
    auto c = client.RecommendedConcurrency();
    if (!c.ok()) {
      std::cerr << "cycas put: " << c.status().ToString() << "\n";
      return 1;
    }
    concurrency = *c;
  }
  concurrency = std::max<uint32_t>(1, std::min<uint32_t>(concurrency, todo.size()));
  {
    ProgressBar bar("upload", total, todo.size(), !todo.empty() && !Quiet(args) && isatty(2));
    std::atomic<size_t> next{0};
    std::mutex mu;
    auto worker = [&] {
      for (size_t i; (i = next++) < todo.size();) {
        // Not a structured binding: clang 14 cannot capture those in the lambda below.
        const Digest& digest = todo[i].first;
        const std::string& path = todo[i].second;
        std::string result;
        int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
          result = "error: " + Status::IoError(path, errno).message();
        } else {
          RateLimiter limiter(rate);
          auto source = [&](uint64_t off, std::span<uint8_t> out) -> Result<size_t> {
            ssize_t n = pread(fd, out.data(), out.size(), static_cast<off_t>(off));
            if (n < 0) return Status::IoError(path, errno);
            limiter.Account(static_cast<uint64_t>(n));
            return static_cast<size_t>(n);
          };
          auto r = client.Upload(digest, source, [&](int64_t d) { bar.Add(d); });
          close(fd);
          if (!r.ok()) {
            result = "error: " + r.status().ToString();
          } else {
            result = *r == ZakoClient::UploadOutcome::kStored ? "uploaded" : "present";
          }
        }
        bar.ItemDone();
        std::lock_guard lk(mu);
        outcome[digest] = result;
      }
    };
    std::vector<std::thread> threads;
    for (uint32_t i = 0; i < concurrency; ++i) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
  }
  for (const auto& it : items) {
    std::string result = it.digest ? outcome[*it.digest] : it.result;
    if (result.rfind("error", 0) == 0) failed = true;
    std::cout << (it.digest ? DigestArg(*it.digest) : std::string("-")) << " " << result << " "
              << it.path << "\n";
  }
  return failed ? 1 : 0;
}

int CmdGet(ZakoClient& client, const Args& args) {
  if (args.positional.size() != 1) {
    std::cerr << "cycas get: give exactly one digest\n";
    return 2;
  }
  auto digest = ParseDigestArg(args.positional[0]);
  if (!digest.ok()) {
    std::cerr << "cycas get: " << digest.status().message() << "\n";
    return 2;
  }
  RangeArg range;
  bool ranged = args.Has("range");
  if (ranged) {
    auto r = ParseRangeArg(args.Get("range"));
    if (!r.ok()) {
      std::cerr << "cycas get: " << r.status().message() << "\n";
      return 2;
    }
    range = *r;
  }
  auto resolved = api::zako::ResolveRange(range.start, range.length, digest->size_bytes(),
                                          digest->ToString());
  if (!resolved.ok()) {
    std::cerr << "cycas get: " << resolved.status().message() << "\n";
    return 2;
  }
  std::string out = args.Get("o", args.Get("output"));
  std::string tmp;
  int fd = STDOUT_FILENO;
  if (!out.empty() && out != "-") {
    tmp = out + ".cycas-partial-" + std::to_string(getpid());
    fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      std::cerr << "cycas get: " << Status::IoError(tmp, errno).message() << "\n";
      return 1;
    }
  }
  Hasher hasher(DigestFunction::kBlake3);
  uint64_t received = 0;
  ProgressBar bar("download", resolved->length, 1, !tmp.empty() && !Quiet(args) && isatty(2));
  Status st = client.Download(*digest, range.start, range.length,
                              [&](std::span<const uint8_t> data) {
                                if (!ranged) hasher.Update(data);
                                received += data.size();
                                bar.Add(static_cast<int64_t>(data.size()));
                                return WriteAll(fd, data);
                              });
  bar.ItemDone();
  bar.Finish();
  if (st.ok() && received != resolved->length) {
    st = Status::DataLoss("received " + std::to_string(received) + " bytes, expected " +
                          std::to_string(resolved->length));
  }
  if (st.ok() && !ranged) {
    Digest got(DigestFunction::kBlake3, hasher.Finish(), received);
    if (got != *digest) {
      st = Status::DataLoss("downloaded bytes hash to " + DigestArg(got) + ", not the requested " +
                            DigestArg(*digest));
    }
  }
  if (!tmp.empty()) {
    if (st.ok() && fsync(fd) != 0) st = Status::IoError(tmp, errno);
    close(fd);
    if (st.ok() && rename(tmp.c_str(), out.c_str()) != 0) st = Status::IoError(out, errno);
    if (!st.ok()) unlink(tmp.c_str());
  }
  if (!st.ok()) {
    std::cerr << "cycas get: " << st.ToString() << "\n";
    return 1;
  }
  return 0;
}

int CmdMissing(ZakoClient& client, const Args& args) {
  std::vector<Digest> digests;
  if (!ParseDigests(args, &digests)) return 2;
  auto missing = client.FindMissing(digests);
  if (!missing.ok()) {
    std::cerr << "cycas missing: " << missing.status().ToString() << "\n";
    return 1;
  }
  for (const auto& d : *missing) std::cout << DigestArg(d) << "\n";
  return 0;
}

int CmdStat(ZakoClient& client, const Args& args) {
  std::vector<Digest> digests;
  if (!ParseDigests(args, &digests)) return 2;
  auto missing = client.FindMissing(digests);
  if (!missing.ok()) {
    std::cerr << "cycas stat: " << missing.status().ToString() << "\n";
    return 1;
  }
  std::unordered_set<Digest> absent(missing->begin(), missing->end());
  for (const auto& d : digests) {
    if (absent.contains(d)) {
      std::cout << DigestArg(d) << " missing\n";
    } else {
      std::cout << DigestArg(d) << " present " << d.size_bytes() << "\n";
    }
  }
  return 0;
}

}  // namespace cycas::client
