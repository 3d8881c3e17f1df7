// fuzz_reapi_services: every REAPI request message, fed to the real handler.
//
// Input: byte 0 selects the RPC (mod 10); the rest is the request:
//   0 FindMissingBlobs   1 BatchUpdateBlobs   2 BatchReadBlobs   3 GetTree
//   4 GetActionResult    5 UpdateActionResult 6 GetCapabilities
//   7 ByteStream.Read    8 ByteStream.Write   9 ByteStream.QueryWriteStatus
// For unary and server-streaming calls the rest is the serialized request;
// for Write it is a sequence of pieces (grpc_fixture.h: u16 length + bytes),
// each a serialized WriteRequest sent in turn. Bytes that do not parse as the
// message are rejected from the corpus.
//
// The services run in-process over a RAM-only CAS (grpc_fixture.h). Checks:
// the status is one a handler may give to bad input or a miss, with a useful
// message (CheckStatus: never UNKNOWN/INTERNAL/..., never a hang); and what
// an OK answer claims is true:
//   * FindMissingBlobs lists only digests that were asked about;
//   * BatchReadBlobs answers once per requested digest, and uncompressed data
//     answered OK hashes to its digest;
//   * an uncompressed ByteStream Read of a whole blob hashes to its digest;
//   * a Write that finished OK left the blob in the CAS;
//   * an ActionResult stored OK can be read back OK.

#include <cstdint>
#include <set>
#include <string>

#include "api/reapi/resource_name.h"
#include "api/reapi/zstd_codec.h"
#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "google/bytestream/bytestream.grpc.pb.h"
#include "grpc_fixture.h"

