// Workload and reference model shared by the engine crash tests.
//
// A workload is a set of deterministic operation streams, one per writer
// thread, derived from (seed, run, thread): puts of new objects of mixed sizes
// (0 B to 400 KiB, many of them multi-fragment and streamed in chunks),
// re-puts, removes, and updates and removes of mutable records. Every object's
// content is a function of its id and every record value a function of
// (record id, version), so whoever replays a stream knows exactly which bytes
// each key may hold. Object and record ids are owned by one thread, so the
// operations on one key are totally ordered and at most one is in flight.
//
// The Model is the reference state: what the engine must hold for every key,
// given which operations were acknowledged, which failed and which were in
// flight when the process died or the power was cut. Verify() compares a
// freshly opened engine with it and then resolves every uncertain key to what
// was observed, so the next crash is checked strictly again.
//
// Ring wrap-around legitimately evicts old data. Each expectation remembers a
// lower bound of the ring position (per stripe, linearised as cycle * ring +
// cursor) at which its Doc was written; it must still be there while the
// writer's furthest possible position is less than one ring ahead of it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace cycas::engine::crash {

inline constexpr uint32_t kFragmentSize = 16 << 10;       // large objects have many fragments
inline constexpr uint32_t kAggregationBytes = 128 << 10;  // and span several batches
inline constexpr uint32_t kStripes = 2;

// The engine configuration every crash test uses (durable mode).
EngineOptions CrashTestOptions(const std::string& path, uint64_t size);

uint64_t Mix(uint64_t x);
Key ObjectKey(uint64_t id);
Key RecordKey(uint64_t rid);
std::vector<uint8_t> ObjectBytes(uint64_t id, uint64_t size);
std::vector<uint8_t> RecordBytes(uint64_t rid, uint64_t version);

enum class OpKind : uint8_t { kPut, kReput, kRemove, kRecordPut, kRecordRemove };
const char* OpKindName(OpKind kind);

struct Op {
  OpKind kind = OpKind::kPut;
  uint64_t id = 0;       // object id, or record id for record operations
  uint64_t size = 0;     // object size (puts)
  uint64_t version = 0;  // record version (record puts)
  uint32_t chunk = 0;    // 0: Engine::Put; else streamed with OpenWrite/Append of this size
  friend bool operator==(const Op&, const Op&) = default;
};

// Object ids: (run + 1) << 32 | thread << 24 | counter. Thread kProbeThread is the verifier's.
inline constexpr uint32_t kProbeThread = 255;
inline uint64_t ObjectId(uint64_t run, uint32_t thread, uint64_t n) {
  return (run + 1) << 32 | uint64_t{thread} << 24 | n;
}
// Record ids are per thread and live across runs: thread * 16 + [0, 16).
inline constexpr uint32_t kRecordsPerThread = 16;

class OpStream {
 public:
  OpStream(uint64_t seed, uint64_t run, uint32_t thread);
  Op Next();
  uint64_t produced() const { return produced_; }

 private:
  std::mt19937_64 rng_;
  uint64_t run_;
  uint32_t thread_;
  uint64_t produced_ = 0;
  uint64_t next_object_ = 0;
  std::vector<std::pair<uint64_t, uint64_t>> puts_;  // (id, size) put by this stream
};

// Runs one operation against the engine.
Status Execute(Engine& engine, const Op& op);
// Upper bound of the ring bytes an operation appends (for write budgets).
uint64_t RingBytesOf(const Op& op);

// Acknowledgment log lines: "A <thread> <index> <kind> <id> <size|version> <code>".
std::string FormatAck(uint32_t thread, uint64_t index, const Op& op, StatusCode code);
struct AckLine {
  uint32_t thread = 0;
  uint64_t index = 0;
  OpKind kind = OpKind::kPut;
  uint64_t id = 0;
  uint64_t value = 0;
  StatusCode code = StatusCode::kOk;
};
bool ParseAck(const std::string& line, AckLine* out);

// Ring positions of every stripe, linearised: cycle * ring_sectors + cursor.
struct Positions {
  std::vector<uint64_t> linear;
  std::vector<uint64_t> ring;  // ring sectors per stripe
};
Positions PositionsOf(Engine& engine);
// Furthest sector the engine may have written past `p` (the batch in flight,
// which may also have wrapped to the start of the next cycle).
Positions FurthestWrite(const Positions& p);
// Where the writer starts in a store of `size` bytes that does not exist yet.
Positions FreshStorePositions(uint64_t size);

// Reads a whole object; nullopt when OpenRead or any Read fails.
std::optional<std::vector<uint8_t>> ReadWhole(Engine& engine, const Key& key, RecordKind kind);

struct VerifyReport {
  uint64_t objects_verified = 0;      // required present and byte-exact
  uint64_t removed_verified = 0;      // required absent and absent
  uint64_t records_verified = 0;      // required value (or absence) found
  uint64_t in_flight_landed = 0;      // uncertain operations that turned out to have landed
  uint64_t in_flight_absent = 0;      // ... or not
  uint64_t evicted = 0;               // absent, but the ring may have overwritten it
  uint64_t present_reads = 0;         // objects/records read back whole
  uint64_t lost = 0;                  // required data missing
  uint64_t corrupt = 0;               // bytes served that match nothing ever written
  uint64_t stale = 0;                 // a record older than an acknowledged newer value
  uint64_t resurrected = 0;           // removed (acknowledged) but served
  uint64_t phantom = 0;               // Contains() true but the read fails
  uint64_t false_present = 0;         // a never-written key reported present
  std::vector<std::string> failures;  // first few messages

  void Add(const VerifyReport& o);
  bool clean() const { return lost + corrupt + stale + resurrected + false_present == 0; }
  std::string Summary() const;
};

class Model {
 public:
  // An operation that returned `code` and whose Docs were written at or after `start`.
  void Completed(const Op& op, StatusCode code, const Positions& start);
  // An operation that was started but whose outcome is unknown (in flight at the crash).
  void InFlight(const Op& op, const Positions& start);
  // Checks `engine` against the model; `furthest` bounds where the crashed writer may
  // have written (FurthestWrite of its last position). Afterwards every key's
  // expectation is what was observed.
  void Verify(Engine& engine, const Positions& furthest, VerifyReport* report,
              uint64_t absent_probes, std::mt19937_64& rng);
  void Reset() {
    objects_.clear();
    records_.clear();
    violations_.clear();
  }
  size_t objects() const { return objects_.size(); }
  size_t records() const { return records_.size(); }

 private:
  enum class Expect { kPresent, kAbsent, kEither };
  struct ObjectState {
    uint64_t size = 0;
    Expect expect = Expect::kAbsent;
    Positions start;
  };
  struct RecordState {
    std::optional<uint64_t> acked;  // nullopt: absent
    Positions start;
    std::vector<std::pair<uint64_t, Positions>> maybe;  // in-flight versions
    bool maybe_absent = false;
    std::vector<uint64_t> history;  // every version ever issued
  };
  static bool MustSurvive(const Positions& start, const Positions& furthest);
  ObjectState& Obj(const Op& op);
  RecordState& Rec(uint64_t rid);

  std::map<uint64_t, ObjectState> objects_;
  std::map<uint64_t, RecordState> records_;
  std::vector<std::string> violations_;  // seen while applying completions
};

}  // namespace cycas::engine::crash
