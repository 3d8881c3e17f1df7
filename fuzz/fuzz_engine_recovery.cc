// fuzz_engine_recovery: the engine's recovery code reading a damaged store.
//
// At start-up the harness builds one small store (2 MiB, one stripe) in memory
// through the real engine: fillers that bring the writer near the end of the
// ring, then objects of every kind (empty, sub-sector, exactly one sector,
// one full fragment, multi-fragment, records, tombstones), a snapshot, then
// more objects that cross the end of the ring, and finally a simulated crash
// (the closing snapshot is dropped). Recovering that image therefore loads a
// snapshot, replays Docs, and follows the ring across a wrap.
//
// Each input is a list of patches applied to a copy of that pristine image:
//   repeated { u24 where (little-endian), u8 len, len bytes }
// The low 21 bits of `where` are the byte offset (modulo the image size);
// len == 0 means "zero the 4 KiB block containing offset" (a block that was
// never written). The fuzzer can thus damage the span header, either snapshot
// copy, directory entries, Doc headers and data, as a bad disk would; all of
// that is caught by checksums. When bit 23 of `where` is set, the structure
// holding the offset (span header, snapshot copy, or the Doc around it) gets
// valid checksums again after patching, as a buggy or malicious writer would
// leave it: that reaches the validation behind the checksums (geometry,
// directory chains, cursors, serials, fragment tables).
//
// Then the engine is opened on the patched image and every key is read back.
// Promises checked (DESIGN.md §3, "Torn or stale data is never served"):
//   * Open either fails with a Status or succeeds (no crash, no hang);
//   * a read fails, or returns bytes that were committed under that key (any
//     version: a damaged tombstone or newer record may resurrect an older one),
//     never other bytes; a read that fails part way has only served a correct
//     prefix;
//   * after a successful Open, a new object can be written, read back and removed.
// The one way to get other bytes past the checksums is to forge a Doc (the
// fuzzer can learn a 64-bit checksum from the comparison that rejects it).
// Such a Doc is a valid record of the key as far as the store can tell, so a
// mismatch is only reported when the patched image holds no Doc for that key
// that is absent from the pristine image.
//
// The store lives in a MemEnv (no filesystem): an iteration takes about a
// millisecond. CYCAS_FUZZ_WRITE_SEEDS=<dir> writes the seed corpus (patch
// lists aimed at each structure of the pristine image) and continues.

#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "engine/doc.h"
#include "engine/engine.h"
#include "engine/layout.h"
#include "fuzz_check.h"
#include "mem_env.h"
#include "util/log.h"

