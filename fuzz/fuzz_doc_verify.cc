// fuzz_doc_verify: the engine's validation of bytes read back from disk.
//
// The first input byte picks the subject (its value modulo 3):
//   0: Doc headers and checksums (engine/doc.h).
//     * VerifyDoc / CheckDocHeader on the raw bytes, in a buffer of exactly the
//       input's size (so ASan catches any read past what was "read from disk");
//       whatever verifies must re-encode to the same bytes.
//     * EncodeDoc of a header and data taken from the input must verify, and
//       must stop verifying when any one byte of it is changed or cut off.
//   1: directory snapshots (engine/directory.h).
//     * Directory::Load on arbitrary entries for a small geometry must accept
//       exactly the well-formed ones (checked against an independent walk) and
//       never crash or loop;
//     * after a successful Load, a script of Find / Insert / Remove / Sweep /
//       clock moves from the rest of the input must keep the directory
//       consistent: an inserted entry is found, a removed one is not, Find only
//       returns live entries with the right tag and type, Sweep leaves only live
//       entries, used_entries() counts what is there, and the raw entries always
//       form a snapshot that Load accepts again.
//   2: alternates vectors (engine/alternates.h), stored as records:
//     DecodeAlternates accepts exactly one encoding of each vector, so whatever
//     it accepts re-encodes to the same bytes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/alternates.h"
#include "engine/dir_entry.h"
#include "engine/directory.h"
#include "engine/doc.h"
#include "fuzz_check.h"

