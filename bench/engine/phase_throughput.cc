// Phases 1-3: bandwidth. The raw figures are the machine's own limit for one
// sequential stream on this filesystem; the engine's large- and small-object
// throughput are reported as fractions of them, measured minutes apart in the
// same run on a store file in the same directory.
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "bench_common.h"
#include "engine/doc.h"

namespace cycas::bench {
namespace {

uint32_t StripeCount(const BenchConfig& c) {
  return c.stripes != 0 ? c.stripes : std::max(1u, std::thread::hardware_concurrency());
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(i), v.end());
  return v[i];
}

void NoteDirectIo(const BenchConfig& c, Report& r, const RecordingEnv& env) {
  if (env.direct_io.load() == 1) {
    r.Note("engine store file opened with O_DIRECT (BlockFile::direct_io() = true)");
  } else {
    r.Note("WARNING: the filesystem of " + c.dir +
           " refused O_DIRECT; the engine fell back to buffered I/O");
  }
}

}  // namespace

// 1. The baseline: what one stream of 4 MiB O_DIRECT requests achieves here.
// The engine's flusher is also one stream per stripe of up to 4 MiB writes, so
// this is the ceiling its aggregation buffer can approach, not a straw man.
// Measured before and after the engine's throughput phases of each repetition.
Status RunRawPhase(const BenchConfig& c, Report& r, Baseline& base) {
  ASSIGN_OR_RETURN(RawBandwidth raw, MeasureRawBandwidth(c.RawPath(), c.raw_bytes, c.raw_block));
  base.AddSample(raw);
  r.Add("raw", "sequential write, fresh preallocated file", "MB/s", raw.write_fresh_mbps);
  r.Add("raw", "sequential overwrite", "MB/s", raw.write_over_mbps);
  r.Add("raw", "sequential read", "MB/s", raw.read_mbps);
  r.Add("raw", "  sequential read, 1 MiB + 4 KiB requests (engine fragment)", "MB/s",
        raw.read_fragment_mbps);
  r.Add("raw", "  256 KiB pwrite + fdatasync loop (group-commit ceiling)", "MB/s",
        raw.sync_write_mbps);
  r.Add("raw", "  256 KiB pwrite + fdatasync, mean time", "us", raw.sync_write_micros);
  r.Note(
      raw.direct_io
          ? "raw baseline used O_DIRECT"
          : "WARNING: raw baseline could not use O_DIRECT (buffered, cache dropped before read)");
  return Status::Ok();
}

