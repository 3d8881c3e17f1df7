// GrpcFixture: the real REAPI and zako services over a RAM-only CAS, served
// in-process, for the gRPC fuzz targets (fuzz_reapi_services, fuzz_zako_services).
//
// Built once per process (the first call to GrpcFixture::Get) and never torn
// down: libFuzzer exits with the server still running, and joining gRPC's
// threads at exit would only add ways to hang. The stores are the production
// classes: CasStore over a TieredBlobStore whose RAM tier and "local" tier are
// both MemoryBlobStores (no engine, no disk), an ActionCache over an in-memory
// RecordStore, and the services built from the server's own option table
// (src/server/options.cc) through ReapiServices::Create and
// ZakoFrontend::Create, as server.cc wires them, with the defaults except:
// Transport served by the main server, a 64 MiB upload spool, and gRPC worker
// threads kept (grpc_fixture.cc says why). The only files are the ByteStream
// upload spool's, in a private temporary directory removed at exit.
//
// Calls go through generated stubs, so every request is serialized, parsed by
// the server's generated code and handed to the handler exactly as a network
// request is: over grpc::Server::InProcessChannel (no sockets), except the
// calls where the client streams, which use a loopback listener (see
// stream_channel).
//
// Known content (for seeds that hit real data, not only misses): a small blob
// under SHA-256 and under BLAKE3, a two-level Directory tree (and its Tree
// message), and an action whose ActionResult references the blob.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "digest/digest.h"
#include "fuzz_check.h"

namespace cycas::fuzz {

struct GrpcFixture {
  static GrpcFixture& Get();

  // In-process: unary and server-streaming calls.
  std::shared_ptr<grpc::Channel> channel;
  // Loopback TCP (127.0.0.1, a port picked at start): calls where the client
  // streams. Over the in-process transport a client's write completes only
  // when the handler reads it, so a handler that answers before reading every
  // message (an error, or ByteStream's "blob already stored") deadlocks with
  // the client's pending write (gRPC 1.51); HTTP/2's flow-control window
  // takes the few KiB of a fuzz input instead, as it does for real clients.
  std::shared_ptr<grpc::Channel> stream_channel;

  // A live Transport token; renewed through GetTransportDetails when it gets old.
  std::string Token();

  // Present in the CAS (the CAS layer, not through the services).
  bool Contains(const Digest& digest);

  // Known content.
  std::string blob;  // bytes of blob_sha256 / blob_blake3
  Digest blob_sha256 = EmptyDigest(DigestFunction::kSha256);
  Digest blob_blake3 = EmptyDigest(DigestFunction::kBlake3);
  Digest tree_root = EmptyDigest(DigestFunction::kSha256);  // Directory with a subdirectory
  Digest tree = EmptyDigest(DigestFunction::kSha256);       // Tree of tree_root
  Digest action = EmptyDigest(DigestFunction::kSha256);     // has an ActionResult in ""
};

// A client context with a deadline: a handler that blocks longer is a finding.
std::unique_ptr<grpc::ClientContext> NewContext();
inline constexpr std::chrono::seconds kCallDeadline{15};

// Aborts (a finding) unless `status` is one a handler may answer to bad input
// or a miss: never UNKNOWN, INTERNAL, DATA_LOSS, UNAVAILABLE, CANCELLED,
// DEADLINE_EXCEEDED (a hang), ABORTED, UNIMPLEMENTED or PERMISSION_DENIED.
// `extra` adds codes allowed for this call (e.g. UNAUTHENTICATED). An error
// must say what was wrong: a non-empty message that fits in the 8 KiB of
// metadata that gRPC clients accept by default (a longer one reaches the
// client as a different error, hiding the real one).
void CheckStatus(std::string_view rpc, const grpc::Status& status,
                 std::set<grpc::StatusCode> extra = {});

// Reads the input as length-prefixed pieces: u16 little-endian length, then
// that many bytes (cut at the end of the input). Used for streams of messages.
class Pieces {
 public:
  Pieces(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool Next(std::string* out);

 private:
  const uint8_t* data_;
  size_t size_;
};
std::string PieceOf(std::string_view bytes);  // the inverse, for seeds

// When the environment variable CYCAS_FUZZ_WRITE_SEEDS names a directory,
// writes `bytes` there as `name` (the seed generators of the gRPC targets).
void MaybeWriteSeed(const std::string& name, std::string_view bytes);

}  // namespace cycas::fuzz