namespace cycas::fuzz {
namespace {

using engine::Directory;
using engine::DirEntry;
using engine::DirGeometry;
using engine::DocHeader;
using engine::EntryType;
using engine::Key;
using engine::PackedDirEntry;
using engine::RingClock;

[[noreturn]] void Fail(const std::string& what) {
  FailIn("fuzz_doc_verify", what);
}

// Reads the input front to back; past the end it yields zeros.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  size_t left() const { return static_cast<size_t>(end_ - p_); }
  uint8_t U8() { return p_ < end_ ? *p_++ : 0; }
  uint64_t U(int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= uint64_t{U8()} << (8 * i);
    return v;
  }
  void Copy(void* out, size_t n) {
    if (n == 0) return;
    size_t k = std::min(n, left());
    if (k > 0) std::memcpy(out, p_, k);
    std::memset(static_cast<uint8_t*>(out) + k, 0, n - k);
    p_ += k;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// ---------------------------------------------------------------- Docs

void FuzzDoc(const uint8_t* data, size_t size) {
  // 1. Raw bytes as read from disk.
  {
    std::unique_ptr<uint8_t[]> buf(new uint8_t[size]);
    if (size > 0) std::memcpy(buf.get(), data, size);
    Status st = engine::VerifyDoc(buf.get(), size);
    if (size >= engine::kDocHeaderSize) {
      DocHeader h;
      std::memcpy(&h, buf.get(), sizeof h);
      auto bounded = engine::CheckDocHeader(h, size);
      auto unbounded = engine::CheckDocHeader(h, UINT64_MAX);
      if (bounded.ok()) {
        FUZZ_CHECK(unbounded.ok() && *unbounded == *bounded, "bound changes the verdict");
        FUZZ_CHECK(*bounded == engine::kDocHeaderSize + uint64_t{h.data_len}, "length");
        FUZZ_CHECK(*bounded <= size, "length past the bound");
      }
      if (st.ok()) {
        FUZZ_CHECK(bounded.ok(), "VerifyDoc accepted a header CheckDocHeader rejects");
        // Whatever verifies is exactly what EncodeDoc writes for its header and
        // data, except that EncodeDoc zeroes the reserved bytes.
        bool reserved_zero = true;
        for (uint8_t b : h.reserved) reserved_zero &= b == 0;
        if (reserved_zero) {
          std::vector<uint8_t> again(engine::DocSectors(h.data_len) * engine::kSectorSize);
          engine::EncodeDoc(h, {buf.get() + engine::kDocHeaderSize, h.data_len}, again.data());
          FUZZ_CHECK(std::memcmp(again.data(), buf.get(), *bounded) == 0,
                     "a verified Doc does not re-encode to itself");
        }
      }
    } else {
      FUZZ_CHECK(!st.ok(), "VerifyDoc accepted " + std::to_string(size) + " bytes");
    }
  }

  // 2. Encode, verify, damage.
  Reader in(data, size);
  DocHeader h;
  in.Copy(&h, sizeof h);
  h.type = static_cast<uint8_t>(1 + h.type % 5);
  const uint32_t flip = static_cast<uint32_t>(in.U(4));
  const uint8_t mask = static_cast<uint8_t>(in.U8() | 1);  // never zero
  std::vector<uint8_t> payload(in.left());
  in.Copy(payload.data(), payload.size());
  const uint64_t len = engine::kDocHeaderSize + payload.size();
  const uint64_t total = engine::DocSectors(payload.size()) * engine::kSectorSize;
  std::unique_ptr<uint8_t[]> doc(new uint8_t[total]);
  engine::EncodeDoc(h, payload, doc.get());
  Status st = engine::VerifyDoc(doc.get(), len);
  FUZZ_CHECK(st.ok(), "an encoded Doc does not verify: " + st.ToString());
  FUZZ_CHECK(engine::VerifyDoc(doc.get(), total).ok(), "padding changes the verdict");
  FUZZ_CHECK(!engine::VerifyDoc(doc.get(), len - 1).ok(), "a truncated Doc verifies");
  for (uint64_t i = len; i < total; i++) FUZZ_CHECK(doc[i] == 0, "padding is not zeroed");
  DocHeader back;
  std::memcpy(&back, doc.get(), sizeof back);
  auto checked = engine::CheckDocHeader(back, len);
  FUZZ_CHECK(checked.ok() && *checked == len, "CheckDocHeader of an encoded Doc");
  FUZZ_CHECK(back.serial == h.serial && back.cycle == h.cycle && back.key == h.key &&
                 back.first_key == h.first_key && back.total_len == h.total_len &&
                 back.type == h.type && back.flags == h.flags,
             "EncodeDoc changed a header field it should keep");
  const uint64_t at = flip % len;
  doc[at] ^= mask;
  FUZZ_CHECK(!engine::VerifyDoc(doc.get(), total).ok(),
             "a Doc with byte " + std::to_string(at) + " changed still verifies");
}

// ---------------------------------------------------------- Directory

// An independent statement of Directory::Load's contract: every bucket chain
// stays in its segment, reaches only used non-head entries, shares none with
// another chain and ends; every used non-head entry is on a chain; an unused
// head starts no chain.
bool WellFormed(const std::vector<PackedDirEntry>& entries, const DirGeometry& g) {
  const uint32_t n = g.buckets_per_segment * Directory::kDepth;
  for (uint32_t s = 0; s < g.segments; s++) {
    const PackedDirEntry* seg = entries.data() + uint64_t{s} * n;
    std::vector<bool> on_chain(n, false);
    for (uint32_t head = 0; head < n; head += Directory::kDepth) {
      if (!seg[head].used()) {
        if (seg[head].next() != 0) return false;
        continue;
      }
      uint32_t steps = 0;
      for (uint32_t i = seg[head].next(); i != 0; i = seg[i].next()) {
        if (i >= n || i % Directory::kDepth == 0 || on_chain[i] || !seg[i].used()) return false;
        on_chain[i] = true;
        if (++steps > n) return false;
      }
    }
    for (uint32_t i = 0; i < n; i++) {
      if (i % Directory::kDepth != 0 && seg[i].used() && !on_chain[i]) return false;
    }
  }
  return true;
}

uint64_t CountUsed(std::span<const PackedDirEntry> entries) {
  uint64_t used = 0;
  for (const auto& e : entries) used += e.used();
  return used;
}

// `found` came back from the directory, `inserted` went in: the length may
// have been rounded up by packing, never down.
bool SameLocation(const DirEntry& found, const DirEntry& inserted) {
  return found.offset == inserted.offset && found.sectors() >= inserted.sectors() &&
         found.sectors() == PackedDirEntry::Pack(inserted).Unpack().sectors() &&
         found.cycle == inserted.cycle && found.type == inserted.type &&
         found.multi == inserted.multi;
}

Key KeyFrom(Reader& in, std::vector<Key>& keys) {
  // Mostly a few distinct keys, so entries meet in buckets and chains; sometimes
  // raw bytes, so a key can match the tags of loaded entries.
  uint8_t sel = in.U8();
  if (sel < 0xe0 || keys.empty()) {
    Key k;
    uint64_t s = (sel % 24) * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < 4; i++) {
      s ^= s >> 31;
      s *= 0xbf58476d1ce4e5b9ull;
      s ^= s >> 29;
      std::memcpy(k.bytes.data() + 8 * i, &s, 8);
    }
    keys.push_back(k);
    return k;
  }
  Key k;
  in.Copy(k.bytes.data(), k.bytes.size());
  return k;
}

void CheckConsistent(const Directory& dir, const std::string& after) {
  auto raw = dir.raw();
  FUZZ_CHECK(CountUsed(raw) == dir.used_entries(), "used_entries() is wrong after " + after);
  std::vector<PackedDirEntry> copy(raw.begin(), raw.end());
  FUZZ_CHECK(WellFormed(copy, dir.geometry()), "chains are malformed after " + after);
  Directory again(dir.geometry());
  Status st = again.Load(raw);
  FUZZ_CHECK(st.ok(), "the directory's own entries are not a loadable snapshot after " + after +
                          ": " + st.ToString());
  FUZZ_CHECK(again.used_entries() == dir.used_entries(), "reload changes the count after " + after);
}

void FuzzDirectory(const uint8_t* data, size_t size) {
  Reader in(data, size);
  DirGeometry g;
  g.segments = 1 + in.U8() % 3;
  g.buckets_per_segment = 1 + in.U8() % 32;
  std::vector<PackedDirEntry> entries(g.entries());
  in.Copy(entries.data(), entries.size() * sizeof(PackedDirEntry));

  Directory dir(g);
  Status st = dir.Load(entries);
  const bool well_formed = WellFormed(entries, g);
  if (!st.ok()) {
    FUZZ_CHECK(!well_formed, "Load rejected a well-formed snapshot: " + st.ToString());
    // A rejected snapshot leaves the directory usable (recovery replays from empty).
    FUZZ_CHECK(dir.used_entries() == 0, "a rejected Load left entries behind");
    return;
  }
  FUZZ_CHECK(well_formed, "Load accepted a malformed snapshot");
  FUZZ_CHECK(dir.used_entries() == CountUsed(entries), "used_entries() after Load");
  for (size_t i = 0; i < entries.size(); i++) {
    if (entries[i].used()) {
      FUZZ_CHECK(std::memcmp(&entries[i], &dir.raw()[i], sizeof(PackedDirEntry)) == 0,
                 "Load changed used entry " + std::to_string(i));
    }
  }
  CheckConsistent(dir, "Load");

  RingClock clock;
  clock.cycle = 1 + in.U8();
  clock.cursor = static_cast<uint32_t>(in.U(2));
  clock.evict_end = clock.cursor + static_cast<uint32_t>(in.U(2));
  std::vector<Key> keys;
  for (int op = 0; op < 256 && !in.empty(); op++) {
    const uint8_t code = in.U8();
    const Key key = KeyFrom(in, keys);
    const auto type = static_cast<EntryType>(in.U8() % 3);
    std::string name = "op " + std::to_string(op);
    switch (code % 6) {
      case 0:
      case 1: {  // Insert a live entry, as the engine does after a write.
        DirEntry e{};
        e.offset = clock.cursor == 0 ? 0 : static_cast<uint32_t>(in.U(2)) % clock.cursor;
        e.set_sectors(1 + static_cast<uint32_t>(in.U(2)));
        e.cycle = clock.cycle & engine::kCycleMask;
        e.type = static_cast<uint64_t>(type);
        e.multi = code & 1;
        name += " (Insert)";
        (void)dir.Insert(key, e, clock);
        if (clock.IsLive([&] {
              DirEntry l = e;
              l.used = 1;
              return l;
            }())) {
          auto found = dir.Find(key, type, clock);
          FUZZ_CHECK(found && SameLocation(*found, e), "an inserted entry is not found");
        }
        break;
      }
      case 2: {
        name += " (Find)";
        auto found = dir.Find(key, type, clock);
        if (found) {
          FUZZ_CHECK(
              found->tag == Directory::TagOf(key) && found->type == static_cast<uint64_t>(type),
              "Find returned another key's entry");
          FUZZ_CHECK(clock.IsLive(*found), "Find returned a dead entry");
        }
        break;
      }
      case 3: {
        name += " (Remove)";
        (void)dir.Remove(key, type, clock);
        FUZZ_CHECK(!dir.Find(key, type, clock), "a removed entry is still found");
        break;
      }
      case 4: {
        name += " (Sweep)";
        uint64_t before = dir.used_entries();
        uint64_t removed = dir.Sweep(clock);
        FUZZ_CHECK(before - removed == dir.used_entries(), "Sweep's count");
        for (const auto& e : dir.raw()) {
          FUZZ_CHECK(!e.used() || clock.IsLive(e), "Sweep left a dead entry");
        }
        break;
      }
      case 5: {  // The writer moves on; at a wrap the engine sweeps.
        name += " (clock)";
        uint32_t step = static_cast<uint32_t>(in.U(2));
        if (step % 4 == 0) {
          clock.cycle++;
          clock.cursor = 0;
          clock.evict_end = 0;
          (void)dir.Sweep(clock);
        } else {
          clock.cursor += step;
          clock.evict_end = std::max(clock.evict_end, clock.cursor) + (step >> 8);
        }
        break;
      }
    }
    CheckConsistent(dir, name);
  }
}

// ---------------------------------------------------------- Alternates

void FuzzAlternates(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto decoded = engine::DecodeAlternates(bytes);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.status().code() == StatusCode::kDataLoss, decoded.status().ToString());
    return;
  }
  FUZZ_CHECK(decoded->size() <= 256, "more than 256 alternates");
  FUZZ_CHECK(engine::EncodeAlternates(*decoded) == bytes,
             "a decoded alternates vector does not re-encode to the same bytes");
}