namespace cycas::fuzz {
namespace {

namespace re = build::bazel::remote::execution::v2;
namespace bs = google::bytestream;
using C = grpc::StatusCode;

[[noreturn]] void Fail(const std::string& what) {
  FailIn("fuzz_reapi_services", what);
}

enum Rpc : uint8_t {
  kFindMissing,
  kBatchUpdate,
  kBatchRead,
  kGetTree,
  kGetActionResult,
  kUpdateActionResult,
  kGetCapabilities,
  kRead,
  kWrite,
  kQueryWriteStatus,
  kRpcCount
};

DigestFunction FunctionOf(re::DigestFunction::Value v) {
  return v == re::DigestFunction::BLAKE3 ? DigestFunction::kBlake3 : DigestFunction::kSha256;
}

// The request's digest as a validated Digest, or nullopt when it is not one.
std::optional<Digest> ToDigest(re::DigestFunction::Value fn, const re::Digest& d) {
  auto r = Digest::FromHex(FunctionOf(fn), d.hash(), d.size_bytes());
  if (!r.ok()) return std::nullopt;
  return *r;
}

struct Stubs {
  std::unique_ptr<re::ContentAddressableStorage::Stub> cas;
  std::unique_ptr<re::ActionCache::Stub> ac;
  std::unique_ptr<re::Capabilities::Stub> caps;
  std::unique_ptr<bs::ByteStream::Stub> bytestream;
  std::unique_ptr<bs::ByteStream::Stub> bytestream_tcp;  // for Write
};

Stubs& GetStubs() {
  static Stubs* s = [] {
    auto& f = GrpcFixture::Get();
    return new Stubs{re::ContentAddressableStorage::NewStub(f.channel),
                     re::ActionCache::NewStub(f.channel), re::Capabilities::NewStub(f.channel),
                     bs::ByteStream::NewStub(f.channel), bs::ByteStream::NewStub(f.stream_channel)};
  }();
  return *s;
}

void FindMissing(const re::FindMissingBlobsRequest& req) {
  re::FindMissingBlobsResponse resp;
  auto ctx = NewContext();
  auto st = GetStubs().cas->FindMissingBlobs(ctx.get(), req, &resp);
  CheckStatus("FindMissingBlobs", st);
  if (!st.ok()) return;
  std::set<std::pair<std::string, int64_t>> asked;
  for (const auto& d : req.blob_digests()) asked.emplace(d.hash(), d.size_bytes());
  for (const auto& d : resp.missing_blob_digests()) {
    if (!asked.count({d.hash(), d.size_bytes()})) {
      Fail("FindMissingBlobs reports a digest that was not asked about: " + d.hash());
    }
  }
}

void BatchUpdate(const re::BatchUpdateBlobsRequest& req) {
  re::BatchUpdateBlobsResponse resp;
  auto ctx = NewContext();
  auto st = GetStubs().cas->BatchUpdateBlobs(ctx.get(), req, &resp);
  CheckStatus("BatchUpdateBlobs", st);
  if (!st.ok()) return;
  if (resp.responses_size() != req.requests_size()) {
    Fail("BatchUpdateBlobs: " + std::to_string(resp.responses_size()) + " answers to " +
         std::to_string(req.requests_size()) + " blobs");
  }
  for (const auto& r : resp.responses()) {
    if (r.status().code() != 0) continue;
    auto d = ToDigest(req.digest_function(), r.digest());
    if (!d) Fail("BatchUpdateBlobs: OK for a malformed digest " + r.digest().hash());
    if (!GrpcFixture::Get().Contains(*d)) {
      Fail("BatchUpdateBlobs: OK but the CAS lacks " + d->ToString());
    }
  }
}

void BatchRead(const re::BatchReadBlobsRequest& req) {
  re::BatchReadBlobsResponse resp;
  auto ctx = NewContext();
  auto st = GetStubs().cas->BatchReadBlobs(ctx.get(), req, &resp);
  CheckStatus("BatchReadBlobs", st);
  if (!st.ok()) return;
  if (resp.responses_size() != req.digests_size()) {
    Fail("BatchReadBlobs: " + std::to_string(resp.responses_size()) + " answers to " +
         std::to_string(req.digests_size()) + " digests");
  }
  for (const auto& r : resp.responses()) {
    if (r.status().code() != 0 || r.compressor() != re::Compressor::IDENTITY) continue;
    auto d = ToDigest(req.digest_function(), r.digest());
    if (!d) Fail("BatchReadBlobs: OK for a malformed digest " + r.digest().hash());
    if (Digest::Of(d->function(), r.data()) != *d) {
      Fail("BatchReadBlobs: data served for " + d->ToString() + " does not hash to it");
    }
  }
}

void GetTree(const re::GetTreeRequest& req) {
  auto ctx = NewContext();
  auto reader = GetStubs().cas->GetTree(ctx.get(), req);
  re::GetTreeResponse resp;
  int pages = 0;
  // Every directory reachable is at most the number in the CAS; a stream
  // that goes on far longer is looping.
  while (reader->Read(&resp)) {
    if (++pages > 100000) Fail("GetTree: more than 100000 pages");
  }
  CheckStatus("GetTree", reader->Finish());
}

void GetActionResult(const re::GetActionResultRequest& req) {
  re::ActionResult resp;
  auto ctx = NewContext();
  CheckStatus("GetActionResult", GetStubs().ac->GetActionResult(ctx.get(), req, &resp));
}

void UpdateActionResult(const re::UpdateActionResultRequest& req) {
  re::ActionResult resp;
  auto ctx = NewContext();
  auto st = GetStubs().ac->UpdateActionResult(ctx.get(), req, &resp);
  CheckStatus("UpdateActionResult", st);
  if (!st.ok()) return;
  re::GetActionResultRequest get;
  get.set_instance_name(req.instance_name());
  *get.mutable_action_digest() = req.action_digest();
  get.set_digest_function(req.digest_function());
  auto ctx2 = NewContext();
  auto st2 = GetStubs().ac->GetActionResult(ctx2.get(), get, &resp);
  if (!st2.ok()) {
    Fail("an ActionResult stored OK does not read back: " + std::to_string(st2.error_code()) + " " +
         st2.error_message());
  }
}

void GetCapabilities(const re::GetCapabilitiesRequest& req) {
  re::ServerCapabilities resp;
  auto ctx = NewContext();
  CheckStatus("GetCapabilities", GetStubs().caps->GetCapabilities(ctx.get(), req, &resp));
}

void Read(const bs::ReadRequest& req) {
  auto ctx = NewContext();
  auto reader = GetStubs().bytestream->Read(ctx.get(), req);
  bs::ReadResponse resp;
  std::string data;
  while (reader->Read(&resp)) {
    data += resp.data();
    if (data.size() > (size_t{64} << 20)) Fail("Read: more than 64 MiB from a RAM-only CAS");
  }
  auto st = reader->Finish();
  CheckStatus("ByteStream.Read", st);
  if (!st.ok()) return;
  auto res = api::reapi::ParseReadResourceName(req.resource_name());
  if (!res.ok()) Fail("Read: OK for a malformed resource name: " + res.status().message());
  if (res->compressor == api::reapi::Compressor::kIdentity && req.read_offset() == 0 &&
      req.read_limit() == 0 && Digest::Of(res->digest.function(), data) != res->digest) {
    Fail("Read: the bytes served for " + res->digest.ToString() + " do not hash to it");
  }
}

void Write(const uint8_t* data, size_t size) {
  auto ctx = NewContext();
  bs::WriteResponse resp;
  auto writer = GetStubs().bytestream_tcp->Write(ctx.get(), &resp);
  Pieces pieces(data, size);
  std::string piece;
  std::string first_name;
  bool finished = false;
  for (int n = 0; n < 64 && pieces.Next(&piece); n++) {
    bs::WriteRequest req;
    if (!req.ParseFromString(piece)) continue;
    if (n == 0) first_name = req.resource_name();
    finished = finished || req.finish_write();
    // false: the server has already answered (an error, or the blob exists).
    if (!writer->Write(req)) break;
  }
  writer->WritesDone();
  auto st = writer->Finish();
  CheckStatus("ByteStream.Write", st);
  if (!st.ok() || !finished) return;
  auto res = api::reapi::ParseWriteResourceName(first_name);
  if (!res.ok()) Fail("Write: OK for a malformed resource name: " + res.status().message());
  if (!GrpcFixture::Get().Contains(res->digest)) {
    Fail("Write: OK but the CAS lacks " + res->digest.ToString());
  }
}

void QueryWriteStatus(const bs::QueryWriteStatusRequest& req) {
  bs::QueryWriteStatusResponse resp;
  auto ctx = NewContext();
  CheckStatus("ByteStream.QueryWriteStatus",
              GetStubs().bytestream->QueryWriteStatus(ctx.get(), req, &resp));
}

template <typename Msg>
bool Parse(const uint8_t* data, size_t size, Msg* msg) {
  return msg->ParseFromArray(data, static_cast<int>(size));
}

// ---- Seeds ------------------------------------------------------------------

void SetDigest(const Digest& d, re::Digest* out) {
  out->set_hash(d.hex());
  out->set_size_bytes(static_cast<int64_t>(d.size_bytes()));
}

void Seed(const std::string& name, Rpc rpc, const std::string& body) {
  MaybeWriteSeed(name, std::string(1, static_cast<char>(rpc)) + body);
}

void WriteSeeds() {
  auto& f = GrpcFixture::Get();
  Digest absent = Digest::Of(DigestFunction::kSha256, std::string_view("absent"));
  std::string fresh = "a blob the seeds upload";
  Digest fresh_sha = Digest::Of(DigestFunction::kSha256, fresh);
  Digest fresh_b3 = Digest::Of(DigestFunction::kBlake3, fresh);
  const std::string uuid = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";

  re::FindMissingBlobsRequest fm;
  SetDigest(f.blob_sha256, fm.add_blob_digests());
  SetDigest(absent, fm.add_blob_digests());
  Seed("find-missing", kFindMissing, fm.SerializeAsString());
  fm.Clear();
  fm.set_instance_name("ci/linux");
  fm.set_digest_function(re::DigestFunction::BLAKE3);
  SetDigest(f.blob_blake3, fm.add_blob_digests());
  Seed("find-missing-blake3", kFindMissing, fm.SerializeAsString());

  re::BatchUpdateBlobsRequest bu;
  auto* r = bu.add_requests();
  SetDigest(fresh_sha, r->mutable_digest());
  r->set_data(fresh);
  auto* bad = bu.add_requests();
  SetDigest(absent, bad->mutable_digest());
  bad->set_data("not the bytes of that digest");
  Seed("batch-update", kBatchUpdate, bu.SerializeAsString());
  bu.Clear();
  bu.set_digest_function(re::DigestFunction::BLAKE3);
  r = bu.add_requests();
  SetDigest(fresh_b3, r->mutable_digest());
  r->set_data(fresh);
  Seed("batch-update-blake3", kBatchUpdate, bu.SerializeAsString());

  // zstd-compressed data (decompressed into the verifying writer).
  std::string zfresh = "a blob the seeds upload compressed, compressed, compressed";
  auto zdata = api::reapi::ZstdCompress(zfresh, 1);
  if (!zdata.ok()) Fail("seed: zstd: " + zdata.status().ToString());
  bu.Clear();
  r = bu.add_requests();
  SetDigest(Digest::Of(DigestFunction::kSha256, zfresh), r->mutable_digest());
  r->set_compressor(re::Compressor::ZSTD);
  r->set_data(*zdata);
  Seed("batch-update-zstd", kBatchUpdate, bu.SerializeAsString());

  re::BatchReadBlobsRequest br;
  SetDigest(f.blob_sha256, br.add_digests());
  SetDigest(absent, br.add_digests());
  SetDigest(EmptyDigest(DigestFunction::kSha256), br.add_digests());
  Seed("batch-read", kBatchRead, br.SerializeAsString());
  br.add_acceptable_compressors(re::Compressor::ZSTD);
  Seed("batch-read-zstd", kBatchRead, br.SerializeAsString());

  re::GetTreeRequest gt;
  SetDigest(f.tree_root, gt.mutable_root_digest());
  Seed("get-tree", kGetTree, gt.SerializeAsString());
  gt.set_page_size(1);
  Seed("get-tree-paged", kGetTree, gt.SerializeAsString());
  {
    // The second page, with the token the server gave for it.
    auto ctx = NewContext();
    auto reader = GetStubs().cas->GetTree(ctx.get(), gt);
    re::GetTreeResponse page;
    std::string token;
    while (reader->Read(&page)) {
      if (token.empty()) token = page.next_page_token();
    }
    if (!reader->Finish().ok() || token.empty()) Fail("seed: GetTree gave no page token");
    gt.set_page_token(token);
    Seed("get-tree-second-page", kGetTree, gt.SerializeAsString());
  }

  re::GetActionResultRequest ga;
  SetDigest(f.action, ga.mutable_action_digest());
  ga.set_inline_stdout(true);
  ga.add_inline_output_files("out/file");
  Seed("get-action-result", kGetActionResult, ga.SerializeAsString());
  ga.Clear();
  ga.set_instance_name("other");
  SetDigest(absent, ga.mutable_action_digest());
  Seed("get-action-result-miss", kGetActionResult, ga.SerializeAsString());

  re::UpdateActionResultRequest ua;
  SetDigest(absent, ua.mutable_action_digest());
  auto* out = ua.mutable_action_result()->add_output_files();
  out->set_path("a/b");
  SetDigest(f.blob_sha256, out->mutable_digest());
  auto* od = ua.mutable_action_result()->add_output_directories();
  od->set_path("d");
  SetDigest(f.tree, od->mutable_tree_digest());
  ua.mutable_action_result()->set_exit_code(1);
  ua.mutable_action_result()->set_stdout_raw("inline stdout");
  Seed("update-action-result", kUpdateActionResult, ua.SerializeAsString());
  SetDigest(absent, ua.mutable_action_result()->add_output_files()->mutable_digest());
  Seed("update-action-result-incomplete", kUpdateActionResult, ua.SerializeAsString());

  re::GetCapabilitiesRequest gc;
  Seed("get-capabilities", kGetCapabilities, gc.SerializeAsString());
  gc.set_instance_name("ci");
  Seed("get-capabilities-instance", kGetCapabilities, gc.SerializeAsString());

  bs::ReadRequest rd;
  rd.set_resource_name(
      api::reapi::FormatReadResourceName("", api::reapi::Compressor::kIdentity, f.blob_sha256));
  Seed("read", kRead, rd.SerializeAsString());
  rd.set_read_offset(3);
  rd.set_read_limit(5);
  Seed("read-range", kRead, rd.SerializeAsString());
  rd.Clear();
  rd.set_resource_name(
      api::reapi::FormatReadResourceName("ci", api::reapi::Compressor::kZstd, f.blob_blake3));
  Seed("read-zstd-blake3", kRead, rd.SerializeAsString());

  // Write: one message; then the same upload in two pieces under blake3.
  bs::WriteRequest w;
  w.set_resource_name(api::reapi::FormatWriteResourceName(
      "", uuid, api::reapi::Compressor::kIdentity,
      Digest::Of(DigestFunction::kSha256, std::string_view("written by a seed"))));
  w.set_data("written by a seed");
  w.set_finish_write(true);
  Seed("write", kWrite, PieceOf(w.SerializeAsString()));
  std::string two;
  w.Clear();
  std::string b3_text = "written in two pieces";
  w.set_resource_name(api::reapi::FormatWriteResourceName(
      "ci", uuid, api::reapi::Compressor::kIdentity, Digest::Of(DigestFunction::kBlake3, b3_text)));
  w.set_data(b3_text.substr(0, 7));
  two += PieceOf(w.SerializeAsString());
  w.clear_resource_name();
  w.set_write_offset(7);
  w.set_data(b3_text.substr(7));
  w.set_finish_write(true);
  two += PieceOf(w.SerializeAsString());
  Seed("write-two-pieces", kWrite, two);
  // A compressed upload in two pieces (offsets count compressed bytes).
  {
    std::string ztext = "written compressed by a seed, compressed by a seed";
    auto z = api::reapi::ZstdCompress(ztext, 1);
    if (!z.ok()) Fail("seed: zstd: " + z.status().ToString());
    w.Clear();
    w.set_resource_name(api::reapi::FormatWriteResourceName(
        "", uuid, api::reapi::Compressor::kZstd, Digest::Of(DigestFunction::kSha256, ztext)));
    size_t half = z->size() / 2;
    w.set_data(z->substr(0, half));
    std::string pieces = PieceOf(w.SerializeAsString());
    w.clear_resource_name();
    w.set_write_offset(static_cast<int64_t>(half));
    w.set_data(z->substr(half));
    w.set_finish_write(true);
    pieces += PieceOf(w.SerializeAsString());
    Seed("write-zstd", kWrite, pieces);
  }
  // An upload left unfinished (its prefix is kept for QueryWriteStatus).
  w.Clear();
  w.set_resource_name(
      api::reapi::FormatWriteResourceName("", uuid, api::reapi::Compressor::kIdentity, absent));
  w.set_data("abs");  // the first 3 of the 6 bytes of `absent`
  Seed("write-unfinished", kWrite, PieceOf(w.SerializeAsString()));

  bs::QueryWriteStatusRequest q;
  q.set_resource_name(w.resource_name());
  Seed("query-write-status", kQueryWriteStatus, q.SerializeAsString());
}

}  // namespace
}  // namespace cycas::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cycas::fuzz::GetStubs();
  cycas::fuzz::WriteSeeds();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cycas::fuzz;
  if (size == 0) return -1;
  auto rpc = static_cast<Rpc>(data[0] % kRpcCount);
  data++;
  size--;
  switch (rpc) {
    case kFindMissing: {
      re::FindMissingBlobsRequest req;
      if (!Parse(data, size, &req)) return -1;
      FindMissing(req);
      break;
    }
    case kBatchUpdate: {
      re::BatchUpdateBlobsRequest req;
      if (!Parse(data, size, &req)) return -1;
      BatchUpdate(req);
      break;
    }
    case kBatchRead: {
      re::BatchReadBlobsRequest req;
      if (!Parse(data, size, &req)) return -1;
      BatchRead(req);
      break;
    }
    case kGetTree: {
      re::GetTreeRequest req;
      if (!Parse(data, size, &req)) return -1;
      GetTree(req);
      break;
    }
    case kGetActionResult: {
      re::GetActionResultRequest req;
      if (!Parse(data, size, &req)) return -1;
      GetActionResult(req);
      break;
    }
    case kUpdateActionResult: {
      re::UpdateActionResultRequest req;
      if (!Parse(data, size, &req)) return -1;
      UpdateActionResult(req);
      break;
    }
    case kGetCapabilities: {
      re::GetCapabilitiesRequest req;
      if (!Parse(data, size, &req)) return -1;
      GetCapabilities(req);
      break;
    }
    case kRead: {
      bs::ReadRequest req;
      if (!Parse(data, size, &req)) return -1;
      Read(req);
      break;
    }
    case kWrite:
      Write(data, size);
      break;
    case kQueryWriteStatus: {
      bs::QueryWriteStatusRequest req;
      if (!Parse(data, size, &req)) return -1;
      QueryWriteStatus(req);
      break;
    }
    case kRpcCount:
      break;
  }
  return 0;
}