// 2. Large objects: 64 MiB uploads streamed in 1 MiB Appends, durable commit
// (one fdatasync per object, when its header Doc is flushed), one writer. Then
// read back in order with OpenRead + Read. Every fragment crosses the engine's
// copies (upload buffer -> aggregation buffer -> disk; disk -> Doc buffer ->
// caller) and checksums, so this measures how much of the disk's streaming
// bandwidth those costs leave. Run twice: on a freshly preallocated store
// (baseline: raw write of a fresh preallocated file; ext4 converts unwritten
// extents as they are first written) and on a fully written store file, the
// state after the ring has wrapped once (baseline: raw overwrite).
Status RunLargeObjectPhase(const BenchConfig& c, Report& r, Baseline& base, bool written) {
  RemoveStore(c);
  const uint32_t stripes = StripeCount(c);
  RecordingEnv env;
  engine::EngineOptions o;
  o.path = c.StorePath();
  o.stripes = stripes;
  o.env = &env;
  o.durable = true;
  o.aggregation_bytes = c.aggregation;
  o.read_ahead_fragments = c.read_ahead;
  o.cached_read_max = c.page_cache_reads;
  o.convert_ahead_bytes = c.convert_ahead;
  o.cache_rereads = c.page_cache_rereads;
  o.average_object_size = 1 * kMiB;
  // An object lives wholly in one stripe and keys fall on stripes at random, so
  // every stripe's ring gets room for all of them: nothing is overwritten before
  // it is read back.
  const uint64_t data = uint64_t{c.large_objects} * c.large_size;
  o.size =
      (stripes * (data + data / 32 + 3 * uint64_t{o.aggregation_bytes}) + 16 * kMiB) / kMiB * kMiB;
  if (written) RETURN_IF_ERROR(PrewriteFile(o.path, o.size, c.raw_block));
  ASSIGN_OR_RETURN(auto e, engine::Engine::Open(o));
  const std::string state = written ? "written store" : "fresh store";
  const RawFigure raw_write = written ? RawFigure::kWriteOver : RawFigure::kWriteFresh;
  NoteDirectIo(c, r, env);

  const auto payload = RandomBytes(c.large_size, 11);
  auto t0 = std::chrono::steady_clock::now();
  double cpu0 = ProcessCpuSeconds();
  for (uint32_t i = 0; i < c.large_objects; i++) {
    ASSIGN_OR_RETURN(auto w, e->OpenWrite(MakeKey(2, i)));
    for (uint64_t off = 0; off < c.large_size; off += c.large_chunk) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(c.large_chunk, c.large_size - off));
      RETURN_IF_ERROR(w->Append({payload.data() + off, n}));
    }
    RETURN_IF_ERROR(w->Commit());
  }
  double write_s = SecondsSince(t0);
  double write_cpu = ProcessCpuSeconds() - cpu0;
  auto st = e->Stats();

  if (env.direct_io.load() != 1) DropFileCache(c.StorePath());
  std::vector<uint8_t> buf(c.large_chunk);
  uint64_t read_bytes = 0;
  t0 = std::chrono::steady_clock::now();
  cpu0 = ProcessCpuSeconds();
  for (uint32_t i = 0; i < c.large_objects; i++) {
    ASSIGN_OR_RETURN(auto rd, e->OpenRead(MakeKey(2, i)));
    for (uint64_t off = 0; off < rd->size();) {
      ASSIGN_OR_RETURN(size_t n, rd->Read(off, buf));
      if (n == 0) return Status::DataLoss("large object: short read");
      off += n;
      read_bytes += n;
    }
  }
  double read_s = SecondsSince(t0);
  double read_cpu = ProcessCpuSeconds() - cpu0;
  if (read_bytes != data)
    return Status::DataLoss("large object: read back fewer bytes than written");
  // Outside the timed loop: the bytes read back are the bytes written.
  {
    ASSIGN_OR_RETURN(auto rd, e->OpenRead(MakeKey(2, c.large_objects - 1)));
    for (uint64_t off = 0; off < rd->size();) {
      ASSIGN_OR_RETURN(size_t n, rd->Read(off, buf));
      if (std::memcmp(buf.data(), payload.data() + off, n) != 0) {
        return Status::DataLoss("large object: read back different bytes");
      }
      off += n;
    }
  }
  RETURN_IF_ERROR(e->Close());
  e.reset();
  RemoveStore(c);

  double wmbps = static_cast<double>(data) / 1e6 / write_s;
  double rmbps = static_cast<double>(data) / 1e6 / read_s;
  r.Add("large", "write 64 MiB objects, durable, 1 writer, " + state, "MB/s", wmbps);
  r.Add("large", "read 64 MiB objects, 1 reader, " + state, "MB/s", rmbps);
  base.Ratio("large",
             std::string("write / raw ") + (written ? "overwrite" : "fresh write") + ", " + state,
             wmbps, raw_write, Target{true, 0.85});
  base.Ratio("large", "read / raw read, " + state, rmbps, RawFigure::kRead, Target{true, 0.85});
  base.Ratio("large", "  read / raw read of fragment-sized requests, " + state, rmbps,
             RawFigure::kReadFragment);
  // CPU per GB: copies, checksums, page faults; what the engine costs besides the disk.
  r.Add("large", "  CPU seconds per GB written (process), " + state, "s",
        write_cpu / (static_cast<double>(data) / 1e9));
  r.Add("large", "  CPU seconds per GB read (process), " + state, "s",
        read_cpu / (static_cast<double>(data) / 1e9));
  r.Add("large", "  mean aggregated write, " + state, "MB",
        static_cast<double>(st.bytes_written) / 1e6 / std::max<uint64_t>(1, st.batches_written));
  r.Add("large", "  zeros converted ahead per byte written, " + state, "x",
        static_cast<double>(st.converted_bytes) / std::max<uint64_t>(1, st.bytes_written));
  return Status::Ok();
}

