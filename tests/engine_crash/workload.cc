#include "workload.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "engine/doc.h"
#include "engine/layout.h"

namespace cycas::engine::crash {

EngineOptions CrashTestOptions(const std::string& path, uint64_t size) {
  EngineOptions o;
  o.path = path;
  o.size = size;
  o.stripes = kStripes;
  o.average_object_size = 2048;  // a roomy directory: no directory evictions in these runs
  o.fragment_size = kFragmentSize;
  o.aggregation_bytes = kAggregationBytes;
  o.durable = true;
  o.direct_io = true;
  o.snapshot_interval = std::chrono::milliseconds(100);
  o.copy_forward_fraction = 0;  // verification reads must not move the ring
  return o;
}

uint64_t Mix(uint64_t x) {
  // splitmix64 finaliser.
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

namespace {

Key KeyFrom(uint64_t n) {
  Key k;
  for (int i = 0; i < 4; i++) {
    uint64_t w = Mix(n * 4 + i);
    std::memcpy(k.bytes.data() + 8 * i, &w, 8);
  }
  return k;
}

std::vector<uint8_t> StreamBytes(uint64_t seed, uint64_t size) {
  std::vector<uint8_t> v(size);
  uint64_t s = Mix(seed);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    s = Mix(s);
    std::memcpy(v.data() + i, &s, 8);
  }
  s = Mix(s);
  for (; i < size; i++, s >>= 8) v[i] = static_cast<uint8_t>(s);
  return v;
}

uint64_t RecordSize(uint64_t rid, uint64_t version) {
  uint64_t h = Mix(rid * 0x100000001b3ull ^ version);
  return h % 16 == 0 ? 0 : h % 3000;
}

}  // namespace

Key ObjectKey(uint64_t id) {
  return KeyFrom(id);
}
Key RecordKey(uint64_t rid) {
  return KeyFrom(rid ^ 0x5245434f52440000ull);
}

std::vector<uint8_t> ObjectBytes(uint64_t id, uint64_t size) {
  return StreamBytes(id * 0x9e3779b97f4a7c15ull + size, size);
}

std::vector<uint8_t> RecordBytes(uint64_t rid, uint64_t version) {
  return StreamBytes(Mix(rid) ^ version, RecordSize(rid, version));
}

const char* OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kPut:
      return "put";
    case OpKind::kReput:
      return "reput";
    case OpKind::kRemove:
      return "remove";
    case OpKind::kRecordPut:
      return "rput";
    case OpKind::kRecordRemove:
      return "rremove";
  }
  return "?";
}

OpStream::OpStream(uint64_t seed, uint64_t run, uint32_t thread)
    : rng_(Mix(seed) ^ Mix(run * 1000003 + thread)), run_(run), thread_(thread) {}

Op OpStream::Next() {
  produced_++;
  Op op;
  uint32_t r = rng_() % 100;
  auto chunked = [&](uint64_t size) -> uint32_t {
    return size > 8192 && rng_() % 2 == 0 ? static_cast<uint32_t>(1 + rng_() % (64 << 10)) : 0;
  };
  if (puts_.empty() || r < 60) {
    op.kind = OpKind::kPut;
    op.id = ObjectId(run_, thread_, next_object_++);
    uint32_t s = rng_() % 100;
    if (s < 5)
      op.size = 0;
    else if (s < 35)
      op.size = 1 + rng_() % 1024;
    else if (s < 65)
      op.size = 1024 + rng_() % (15 << 10);
    else if (s < 85)
      op.size = (16 << 10) + rng_() % (48 << 10);  // 1-4 fragments
    else
      op.size = (64 << 10) + rng_() % (336 << 10);  // up to 25 fragments
    op.chunk = chunked(op.size);
    puts_.emplace_back(op.id, op.size);
  } else if (r < 75) {
    op.kind = OpKind::kRecordPut;
    op.id = uint64_t{thread_} * kRecordsPerThread + rng_() % kRecordsPerThread;
    op.version = run_ << 32 | produced_;
  } else if (r < 83) {
    op.kind = OpKind::kRemove;
    op.id = puts_[rng_() % puts_.size()].first;
  } else if (r < 89) {
    op.kind = OpKind::kReput;
    auto [id, size] = puts_[rng_() % puts_.size()];
    op.id = id;
    op.size = size;
    op.chunk = chunked(size);
  } else {
    op.kind = OpKind::kRecordRemove;
    op.id = uint64_t{thread_} * kRecordsPerThread + rng_() % kRecordsPerThread;
  }
  return op;
}