namespace cycas::fuzz {
namespace {

using engine::DocHeader;
using engine::Engine;
using engine::Key;
using engine::RecordKind;

constexpr uint64_t kStoreBytes = 2ull << 20;
constexpr uint32_t kFragmentSize = 16 << 10;
constexpr uint32_t kAggregationBytes = 64 << 10;

[[noreturn]] void Fail(const std::string& what) {
  FailIn("fuzz_engine_recovery", what);
}

uint64_t SplitMix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

Key KeyOf(uint64_t n) {
  Key k;
  uint64_t s = n * 0x2545f4914f6cdd1dull + 7;
  for (int i = 0; i < 4; i++) {
    uint64_t w = SplitMix(s);
    std::memcpy(k.bytes.data() + 8 * i, &w, 8);
  }
  return k;
}

std::vector<uint8_t> Bytes(uint64_t seed, size_t n) {
  std::vector<uint8_t> v(n);
  uint64_t s = seed;
  for (size_t i = 0; i < n; i += 8) {
    uint64_t w = SplitMix(s);
    std::memcpy(v.data() + i, &w, std::min<size_t>(8, n - i));
  }
  return v;
}

engine::EngineOptions Options(MemEnv* env) {
  engine::EngineOptions o;
  o.path = "mem:fuzz-store";
  o.size = kStoreBytes;
  o.stripes = 1;
  o.average_object_size = 4096;
  o.fragment_size = kFragmentSize;
  o.aggregation_bytes = kAggregationBytes;
  o.durable = true;
  o.direct_io = false;
  // Snapshots only when asked for or forced by the ring, so the image is a
  // deterministic function of the writes; no background copy-forward.
  o.snapshot_interval = std::chrono::hours(24);
  o.copy_forward_fraction = 0;
  o.writer_wait = std::chrono::milliseconds(0);
  o.env = env;
  return o;
}

struct KeyInfo {
  std::string name;
  Key key;
  RecordKind kind;
  std::vector<std::vector<uint8_t>> versions;    // every value ever committed
  std::optional<std::vector<uint8_t>> at_crash;  // served just before the crash
};

struct DocAt {
  uint64_t file_offset;  // of the header
  DocHeader header;
};

struct Pristine {
  std::vector<uint8_t> image;
  std::vector<KeyInfo> keys;
  std::unordered_set<uint64_t> doc_hashes;  // of every Doc that verifies in the image
  std::vector<DocAt> docs;
  engine::StripeGeometry geo;
  engine::SnapshotHeader snapshots[2];
  uint32_t crash_cursor = 0;  // the writer's position (sectors) at the crash
};

// Every Doc that verifies at a 512-byte boundary of `img`. Docs only ever sit
// at such offsets (the ring starts 4 KiB aligned), whatever the span header says.
template <typename Fn>
void ForEachDoc(const std::vector<uint8_t>& img, Fn fn) {
  for (uint64_t off = 0; off + engine::kDocHeaderSize <= img.size(); off += engine::kSectorSize) {
    uint32_t magic;
    std::memcpy(&magic, img.data() + off, 4);
    if (magic != engine::kDocMagic) continue;
    if (!engine::VerifyDoc(img.data() + off, img.size() - off).ok()) continue;
    DocHeader h;
    std::memcpy(&h, img.data() + off, sizeof h);
    fn(off, h);
  }
}

uint64_t DocHash(const std::vector<uint8_t>& img, uint64_t off, const DocHeader& h) {
  return XXH3_64bits(img.data() + off, engine::kDocHeaderSize + uint64_t{h.data_len});
}

// Builds the pristine store. Returns false if the engine's batching came out
// differently from the plan (a scheduling accident; the caller retries), so
// that the image, and hence every saved input, is the same on every run.
class Builder {
 public:
  explicit Builder(Pristine* p) : p_(p) {}

  bool Build() {
    p_->keys.reserve(kMaxKeys);  // Info() hands out references into it
    auto opened = Engine::Open(Options(&env_));
    FUZZ_CHECK(opened.ok(), opened.status().ToString());
    e_ = std::move(*opened);
    ring_sectors_ = e_->Stats().stripes[0].ring_sectors;
    const uint32_t batch = 32;  // sectors of one 16000-byte filler (one Doc), 4 KiB aligned

    // Fillers: bring the writer close to the end of the ring (forcing a few
    // snapshots on the way); the first ones are overwritten after the wrap.
    for (int i = 0; Cursor() + batch + 560 <= ring_sectors_; i++) {
      Put("filler-" + std::to_string(i), RecordKind::kObject, Bytes(1000 + i, 16000));
    }
    // Phase A: covered by the snapshot below.
    Put("a-empty", RecordKind::kObject, {});
    Put("a-1", RecordKind::kObject, Bytes(2, 1));
    Put("a-384", RecordKind::kObject, Bytes(3, 384));  // header + data = exactly one sector
    Put("a-3000", RecordKind::kObject, Bytes(4, 3000));
    Put("a-4096", RecordKind::kObject, Bytes(5, 4096));
    Put("a-16k", RecordKind::kObject, Bytes(6, kFragmentSize));  // one full fragment, one Doc
    Put("r1", RecordKind::kRecord, Bytes(7, 100));
    Put("r2", RecordKind::kRecord, Bytes(8, 64));
    Put("a-removed", RecordKind::kObject, Bytes(9, 500));
    Remove("a-removed", RecordKind::kObject);
    if (!PutMulti("a-multi", Bytes(10, 40000), "a-plug")) return false;
    FUZZ_CHECK(e_->SnapshotAll().ok(), "snapshot");

    // Phase B: replayed from the ring; crosses its end.
    Put("r1", RecordKind::kRecord, Bytes(11, 120));
    Remove("a-3000", RecordKind::kObject);
    if (!PutMulti("b-multi", Bytes(12, 33000), "b-plug")) return false;
    for (int i = 0; e_->Stats().wraps == 0; i++) {
      FUZZ_CHECK(i < 100, "the ring never wrapped");
      Put("b-" + std::to_string(i), RecordKind::kObject, Bytes(100 + i, 8000));
    }
    Put("c-2000", RecordKind::kObject, Bytes(13, 2000));
    Put("r2", RecordKind::kRecord, Bytes(14, 80));
    if (!PutMulti("c-multi", Bytes(15, 50000), "c-plug")) return false;
    Remove("a-1", RecordKind::kObject);
    Put("c-1", RecordKind::kObject, Bytes(16, 1));

    // What a client could read at the instant of the crash.
    for (auto& k : p_->keys) k.at_crash = ReadAll(*e_, k.key, k.kind);
    p_->crash_cursor = Cursor();
    env_.crashed = true;  // the closing snapshot never reaches the disk
    (void)e_->Close();
    e_.reset();
    p_->image = env_.Image();
    return true;
  }