// 3. Small objects: 64 writers each Put() 4 KiB objects with durable commits.
// Nothing is acknowledged before fdatasync, so throughput rests on group
// commit: every writer that appended while the previous batch was being
// written and synced shares the next write and sync. Divided by raw write
// bandwidth it says how much of the disk the durable small-object path uses.
// Run on a fresh and on a fully written store, like the large objects: on a
// fresh file every fdatasync also commits the filesystem journal (extent
// conversion), on a written one it is only a device cache flush.
//
// Two kinds of writer. Threads: 64 threads each call the blocking Put(), so
// every object costs two context switches (sleep until the flush, wake).
// Async: 64 PutAsync() calls kept in flight by one thread per core, which is
// how the server's front-ends commit (CommitAsync from their event loops; no
// thread waits for a flush). The second says what the engine itself sustains.
Status RunSmallObjectPhase(const BenchConfig& c, Report& r, Baseline& base, bool written,
                           bool async) {
  RemoveStore(c);
  RecordingEnv env;
  engine::EngineOptions o;
  o.path = c.StorePath();
  o.stripes = StripeCount(c);
  o.env = &env;
  o.durable = true;
  o.aggregation_bytes = c.aggregation;
  o.size = c.small_store;
  o.average_object_size = c.small_size;
  o.convert_ahead_bytes = c.convert_ahead;
  if (written) RETURN_IF_ERROR(PrewriteFile(o.path, o.size, c.raw_block));
  ASSIGN_OR_RETURN(auto e, engine::Engine::Open(o));
  const std::string state = written ? "written store" : "fresh store";
  const RawFigure raw_write = written ? RawFigure::kWriteOver : RawFigure::kWriteFresh;
  NoteDirectIo(c, r, env);
  const auto before = e->Stats();
  // Stop before the ring wraps: this phase measures writing, not eviction.
  const uint64_t doc_bytes = engine::DocSectors(c.small_size) * engine::kSectorSize;
  const uint64_t limit = before.ring_bytes / doc_bytes * 8 / 10;

  const auto payload = RandomBytes(c.small_size, 13);
  const uint32_t threads = async ? std::min(StripeCount(c), c.small_threads) : c.small_threads;
  std::atomic<uint64_t> next{0};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0}, errors{0};
  std::vector<std::vector<double>> lat(threads);
  Status first_error;
  std::mutex err_mu;
  auto finish = [&](const Status& s) {
    if (s.ok()) {
      done.fetch_add(1, std::memory_order_relaxed);
    } else {
      errors++;
      std::lock_guard lk(err_mu);
      if (first_error.ok()) first_error = s;
    }
  };
  // Async: each submitting thread keeps its share of c.small_threads in flight.
  struct InFlight {
    std::mutex mu;
    std::condition_variable cv;
    uint32_t count = 0;
    std::vector<double> lat;  // filled by callbacks, under mu
  };
  std::vector<InFlight> flights(async ? threads : 0);
  std::vector<std::thread> pool;
  auto t0 = std::chrono::steady_clock::now();
  for (uint32_t t = 0; t < threads; t++) {
    pool.emplace_back([&, t] {
      const uint32_t share = c.small_threads / threads + (t < c.small_threads % threads);
      while (!stop.load(std::memory_order_relaxed)) {
        uint64_t i = next.fetch_add(1);
        if (i >= limit) break;
        auto p0 = std::chrono::steady_clock::now();
        if (!async) {
          Status s = e->Put(MakeKey(3, i), payload);
          lat[t].push_back(SecondsSince(p0) * 1e6);
          finish(s);
          continue;
        }
        InFlight& f = flights[t];
        {
          std::unique_lock lk(f.mu);
          f.cv.wait(lk, [&] { return f.count < share; });
          f.count++;
        }
        e->PutAsync(MakeKey(3, i), payload, engine::RecordKind::kObject, [&, p0](Status s) {
          finish(s);
          std::lock_guard lk(f.mu);
          f.lat.push_back(SecondsSince(p0) * 1e6);
          f.count--;
          f.cv.notify_one();
        });
      }
      if (async) {
        InFlight& f = flights[t];
        std::unique_lock lk(f.mu);
        f.cv.wait(lk, [&] { return f.count == 0; });
        lat[t] = std::move(f.lat);
      }
    });
  }
  while (SecondsSince(t0) < c.small_seconds && next.load() < limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  for (auto& th : pool) th.join();
  double secs = SecondsSince(t0);
  const auto after = e->Stats();
  RETURN_IF_ERROR(e->Close());
  e.reset();
  RemoveStore(c);
  if (errors > 0) return first_error.WithContext("small objects");

  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  double ops = static_cast<double>(done) / secs;
  double mbps = ops * c.small_size / 1e6;
  uint64_t batches = after.batches_written - before.batches_written;
  uint64_t syncs = after.syncs - before.syncs;
  const std::string n = std::to_string(c.small_threads);
  const std::string how = async ? n + " async in flight" : n + " writer threads";
  const std::string tag = (async ? "async, " : "threads, ") + state;
  r.Add("small", "4 KiB Put, durable, " + how + ", " + state, "/s", ops);
  r.Add("small", "4 KiB Put payload bandwidth, " + tag, "MB/s", mbps);
  base.Ratio("small",
             std::string("payload bandwidth / raw ") + (written ? "overwrite" : "fresh write") +
                 ", " + tag,
             mbps, raw_write, Target{true, 0.6});
  if (written) {
    base.Ratio("small", "  payload bandwidth / raw 256 KiB write+fdatasync loop, " + tag, mbps,
               RawFigure::kSyncWrite);
  }
  r.Add("small", "  Put latency p50, " + tag, "us", Percentile(all, 0.5));
  r.Add("small", "  Put latency p99, " + tag, "us", Percentile(all, 0.99));
  r.Add("small", "  docs per aggregated write, " + tag, "x",
        static_cast<double>(after.docs_written - before.docs_written) /
            std::max<uint64_t>(1, batches));
  r.Add("small", "  fdatasync per second, " + tag, "/s", static_cast<double>(syncs) / secs);
  r.Add("small", "  mean fdatasync time, " + tag, "us",
        static_cast<double>(after.sync_micros - before.sync_micros) / std::max<uint64_t>(1, syncs));
  r.Add("small", "  zeros converted ahead per byte written, " + tag, "x",
        static_cast<double>(after.converted_bytes - before.converted_bytes) /
            std::max<uint64_t>(1, after.bytes_written - before.bytes_written));
  r.Add("small", "  ring bytes per 4 KiB object, " + tag, "B",
        static_cast<double>(after.bytes_written - before.bytes_written) /
            std::max<uint64_t>(1, done.load()));
  return Status::Ok();
}

}  // namespace cycas::bench
