// fuzz_zako_services: every zako request message, fed to the real handler.
//
// Input: byte 0 selects the RPC (mod 4), byte 1 the credentials of Transport
// calls (mod 4: a live token, none, an unknown token, a header that is not
// "Bearer <token>"); the rest is the request:
//   0 ContentAddressableStorage.NegotiateBlobs  pieces (grpc_fixture.h), each
//                                               a NegotiateBlobsRequest
//   1 ContentAddressableStorage.GetTransportDetails  a GetTransportDetailsRequest
//   2 Transport.Download                        a DownloadRequest
//   3 Transport.Upload                          pieces, each an UploadRequest
// Bytes that do not parse as the message are rejected from the corpus.
//
// The services run in-process over a RAM-only CAS (grpc_fixture.h). Checks:
// the status is one a handler may give to bad input or a miss (CheckStatus);
// Transport calls without a live token are UNAUTHENTICATED and calls with one
// never are; and what an OK answer claims is true:
//   * NegotiateBlobs reports only digests that were asked about, never more
//     responses than request messages, never an empty response;
//   * GetTransportDetails returns a token and an address;
//   * Download returns exactly the bytes of the range asked for, and a whole
//     blob hashes to its digest;
//   * an Upload committed OK to the blob's end left the blob in the CAS.

#include <cstdint>
#include <set>
#include <string>
#include <thread>

#include "grpc_fixture.h"
#include "zako/v1/cas.grpc.pb.h"
#include "zako/v1/transport.grpc.pb.h"

