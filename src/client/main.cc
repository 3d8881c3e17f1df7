// cycas: command-line client of the zako CAS protocol (docs/zako-protocol.md).
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <set>
#include <string>

#include "client/commands.h"
#include "server/version.h"
#include "util/config.h"

namespace {

constexpr const char* kUsage = R"(cycas - client of a cycas / zako content-addressable storage server

Usage: cycas [OPTIONS] COMMAND [ARGS]

Commands:
  put FILE...                 hash files (BLAKE3), ask the server which it lacks and upload
                              those in parallel; prints "<digest> uploaded|present <file>"
      --limit-rate RATE       cap each upload at RATE bytes/s (e.g. 10MiB)
      --concurrency N         parallel uploads (default: the server's recommendation)
  get DIGEST [-o FILE] [--range START[:LEN]]
                              download a blob (to stdout without -o). A whole blob is
                              verified against its digest, a range by its length; with -o
                              the file appears only once verified
  missing DIGEST...           print the digests the server does not hold
  stat DIGEST...              print "<digest> present <size>" or "<digest> missing"
  bench [BENCH OPTIONS]       measure negotiation and transfer speed (see cycas bench --help)

Digests are written <blake3-hex>/<size-in-bytes>.

Options:
  --server HOST:PORT          the server's CAS service (default $CYCAS_SERVER or 127.0.0.1:9092)
  --transport HOST:PORT       use this Transport address instead of the advertised one
  --tls                       use TLS with the system's root certificates
  --tls-ca FILE               use TLS, trusting the CA certificates in FILE
  --tls-cert FILE --tls-key FILE
                              client certificate for servers that require one
  --timeout DURATION          deadline of negotiation calls (default 60s)

Environment:
  CYCAS_TOKEN                 bearer token for servers that require credentials
                              (docs/auth.md); kept out of the command line so it
                              does not show in process lists
  -q, --quiet                 no progress bar
  -h, --help                  this help
  --version                   print the version
)";

// Flags that take a value; everything else starting with '-' is boolean.
const std::set<std::string> kValueFlags = {
    "server", "transport", "tls-ca", "tls-cert", "tls-key", "timeout", "o", "output", "range",
    "limit-rate", "concurrency", "digests", "rounds", "small-count", "small-size", "large-count",
    "large-size", "engine-baseline", "engine-size"};
const std::set<std::string> kBoolFlags = {"tls", "q", "quiet", "h", "help", "version"};

}  // namespace

int main(int argc, char** argv) {
  using namespace cycas::client;
  Args args;
  std::string command;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 1 && a[0] == '-' && !(a.size() > 1 && std::isdigit(static_cast<unsigned char>(a[1])))) {
      std::string name = a.substr(a[1] == '-' ? 2 : 1);
      std::string value;
      bool has_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      if (kValueFlags.contains(name)) {
        if (!has_value) {
          if (i + 1 >= argc) {
            std::cerr << "cycas: " << a << " needs a value\n";
            return 2;
          }
          value = argv[++i];
        }
      } else if (!kBoolFlags.contains(name)) {
        std::cerr << "cycas: unknown option '" << a << "' (see cycas --help)\n";
        return 2;
      }
      args.flags[name] = value;
    } else if (command.empty()) {
      command = a;
    } else {
      args.positional.push_back(a);
    }
  }
  if (args.Has("version")) {
    std::cout << "cycas " << cycas::kVersion << "\n";
    return 0;
  }
  if (args.Has("h") || args.Has("help") || command.empty() || command == "help") {
    if (command == "bench") {
      PrintBenchUsage();
      return 0;
    }
    std::cout << kUsage;
    return command.empty() && !args.Has("h") && !args.Has("help") ? 2 : 0;
  }

  ClientOptions opts;
  const char* env = std::getenv("CYCAS_SERVER");
  opts.server = args.Get("server", env && *env ? env : "127.0.0.1:9092");
  opts.transport_override = args.Get("transport");
  opts.tls = args.Has("tls");
  opts.tls_ca_file = args.Get("tls-ca");
  opts.tls_cert_file = args.Get("tls-cert");
  opts.tls_key_file = args.Get("tls-key");
  if (const char* token = std::getenv("CYCAS_TOKEN"); token != nullptr && *token != '\0') {
    opts.authorization = std::string("Bearer ") + token;
  }
  if (args.Has("timeout")) {
    auto t = cycas::ParseDuration(args.Get("timeout"));
    if (!t.ok()) {
      std::cerr << "cycas: --timeout: " << t.status().message() << "\n";
      return 2;
    }
    opts.rpc_timeout = *t;
  }
  if (args.Has("limit-rate")) {
    auto r = cycas::ParseBytes(args.Get("limit-rate"));
    if (r.ok() && *r > 0) opts.chunk_size = std::max<size_t>(1024, std::min<size_t>(1 << 20, *r / 8));
  }
  auto client = ZakoClient::Connect(opts);
  if (!client.ok()) {
    std::cerr << "cycas: " << client.status().message() << "\n";
    return 2;
  }
  if (command == "put") return CmdPut(**client, args);
  if (command == "get") return CmdGet(**client, args);
  if (command == "missing") return CmdMissing(**client, args);
  if (command == "stat") return CmdStat(**client, args);
  if (command == "bench") return CmdBench(**client, args);
  std::cerr << "cycas: unknown command '" << command << "' (see cycas --help)\n";
  return 2;
}
