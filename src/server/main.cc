// cycasd: the cycas server.
#include <malloc.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include "auth/credentials_file.h"
#include "server/options.h"
#include "server/server.h"
#include "server/version.h"
#include "util/log.h"

namespace {

void PrintUsage(const cycas::Config& config) {
  std::cout << "cycasd " << cycas::kVersion
            << " - content-addressable storage and remote build cache server\n\n"
               "Usage: cycasd [--config FILE] [--set KEY=VALUE]...\n\n"
               "  --config FILE     read options from a TOML file (see --print-config)\n"
               "  --set KEY=VALUE   override one option; applied after the file\n"
               "  --print-config    print a commented config file with every default, and exit\n"
               "  --check-config    validate the configuration and exit\n"
               "  --help            show this help\n"
               "  --version         print the version\n\n"
               "Without a config file, cycasd stores data under ./cycas-data and listens on "
               "127.0.0.1.\nSIGTERM or SIGINT shut it down gracefully; SIGHUP re-reads "
               "auth.credentials_file.\n\nOptions:\n"
            << config.HelpText();
}

// Large gRPC messages (ByteStream and Transport chunks of up to 1 MiB, HTTP
// bodies) are allocated and freed at a high rate. With glibc's defaults they
// are mmap'ed, or trimmed from the heap top soon after being freed, so every
// message touches fresh pages: a 64 MiB upload took ~1M page faults (about a
// third of the server's CPU) against ~0.1M once freed memory is kept. The
// retained memory is bounded by the peak the server actually used.
// jemalloc (the default build) keeps freed pages for reuse by itself and
// returns them after its decay time, so this tunes glibc's malloc only.
#ifdef CYCAS_WITH_JEMALLOC
void TuneAllocator(uint64_t) {}
#else
void TuneAllocator(uint64_t retain) {
  if (retain == 0) return;
  if (const char* t = std::getenv("GLIBC_TUNABLES"); t != nullptr && std::strstr(t, "malloc")) {
    return;  // the operator tuned it by hand
  }
  constexpr int kMmapThreshold = 32 << 20;  // glibc's own ceiling for its dynamic threshold
  const int trim = static_cast<int>(std::min<uint64_t>(retain, uint64_t{1} << 30));
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, trim);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  cycas::Config config(cycas::server::ServerOptionSpecs());
  std::string config_file;
  std::vector<std::string> overrides;
  bool print_config = false, check_only = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto need_value = [&](const char* flag) -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "cycasd: " << flag << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      PrintUsage(config);
      return 0;
    } else if (a == "--version") {
      std::cout << "cycasd " << cycas::kVersion << "\n";
      return 0;
    } else if (a == "--config") {
      config_file = need_value("--config");
    } else if (a.rfind("--config=", 0) == 0) {
      config_file = a.substr(9);
    } else if (a == "--set") {
      overrides.push_back(need_value("--set"));
    } else if (a == "--print-config") {
      print_config = true;
    } else if (a == "--check-config") {
      check_only = true;
    } else {
      std::cerr << "cycasd: unknown argument '" << a << "' (see --help)\n";
      return 2;
    }
  }
  if (print_config) {
    std::cout << config.SampleToml();
    return 0;
  }
  if (!config_file.empty()) {
    if (auto st = config.LoadTomlFile(config_file); !st.ok()) {
      std::cerr << "cycasd: " << st.message() << "\n";
      return 2;
    }
  }
  for (const auto& o : overrides) {
    if (auto st = config.SetFromAssignment(o); !st.ok()) {
      std::cerr << "cycasd: --set " << o << ": " << st.message() << "\n";
      return 2;
    }
  }
  cycas::log::Level level;
  if (!cycas::log::ParseLevel(config.GetString("log.level"), &level)) {
    std::cerr << "cycasd: log.level must be debug, info, warn, error or off\n";
    return 2;
  }
  cycas::log::SetLevel(level);
  TuneAllocator(config.GetBytes("server.malloc_retain"));
  if (check_only) {
    // The credentials file is part of the configuration: check it too, so a
    // typo is found before a restart, not by it.
    if (const std::string& creds = config.GetString("auth.credentials_file"); !creds.empty()) {
      auto loaded = cycas::auth::LoadCredentialsFile(creds);
      if (!loaded.ok()) {
        std::cerr << "cycasd: auth.credentials_file: " << loaded.status().message() << "\n";
        return 2;
      }
    }
    std::cout << "configuration OK\n";
    return 0;
  }

  // Signals are taken synchronously by a dedicated thread, so shutdown runs as
  // ordinary code rather than inside a signal handler.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  cycas::server::Server server(config);
  if (auto st = server.Start(); !st.ok()) {
    LOG(kError, "startup failed").kv("error", st.ToString());
    return 1;
  }
  std::thread signals([&] {
    int sig = 0;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP) server.ReloadCredentials();
    LOG(kInfo, "shutting down").kv("signal", strsignal(sig));
    server.Shutdown();
  });
  server.Wait();
  signals.join();
  LOG(kInfo, "stopped");
  return 0;
}