namespace cycas::fuzz {
namespace {

namespace zc = ::zako::v1::cas;
namespace zt = ::zako::v1::transport;
using C = grpc::StatusCode;

[[noreturn]] void Fail(const std::string& what) {
  FailIn("fuzz_zako_services", what);
}

enum Rpc : uint8_t { kNegotiate, kTransportDetails, kDownload, kUpload, kRpcCount };
enum Auth : uint8_t { kLiveToken, kNoToken, kUnknownToken, kNotBearer, kAuthCount };

struct Stubs {
  std::unique_ptr<zc::ContentAddressableStorage::Stub> cas;
  std::unique_ptr<zt::Transport::Stub> transport;
  // For NegotiateBlobs and Upload (grpc_fixture.h, stream_channel).
  std::unique_ptr<zc::ContentAddressableStorage::Stub> cas_tcp;
  std::unique_ptr<zt::Transport::Stub> transport_tcp;
};

Stubs& GetStubs() {
  static Stubs* s = [] {
    auto& f = GrpcFixture::Get();
    return new Stubs{zc::ContentAddressableStorage::NewStub(f.channel),
                     zt::Transport::NewStub(f.channel),
                     zc::ContentAddressableStorage::NewStub(f.stream_channel),
                     zt::Transport::NewStub(f.stream_channel)};
  }();
  return *s;
}

std::unique_ptr<grpc::ClientContext> TransportContext(Auth auth) {
  auto ctx = NewContext();
  switch (auth) {
    case kLiveToken:
      ctx->AddMetadata("authorization", "Bearer " + GrpcFixture::Get().Token());
      break;
    case kNoToken:
      break;
    case kUnknownToken:
      ctx->AddMetadata("authorization", "Bearer 0123456789abcdef0123456789abcdef");
      break;
    case kNotBearer:
    case kAuthCount:
      ctx->AddMetadata("authorization", "Basic " + GrpcFixture::Get().Token());
      break;
  }
  return ctx;
}

void CheckTransportStatus(std::string_view rpc, Auth auth, const grpc::Status& st) {
  CheckStatus(rpc, st, {C::UNAUTHENTICATED});
  bool unauthenticated = st.error_code() == C::UNAUTHENTICATED;
  if (auth == kLiveToken && unauthenticated) {
    Fail(std::string(rpc) + ": a live token was refused: " + st.error_message());
  }
  if (auth != kLiveToken && !unauthenticated) {
    Fail(std::string(rpc) + ": a call without a live token got status " +
         std::to_string(st.error_code()) + " instead of UNAUTHENTICATED");
  }
}

using DigestKey = std::pair<uint64_t, std::string>;

void Negotiate(const uint8_t* data, size_t size) {
  auto ctx = NewContext();
  auto stream = GetStubs().cas_tcp->NegotiateBlobs(ctx.get());
  // Responses are read on their own thread, so a server that answers while
  // requests are still being written never waits on this client.
  std::vector<zc::NegotiateBlobsResponse> responses;
  std::thread reader([&] {
    zc::NegotiateBlobsResponse r;
    while (stream->Read(&r)) responses.push_back(r);
  });
  Pieces pieces(data, size);
  std::string piece;
  std::set<DigestKey> asked;
  int sent = 0;
  for (int n = 0; n < 64 && pieces.Next(&piece); n++) {
    zc::NegotiateBlobsRequest req;
    if (!req.ParseFromString(piece)) continue;
    for (const auto& d : req.blob_digests()) asked.emplace(d.size_bytes(), d.blake3());
    if (!stream->Write(req)) break;
    sent++;
  }
  stream->WritesDone();
  reader.join();
  auto st = stream->Finish();
  CheckStatus("NegotiateBlobs", st);
  if (!st.ok()) return;
  if (responses.size() > static_cast<size_t>(sent)) {
    Fail("NegotiateBlobs: " + std::to_string(responses.size()) + " responses to " +
         std::to_string(sent) + " messages");
  }
  for (const auto& r : responses) {
    if (r.missing_blob_digests_size() == 0) Fail("NegotiateBlobs: an empty response");
    for (const auto& d : r.missing_blob_digests()) {
      if (!asked.count({d.size_bytes(), d.blake3()})) {
        Fail("NegotiateBlobs reports a digest that was not asked about");
      }
    }
  }
}

void TransportDetails(const zc::GetTransportDetailsRequest& req) {
  zc::TransportDetails resp;
  auto ctx = NewContext();
  auto st = GetStubs().cas->GetTransportDetails(ctx.get(), req, &resp);
  CheckStatus("GetTransportDetails", st);
  if (!st.ok()) return;
  if (resp.auth_token().empty()) Fail("GetTransportDetails: OK without a token");
  if (!resp.has_server_addr() || resp.server_addr().port() == 0) {
    Fail("GetTransportDetails: OK without an address");
  }
  if (resp.recommended_concurrency() == 0) Fail("GetTransportDetails: concurrency 0");
}

void Download(Auth auth, const zt::DownloadRequest& req) {
  auto ctx = TransportContext(auth);
  auto reader = GetStubs().transport->Download(ctx.get(), req);
  zt::DownloadResponse resp;
  std::string data;
  while (reader->Read(&resp)) {
    data += resp.data();
    if (data.size() > (size_t{64} << 20)) Fail("Download: more than 64 MiB from a RAM-only CAS");
  }
  auto st = reader->Finish();
  CheckTransportStatus("Download", auth, st);
  if (!st.ok()) return;
  const auto& md = req.metadata();
  auto digest = Digest::FromBytes(
      DigestFunction::kBlake3,
      {reinterpret_cast<const uint8_t*>(md.digest().blake3().data()), md.digest().blake3().size()},
      md.digest().size_bytes());
  if (!digest.ok()) Fail("Download: OK for a malformed digest: " + digest.status().message());
  uint64_t start = md.range().start();
  if (start > digest->size_bytes()) Fail("Download: OK for a range past the end");
  uint64_t want = md.range().has_length() ? md.range().length() : digest->size_bytes() - start;
  if (data.size() != want) {
    Fail("Download of " + digest->ToString() + " from " + std::to_string(start) + ": " +
         std::to_string(data.size()) + " bytes instead of " + std::to_string(want));
  }
  if (start == 0 && want == digest->size_bytes() &&
      Digest::Of(DigestFunction::kBlake3, data) != *digest) {
    Fail("Download: the bytes served for " + digest->ToString() + " do not hash to it");
  }
}

void Upload(Auth auth, const uint8_t* data, size_t size) {
  auto ctx = TransportContext(auth);
  zt::UploadResponse resp;
  auto writer = GetStubs().transport_tcp->Upload(ctx.get(), &resp);
  Pieces pieces(data, size);
  std::string piece;
  std::optional<zt::BlobResource> metadata;
  for (int n = 0; n < 64 && pieces.Next(&piece); n++) {
    zt::UploadRequest req;
    if (!req.ParseFromString(piece)) continue;
    if (!metadata && req.has_metadata()) metadata = req.metadata();
    // false: the server has already answered.
    if (!writer->Write(req)) break;
  }
  writer->WritesDone();
  auto st = writer->Finish();
  CheckTransportStatus("Upload", auth, st);
  if (!st.ok()) return;
  if (!metadata) Fail("Upload: OK without metadata");
  auto digest =
      Digest::FromBytes(DigestFunction::kBlake3,
                        {reinterpret_cast<const uint8_t*>(metadata->digest().blake3().data()),
                         metadata->digest().blake3().size()},
                        metadata->digest().size_bytes());
  if (!digest.ok()) Fail("Upload: OK for a malformed digest: " + digest.status().message());
  if (resp.committed_size() > digest->size_bytes()) {
    Fail("Upload: committed_size " + std::to_string(resp.committed_size()) +
         " past the blob's end");
  }
  if (resp.committed_size() == digest->size_bytes() && !GrpcFixture::Get().Contains(*digest)) {
    Fail("Upload: committed in full but the CAS lacks " + digest->ToString());
  }
}

// ---- Seeds ------------------------------------------------------------------

void SetDigest(const Digest& d, ::zako::v1::digest::Digest* out) {
  out->set_size_bytes(d.size_bytes());
  out->set_blake3(std::string(reinterpret_cast<const char*>(d.hash().data()), d.hash().size()));
}

void Seed(const std::string& name, Rpc rpc, Auth auth, const std::string& body) {
  std::string input;
  input += static_cast<char>(rpc);
  input += static_cast<char>(auth);
  MaybeWriteSeed(name, input + body);
}

void WriteSeeds() {
  auto& f = GrpcFixture::Get();
  Digest absent = Digest::Of(DigestFunction::kBlake3, std::string_view("absent"));
  std::string fresh = "a blob the zako seeds upload";
  Digest fresh_digest = Digest::Of(DigestFunction::kBlake3, fresh);

  zc::NegotiateBlobsRequest n1, n2;
  SetDigest(f.blob_blake3, n1.add_blob_digests());
  SetDigest(absent, n1.add_blob_digests());
  SetDigest(EmptyDigest(DigestFunction::kBlake3), n2.add_blob_digests());
  Seed("negotiate", kNegotiate, kLiveToken,
       PieceOf(n1.SerializeAsString()) + PieceOf(n2.SerializeAsString()));

  zc::GetTransportDetailsRequest td;
  td.add_supported_protocols(::zako::v1::net::grpc);
  Seed("transport-details", kTransportDetails, kLiveToken, td.SerializeAsString());
  td.Clear();
  Seed("transport-details-no-protocol", kTransportDetails, kLiveToken, td.SerializeAsString());

  zt::DownloadRequest dl;
  SetDigest(f.blob_blake3, dl.mutable_metadata()->mutable_digest());
  Seed("download", kDownload, kLiveToken, dl.SerializeAsString());
  Seed("download-no-token", kDownload, kNoToken, dl.SerializeAsString());
  dl.mutable_metadata()->mutable_range()->set_start(2);
  dl.mutable_metadata()->mutable_range()->set_length(4);
  Seed("download-range", kDownload, kLiveToken, dl.SerializeAsString());
  dl.mutable_metadata()->mutable_range()->set_start(1000);
  Seed("download-past-end", kDownload, kLiveToken, dl.SerializeAsString());
  SetDigest(absent, dl.mutable_metadata()->mutable_digest());
  dl.mutable_metadata()->clear_range();
  Seed("download-missing", kDownload, kLiveToken, dl.SerializeAsString());

  zt::UploadRequest md, chunk;
  SetDigest(fresh_digest, md.mutable_metadata()->mutable_digest());
  std::string whole = PieceOf(md.SerializeAsString());
  chunk.set_chunk(fresh.substr(0, 10));
  whole += PieceOf(chunk.SerializeAsString());
  std::string first_part = whole;
  chunk.set_chunk(fresh.substr(10));
  whole += PieceOf(chunk.SerializeAsString());
  Seed("upload", kUpload, kLiveToken, whole);
  Seed("upload-unknown-token", kUpload, kUnknownToken, whole);
  // Stops after 10 bytes (parked), then a resumption from byte 10.
  Seed("upload-interrupted", kUpload, kLiveToken, first_part);
  zt::UploadRequest resume;
  SetDigest(fresh_digest, resume.mutable_metadata()->mutable_digest());
  resume.mutable_metadata()->mutable_range()->set_start(10);
  Seed("upload-resume", kUpload, kLiveToken,
       PieceOf(resume.SerializeAsString()) + PieceOf(chunk.SerializeAsString()));
  // The wrong bytes for a digest.
  zt::UploadRequest wrong;
  wrong.set_chunk(std::string(fresh.size(), 'x'));
  Seed("upload-wrong-bytes", kUpload, kLiveToken,
       PieceOf(md.SerializeAsString()) + PieceOf(wrong.SerializeAsString()));
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
  if (size < 2) return -1;
  auto rpc = static_cast<Rpc>(data[0] % kRpcCount);
  auto auth = static_cast<Auth>(data[1] % kAuthCount);
  data += 2;
  size -= 2;
  switch (rpc) {
    case kNegotiate:
      Negotiate(data, size);
      break;
    case kTransportDetails: {
      zc::GetTransportDetailsRequest req;
      if (!req.ParseFromArray(data, static_cast<int>(size))) return -1;
      TransportDetails(req);
      break;
    }
    case kDownload: {
      zt::DownloadRequest req;
      if (!req.ParseFromArray(data, static_cast<int>(size))) return -1;
      Download(auth, req);
      break;
    }
    case kUpload:
      Upload(auth, data, size);
      break;
    case kRpcCount:
      break;
  }
  return 0;
}