Status Execute(Engine& engine, const Op& op) {
  switch (op.kind) {
    case OpKind::kPut:
    case OpKind::kReput: {
      auto data = ObjectBytes(op.id, op.size);
      if (op.chunk == 0) return engine.Put(ObjectKey(op.id), data);
      ASSIGN_OR_RETURN(auto w, engine.OpenWrite(ObjectKey(op.id)));
      for (size_t off = 0; off < data.size(); off += op.chunk) {
        size_t n = std::min<size_t>(op.chunk, data.size() - off);
        RETURN_IF_ERROR(w->Append({data.data() + off, n}));
      }
      return w->Commit();
    }
    case OpKind::kRemove:
      return engine.Remove(ObjectKey(op.id));
    case OpKind::kRecordPut:
      return engine.Put(RecordKey(op.id), RecordBytes(op.id, op.version), RecordKind::kRecord);
    case OpKind::kRecordRemove:
      return engine.Remove(RecordKey(op.id), RecordKind::kRecord);
  }
  return Status::Internal("unknown op");
}

uint64_t RingBytesOf(const Op& op) {
  auto doc = [](uint64_t len) { return DocSectors(len) * kSectorSize + kBlockSize; };
  switch (op.kind) {
    case OpKind::kPut:
    case OpKind::kReput: {
      if (op.size <= kFragmentSize) return doc(op.size);
      uint64_t n = (op.size + kFragmentSize - 1) / kFragmentSize;
      return n * doc(kFragmentSize) + doc(8 + 16 * n);
    }
    case OpKind::kRecordPut:
      return doc(RecordBytes(op.id, op.version).size());
    default:
      return doc(0);
  }
}

std::string FormatAck(uint32_t thread, uint64_t index, const Op& op, StatusCode code) {
  char buf[160];
  uint64_t value = op.kind == OpKind::kRecordPut ? op.version : op.size;
  std::snprintf(buf, sizeof buf, "A %u %" PRIu64 " %s %" PRIu64 " %" PRIu64 " %d\n", thread, index,
                OpKindName(op.kind), op.id, value, static_cast<int>(code));
  return buf;
}

bool ParseAck(const std::string& line, AckLine* out) {
  char kind[16];
  int code = 0;
  if (std::sscanf(line.c_str(), "A %u %" SCNu64 " %15s %" SCNu64 " %" SCNu64 " %d", &out->thread,
                  &out->index, kind, &out->id, &out->value, &code) != 6) {
    return false;
  }
  bool found = false;
  for (OpKind k :
       {OpKind::kPut, OpKind::kReput, OpKind::kRemove, OpKind::kRecordPut, OpKind::kRecordRemove}) {
    if (std::strcmp(kind, OpKindName(k)) == 0) {
      out->kind = k;
      found = true;
    }
  }
  out->code = static_cast<StatusCode>(code);
  return found;
}

Positions PositionsOf(Engine& engine) {
  Positions p;
  for (const auto& s : engine.Stats().stripes) {
    p.linear.push_back(s.cycle * s.ring_sectors + s.cursor);
    p.ring.push_back(s.ring_sectors);
  }
  return p;
}

Positions FurthestWrite(const Positions& p) {
  // The batch in flight, and as many again as the engine may have written
  // since its last sync (recovery treats them all as overwritten).
  const uint64_t batch =
      (kMaxUnsyncedBatches + 1) * (kAggregationBytes / kSectorSize + kBlockSize / kSectorSize);
  Positions f = p;
  for (size_t s = 0; s < p.linear.size(); s++) {
    uint64_t cycle = p.linear[s] / p.ring[s], cursor = p.linear[s] % p.ring[s];
    // The batch in flight starts at the cursor, or at the start of the next cycle
    // when it does not fit before the end of the ring.
    f.linear[s] =
        cursor + batch > p.ring[s] ? (cycle + 1) * p.ring[s] + batch : p.linear[s] + batch;
  }
  return f;
}

Positions FreshStorePositions(uint64_t size) {
  EngineOptions o = CrashTestOptions("", size);
  Positions p;
  auto span = PlanSpan(size, o.stripes, o.average_object_size, 2ull * o.aggregation_bytes);
  for (uint32_t s = 0; s < kStripes; s++) {
    uint64_t ring = span.ok() ? GeometryOf(*span, s).content_sectors : 1;
    p.linear.push_back(ring);  // cycle 1, cursor 0
    p.ring.push_back(ring);
  }
  return p;
}

