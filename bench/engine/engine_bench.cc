// engine_bench: measures the cyclone storage engine against this machine's own
// limits and against an ideal cache, side by side in one run (DESIGN.md §5).
//
//   engine_bench [--quick] [--dir=/path] [--repeat=3] [--phases=raw,large,small,dir,zipf] ...
//
// Every figure is measured --repeat times and printed as median [min - max]
// with its target. The raw, large, small and zipf phases are repeated as a
// sequence, so each ratio divides figures taken minutes apart on the same
// file system; the directory phase fills its 10 M-object store once (minutes)
// and repeats each of its measurements on it. See README.md for the full
// command, what each figure means, and the latest results.
#include <sys/statfs.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "bench_common.h"
#include "util/log.h"

namespace cycas::bench {
namespace {

const char kUsage[] = R"(usage: engine_bench [flags]
  --quick                 small sizes, 1 repetition, < 60 s (for CI)
  --dir=PATH              directory of the store file (default /tmp)
  --repeat=N              repetitions of every phase (default 3; quick: 1)
  --phases=a,b,...        subset of raw,large,small,dir,zipf
  --stripes=N             engine stripes (default: one per core)
  --markdown              print the results as a Markdown table
  --verbose               engine logs at info level
  --raw-bytes=BYTES       raw baseline file size (default 2GiB)
  --large-objects=N       64 MiB objects written and read (default 16)
  --large-size=BYTES      large object size (default 64MiB)
  --read-ahead=N          fragments read ahead by a sequential reader (default 3; 0: off)
  --page-cache-reads=BYTES  records up to this size are read through the page cache
                          (default: the engine's engine.page_cache_reads; 0: all O_DIRECT)
  --page-cache-rereads=0|1  larger records read again go through the page cache (default 1)
  --convert-ahead=BYTES   unwritten space converted ahead of small batches on a fresh
                          store (default: the engine's engine.convert_ahead; 0: off)
  --aggregation=BYTES     aggregation buffer per stripe (default: the engine's, 4MiB)
  --small-threads=N       concurrent 4 KiB writes: writer threads, and in-flight
                          PutAsync calls in the async run (default 64)
  --small-writers=a,b      kinds of small-object writer: threads,async (default both)
  --small-seconds=S       duration of the small-object phase (default 10)
  --small-store=BYTES     store size for the small-object phase (default 2GiB)
  --objects=N             objects in the directory phase (default 10000000)
  --fill-threads=N        threads filling the directory phase (default 512)
  --fill-max-seconds=S    time limit of that fill (default 1800)
  --dir-load=F            target directory occupancy (default 0.9)
  --lookup-seconds=S      duration of each Contains measurement (default 2)
  --restarts=N            clean restarts per repetition (default 3)
  --zipf-store=BYTES      store size for the hit-ratio phase (default 1GiB)
  --zipf-requests=N       trace length (default: until LRU misses wrote 6 rings)
  --zipf-threads=N        replay threads (default 8)
  --zipf-max-seconds=S    time limit per replay (default 240)
  --cf-fractions=a,b,...  copy_forward_fraction values (default 0,0.1,0.25)
  --seed=N
BYTES accept K, M, G suffixes (binary).
)";

uint64_t ParseBytes(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  std::string suffix(end);
  if (suffix.starts_with('K') || suffix.starts_with('k')) v *= kKiB;
  if (suffix.starts_with('M') || suffix.starts_with('m')) v *= kMiB;
  if (suffix.starts_with('G') || suffix.starts_with('g')) v *= kGiB;
  return static_cast<uint64_t>(v);
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, ',');) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

void ApplyQuick(BenchConfig& c) {
  c.quick = true;
  c.repeat = 1;
  c.raw_bytes = 256 * kMiB;
  c.large_objects = 4;
  c.small_seconds = 2;
  c.small_store = 256 * kMiB;
  c.objects = 300'000;
  c.fill_threads = 256;
  c.lookup_seconds = 0.5;
  c.restarts = 1;
  c.zipf_store = 64 * kMiB;
  c.zipf_max_seconds = 15;
  c.zipf_requests = 30'000;
  c.cf_fractions = {0.1};
}

bool ParseFlags(int argc, char** argv, BenchConfig& c) {
  for (int i = 1; i < argc; i++) {
    if (std::string(argv[i]) == "--quick") ApplyQuick(c);
  }
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i], v;
    if (!a.starts_with("--")) return false;
    a = a.substr(2);
    if (auto eq = a.find('='); eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (a != "quick" && a != "markdown" && a != "verbose" && a != "help") {
      if (i + 1 >= argc) return false;
      v = argv[++i];
    }
    if (a == "quick") {
    } else if (a == "markdown") {
      c.markdown = true;
    } else if (a == "verbose") {
      c.verbose = true;
    } else if (a == "dir") {
      c.dir = v;
    } else if (a == "repeat") {
      c.repeat = std::stoi(v);
    } else if (a == "phases") {
      c.phases = Split(v);
    } else if (a == "stripes") {
      c.stripes = static_cast<uint32_t>(std::stoul(v));
    } else if (a == "seed") {
      c.seed = std::stoull(v);
    } else if (a == "raw-bytes") {
      c.raw_bytes = ParseBytes(v);
    } else if (a == "large-objects") {
      c.large_objects = static_cast<uint32_t>(std::stoul(v));
    } else if (a == "large-size") {
      c.large_size = ParseBytes(v);
    } else if (a == "page-cache-reads") {
      c.page_cache_reads = static_cast<uint32_t>(ParseBytes(v));
    } else if (a == "convert-ahead") {
      c.convert_ahead = ParseBytes(v);
    } else if (a == "page-cache-rereads") {
      c.page_cache_rereads = v != "0" && v != "false";
    } else if (a == "read-ahead") {
      c.read_ahead = static_cast<uint32_t>(std::stoul(v));
    } else if (a == "aggregation") {
      c.aggregation = static_cast<uint32_t>(ParseBytes(v));
    } else if (a == "small-threads") {
      c.small_threads = static_cast<uint32_t>(std::stoul(v));
    } else if (a == "small-writers") {
      c.small_threads_mode = c.small_async_mode = false;
      for (const auto& w : Split(v)) {
        if (w == "threads") {
          c.small_threads_mode = true;
        } else if (w == "async") {
          c.small_async_mode = true;
        } else {
          return false;
        }
      }
    } else if (a == "small-seconds") {
      c.small_seconds = std::stod(v);
    } else if (a == "small-store") {
      c.small_store = ParseBytes(v);
    } else if (a == "objects") {
      c.objects = std::stoull(v);
    } else if (a == "fill-threads") {
      c.fill_threads = static_cast<uint32_t>(std::stoul(v));
    } else if (a == "fill-max-seconds") {
      c.fill_max_seconds = std::stod(v);
    } else if (a == "dir-load") {
      c.dir_load = std::stod(v);
    } else if (a == "lookup-seconds") {
      c.lookup_seconds = std::stod(v);
    } else if (a == "restarts") {
      c.restarts = std::stoi(v);
    } else if (a == "zipf-store") {
      c.zipf_store = ParseBytes(v);
    } else if (a == "zipf-requests") {
      c.zipf_requests = std::stoull(v);
    } else if (a == "zipf-threads") {
      c.zipf_threads = static_cast<uint32_t>(std::stoul(v));
    } else if (a == "zipf-max-seconds") {
      c.zipf_max_seconds = std::stod(v);
    } else if (a == "cf-fractions") {
      c.cf_fractions.clear();
      for (const auto& f : Split(v)) c.cf_fractions.push_back(std::stod(f));
    } else {
      return false;
    }
  }
  return c.repeat >= 1 && !c.cf_fractions.empty() && c.zipf_threads >= 1 && c.small_threads >= 1 &&
         (c.small_threads_mode || c.small_async_mode) && c.fill_threads >= 1 && c.objects >= 1000;
}

std::string CpuModel() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.starts_with("model name")) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

std::string FsType(const std::string& dir) {
  struct statfs s {};
  if (::statfs(dir.c_str(), &s) != 0) return "unknown";
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0xEF53:
      return "ext2/3/4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x01021994:
      return "tmpfs";
    case 0x794c7630:
      return "overlayfs";
    case 0x2FC12FC1:
      return "zfs";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(s.f_type));
      return buf;
    }
  }
}