 private:
  uint32_t Cursor() { return e_->Stats().stripes[0].cursor; }

  KeyInfo& Info(const std::string& name, RecordKind kind) {
    for (auto& k : p_->keys) {
      if (k.name == name) return k;
    }
    FUZZ_CHECK(p_->keys.size() < kMaxKeys, "too many keys");
    p_->keys.push_back(KeyInfo{name, KeyOf(p_->keys.size() + 1), kind, {}, std::nullopt});
    return p_->keys.back();
  }

  void Put(const std::string& name, RecordKind kind, std::vector<uint8_t> data) {
    KeyInfo& k = Info(name, kind);
    Status st = e_->Put(k.key, data, kind);
    FUZZ_CHECK(st.ok(), name + ": " + st.ToString());
    k.versions.push_back(std::move(data));
  }

  void Remove(const std::string& name, RecordKind kind) {
    Status st = e_->Remove(Info(name, kind).key, kind);
    FUZZ_CHECK(st.ok(), name + ": " + st.ToString());
  }

  // Writes a multi-fragment object so that all its fragments and its header
  // Doc land in one aggregated write: the flusher is held inside the write of
  // a small "plug" object while the object is queued behind it.
  bool PutMulti(const std::string& name, std::vector<uint8_t> data, const std::string& plug) {
    KeyInfo& pk = Info(plug, RecordKind::kObject);
    std::vector<uint8_t> plug_data = Bytes(pk.key.Word(0), 1000);
    env_.TakeWrites();
    env_.Hold();
    Status plug_st;
    std::thread p([&] { plug_st = e_->Put(pk.key, plug_data); });
    while (env_.stalled() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    Key key = Info(name, RecordKind::kObject).key;
    auto w = e_->OpenWrite(key);
    FUZZ_CHECK(w.ok(), w.status().ToString());
    FUZZ_CHECK((*w)->Append(data).ok(), name);
    Status commit_st;
    std::thread c([&] { commit_st = (*w)->Commit(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    env_.Release();
    p.join();
    c.join();
    FUZZ_CHECK(plug_st.ok(), plug_st.ToString());
    FUZZ_CHECK(commit_st.ok(), commit_st.ToString());
    pk.versions.push_back(std::move(plug_data));

    // Expect exactly two ring writes: the plug, then every fragment plus the header.
    uint64_t frags = 0, n = 0;
    for (uint64_t off = 0; off < data.size(); off += kFragmentSize, n++) {
      frags += engine::DocSectors(std::min<uint64_t>(kFragmentSize, data.size() - off));
    }
    uint64_t object_bytes =
        engine::AlignUp((frags + engine::DocSectors(8 + 16 * n)) * engine::kSectorSize, 4096);
    uint64_t plug_bytes = engine::AlignUp(engine::DocSectors(1000) * engine::kSectorSize, 4096);
    std::vector<uint64_t> ring_writes;
    for (auto [off, len] : env_.TakeWrites()) {
      if (off >= ring_offset_min_) ring_writes.push_back(len);
    }
    Info(name, RecordKind::kObject).versions.push_back(std::move(data));
    return ring_writes == std::vector<uint64_t>{plug_bytes, object_bytes};
  }

 public:
  static std::optional<std::vector<uint8_t>> ReadAll(Engine& e, const Key& key, RecordKind kind) {
    auto r = e.OpenRead(key, kind);
    if (!r.ok()) return std::nullopt;
    std::vector<uint8_t> out((*r)->size());
    for (uint64_t off = 0; off < out.size();) {
      auto n = (*r)->Read(off, {out.data() + off, out.size() - off});
      if (!n.ok() || *n == 0) return std::nullopt;
      off += *n;
    }
    return out;
  }

 private:
  static constexpr size_t kMaxKeys = 256;
  Pristine* p_;
  MemEnv env_;
  std::unique_ptr<Engine> e_;
  uint32_t ring_sectors_ = 0;
  // Snapshot copies are smaller than this for the planned geometry; the ring follows.
  static constexpr uint64_t ring_offset_min_ = 4096 + 2 * 12288;
};

std::string Hex(const Key& k) {
  return k.ShortHex();
}

Pristine* g_pristine = nullptr;
MemEnv* g_env = nullptr;

void Describe(const Pristine& p) {
  std::fprintf(stderr,
               "fuzz_engine_recovery: pristine store of %zu bytes (xxh3 %016llx): ring at byte "
               "%llu, %u sectors; "
               "%zu Docs, %zu keys; snapshots serial %llu (cursor %u, cycle %llu) and %llu "
               "(cursor %u, cycle %llu)\n",
               p.image.size(), (unsigned long long)XXH3_64bits(p.image.data(), p.image.size()),
               (unsigned long long)p.geo.content_offset, p.geo.content_sectors, p.docs.size(),
               p.keys.size(), (unsigned long long)p.snapshots[0].serial, p.snapshots[0].cursor,
               (unsigned long long)p.snapshots[0].cycle, (unsigned long long)p.snapshots[1].serial,
               p.snapshots[1].cursor, (unsigned long long)p.snapshots[1].cycle);
}

// Patch-list encoding, for the seeds.
void AddPatch(std::string* out, uint64_t offset, const std::vector<uint8_t>& bytes) {
  out->push_back(static_cast<char>(offset & 0xff));
  out->push_back(static_cast<char>((offset >> 8) & 0xff));
  out->push_back(static_cast<char>((offset >> 16) & 0xff));
  out->push_back(static_cast<char>(bytes.size()));
  out->append(bytes.begin(), bytes.end());
}
void AddZeroBlock(std::string* out, uint64_t offset) {
  AddPatch(out, offset, {});
}
void AddResealedPatch(std::string* out, uint64_t offset, const std::vector<uint8_t>& bytes) {
  AddPatch(out, offset | (uint64_t{1} << 23), bytes);
}

void WriteSeeds(const Pristine& p, const std::string& dir) {
  std::map<std::string, std::string> seeds;
  seeds["pristine"] = "";
  AddZeroBlock(&seeds["span-header-zeroed"], 0);
  AddPatch(&seeds["span-header-stripe-count"], offsetof(engine::SpanHeader, stripe_count), {2});
  const int newest = p.snapshots[0].serial > p.snapshots[1].serial ? 0 : 1;
  const uint64_t snap_new = p.geo.SnapshotOffset(newest),
                 snap_old = p.geo.SnapshotOffset(1 - newest);
  AddPatch(&seeds["newest-snapshot-serial"], snap_new + offsetof(engine::SnapshotHeader, serial),
           {0xff});
  AddPatch(&seeds["newest-snapshot-entry"], snap_new + 4096 + 16 * 5, {0x01, 0x02, 0x03, 0x04});
  AddZeroBlock(&seeds["both-snapshots-zeroed"], snap_new);
  AddZeroBlock(&seeds["both-snapshots-zeroed"], snap_old);
  AddPatch(&seeds["oldest-snapshot-cursor"], snap_old + offsetof(engine::SnapshotHeader, cursor),
           {0x10, 0x00});
  // Docs after the newest snapshot's cursor are the ones replayed.
  const uint64_t ring = p.geo.content_offset;
  const uint64_t replay_from = ring + uint64_t{p.snapshots[newest].cursor} * engine::kSectorSize;
  const DocAt* first_replayed = nullptr;
  const DocAt* multi_header = nullptr;
  const DocAt* fragment = nullptr;
  for (const auto& d : p.docs) {
    if (d.file_offset >= replay_from && first_replayed == nullptr) first_replayed = &d;
    if (d.header.type == static_cast<uint8_t>(engine::DocType::kObjectHeader) && !multi_header) {
      multi_header = &d;
    }
    if (d.header.type == static_cast<uint8_t>(engine::DocType::kFragment) && !fragment)
      fragment = &d;
  }
  if (first_replayed) {
    AddPatch(&seeds["replayed-doc-data"], first_replayed->file_offset + 200, {0x5a});
    AddPatch(&seeds["replayed-doc-serial"],
             first_replayed->file_offset + offsetof(DocHeader, serial), {0x07});
  }
  if (multi_header) {
    AddPatch(&seeds["multi-header-table"], multi_header->file_offset + engine::kDocHeaderSize + 8,
             {0xff, 0xff});
  }
  if (fragment) {
    AddPatch(&seeds["fragment-data"], fragment->file_offset + engine::kDocHeaderSize + 1000, {0});
  }
  AddZeroBlock(&seeds["ring-start-zeroed"], ring);
  // Resealed: damage only the engine's own validation can catch.
  AddResealedPatch(&seeds["resealed-span-geometry"], offsetof(engine::SpanHeader, dir_segments),
                   {2});
  AddResealedPatch(&seeds["resealed-snapshot-cursor"],
                   snap_new + offsetof(engine::SnapshotHeader, cursor), {0x00, 0x01});
  // The first used entry of the newest snapshot, pointed elsewhere. (Giving it
  // a huge length instead, at at + 7, is regressions/.../huge-directory-entry-length.)
  for (uint64_t i = 0; i < p.geo.dir.entries(); i++) {
    engine::PackedDirEntry e;
    const uint64_t at = snap_new + engine::kBlockSize + i * sizeof e;
    std::memcpy(&e, p.image.data() + at, sizeof e);
    if (!e.used()) continue;
    AddResealedPatch(&seeds["resealed-snapshot-entry-offset"], at + 8, {0x08, 0x00});
    break;
  }
  if (first_replayed) {
    AddResealedPatch(&seeds["resealed-replayed-doc-type"],
                     first_replayed->file_offset + offsetof(DocHeader, type), {3});
  }
  if (multi_header) {
    AddResealedPatch(&seeds["resealed-multi-header-table"],
                     multi_header->file_offset + engine::kDocHeaderSize, {0x09, 0x00, 0x00, 0x00});
  }  // where replay continues after the wrap
  for (const auto& [name, bytes] : seeds) {
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
  }
  std::fprintf(stderr, "fuzz_engine_recovery: wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
}

void Init() {
  log::SetLevel(log::Level::kOff);
  for (int attempt = 0;; attempt++) {
    FUZZ_CHECK(attempt < 5, "could not lay out the pristine store deterministically");
    g_pristine = new Pristine();
    if (Builder(g_pristine).Build()) break;
    delete g_pristine;
  }
  Pristine& p = *g_pristine;
  engine::SpanHeader sh;
  std::memcpy(&sh, p.image.data(), sizeof sh);
  FUZZ_CHECK(engine::CheckSpanHeader(sh, p.image.size()).ok(), "pristine span header");
  FUZZ_CHECK(sh.stripe_count == 1, "one stripe");
  p.geo = engine::GeometryOf(sh, 0);
  for (int c = 0; c < 2; c++) {
    std::memcpy(&p.snapshots[c], p.image.data() + p.geo.SnapshotOffset(c), sizeof p.snapshots[c]);
  }
  ForEachDoc(p.image, [&](uint64_t off, const DocHeader& h) {
    p.docs.push_back({off, h});
    p.doc_hashes.insert(DocHash(p.image, off, h));
  });

  // The pristine image must recover what was readable at the crash, except
  // that after an unclean stop recovery treats the aggregation windows after
  // the writer's position as overwritten (the batches not yet synced, up to
  // kMaxUnsyncedBatches, and the one in flight): objects with a Doc there may
  // be lost, and only those. When those windows pass the end of the ring the
  // writer goes on at sector 0 of the next cycle, so the rest of this pass and
  // the same number of sectors at the start may be lost.
  const uint64_t ring = p.geo.content_sectors;
  const uint64_t guard =
      (engine::kMaxUnsyncedBatches + 1) *
      (kAggregationBytes / engine::kSectorSize + engine::kBlockSize / engine::kSectorSize);
  const bool wraps = p.crash_cursor + guard > ring;
  auto in_guard = [&](uint64_t from, uint64_t to) {
    if (!wraps) return to > p.crash_cursor && from < p.crash_cursor + guard;
    return to > p.crash_cursor || from < guard;
  };
  auto may_be_lost = [&](const Key& key) {
    for (const auto& d : p.docs) {
      const uint64_t sector = (d.file_offset - p.geo.content_offset) / engine::kSectorSize;
      const uint64_t end = sector + engine::DocSectors(d.header.data_len);
      if ((d.header.key == key || d.header.first_key == key) && in_guard(sector, end)) {
        return true;
      }
    }
    return false;
  };
  g_env = new MemEnv();
  g_env->SetImage(p.image);
  auto e = Engine::Open(Options(g_env));
  FUZZ_CHECK(e.ok(), "pristine store does not open: " + e.status().ToString());
  auto stats = (*e)->Stats();
  std::string lost;
  for (const auto& k : p.keys) {
    auto got = Builder::ReadAll(**e, k.key, k.kind);
    FUZZ_CHECK(got == k.at_crash || (!got && may_be_lost(k.key)),
               "pristine recovery: key " + k.name + " (" + Hex(k.key) +
                   ") reads differently after the crash");
    if (got != k.at_crash) lost += " " + k.name;
  }
  FUZZ_CHECK(stats.replayed_docs > 0 && stats.stripes[0].cycle == 2,
             "pristine recovery should replay across the wrap");
  (void)(*e)->Close();
  if (std::getenv("CYCAS_FUZZ_VERBOSE") != nullptr) {
    Describe(p);
    std::fprintf(stderr, "fuzz_engine_recovery: crash cursor %u; lost by the recovery guard:%s\n",
                 p.crash_cursor, lost.empty() ? " none" : lost.c_str());
  }
  if (const char* path = std::getenv("CYCAS_FUZZ_DUMP_IMAGE")) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(p.image.data()),
               static_cast<std::streamsize>(p.image.size()));
  }
  if (const char* dir = std::getenv("CYCAS_FUZZ_WRITE_SEEDS")) WriteSeeds(p, dir);
}

// True if `img` holds a Doc of `key` (as its key or the object it is a
// fragment of) that verifies and is not one of the pristine image's Docs.
bool HasForeignDoc(const std::vector<uint8_t>& img, const Key& key) {
  bool found = false;
  ForEachDoc(img, [&](uint64_t off, const DocHeader& h) {
    if ((h.key == key || h.first_key == key) &&
        !g_pristine->doc_hashes.contains(DocHash(img, off, h))) {
      found = true;
    }
  });
  return found;
}

std::string Where(const KeyInfo& k) {
  return "key " + k.name + " (" + Hex(k.key) + ")";
}

// Reads `k` back and checks that nothing but committed bytes are served.
template <typename ImageFn>
void CheckKey(Engine& e, const KeyInfo& k, ImageFn image) {
  (void)e.Contains(k.key, k.kind);
  auto r = e.OpenRead(k.key, k.kind);
  if (!r.ok()) return;  // a miss is always allowed
  const uint64_t size = (*r)->size();
  std::vector<const std::vector<uint8_t>*> candidates;
  for (const auto& v : k.versions) {
    if (v.size() == size) candidates.push_back(&v);
  }
  if (candidates.empty()) {
    if (HasForeignDoc(image(), k.key)) {
      // Served from a forged Doc, so any bytes are acceptable; reading must
      // still be memory-safe, whatever size and fragment table it claims.
      std::vector<uint8_t> buf(4096);
      for (uint64_t at : {uint64_t{0}, size / 3, size / 2, size - 1, size - 5000}) {
        if (at < size) (void)(*r)->Read(at, buf);
      }
      return;
    }
    Fail(Where(k) + ": served an object of " + std::to_string(size) +
         " bytes, but no version of that size was ever committed");
  }
  // Read in odd-sized pieces, so reads straddle fragment boundaries.
  std::vector<uint8_t> got(size);
  uint64_t done = 0;
  while (done < size) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(7000, size - done));
    auto n = (*r)->Read(done, {got.data() + done, want});
    if (!n.ok()) break;  // a failed read is a miss; what came before is checked below
    if (*n == 0)
      Fail(Where(k) + ": Read returned 0 bytes at offset " + std::to_string(done) + " of " +
           std::to_string(size));
    FUZZ_CHECK(*n <= want, Where(k) + ": Read returned more than asked for");
    done += *n;
  }
  got.resize(done);
  FUZZ_CHECK(got.size() <= size, Where(k));
  for (const auto* v : candidates) {
    if (std::equal(got.begin(), got.end(), v->begin())) return;
  }
  if (HasForeignDoc(image(), k.key)) return;
  size_t first_diff = 0;
  while (first_diff < got.size() && got[first_diff] == (*candidates.back())[first_diff])
    first_diff++;
  Fail(Where(k) + ": served " + std::to_string(got.size()) + " of " + std::to_string(size) +
       " bytes that match no committed version (first difference from the latest at byte " +
       std::to_string(first_diff) + ")");
}

// Gives the structure holding `off` valid checksums again (see the top of the
// file). Positions are those of the pristine layout.
void Reseal(std::vector<uint8_t>& img, uint64_t off) {
  const engine::StripeGeometry& geo = g_pristine->geo;
  if (off < engine::kBlockSize) {
    engine::SpanHeader h;
    std::memcpy(&h, img.data(), sizeof h);
    engine::SealSpanHeader(&h);
    std::memcpy(img.data(), &h, sizeof h);
    return;
  }
  for (int copy = 0; copy < 2; copy++) {
    const uint64_t at = geo.SnapshotOffset(copy);
    if (off < at || off >= at + geo.snapshot_bytes) continue;
    engine::SnapshotHeader h;
    std::memcpy(&h, img.data() + at, sizeof h);
    const uint64_t max_entries =
        (geo.snapshot_bytes - engine::kBlockSize) / sizeof(engine::PackedDirEntry);
    h.entries_checksum =
        engine::ChecksumOf(img.data() + at + engine::kBlockSize,
                           std::min(h.entry_count, max_entries) * sizeof(engine::PackedDirEntry));
    h.checksum = 0;
    h.checksum = engine::ChecksumOf(&h, sizeof h);
    std::memcpy(img.data() + at, &h, sizeof h);
    return;
  }
  if (off < geo.content_offset) return;
  // The nearest Doc header at or before `off` whose extent covers it.
  const uint64_t first = geo.content_offset;
  for (uint64_t s = engine::AlignDown(off, engine::kSectorSize);
       s >= first && off - s <= kAggregationBytes; s -= engine::kSectorSize) {
    DocHeader h;
    std::memcpy(&h, img.data() + s, sizeof h);
    if (h.magic == engine::kDocMagic && h.header_len == engine::kDocHeaderSize &&
        s + engine::kDocHeaderSize + uint64_t{h.data_len} > off &&
        s + engine::DocSectors(h.data_len) * engine::kSectorSize <= img.size()) {
      std::vector<uint8_t> doc(engine::DocSectors(h.data_len) * engine::kSectorSize);
      engine::EncodeDoc(h, {img.data() + s + engine::kDocHeaderSize, h.data_len}, doc.data());
      std::memcpy(img.data() + s, doc.data(), engine::kDocHeaderSize + uint64_t{h.data_len});
      return;
    }
    if (s == first) break;
  }
}

// Applies the input's patch list to `img` (see the top of the file).
void ApplyPatches(const uint8_t* data, size_t size, std::vector<uint8_t>& img) {
  std::vector<uint64_t> reseal;
  for (size_t i = 0; i + 4 <= size;) {
    const uint64_t where =
        uint64_t{data[i]} | uint64_t{data[i + 1]} << 8 | uint64_t{data[i + 2]} << 16;
    const uint64_t off = (where & ((uint64_t{1} << 21) - 1)) % img.size();
    if (where & (uint64_t{1} << 23)) reseal.push_back(off);
    size_t len = data[i + 3];
    i += 4;
    if (len == 0) {
      uint64_t block = engine::AlignDown(off, 4096);
      std::memset(img.data() + block, 0, std::min<uint64_t>(4096, img.size() - block));
      continue;
    }
    len = std::min<size_t>({len, size - i, img.size() - off});
    std::memcpy(img.data() + off, data + i, len);
    i += len;
  }
  for (uint64_t off : reseal) Reseal(img, off);
}

void RunOne(const uint8_t* data, size_t size) {
  const Pristine& p = *g_pristine;
  // The engine writes into the env's image; the oracle wants the patched image
  // as it was before, which is rebuilt only in the rare case it is needed.
  auto patched = [&] {
    std::vector<uint8_t> img = p.image;
    ApplyPatches(data, size, img);
    return img;
  };
  g_env->CopyImage(p.image);
  g_env->Edit([&](std::vector<uint8_t>& img) { ApplyPatches(data, size, img); });
  g_env->crashed = false;
  auto opened = Engine::Open(Options(g_env));
  if (!opened.ok()) return;  // refusing a damaged store is fine
  Engine& e = **opened;
  for (const auto& k : p.keys) CheckKey(e, k, patched);

  // The recovered store must take new writes and serve them back.
  const Key fresh = KeyOf(0xf0f0f0f0);
  const std::vector<uint8_t> value = Bytes(0xf0f0f0f0, 2500);
  if (e.Put(fresh, value).ok()) {
    auto got = Builder::ReadAll(e, fresh, RecordKind::kObject);
    if (got != value && !HasForeignDoc(patched(), fresh)) {
      Fail("an object written after recovery " +
           std::string(got ? "reads back different bytes" : "cannot be read back"));
    }
    // ... and removed again.
    if (e.Remove(fresh).ok()) {
      FUZZ_CHECK(!e.OpenRead(fresh).ok(), "an object removed after recovery is still served");
    }
  }
  (void)e.Stats();
  (void)e.Close();
}

}  // namespace
}  // namespace cycas::fuzz

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  cycas::fuzz::Init();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cycas::fuzz::RunOne(data, size);
  return 0;
}