std::optional<std::vector<uint8_t>> ReadWhole(Engine& engine, const Key& key, RecordKind kind) {
  auto r = engine.OpenRead(key, kind);
  if (!r.ok()) return std::nullopt;
  std::vector<uint8_t> out((*r)->size());
  uint64_t off = 0;
  while (off < out.size()) {
    // Uneven read sizes so that reads cross fragment boundaries.
    size_t want = std::min<size_t>(out.size() - off, 5000 + off % 20000);
    auto n = (*r)->Read(off, {out.data() + off, want});
    if (!n.ok() || *n == 0) return std::nullopt;
    off += *n;
  }
  return out;
}

void VerifyReport::Add(const VerifyReport& o) {
  objects_verified += o.objects_verified;
  removed_verified += o.removed_verified;
  records_verified += o.records_verified;
  in_flight_landed += o.in_flight_landed;
  in_flight_absent += o.in_flight_absent;
  evicted += o.evicted;
  present_reads += o.present_reads;
  lost += o.lost;
  corrupt += o.corrupt;
  stale += o.stale;
  resurrected += o.resurrected;
  phantom += o.phantom;
  false_present += o.false_present;
  for (const auto& f : o.failures) {
    if (failures.size() < 20) failures.push_back(f);
  }
}

std::string VerifyReport::Summary() const {
  std::ostringstream os;
  os << "objects_verified=" << objects_verified << " removed_verified=" << removed_verified
     << " records_verified=" << records_verified << " in_flight_landed=" << in_flight_landed
     << " in_flight_absent=" << in_flight_absent << " evicted=" << evicted
     << " reads=" << present_reads << " lost=" << lost << " corrupt=" << corrupt
     << " stale=" << stale << " resurrected=" << resurrected << " phantom=" << phantom
     << " false_present=" << false_present;
  for (const auto& f : failures) os << "\n  " << f;
  return os.str();
}

Model::ObjectState& Model::Obj(const Op& op) {
  auto [it, fresh] = objects_.try_emplace(op.id);
  if (fresh) it->second.size = op.size;
  return it->second;
}

Model::RecordState& Model::Rec(uint64_t rid) {
  return records_[rid];
}

void Model::Completed(const Op& op, StatusCode code, const Positions& start) {
  bool ok = code == StatusCode::kOk;
  switch (op.kind) {
    case OpKind::kPut:
    case OpKind::kReput: {
      ObjectState& o = Obj(op);
      if (ok) {
        o.expect = Expect::kPresent;
        o.start = start;
      } else if (code == StatusCode::kAlreadyExists) {
        // The engine says it holds the object: fine unless it was removed.
        if (o.expect == Expect::kAbsent) {
          violations_.push_back("object " + std::to_string(op.id) +
                                ": put answered ALREADY_EXISTS after an acknowledged remove");
        }
        if (o.expect == Expect::kEither) o.expect = Expect::kPresent;
      } else {
        InFlight(op, start);
      }
      break;
    }
    case OpKind::kRemove:
      if (ok)
        Obj(op).expect = Expect::kAbsent;
      else
        InFlight(op, start);
      break;
    case OpKind::kRecordPut: {
      RecordState& r = Rec(op.id);
      if (!ok) {
        InFlight(op, start);
        break;
      }
      r.history.push_back(op.version);
      r.acked = op.version;
      r.start = start;
      r.maybe.clear();
      r.maybe_absent = false;
      break;
    }
    case OpKind::kRecordRemove: {
      RecordState& r = Rec(op.id);
      if (!ok) {
        InFlight(op, start);
        break;
      }
      r.acked.reset();
      r.maybe.clear();
      r.maybe_absent = false;
      break;
    }
  }
}

void Model::InFlight(const Op& op, const Positions& start) {
  switch (op.kind) {
    case OpKind::kPut:
    case OpKind::kReput: {
      ObjectState& o = Obj(op);
      if (o.expect == Expect::kAbsent) {
        o.expect = Expect::kEither;
        o.start = start;
      }
      break;
    }
    case OpKind::kRemove: {
      ObjectState& o = Obj(op);
      if (o.expect == Expect::kPresent) o.expect = Expect::kEither;
      break;
    }
    case OpKind::kRecordPut: {
      RecordState& r = Rec(op.id);
      r.history.push_back(op.version);
      r.maybe.emplace_back(op.version, start);
      break;
    }
    case OpKind::kRecordRemove:
      Rec(op.id).maybe_absent = true;
      break;
  }
}