double LoadAverage() {
  std::ifstream f("/proc/loadavg");
  double one = 0;
  f >> one;
  return one;
}

std::string MachineLine(const BenchConfig& c) {
  char date[64];
  std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  struct utsname u {};
  ::uname(&u);
  std::string s = std::string("date: ") + date +
                  "\nmachine: " + std::to_string(std::thread::hardware_concurrency()) + " CPUs (" +
                  CpuModel() + "), Linux " + u.release + "\nstore dir: " + c.dir + " (" +
                  FsType(c.dir) + ")\nflags: repeat " + std::to_string(c.repeat) + ", seed " +
                  std::to_string(c.seed) + (c.quick ? ", quick" : "") + "\n";
  return s;
}

}  // namespace

int Main(int argc, char** argv) {
  BenchConfig c;
  if (!ParseFlags(argc, argv, c)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  log::SetLevel(c.verbose ? log::Level::kInfo : log::Level::kWarn);
  std::string header = MachineLine(c);
  std::fprintf(stderr, "%s", header.c_str());
  Report report;
  bool failed = false;
  auto start = std::chrono::steady_clock::now();
  double load_min = LoadAverage(), load_max = load_min;
  for (int rep = 0; rep < c.repeat; rep++) {
    Baseline base;
    auto run = [&](const char* name, auto&& fn) {
      if (!c.Runs(name)) return;
      double load = LoadAverage();
      load_min = std::min(load_min, load);
      load_max = std::max(load_max, load);
      std::fprintf(stderr, "[%6.1fs] repetition %d/%d: %s (load average %.1f)\n",
                   SecondsSince(start), rep + 1, c.repeat, name, load);
      Status st = fn();
      if (!st.ok()) {
        std::fprintf(stderr, "phase %s failed: %s\n", name, st.ToString().c_str());
        report.Note(std::string("ERROR: phase ") + name + " failed: " + st.ToString());
        failed = true;
      }
    };
    run("raw", [&] { return RunRawPhase(c, report, base); });
    run("large", [&] {
      RETURN_IF_ERROR(RunLargeObjectPhase(c, report, base, /*written=*/false));
      return RunLargeObjectPhase(c, report, base, /*written=*/true);
    });
    run("small", [&] {
      for (bool async : {false, true}) {
        if (!(async ? c.small_async_mode : c.small_threads_mode)) continue;
        RETURN_IF_ERROR(RunSmallObjectPhase(c, report, base, /*written=*/false, async));
        RETURN_IF_ERROR(RunSmallObjectPhase(c, report, base, /*written=*/true, async));
      }
      return Status::Ok();
    });
    if (c.Runs("large") || c.Runs("small"))
      run("raw", [&] { return RunRawPhase(c, report, base); });
    base.Flush(report);
    run("zipf", [&] { return RunHitRatioPhase(c, report, rep); });
    // Filled once (minutes for 10 M objects); repeats each measurement inside.
    if (rep == c.repeat - 1) run("dir", [&] { return RunDirectoryPhase(c, report); });
  }
  RemoveStore(c);
  std::fprintf(stderr, "[%6.1fs] done\n", SecondsSince(start));
  char note[160];
  std::snprintf(note, sizeof note,
                "1-minute load average at phase starts: %.1f - %.1f on %u CPUs (other work shares "
                "the machine)",
                load_min, std::max(load_max, LoadAverage()), std::thread::hardware_concurrency());
  report.Note(note);
  std::printf("%s\n%s", header.c_str(), report.Render(c.markdown).c_str());
  if (failed) return 1;
  return 0;
}

}  // namespace cycas::bench

int main(int argc, char** argv) {
  return cycas::bench::Main(argc, argv);
}
