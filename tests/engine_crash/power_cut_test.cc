// Power-cut simulation: the store is cut at a random moment of a multi-threaded
// run (PowerCutEnv: unsynced writes lost, torn, reordered or turned into
// garbage), reopened and checked against the reference model. Every operation
// acknowledged before the cut must be there byte-exact; nothing torn is served.
// Rounds continue on the cut store, so recovery after recovery is exercised.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "engine/doc.h"
#include "engine/fault_env.h"
#include "engine/layout.h"
#include "power_cut_env.h"
#include "util/log.h"
#include "workload.h"

namespace cycas::engine::crash {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

class PowerCutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::SetLevel(log::Level::kWarn);
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    dir_ = testing::TempDir() + "/cycas_power_cut_" + std::to_string(getpid()) + "_" + name;
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  // One stripe of a 16 MiB store on `env`, snapshotting only when it must.
  EngineOptions OneStripeStore(PowerCutEnv* env) {
    EngineOptions opts = CrashTestOptions(dir_ + "/store", 16ull << 20);
    opts.stripes = 1;
    opts.env = env;
    opts.snapshot_interval = std::chrono::hours(1);
    return opts;
  }
  // Puts 10,000-byte objects 0, 1, ... until the ring has wrapped and a
  // multiple of 200 are stored, so that the cursor runs over live Docs of the
  // previous cycle. Returns how many were stored (0 if a Put failed).
  static uint64_t FillUntilWrapped(Engine& e) {
    uint64_t n = 0;
    while (e.Stats().wraps == 0 || n % 200 != 0) {
      Status st = e.Put(ObjectKey(n), ObjectBytes(n, 10'000));
      EXPECT_TRUE(st.ok()) << "object " << n << ": " << st.ToString();
      if (!st.ok()) return 0;
      n++;
    }
    return n;
  }
  std::string dir_;
};

struct Completion {
  Op op;
  StatusCode code;
  Positions start;
};

TEST_F(PowerCutTest, AcknowledgedWritesSurviveRandomPowerCuts) {
  const uint64_t rounds = EnvOr("CYCAS_POWERCUT_ROUNDS", 16);
  const uint64_t seed = EnvOr("CYCAS_POWERCUT_SEED", std::random_device{}());
  const uint64_t size = 32ull << 20;  // ~15 MiB ring per stripe: the rounds wrap it
  const uint32_t threads = 4;
  // Phantoms (Contains() true, read fails) after a torn write are a known engine
  // bug (TornBatchOverOldDataLeavesNoPhantoms): reported, fatal only on request.
  const bool strict_presence = EnvOr("CYCAS_CRASH_STRICT_PRESENCE", 1) != 0;
  std::printf("power cut: seed=%llu (CYCAS_POWERCUT_SEED) rounds=%llu\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(rounds));
  SCOPED_TRACE("CYCAS_POWERCUT_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::string store = dir_ + "/store";

  Model model;
  VerifyReport total;
  std::vector<uint64_t> recovery_us;
  uint64_t acked_before_cut = 0, pending_at_cut = 0, armed_cuts = 0;
  for (uint64_t round = 0; round < rounds; round++) {
    CutMode mode = kAllCutModes[round % std::size(kAllCutModes)];
    SCOPED_TRACE("round " + std::to_string(round) + " cut mode " + CutModeName(mode));
    PowerCutEnv env(IoEnv::Default());
    EngineOptions opts = CrashTestOptions(store, size);
    opts.env = &env;
    auto opened = Engine::Open(opts);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    std::unique_ptr<Engine> e = std::move(*opened);

    std::mutex mu;
    std::vector<std::vector<Completion>> done(threads);
    std::atomic<bool> stop{false};
    std::atomic<int64_t> budget{6 << 20};
    std::vector<std::thread> writers;
    for (uint32_t t = 0; t < threads; t++) {
      writers.emplace_back([&, t] {
        OpStream stream(seed, round, t);
        while (!stop) {
          Op op = stream.Next();
          int64_t cost = static_cast<int64_t>(RingBytesOf(op));
          if (budget.fetch_sub(cost) < cost) return;
          Positions start = PositionsOf(*e);
          Status st = Execute(*e, op);
          std::lock_guard lk(mu);
          done[t].push_back({op, st.code(), start});
        }
      });
    }
    // The cut: at a random write or sync (what was acknowledged before that
    // instant must survive it), or, if the round is quiet, at a random moment.
    std::vector<size_t> prefix(threads);
    auto note_acks = [&] {
      std::lock_guard lk(mu);
      for (uint32_t t = 0; t < threads; t++) prefix[t] = done[t].size();
    };
    env.ArmCut(1 + rng() % 150, note_acks);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1000);
    while (!env.cut_taken() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    PowerCutEnv::Image image;
    if (env.cut_taken()) {
      image = env.TakenCut();
      armed_cuts++;
    } else {
      env.ArmCut(0, nullptr);
      note_acks();
      image = env.Capture();
    }
    Positions furthest = FurthestWrite(PositionsOf(*e));
    stop = true;
    for (auto& w : writers) w.join();
    e.reset();
    pending_at_cut += image.pending.size();

    for (uint32_t t = 0; t < threads; t++) {
      for (size_t i = 0; i < done[t].size(); i++) {
        const Completion& c = done[t][i];
        if (i < prefix[t]) {
          ASSERT_TRUE(c.code == StatusCode::kOk || c.code == StatusCode::kAlreadyExists)
              << "error without a fault: " << static_cast<int>(c.code);
          model.Completed(c.op, c.code, c.start);
          acked_before_cut += c.code == StatusCode::kOk;
        } else {
          model.InFlight(c.op, c.start);  // acknowledged after the cut, or in flight
        }
      }
    }
    ASSERT_TRUE(Materialize(image, mode, rng, store).ok());

    FaultEnv fenv(IoEnv::Default());
    EngineOptions vopts = CrashTestOptions(store, size);
    vopts.env = &fenv;
    auto t0 = std::chrono::steady_clock::now();
    auto reopened = Engine::Open(vopts);
    recovery_us.push_back(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count());
    ASSERT_TRUE(reopened.ok()) << "reopen after power cut failed: " << reopened.status().ToString();
    e = std::move(*reopened);
    VerifyReport rep;
    model.Verify(*e, furthest, &rep, 100, rng);
    EXPECT_TRUE(rep.clean() && (!strict_presence || rep.phantom == 0)) << rep.Summary();
    total.Add(rep);

    // Writes work again, and are there after the next cut.
    Positions now = PositionsOf(*e);
    Op probe{OpKind::kPut, ObjectId(round, kProbeThread, 0), 70'000, 0, 0};
    ASSERT_TRUE(Execute(*e, probe).ok());
    model.Completed(probe, StatusCode::kOk, now);
    if (rng() % 2) fenv.crashed = true;
    e.reset();
  }
  std::sort(recovery_us.begin(), recovery_us.end());
  std::printf(
      "power cut summary: rounds=%llu (cut at a write or sync: %llu) acknowledged_before_cut=%llu "
      "unsynced_writes_at_cuts=%llu\n"
      "  verified: objects=%llu removed_absent=%llu records=%llu in_flight_landed=%llu "
      "in_flight_absent=%llu evicted_by_wrap=%llu\n"
      "  LOST=%llu CORRUPT_SERVED=%llu stale_records=%llu resurrected=%llu phantom=%llu\n"
      "  recovery median=%.2f ms max=%.2f ms\n",
      (unsigned long long)rounds, (unsigned long long)armed_cuts,
      (unsigned long long)acked_before_cut, (unsigned long long)pending_at_cut,
      (unsigned long long)total.objects_verified, (unsigned long long)total.removed_verified,
      (unsigned long long)total.records_verified, (unsigned long long)total.in_flight_landed,
      (unsigned long long)total.in_flight_absent, (unsigned long long)total.evicted,
      (unsigned long long)total.lost, (unsigned long long)total.corrupt,
      (unsigned long long)total.stale, (unsigned long long)total.resurrected,
      (unsigned long long)total.phantom, recovery_us[recovery_us.size() / 2] / 1000.0,
      recovery_us.back() / 1000.0);
  EXPECT_EQ(total.lost, 0u);
  EXPECT_EQ(total.corrupt, 0u);
  EXPECT_EQ(total.stale, 0u);
  EXPECT_EQ(total.resurrected, 0u);
  EXPECT_EQ(total.false_present, 0u);
  if (strict_presence) {
    EXPECT_EQ(total.phantom, 0u);
  }
  EXPECT_GT(total.objects_verified, 0u);
}

// Damage to the tail of the ring, as a crash in the middle of the last
// aggregated write leaves it (or a disk that tore it): the Docs hit are not
// served, everything before them is, and the engine goes on writing after them.
enum class TailDamage { kZeroAfterCursor, kGarbageAfterCursor, kFlipLastBatch, kZeroLastBatch };

class TornTailTest : public PowerCutTest, public ::testing::WithParamInterface<TailDamage> {};

TEST_P(TornTailTest, DamagedTailIsNeverServedAndWritesResume) {
  const uint64_t size = 32ull << 20;
  const std::string store = dir_ + "/store";
  FaultEnv env(IoEnv::Default());
  EngineOptions opts = CrashTestOptions(store, size);
  opts.env = &env;
  opts.snapshot_interval = std::chrono::hours(1);
  auto e = std::move(*Engine::Open(opts));
  auto size_of = [](uint64_t i) { return 1 + (i * 7919) % 40'000; };
  for (uint64_t i = 0; i < 40; i++)
    ASSERT_TRUE(e->Put(ObjectKey(i), ObjectBytes(i, size_of(i))).ok());
  ASSERT_TRUE(e->SnapshotAll().ok());
  Positions snap = PositionsOf(*e);
  for (uint64_t i = 40; i < 80; i++)
    ASSERT_TRUE(e->Put(ObjectKey(i), ObjectBytes(i, size_of(i))).ok());
  Positions end = PositionsOf(*e);
  env.crashed = true;
  e.reset();
  env.crashed = false;

  // Locate each stripe's ring from the span header and damage it around the cursor.
  SpanHeader span;
  {
    std::ifstream f(store, std::ios::binary);
    f.read(reinterpret_cast<char*>(&span), sizeof span);
  }
  std::fstream f(store, std::ios::in | std::ios::out | std::ios::binary);
  std::mt19937_64 rng(42);
  const uint64_t kTail = 32 << 10;
  for (uint32_t s = 0; s < span.stripe_count; s++) {
    StripeGeometry g = GeometryOf(span, s);
    uint64_t cursor = (end.linear[s] % end.ring[s]) * kSectorSize;
    ASSERT_GE(cursor - (snap.linear[s] % snap.ring[s]) * kSectorSize, 2 * kTail)
        << "the post-snapshot tail must be larger than the damage";
    uint64_t at = g.content_offset + cursor;
    std::vector<char> buf(kTail);
    switch (GetParam()) {
      case TailDamage::kZeroAfterCursor:
        f.seekp(at);
        f.write(buf.data(), 16 << 10);
        break;
      case TailDamage::kGarbageAfterCursor:
        for (auto& c : buf) c = static_cast<char>(rng());
        f.seekp(at);
        f.write(buf.data(), 16 << 10);
        break;
      case TailDamage::kFlipLastBatch:
        f.seekg(at - kTail);
        f.read(buf.data(), kTail);
        for (size_t i = 100; i < kTail; i += 512) buf[i] ^= 0x20;
        f.seekp(at - kTail);
        f.write(buf.data(), kTail);
        break;
      case TailDamage::kZeroLastBatch:
        f.seekp(at - kTail);
        f.write(buf.data(), kTail);
        break;
    }
  }
  f.close();

  bool damaged_batch =
      GetParam() == TailDamage::kFlipLastBatch || GetParam() == TailDamage::kZeroLastBatch;
  auto check = [&](Engine& eng, const char* when) {
    int served_tail = 0;
    for (uint64_t i = 0; i < 80; i++) {
      auto got = ReadWhole(eng, ObjectKey(i), RecordKind::kObject);
      if (got) {
        ASSERT_EQ(*got, ObjectBytes(i, size_of(i)))
            << when << ": object " << i << " served wrong bytes";
      } else {
        EXPECT_FALSE(eng.Contains(ObjectKey(i))) << when << ": object " << i << " phantom";
      }
      if (i < 40 || !damaged_batch) {
        EXPECT_TRUE(got.has_value()) << when << ": object " << i << " lost";
      } else {
        served_tail += got.has_value();
      }
    }
    if (damaged_batch) {
      EXPECT_LT(served_tail, 40) << when << ": the damage hit nothing";
    }
  };
  e = std::move(*Engine::Open(opts));
  check(*e, "after damage");
  for (uint64_t i = 100; i < 120; i++) {
    ASSERT_TRUE(e->Put(ObjectKey(i), ObjectBytes(i, size_of(i))).ok() || e->Contains(ObjectKey(i)));
  }
  env.crashed = true;
  e.reset();
  env.crashed = false;
  e = std::move(*Engine::Open(opts));
  check(*e, "after writing past the damage and crashing again");
  for (uint64_t i = 100; i < 120; i++) {
    EXPECT_EQ(ReadWhole(*e, ObjectKey(i), RecordKind::kObject), ObjectBytes(i, size_of(i))) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Damage, TornTailTest,
                         ::testing::Values(TailDamage::kZeroAfterCursor,
                                           TailDamage::kGarbageAfterCursor,
                                           TailDamage::kFlipLastBatch, TailDamage::kZeroLastBatch),
                         [](const auto& info) {
                           switch (info.param) {
                             case TailDamage::kZeroAfterCursor:
                               return std::string("ZeroAfterCursor");
                             case TailDamage::kGarbageAfterCursor:
                               return std::string("GarbageAfterCursor");
                             case TailDamage::kFlipLastBatch:
                               return std::string("FlipLastBatch");
                             case TailDamage::kZeroLastBatch:
                               return std::string("ZeroLastBatch");
                           }
                           return std::string("?");
                         });

// Regression test for a fixed engine bug (stripe.cc, Stripe::TakeSnapshot): a failed fdatasync in a
// directory snapshot is counted in io_errors but not in sync_failures_, which
// is what EngineWriter::DoCommit checks before acknowledging a multi-fragment
// object. Fragments written (without a sync) before the failed snapshot sync
// are dropped by the kernel, yet the object is acknowledged once its header
// Doc's own sync succeeds; after a power cut the acknowledged object is gone
// (and Contains() still says present, since the header and fragment-0 entry
// survive). Disabled until TakeSnapshot increments sync_failures_ on a failed
// Sync() (both the data sync and the snapshot sync).
TEST_F(PowerCutTest, LargeObjectAcknowledgedAfterFailedSnapshotSyncSurvivesPowerCut) {
  const uint64_t size = 32ull << 20;
  const std::string store = dir_ + "/store";
  PowerCutEnv env(IoEnv::Default());
  EngineOptions opts = CrashTestOptions(store, size);
  opts.env = &env;
  opts.snapshot_interval = std::chrono::hours(1);
  auto e = std::move(*Engine::Open(opts));
  ASSERT_TRUE(e->Put(ObjectKey(1), ObjectBytes(1, 1000)).ok());

  const uint64_t id = 77;
  auto data = ObjectBytes(id, 200'000);  // 13 fragments of 16 KiB
  auto w = std::move(*e->OpenWrite(ObjectKey(id)));
  uint64_t docs_before = e->Stats().docs_written;
  ASSERT_TRUE(w->Append({data.data(), 100'000}).ok());  // emits 6 fragments, written unsynced
  for (int i = 0; i < 200 && e->Stats().docs_written < docs_before + 6; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(e->Stats().docs_written, docs_before + 6);
  // A directory snapshot (periodic, half-ring, or this test hook: the same
  // TakeSnapshot) whose data sync fails: the fragments' pages are dropped.
  env.fail_syncs = 1;
  EXPECT_FALSE(e->SnapshotAll().ok());
  ASSERT_EQ(env.failed_syncs.load(), 1u);
  ASSERT_GT(env.lost_writes.load(), 0u);
  ASSERT_TRUE(w->Append({data.data() + 100'000, data.size() - 100'000}).ok());
  Status commit = w->Commit();
  EXPECT_FALSE(commit.ok())
      << "acknowledged a large object after a failed fdatasync covered its fragments";

  std::mt19937_64 rng(1);
  PowerCutEnv::Image image = env.Capture();
  e.reset();
  ASSERT_TRUE(Materialize(image, CutMode::kDropUnsynced, rng, store).ok());
  e = std::move(*Engine::Open(CrashTestOptions(store, size)));
  if (commit.ok()) {
    EXPECT_EQ(ReadWhole(*e, ObjectKey(id), RecordKind::kObject), data)
        << "an acknowledged object was lost in a power cut (Contains()="
        << e->Contains(ObjectKey(id)) << ")";
  }
  EXPECT_EQ(ReadWhole(*e, ObjectKey(1), RecordKind::kObject), ObjectBytes(1, 1000));
}

// Regression test for a fixed engine bug (stripe.cc, Stripe::FlusherLoop / WriteBatch): batches
// holding only fragments are written without a sync. When a later fdatasync fails, the flusher
// rewrites and re-syncs only the batch whose sync failed, not the unsynced fragment batches before
// it, which the failed sync may have dropped. That leaves a hole in the stripe's chain of Docs;
// recovery stops at the first hole, so every write acknowledged after it in that stripe (small
// objects, records, removes) is lost at the next power cut, until a snapshot is written past the
// hole. Disabled until a failed sync re-anchors the chain (for example: after any failed sync,
// write a snapshot with data sync before the next acknowledgment, or rewrite every batch since the
// last good sync).
TEST_F(PowerCutTest, WritesAcknowledgedAfterAFailedSyncSurvivePowerCut) {
  const uint64_t size = 32ull << 20;
  const std::string store = dir_ + "/store";
  PowerCutEnv env(IoEnv::Default());
  EngineOptions opts = CrashTestOptions(store, size);
  opts.env = &env;
  opts.snapshot_interval = std::chrono::hours(1);
  auto e = std::move(*Engine::Open(opts));
  ASSERT_TRUE(e->SnapshotAll().ok());

  // An upload in progress: its fragment batches are written, not yet synced.
  auto big = ObjectBytes(500, 300'000);
  auto w = std::move(*e->OpenWrite(ObjectKey(500)));
  uint64_t docs_before = e->Stats().docs_written;
  ASSERT_TRUE(w->Append({big.data(), 200'000}).ok());  // 12 fragments, both stripes see none
  for (int i = 0; i < 200 && e->Stats().docs_written < docs_before + 12; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Another client's small upload hits a failed fdatasync (it gets an error, correctly).
  env.fail_syncs = 1;
  EXPECT_FALSE(e->Put(ObjectKey(501), ObjectBytes(501, 100)).ok());
  ASSERT_GT(env.lost_writes.load(), 0u);
  // The device recovers; the stripes retry and resume without a reopen. Every
  // write below is acknowledged only after its own successful sync.
  auto put_eventually = [&](const Key& key, const std::vector<uint8_t>& v, RecordKind kind) {
    Status st;
    for (int i = 0; i < 100; i++) {
      st = e->Put(key, v, kind);
      if (st.ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return st;
  };
  for (uint64_t i = 600; i < 640; i++) {
    ASSERT_TRUE(put_eventually(ObjectKey(i), ObjectBytes(i, 2000), RecordKind::kObject).ok());
  }
  ASSERT_TRUE(put_eventually(RecordKey(7), RecordBytes(7, 1), RecordKind::kRecord).ok());
  w->Abort();

  std::mt19937_64 rng(1);
  PowerCutEnv::Image image = env.Capture();
  e.reset();
  ASSERT_TRUE(Materialize(image, CutMode::kDropUnsynced, rng, store).ok());
  e = std::move(*Engine::Open(CrashTestOptions(store, size)));
  int lost = 0;
  for (uint64_t i = 600; i < 640; i++)
    lost += !ReadWhole(*e, ObjectKey(i), RecordKind::kObject).has_value();
  EXPECT_EQ(lost, 0) << "of 40 objects acknowledged after the device recovered";
  EXPECT_EQ(ReadWhole(*e, RecordKey(7), RecordKind::kRecord), RecordBytes(7, 1));
}

// Regression test for a fixed engine bug (stripe.cc, Stripe::Recover): after replay, evict_end is
// the end of the last valid Doc. The batch that was being written at the crash started there and
// may have overwritten part of the previous cycle's Docs beyond it before it tore (power cut, or
// SIGKILL during pwrite). Their directory entries are still "live", so Contains() says present,
// every read fails validation (a miss), and a re-upload is refused with ALREADY_EXISTS, until the
// ring comes round again. Fix: in Recover(), treat the region the next batch may have reached as
// overwritten (evict_end = cursor + one aggregation buffer, wrapping as StartBuffer would), or
// validate the live Docs in that region and drop the entries that fail; and drop an entry whose Doc
// fails validation on read so that the object can be uploaded again.
TEST_F(PowerCutTest, TornBatchOverOldDataLeavesNoPhantoms) {
  PowerCutEnv env(IoEnv::Default());
  EngineOptions opts = OneStripeStore(&env);
  const std::string store = opts.path;
  auto e = std::move(*Engine::Open(opts));
  const uint64_t n = FillUntilWrapped(*e);
  ASSERT_GT(n, 0u);
  // The crash tears the next aggregated write (all fragments of a new object).
  env.ArmCut(1, nullptr);
  ASSERT_TRUE(e->Put(ObjectKey(1'000'000), ObjectBytes(1'000'000, 120'000)).ok());
  ASSERT_TRUE(env.cut_taken());
  const PowerCutEnv::Image image = env.TakenCut();
  ASSERT_EQ(image.pending.size(), 1u);
  e.reset();
  opts.env = nullptr;

  // Tear it at every 4 KiB boundary: the device wrote the first `keep` bytes.
  int phantoms = 0, stuck = 0, tears_with_phantoms = 0, phantoms_after_restart = 0;
  const PowerCutEnv::PendingWrite& w = image.pending[0];
  for (size_t keep = 4096; keep < w.data.size(); keep += 4096) {
    PowerCutEnv::Image cut;
    cut.durable = image.durable;
    std::memcpy(cut.durable.data() + w.offset, w.data.data(), keep);
    std::mt19937_64 rng(1);
    ASSERT_TRUE(Materialize(cut, CutMode::kDropUnsynced, rng, store).ok());
    e = std::move(*Engine::Open(opts));
    int here = 0;
    for (uint64_t i = 0; i < n; i++) {
      bool contains = e->Contains(ObjectKey(i));
      auto got = ReadWhole(*e, ObjectKey(i), RecordKind::kObject);
      if (got) {
        ASSERT_EQ(*got, ObjectBytes(i, 10'000)) << "wrong bytes served";
      }
      if (contains && !got) {
        here++;
        Status again = e->Put(ObjectKey(i), ObjectBytes(i, 10'000));
        stuck += again.code() == StatusCode::kAlreadyExists;
      }
    }
    phantoms += here;
    tears_with_phantoms += here > 0;
    e.reset();

    // The same tear, then a clean restart before anything has looked up the
    // objects (lookups purge dead entries on their way) or the writer has
    // passed the torn window: the window's entries must not come back live
    // with the clean snapshot.
    ASSERT_TRUE(Materialize(cut, CutMode::kDropUnsynced, rng, store).ok());
    e = std::move(*Engine::Open(opts));
    e.reset();
    e = std::move(*Engine::Open(opts));
    for (uint64_t i = 0; i < n; i++) {
      if (e->Contains(ObjectKey(i)) && !ReadWhole(*e, ObjectKey(i), RecordKind::kObject)) {
        phantoms_after_restart++;
      }
    }
    e.reset();
  }
  EXPECT_EQ(phantoms, 0) << "objects that Contains() reports present but that cannot be read, in "
                         << tears_with_phantoms << " of " << w.data.size() / 4096 << " tear points";
  EXPECT_EQ(stuck, 0) << "of those, objects whose re-upload is refused with ALREADY_EXISTS";
  EXPECT_EQ(phantoms_after_restart, 0)
      << "phantoms after a clean restart that followed the recovery";
}

// Batches holding only fragments are not synced, so a power cut can find
// several of them unsynced. The device may have written a later one but not
// an earlier one: the chain then ends before the later batch, which has
// overwritten old Docs further on than one aggregation window. Recovery must
// not serve those as present (found by AcknowledgedWritesSurviveRandomPowerCuts
// in torn-garbage mode, 5 phantoms, once in CI).
TEST_F(PowerCutTest, SeveralUnsyncedBatchesOverOldDataLeaveNoPhantoms) {
  PowerCutEnv env(IoEnv::Default());
  EngineOptions opts = OneStripeStore(&env);
  opts.convert_ahead_bytes = 0;
  const std::string store = opts.path;
  auto e = std::move(*Engine::Open(opts));
  const uint64_t n = FillUntilWrapped(*e);
  ASSERT_GT(n, 0u);
  // One upload of many batches; the cut comes at its third write, with three
  // batches of fragments written and none synced.
  env.ArmCut(3, nullptr);
  ASSERT_TRUE(e->Put(ObjectKey(1'000'000), ObjectBytes(1'000'000, 700'000)).ok());
  ASSERT_TRUE(env.cut_taken());
  const PowerCutEnv::Image image = env.TakenCut();
  ASSERT_EQ(image.pending.size(), 3u);
  e.reset();
  opts.env = nullptr;

  // The device wrote the second and third batches, not the first.
  PowerCutEnv::Image cut;
  cut.durable = image.durable;
  for (size_t i = 1; i < image.pending.size(); i++) {
    const auto& w = image.pending[i];
    std::memcpy(cut.durable.data() + w.offset, w.data.data(), w.data.size());
  }
  std::mt19937_64 rng(1);
  ASSERT_TRUE(Materialize(cut, CutMode::kDropUnsynced, rng, store).ok());
  e = std::move(*Engine::Open(opts));
  int phantoms = 0;
  for (uint64_t i = 0; i < n; i++) {
    if (e->Contains(ObjectKey(i)) && !ReadWhole(*e, ObjectKey(i), RecordKind::kObject)) phantoms++;
  }
  EXPECT_EQ(phantoms, 0) << "objects reported present whose Docs the unsynced batches overwrote";
}

// Regression test for a fixed engine bug (stripe.cc, Stripe::Open: next_serial_ = (generation of
// last_doc_serial_ + 1) << 40): the generation is not persisted. If a power cut
// loses the first batch of a session but keeps a later one (unsynced writes
// reach the device in any order), recovery finds no Doc of that session and
// the next open reuses its generation. Once the new session's Docs fill the
// gap with the same number of Docs and the same length, recovery accepts the
// stale Doc behind them as the continuation of the chain: here an
// unacknowledged record update from the lost session overwrites an
// acknowledged newer one. Fix: persist the generation before the first Doc of
// a session is written (e.g. a snapshot at open carrying the generation in
// use, and next generation = max(persisted, last Doc's) + 1).
TEST_F(PowerCutTest, StaleDocOfALostSessionIsNeverReplayed) {
  const uint64_t size = 16ull << 20;
  const std::string store = dir_ + "/store";
  EngineOptions opts = CrashTestOptions(store, size);
  opts.stripes = 1;
  opts.snapshot_interval = std::chrono::hours(1);
  const Key r = RecordKey(1);
  auto value = [](uint8_t fill, size_t n) { return std::vector<uint8_t>(n, fill); };

  // Session 1: the record's first value, acknowledged; clean close.
  {
    auto e = std::move(*Engine::Open(opts));
    ASSERT_TRUE(e->Put(r, value('a', 100), RecordKind::kRecord).ok());
    ASSERT_TRUE(e->Close().ok());
  }
  // Session 2: an upload writes one fragment batch (no sync), then an update of
  // the record is written; the power fails during that update's fdatasync.
  PowerCutEnv::Image image;
  {
    PowerCutEnv env(IoEnv::Default());
    opts.env = &env;
    auto e = std::move(*Engine::Open(opts));
    // Opening writes (and syncs) the session's generation marker.
    const uint64_t opened = env.writes.load();
    auto w = std::move(*e->OpenWrite(ObjectKey(9)));
    ASSERT_TRUE(w->Append(value('f', kFragmentSize + 1)).ok());  // emits fragment 0: 33 sectors
    for (int i = 0; i < 200 && env.writes.load() == opened; i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(env.writes.load(), opened + 1);
    env.ArmCut(2, nullptr);  // the update's write, then its sync: cut before the sync
    (void)e->Put(r, value('b', 100), RecordKind::kRecord);  // never acknowledged in the cut world
    ASSERT_TRUE(env.cut_taken());
    image = env.TakenCut();
    w->Abort();
    e.reset();
    opts.env = nullptr;
  }
  // The device kept the update's batch but not the fragment batch before it.
  ASSERT_EQ(image.pending.size(), 2u);
  const auto& kept = image.pending[1];
  std::memcpy(image.durable.data() + kept.offset, kept.data.data(), kept.data.size());
  image.pending.clear();
  std::mt19937_64 rng(1);
  ASSERT_TRUE(Materialize(image, CutMode::kDropUnsynced, rng, store).ok());

  // Session 3: recovery stops at the lost batch: the record holds 'a' (correct).
  {
    auto e = std::move(*Engine::Open(opts));
    ASSERT_EQ(ReadWhole(*e, r, RecordKind::kRecord), value('a', 100));
    // A new value, acknowledged: one Doc of 33 sectors, like the lost fragment batch.
    ASSERT_TRUE(e->Put(r, value('c', kFragmentSize), RecordKind::kRecord).ok());
    ASSERT_EQ(ReadWhole(*e, r, RecordKind::kRecord), value('c', kFragmentSize));
  }  // even a clean close: its snapshot's cursor is where the stale batch starts
  // Session 4: the acknowledged value must hold.
  auto e = std::move(*Engine::Open(opts));
  auto got = ReadWhole(*e, r, RecordKind::kRecord);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->size(), kFragmentSize) << "the acknowledged update was replaced by the never "
                                           "acknowledged value '"
                                        << static_cast<char>(got->at(0)) << "' of a lost session";
  EXPECT_EQ(got->at(0), 'c');
}

}  // namespace
}  // namespace cycas::engine::crash