bool Model::MustSurvive(const Positions& start, const Positions& furthest) {
  // A Doc written at linear position L is overwritten once the writer reaches L + ring.
  for (size_t s = 0; s < furthest.linear.size(); s++) {
    uint64_t from = s < start.linear.size() ? start.linear[s] : 0;
    if (from + furthest.ring[s] < furthest.linear[s]) return false;
  }
  return true;
}

void Model::Verify(Engine& engine, const Positions& furthest, VerifyReport* rep,
                   uint64_t absent_probes, std::mt19937_64& rng) {
  auto fail = [&](std::string m) {
    if (rep->failures.size() < 20) rep->failures.push_back(std::move(m));
  };
  for (auto& v : violations_) {
    rep->resurrected++;
    fail(v);
  }
  violations_.clear();

  for (auto& [id, o] : objects_) {
    Key key = ObjectKey(id);
    bool contains = engine.Contains(key);
    auto got = ReadWhole(engine, key, RecordKind::kObject);
    bool present = false;
    if (got) {
      rep->present_reads++;
      if (*got == ObjectBytes(id, o.size)) {
        present = true;
      } else {
        rep->corrupt++;
        fail("object " + std::to_string(id) + ": served " + std::to_string(got->size()) +
             " bytes that differ from the " + std::to_string(o.size) + " written");
      }
    }
    if (contains && !got) {
      rep->phantom++;
      fail("object " + std::to_string(id) + ": Contains() is true but the read fails");
    }
    switch (o.expect) {
      case Expect::kPresent:
        if (present) {
          rep->objects_verified++;
        } else if (MustSurvive(o.start, furthest)) {
          rep->lost++;
          fail("object " + std::to_string(id) + " (" + std::to_string(o.size) +
               " B, acknowledged) is missing");
        } else {
          rep->evicted++;
        }
        break;
      case Expect::kAbsent:
        if (got) {
          rep->resurrected++;
          fail("object " + std::to_string(id) + " was removed (acknowledged) but is served");
        } else {
          rep->removed_verified++;
        }
        break;
      case Expect::kEither:
        (present ? rep->in_flight_landed : rep->in_flight_absent)++;
        break;
    }
    o.expect = present ? Expect::kPresent : Expect::kAbsent;
  }

  for (auto& [rid, r] : records_) {
    Key key = RecordKey(rid);
    bool contains = engine.Contains(key, RecordKind::kRecord);
    auto got = ReadWhole(engine, key, RecordKind::kRecord);
    if (contains && !got) {
      rep->phantom++;
      fail("record " + std::to_string(rid) + ": Contains() is true but the read fails");
    }
    std::optional<uint64_t> observed;
    if (got) {
      rep->present_reads++;
      const uint64_t id = rid;  // structured bindings cannot be captured before C++20 in clang 14
      auto matches = [&](uint64_t v) { return RecordBytes(id, v) == *got; };
      if (r.acked && matches(*r.acked)) {
        observed = r.acked;
        rep->records_verified++;
      } else {
        for (auto& [v, start] : r.maybe) {
          if (matches(v)) {
            observed = v;
            r.start = start;
            rep->in_flight_landed++;
            break;
          }
        }
      }
      if (!observed) {
        auto old = std::find_if(r.history.begin(), r.history.end(), matches);
        if (old != r.history.end()) {
          rep->stale++;
          observed = *old;
          fail("record " + std::to_string(rid) + " holds version " + std::to_string(*old) +
               ", older than the acknowledged state");
        } else {
          rep->corrupt++;
          fail("record " + std::to_string(rid) + ": served a value that was never written");
        }
      }
    } else if (!r.acked) {
      rep->records_verified++;
    } else if (r.maybe_absent) {
      rep->in_flight_landed++;
    } else if (MustSurvive(r.start, furthest)) {
      rep->lost++;
      fail("record " + std::to_string(rid) + " version " + std::to_string(*r.acked) +
           " (acknowledged) is missing");
    } else {
      rep->evicted++;
    }
    r.acked = observed;
    r.maybe.clear();
    r.maybe_absent = false;
  }

  for (uint64_t i = 0; i < absent_probes; i++) {
    uint64_t id = uint64_t{1} << 63 | rng();
    if (engine.Contains(ObjectKey(id)) || engine.Contains(RecordKey(id), RecordKind::kRecord)) {
      rep->false_present++;
      fail("never-written key " + std::to_string(id) + " reported present");
    }
  }
}

}  // namespace cycas::engine::crash