// CYCAS_FUZZ_WRITE_SEEDS=<dir>: valid Docs of every type, a loadable
// directory built by real inserts, and one with a cycle in a chain.
void WriteSeeds(const std::string& dir) {
  auto write = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
    FUZZ_CHECK(f != nullptr, dir);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  };
  std::vector<Key> keys;
  for (int type = 1; type <= 5; type++) {
    DocHeader h{};
    h.type = static_cast<uint8_t>(type);
    h.serial = (uint64_t{1} << 40) + type;
    h.cycle = 1;
    std::vector<uint8_t> none;
    Reader r(none.data(), 0);
    h.key = KeyFrom(r, keys);
    h.first_key = h.key;
    std::vector<uint8_t> payload(type == 5 ? 0 : 37 * type * type, static_cast<uint8_t>(type));
    h.total_len = payload.size();
    std::vector<uint8_t> doc(engine::DocSectors(payload.size()) * engine::kSectorSize);
    engine::EncodeDoc(h, payload, doc.data());
    doc.resize(engine::kDocHeaderSize + payload.size());
    doc.insert(doc.begin(), 0);  // selector: Docs
    write("doc-type-" + std::to_string(type), doc);
  }

  DirGeometry g{2, 4};
  Directory d(g);
  RingClock clock{3, 5000, 6000};
  for (uint8_t i = 0; i < 20; i++) {
    std::vector<uint8_t> sel{i};
    Reader r(sel.data(), sel.size());
    DirEntry e{};
    e.offset = 100u * i;
    e.set_sectors(8);
    e.cycle = 3;
    e.type = i % 3;
    (void)d.Insert(KeyFrom(r, keys), e, clock);
  }
  std::vector<uint8_t> snap{1, static_cast<uint8_t>(g.segments - 1),
                            static_cast<uint8_t>(g.buckets_per_segment - 1)};
  const auto* raw = reinterpret_cast<const uint8_t*>(d.raw().data());
  snap.insert(snap.end(), raw, raw + d.raw().size_bytes());
  // Clock (cycle 3, cursor 5000, evict_end 6000), then a few operations.
  std::vector<uint8_t> script{2, 0x88, 0x13, 0xe8, 0x03, 0, 5, 1, 0x10, 0x00, 0x20, 0x00, 2, 5,
                              1, 3,    7,    0,    4,    0, 0, 5, 0,    0,    4,    0,    0};
  snap.insert(snap.end(), script.begin(), script.end());
  write("directory-loadable", snap);

  std::vector<PackedDirEntry> cyclic;
  for (const auto& p : d.raw()) cyclic.push_back(p);
  for (uint32_t i : {0u, 1u, 2u}) {
    DirEntry e = cyclic[i].Unpack();
    e.used = 1;
    e.next = i == 2 ? 1 : i + 1;
    cyclic[i] = PackedDirEntry::Pack(e);
  }
  std::vector<uint8_t> bad{1, static_cast<uint8_t>(g.segments - 1),
                           static_cast<uint8_t>(g.buckets_per_segment - 1)};
  const auto* craw = reinterpret_cast<const uint8_t*>(cyclic.data());
  bad.insert(bad.end(), craw, craw + cyclic.size() * sizeof(PackedDirEntry));
  write("directory-cycle", bad);

  std::vector<engine::Alternate> alts;
  for (const char* name : {"identity", "zstd", ""}) {
    std::vector<uint8_t> sel{static_cast<uint8_t>(alts.size() + 3)};
    Reader r(sel.data(), sel.size());
    alts.push_back({name, 1000u * (alts.size() + 1), KeyFrom(r, keys)});
  }
  std::string encoded = engine::EncodeAlternates(alts);
  std::vector<uint8_t> alt_seed{2};
  alt_seed.insert(alt_seed.end(), encoded.begin(), encoded.end());
  write("alternates-three", alt_seed);
  std::fprintf(stderr, "fuzz_doc_verify: wrote seeds to %s\n", dir.c_str());
}

}  // namespace
}  // namespace cycas::fuzz

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  if (const char* dir = std::getenv("CYCAS_FUZZ_WRITE_SEEDS")) cycas::fuzz::WriteSeeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  switch (data[0] % 3) {
    case 0:
      cycas::fuzz::FuzzDoc(data + 1, size - 1);
      break;
    case 1:
      cycas::fuzz::FuzzDirectory(data + 1, size - 1);
      break;
    case 2:
      cycas::fuzz::FuzzAlternates(data + 1, size - 1);
      break;
  }
  return 0;
}
