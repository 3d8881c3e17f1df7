// End-to-end tests of authentication and scopes (docs/auth.md): the real
// cycasd on loopback with a credentials file, called by a raw gRPC client
// (REAPI and zako) and by curl (HTTP, HTTPS, Basic as Bazel sends it).
//
// Every authenticated surface must refuse missing, wrong and expired
// credentials; a read-only principal must not write by any path (including
// zako's transport token); a principal scoped to one instance prefix must not
// reach another; anonymous access gets exactly its configured scope.
#include <crypt.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <thread>

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "cycasd_process.h"
#include "digest/digest.h"
#include "digest/hasher.h"
#include "digest/hex.h"
#include "google/bytestream/bytestream.grpc.pb.h"
#include "http_client.h"
#include "raw_grpc.h"
#include "zako_test_util.h"

namespace cycas {
namespace {

namespace v2 = build::bazel::remote::execution::v2;
namespace bs = google::bytestream;
namespace zpb = ::zako::v1;
using testing::Curl;
using testing::CurlResponse;

const std::string kCiToken = "ci-0123456789abcdef0123456789abcdef";
const std::string kTeamAToken = "team-a-0123456789abcdef0123456789";
const std::string kReaderToken = "reader-0123456789abcdef0123456789";
const std::string kExpiredToken = "expired-0123456789abcdef012345678";
const std::string kUuid = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";

std::string CryptHash(const char* prefix, unsigned long cost, const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn(prefix, cost, nullptr, 0, salt, sizeof(salt)) == nullptr) return "";
  crypt_data data{};
  const char* out = crypt_rn(password.c_str(), salt, &data, sizeof(data));
  return out != nullptr && out[0] != '*' ? out : "";
}

std::string Sha256Hex(std::string_view s) {
  return HexEncode(HashOf(DigestFunction::kSha256, s));
}

void WriteText(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::trunc) << text;
}

// A fresh directory holding the credentials file and its htpasswd file.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cycas-auth-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string Credentials() {
  // ci's token is stored as its SHA-256, the others in plaintext: both forms work.
  return "anonymous = \"read\"\n"
         "anonymous_instances = [\"public\"]\n"
         "\n[[token]]\nname = \"ci\"\nsha256 = \"" +
         Sha256Hex(kCiToken) +
         "\"\n"
         "scopes = [\"read\", \"write\"]\n"
         "\n[[token]]\nname = \"team-a\"\ntoken = \"" +
         kTeamAToken +
         "\"\n"
         "scopes = [\"read\", \"write\"]\ninstances = [\"team-a/\"]\n"
         "\n[[token]]\nname = \"reader\"\ntoken = \"" +
         kReaderToken +
         "\"\n"
         "scopes = [\"read\"]\n"
         "\n[[token]]\nname = \"old\"\ntoken = \"" +
         kExpiredToken +
         "\"\n"
         "scopes = [\"read\", \"write\"]\nexpires = 2020-01-01T00:00:00Z\n"
         "\n[[user]]\nname = \"alice\"\nscopes = [\"read\", \"write\"]\n"
         "\n[htpasswd]\nfile = \"users.htpasswd\"\nscopes = [\"read\"]\n";
}

std::string Htpasswd() {
  // alice: bcrypt as `htpasswd -B` writes it; bob: SHA-512-crypt.
  return "alice:" + CryptHash("$2y$", 5, "wonderland") + "\n" +
         "bob:" + CryptHash("$6$", 0, "builder") + "\n";
}

v2::Digest ProtoDigest(const std::string& bytes) {
  v2::Digest p;
  p.set_hash(Sha256Hex(bytes));
  p.set_size_bytes(static_cast<int64_t>(bytes.size()));
  return p;
}

std::string BasicHeader(const std::string& user_pass) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  auto b = [&](size_t j) { return j < user_pass.size() ? uint8_t(user_pass[j]) : 0u; };
  for (; i < user_pass.size(); i += 3) {
    uint32_t n = b(i) << 16 | b(i + 1) << 8 | b(i + 2);
    out += k[n >> 18 & 63];
    out += k[n >> 12 & 63];
    out += i + 1 < user_pass.size() ? k[n >> 6 & 63] : '=';
    out += i + 2 < user_pass.size() ? k[n & 63] : '=';
  }
  return "Basic " + out;
}

class AuthE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteText(dir_.path() / "creds.toml", Credentials());
    WriteText(dir_.path() / "users.htpasswd", Htpasswd());
    server_ = std::make_unique<testing::CycasdProcess>(
        std::vector<std::string>{"auth.credentials_file=" + (dir_.path() / "creds.toml").string()});
    ASSERT_TRUE(server_->Start()) << server_->error();
    auto channel =
        grpc::CreateChannel(server_->address("grpc"), grpc::InsecureChannelCredentials());
    cas_ = v2::ContentAddressableStorage::NewStub(channel);
    ac_ = v2::ActionCache::NewStub(channel);
    caps_ = v2::Capabilities::NewStub(channel);
    bytestream_ = bs::ByteStream::NewStub(channel);
    zako_ = std::make_unique<zako_e2e::ZakoConn>(server_->address("grpc"),
                                                 server_->address("transport"));
  }

  // A client context carrying `authorization` (none when empty).
  static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& authorization) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (!authorization.empty()) ctx->AddMetadata("authorization", authorization);
    return ctx;
  }
  static std::string Bearer(const std::string& token) { return "Bearer " + token; }

  grpc::Status FindMissing(const std::string& auth, const std::string& instance) {
    v2::FindMissingBlobsRequest req;
    req.set_instance_name(instance);
    *req.add_blob_digests() = ProtoDigest("probe");
    v2::FindMissingBlobsResponse resp;
    return cas_->FindMissingBlobs(Ctx(auth).get(), req, &resp);
  }

  grpc::Status BatchUpdate(const std::string& auth, const std::string& instance,
                           const std::string& blob) {
    v2::BatchUpdateBlobsRequest req;
    req.set_instance_name(instance);
    auto* r = req.add_requests();
    *r->mutable_digest() = ProtoDigest(blob);
    r->set_data(blob);
    v2::BatchUpdateBlobsResponse resp;
    grpc::Status st = cas_->BatchUpdateBlobs(Ctx(auth).get(), req, &resp);
    if (st.ok()) {
      EXPECT_EQ(resp.responses_size(), 1);
      if (resp.responses_size() == 1) {
        EXPECT_EQ(resp.responses(0).status().code(), 0);
      }
    }
    return st;
  }

  grpc::Status UpdateAction(const std::string& auth, const std::string& instance,
                            const std::string& action) {
    v2::UpdateActionResultRequest req;
    req.set_instance_name(instance);
    *req.mutable_action_digest() = ProtoDigest(action);
    req.mutable_action_result()->set_exit_code(0);
    v2::ActionResult resp;
    return ac_->UpdateActionResult(Ctx(auth).get(), req, &resp);
  }

  grpc::Status GetAction(const std::string& auth, const std::string& instance,
                         const std::string& action) {
    v2::GetActionResultRequest req;
    req.set_instance_name(instance);
    *req.mutable_action_digest() = ProtoDigest(action);
    v2::ActionResult resp;
    return ac_->GetActionResult(Ctx(auth).get(), req, &resp);
  }

  grpc::Status ByteStreamWrite(const std::string& auth, const std::string& instance,
                               const std::string& blob) {
    auto ctx = Ctx(auth);
    bs::WriteResponse resp;
    auto writer = bytestream_->Write(ctx.get(), &resp);
    bs::WriteRequest req;
    req.set_resource_name((instance.empty() ? "" : instance + "/") + "uploads/" + kUuid +
                          "/blobs/" + Sha256Hex(blob) + "/" + std::to_string(blob.size()));
    req.set_data(blob);
    req.set_finish_write(true);
    writer->Write(req);
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status ByteStreamRead(const std::string& auth, const std::string& instance,
                              const std::string& blob, std::string* out = nullptr) {
    auto ctx = Ctx(auth);
    bs::ReadRequest req;
    req.set_resource_name((instance.empty() ? "" : instance + "/") + "blobs/" + Sha256Hex(blob) +
                          "/" + std::to_string(blob.size()));
    auto reader = bytestream_->Read(ctx.get(), req);
    bs::ReadResponse resp;
    std::string got;
    while (reader->Read(&resp)) got += resp.data();
    if (out != nullptr) *out = got;
    return reader->Finish();
  }

  std::string HttpUrl(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(server_->port("http")) + path;
  }

  TempDir dir_;
  std::unique_ptr<testing::CycasdProcess> server_;
  std::unique_ptr<v2::ContentAddressableStorage::Stub> cas_;
  std::unique_ptr<v2::ActionCache::Stub> ac_;
  std::unique_ptr<v2::Capabilities::Stub> caps_;
  std::unique_ptr<bs::ByteStream::Stub> bytestream_;
  std::unique_ptr<zako_e2e::ZakoConn> zako_;
};

// ---- REAPI over gRPC ----

TEST_F(AuthE2eTest, ReapiMissingWrongAndExpiredCredentialsAreUnauthenticated) {
  grpc::Status st = FindMissing("", "");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  EXPECT_NE(st.error_message().find("credentials required"), std::string::npos);
  st = FindMissing(Bearer("not-a-token-0123456789"), "");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  st = FindMissing(Bearer(kExpiredToken), "");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(st.error_message().find("token 'old' expired at 2020-01-01T00:00:00Z"),
            std::string::npos)
      << st.error_message();
  st = FindMissing(BasicHeader("alice:wrong"), "");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  st = FindMissing("Digest abc", "");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Every kind of call is guarded, not just FindMissingBlobs.
  EXPECT_EQ(BatchUpdate("", "", "x").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GetAction("", "", "a").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(UpdateAction(Bearer(kExpiredToken), "", "a").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ByteStreamWrite("", "", "x").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ByteStreamRead("", "", "x").error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// FindMissingBlobs and ByteStream Write read their requests' bytes themselves: who is asking is
// settled first, so a stranger's garbage is refused for the credentials, not
// parsed, while a known caller's garbage gets the parse error.
TEST_F(AuthE2eTest, RawReadMethodsIdentifyTheCallerBeforeReadingTheRequest) {
  auto channel = grpc::CreateChannel(server_->address("grpc"), grpc::InsecureChannelCredentials());
  auto call = [&](const std::string& auth) {
    auto ctx = Ctx(auth);
    // Field 1 with wire type 7, which does not exist.
    return testing::RawUnaryCall(
        channel, ctx.get(),
        "/build.bazel.remote.execution.v2.ContentAddressableStorage/FindMissingBlobs", "\x0f");
  };
  grpc::Status st = call(Bearer("not-a-token-0123456789"));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  st = call(Bearer(kExpiredToken));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  st = call(Bearer(kCiToken));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  // Without credentials a caller is this server's anonymous reader, someone it
  // knows: the request is read (and here refused as malformed).
  st = call("");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();

  // ByteStream Write reads its requests' bytes itself too.
  auto write = [&](const std::string& auth) {
    auto ctx = Ctx(auth);
    return testing::RawClientStreamingCall(channel, ctx.get(),
                                           "/google.bytestream.ByteStream/Write", {"\x0f"});
  };
  st = write(Bearer("not-a-token-0123456789"));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  st = write(Bearer(kExpiredToken));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  st = write(Bearer(kCiToken));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
}

// Every authenticated surface, every kind of bad credential.
TEST_F(AuthE2eTest, EveryCallRefusesMissingWrongAndExpiredCredentials) {
  const std::vector<std::string> bad = {"", Bearer("wrong-0123456789abcdef"), Bearer(kExpiredToken),
                                        BasicHeader("alice:wrong"), "Basic !!!"};
  using Call = std::function<grpc::Status(const std::string&)>;
  const std::vector<std::pair<std::string, Call>> calls = {
      {"FindMissingBlobs", [&](const std::string& a) { return FindMissing(a, ""); }},
      {"BatchUpdateBlobs", [&](const std::string& a) { return BatchUpdate(a, "", "x"); }},
      {"BatchReadBlobs",
       [&](const std::string& a) {
         v2::BatchReadBlobsRequest req;
         *req.add_digests() = ProtoDigest("x");
         v2::BatchReadBlobsResponse resp;
         return cas_->BatchReadBlobs(Ctx(a).get(), req, &resp);
       }},
      {"GetTree",
       [&](const std::string& a) {
         v2::GetTreeRequest req;
         *req.mutable_root_digest() = ProtoDigest("x");
         auto ctx = Ctx(a);
         auto reader = cas_->GetTree(ctx.get(), req);
         v2::GetTreeResponse resp;
         while (reader->Read(&resp)) {
         }
         return reader->Finish();
       }},
      {"GetActionResult", [&](const std::string& a) { return GetAction(a, "", "act"); }},
      {"UpdateActionResult", [&](const std::string& a) { return UpdateAction(a, "", "act"); }},
      {"ByteStream.Read", [&](const std::string& a) { return ByteStreamRead(a, "", "x"); }},
      {"ByteStream.Write", [&](const std::string& a) { return ByteStreamWrite(a, "", "x"); }},
      {"ByteStream.QueryWriteStatus",
       [&](const std::string& a) {
         bs::QueryWriteStatusRequest req;
         req.set_resource_name("uploads/" + kUuid + "/blobs/" + Sha256Hex("x") + "/1");
         bs::QueryWriteStatusResponse resp;
         return bytestream_->QueryWriteStatus(Ctx(a).get(), req, &resp);
       }},
      {"zako.NegotiateBlobs",
       [&](const std::string& a) {
         auto ctx = Ctx(a);
         auto stream = zako_->cas().NegotiateBlobs(ctx.get());
         stream->WritesDone();
         zpb::cas::NegotiateBlobsResponse r;
         while (stream->Read(&r)) {
         }
         return stream->Finish();
       }},
      {"zako.GetTransportDetails",
       [&](const std::string& a) {
         zpb::cas::GetTransportDetailsRequest req;
         req.add_supported_protocols(zpb::net::grpc);
         zpb::cas::TransportDetails details;
         return zako_->cas().GetTransportDetails(Ctx(a).get(), req, &details);
       }},
  };
  for (const auto& [name, call] : calls) {
    for (const std::string& auth : bad) {
      grpc::Status st = call(auth);
      EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << name << " with '" << auth << "': " << st.error_message();
    }
  }
  // HTTP: every endpoint and method, missing, wrong and expired credentials.
  const std::string hash = Sha256Hex("x");
  std::string file = testing::TempFile("x");
  const std::vector<std::string> paths = {"/cas/" + hash, "/ac/" + hash, "/ccache/ab/cdef",
                                          "/status", "/status.json"};
  for (const std::string& path : paths) {
    for (const std::vector<std::string>& creds : std::vector<std::vector<std::string>>{
             {}, {"-u", "alice:wrong"}, {"-H", "Authorization: Bearer " + kExpiredToken}}) {
      for (const std::vector<std::string>& method :
           std::vector<std::vector<std::string>>{{}, {"-I"}, {"-T", file}}) {
        std::vector<std::string> args = creds;
        args.insert(args.end(), method.begin(), method.end());
        args.push_back(HttpUrl(path));
        CurlResponse r = Curl(args);
        // /status is readable anonymously in this configuration (anonymous has
        // the read scope); everything else needs credentials.
        bool anonymous_read =
            creds.empty() && method.size() != 2 && (path == "/status" || path == "/status.json");
        if (anonymous_read) continue;
        EXPECT_EQ(r.status, 401) << path << " " << ::testing::PrintToString(args);
      }
    }
  }
  unlink(file.c_str());
}

TEST_F(AuthE2eTest, CapabilitiesNeedOnlyValidCredentials) {
  v2::GetCapabilitiesRequest req;
  v2::ServerCapabilities caps;
  EXPECT_TRUE(caps_->GetCapabilities(Ctx("").get(), req, &caps).ok());
  EXPECT_TRUE(caps_->GetCapabilities(Ctx(Bearer(kReaderToken)).get(), req, &caps).ok());
  EXPECT_EQ(
      caps_->GetCapabilities(Ctx(Bearer("bogus-0123456789abc")).get(), req, &caps).error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AuthE2eTest, ReapiWriterCanDoEverything) {
  const std::string blob = "built by CI";
  ASSERT_TRUE(BatchUpdate(Bearer(kCiToken), "", blob).ok());
  ASSERT_TRUE(ByteStreamWrite(Bearer(kCiToken), "", "streamed by CI").ok());
  ASSERT_TRUE(UpdateAction(Bearer(kCiToken), "", "action-1").ok());
  EXPECT_TRUE(GetAction(Bearer(kCiToken), "", "action-1").ok());
  std::string got;
  ASSERT_TRUE(ByteStreamRead(Bearer(kCiToken), "", blob, &got).ok());
  EXPECT_EQ(got, blob);
  // Basic with a bcrypt user that has write.
  EXPECT_TRUE(BatchUpdate(BasicHeader("alice:wonderland"), "", "from alice").ok());
}

TEST_F(AuthE2eTest, ReadOnlyPrincipalCannotWriteByAnyPath) {
  ASSERT_TRUE(BatchUpdate(Bearer(kCiToken), "", "shared blob").ok());
  ASSERT_TRUE(UpdateAction(Bearer(kCiToken), "", "action-r").ok());
  // Reads work.
  EXPECT_TRUE(FindMissing(Bearer(kReaderToken), "").ok());
  EXPECT_TRUE(GetAction(Bearer(kReaderToken), "", "action-r").ok());
  EXPECT_TRUE(ByteStreamRead(Bearer(kReaderToken), "", "shared blob").ok());
  // Writes do not, whichever call carries them.
  grpc::Status st = BatchUpdate(Bearer(kReaderToken), "", "forbidden");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(st.error_message().find("token 'reader': this call needs the write scope"),
            std::string::npos)
      << st.error_message();
  EXPECT_EQ(ByteStreamWrite(Bearer(kReaderToken), "", "forbidden").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(UpdateAction(Bearer(kReaderToken), "", "action-x").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // bob comes from the htpasswd file (SHA-512-crypt) with its read-only scope.
  EXPECT_TRUE(FindMissing(BasicHeader("bob:builder"), "").ok());
  EXPECT_EQ(BatchUpdate(BasicHeader("bob:builder"), "", "forbidden").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // Nothing was stored by the refused calls.
  v2::FindMissingBlobsRequest req;
  *req.add_blob_digests() = ProtoDigest("forbidden");
  v2::FindMissingBlobsResponse resp;
  ASSERT_TRUE(cas_->FindMissingBlobs(Ctx(Bearer(kCiToken)).get(), req, &resp).ok());
  EXPECT_EQ(resp.missing_blob_digests_size(), 1);
  EXPECT_EQ(GetAction(Bearer(kCiToken), "", "action-x").error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(AuthE2eTest, InstancePrefixesIsolateNamespaces) {
  EXPECT_TRUE(BatchUpdate(Bearer(kTeamAToken), "team-a", "a's blob").ok());
  EXPECT_TRUE(UpdateAction(Bearer(kTeamAToken), "team-a/linux", "act").ok());
  EXPECT_TRUE(GetAction(Bearer(kTeamAToken), "team-a/linux", "act").ok());
  EXPECT_TRUE(ByteStreamWrite(Bearer(kTeamAToken), "team-a/linux", "streamed").ok());
  for (const std::string instance : {"team-b", "", "team-ab", "other/team-a"}) {
    grpc::Status st = GetAction(Bearer(kTeamAToken), instance, "act");
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << instance;
    EXPECT_NE(st.error_message().find("instance '" + instance + "'"), std::string::npos)
        << st.error_message();
  }
  EXPECT_EQ(FindMissing(Bearer(kTeamAToken), "team-b").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(BatchUpdate(Bearer(kTeamAToken), "team-b", "b").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ByteStreamRead(Bearer(kTeamAToken), "team-b", "a's blob").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ByteStreamWrite(Bearer(kTeamAToken), "team-b", "x").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AuthE2eTest, AnonymousGetsExactlyItsScope) {
  ASSERT_TRUE(UpdateAction(Bearer(kCiToken), "public", "pub-action").ok());
  EXPECT_TRUE(FindMissing("", "public").ok());
  EXPECT_TRUE(GetAction("", "public", "pub-action").ok());
  // Anonymous may not write, even where it may read; nor read elsewhere.
  grpc::Status st = BatchUpdate("", "public", "anon");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(st.error_message().find("write scope"), std::string::npos) << st.error_message();
  EXPECT_EQ(UpdateAction("", "public", "a").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(FindMissing("", "private").error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// ---- zako ----

TEST_F(AuthE2eTest, ZakoNeedsCredentialsAndTokensCarryScopes) {
  zpb::cas::GetTransportDetailsRequest req;
  req.add_supported_protocols(zpb::net::grpc);
  zpb::cas::TransportDetails details;
  grpc::Status st = zako_->cas().GetTransportDetails(Ctx("").get(), req, &details);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  st = zako_->cas().GetTransportDetails(Ctx(Bearer(kExpiredToken)).get(), req, &details);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  {
    auto ctx = Ctx("");
    auto stream = zako_->cas().NegotiateBlobs(ctx.get());
    stream->WritesDone();
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    // With credentials NegotiateBlobs works as usual.
    auto ctx = Ctx(Bearer(kReaderToken));
    auto stream = zako_->cas().NegotiateBlobs(ctx.get());
    zpb::cas::NegotiateBlobsRequest n;
    *n.add_blob_digests() = zako_e2e::ToProto(zako_e2e::Blake3Of("nobody has this"));
    stream->Write(n);
    stream->WritesDone();
    zpb::cas::NegotiateBlobsResponse r;
    int missing = 0;
    while (stream->Read(&r)) missing += r.missing_blob_digests_size();
    EXPECT_TRUE(stream->Finish().ok());
    EXPECT_EQ(missing, 1);
  }

  const std::string blob = zako_e2e::Bytes(100000, 7);
  const Digest d = zako_e2e::Blake3Of(blob);
  // A writer's token uploads.
  ASSERT_TRUE(zako_->cas().GetTransportDetails(Ctx(Bearer(kCiToken)).get(), req, &details).ok());
  std::string ci_transport = "Bearer " + details.auth_token();
  std::vector<zpb::transport::UploadRequest> msgs = {zako_e2e::MetadataMessage(d),
                                                     zako_e2e::ChunkMessage(blob)};
  auto up = zako_->UploadRaw(msgs, ci_transport);
  ASSERT_TRUE(up.status.ok()) << up.status.error_message();
  EXPECT_EQ(up.committed_size, blob.size());

  // A reader's token downloads but cannot upload.
  ASSERT_TRUE(
      zako_->cas().GetTransportDetails(Ctx(Bearer(kReaderToken)).get(), req, &details).ok());
  std::string reader_transport = "Bearer " + details.auth_token();
  const std::string other = zako_e2e::Bytes(5000, 8);
  up = zako_->UploadRaw(
      {zako_e2e::MetadataMessage(zako_e2e::Blake3Of(other)), zako_e2e::ChunkMessage(other)},
      reader_transport);
  EXPECT_EQ(up.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << up.status.error_message();
  EXPECT_NE(up.status.error_message().find("write scope"), std::string::npos);
  auto down = zako_->Download(d, std::nullopt, std::nullopt, reader_transport);
  ASSERT_TRUE(down.status.ok()) << down.status.error_message();
  EXPECT_EQ(down.data, blob);
  // The zako calls act on the default instance, which team-a's token may not use.
  st = zako_->cas().GetTransportDetails(Ctx(Bearer(kTeamAToken)).get(), req, &details);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

// ---- cycas's own clients: the `cycas` command and the remote tier ----

TEST_F(AuthE2eTest, CycasCommandSendsCycasToken) {
  const std::string blob = zako_e2e::Bytes(30000, 11);
  const Digest d = zako_e2e::Blake3Of(blob);
  const std::string file = (dir_.path() / "blob.bin").string();
  zako_e2e::WriteFile(file, blob);
  const std::string server = server_->address("grpc");
  unsetenv("CYCAS_TOKEN");
  auto r = zako_e2e::RunCycas({"--server", server, "-q", "put", file});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("UNAUTHENTICATED"), std::string::npos) << r.out << r.err;
  setenv("CYCAS_TOKEN", kReaderToken.c_str(), 1);
  r = zako_e2e::RunCycas({"--server", server, "-q", "put", file});
  EXPECT_NE(r.exit_code, 0);
  // put reports each file's failure on its result line.
  EXPECT_NE((r.out + r.err).find("PERMISSION_DENIED"), std::string::npos) << r.out << r.err;
  setenv("CYCAS_TOKEN", kCiToken.c_str(), 1);
  r = zako_e2e::RunCycas({"--server", server, "-q", "put", file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  setenv("CYCAS_TOKEN", kReaderToken.c_str(), 1);
  const std::string out = (dir_.path() / "got.bin").string();
  r = zako_e2e::RunCycas(
      {"--server", server, "-q", "get", d.hex() + "/" + std::to_string(blob.size()), "-o", out});
  unsetenv("CYCAS_TOKEN");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(zako_e2e::ReadFileOrEmpty(out), blob);
}

TEST_F(AuthE2eTest, RemoteTierSendsItsTokenFile) {
  const std::string blob = zako_e2e::Bytes(20000, 12);
  const Digest d = zako_e2e::Blake3Of(blob);
  zpb::cas::GetTransportDetailsRequest req;
  req.add_supported_protocols(zpb::net::grpc);
  zpb::cas::TransportDetails details;
  ASSERT_TRUE(zako_->cas().GetTransportDetails(Ctx(Bearer(kCiToken)).get(), req, &details).ok());
  auto up = zako_->UploadRaw({zako_e2e::MetadataMessage(d), zako_e2e::ChunkMessage(blob)},
                             "Bearer " + details.auth_token());
  ASSERT_TRUE(up.status.ok()) << up.status.error_message();

  // An open front server whose remote tier is this (authenticated) server.
  WriteText(dir_.path() / "remote.token", kReaderToken + "\n");
  testing::CycasdProcess front({"remote.address=" + server_->address("grpc"),
                                "remote.token_file=" + (dir_.path() / "remote.token").string()});
  ASSERT_TRUE(front.Start()) << front.error();
  zako_e2e::ZakoConn conn(front.address("grpc"), front.address("transport"));
  auto down = conn.Download(d);
  ASSERT_TRUE(down.status.ok()) << down.status.error_message();
  EXPECT_EQ(down.data, blob);

  // Without the token the remote tier cannot fetch it.
  testing::CycasdProcess bare({"remote.address=" + server_->address("grpc")});
  ASSERT_TRUE(bare.Start()) << bare.error();
  zako_e2e::ZakoConn bare_conn(bare.address("grpc"), bare.address("transport"));
  EXPECT_FALSE(bare_conn.Download(d).status.ok());
}

TEST_F(AuthE2eTest, SighupReloadsTheCredentialsFile) {
  const std::string new_token = "rotated-0123456789abcdef012345678";
  EXPECT_EQ(FindMissing(Bearer(new_token), "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Rotate: the reader token goes, a new one comes.
  std::string creds = Credentials();
  size_t at = creds.find(kReaderToken);
  ASSERT_NE(at, std::string::npos);
  creds.replace(at, kReaderToken.size(), new_token);
  WriteText(dir_.path() / "creds.toml", creds);
  ASSERT_EQ(kill(server_->pid(), SIGHUP), 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!FindMissing(Bearer(new_token), "").ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(FindMissing(Bearer(new_token), "").ok());
  EXPECT_EQ(FindMissing(Bearer(kReaderToken), "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A broken file is refused and the credentials in force stay.
  WriteText(dir_.path() / "creds.toml", "anonymous = \"sometimes\"\n");
  ASSERT_EQ(kill(server_->pid(), SIGHUP), 0);
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server_->log().find("credentials reload failed") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(server_->log().find("credentials reload failed"), std::string::npos) << server_->log();
  EXPECT_TRUE(FindMissing(Bearer(new_token), "").ok());
  EXPECT_TRUE(FindMissing(Bearer(kCiToken), "").ok());
}

// ---- HTTP ----

TEST_F(AuthE2eTest, HttpRefusesMissingWrongAndExpiredCredentials) {
  const std::string blob = "http blob";
  const std::string path = "/cas/" + Sha256Hex(blob);
  CurlResponse r = Curl({HttpUrl(path)});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("www-authenticate"), "Basic realm=\"cycas\"");
  EXPECT_NE(r.body.find("credentials required"), std::string::npos) << r.body;
  r = Curl({"-u", "alice:wrong", HttpUrl(path)});
  EXPECT_EQ(r.status, 401);
  r = Curl({"-u", "nobody:wonderland", HttpUrl(path)});
  EXPECT_EQ(r.status, 401);
  r = Curl({"-H", "Authorization: Bearer " + kExpiredToken, HttpUrl(path)});
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("expired"), std::string::npos) << r.body;
  std::string file = testing::TempFile(blob);
  r = Curl({"-T", file, HttpUrl(path)});
  EXPECT_EQ(r.status, 401);
  unlink(file.c_str());
}

TEST_F(AuthE2eTest, HttpBazelStyleBasicAuthAndScopes) {
  const std::string blob = "uploaded with curl -u, as Bazel sends --remote_cache=http://u:p@...";
  const std::string path = "/cas/" + Sha256Hex(blob);
  std::string file = testing::TempFile(blob);
  // bob (read-only) may not write; alice (bcrypt, read-write) may.
  CurlResponse r = Curl({"-u", "bob:builder", "-T", file, HttpUrl(path)});
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("user 'bob': this call needs the write scope"), std::string::npos)
      << r.body;
  r = Curl({"-u", "alice:wonderland", "-T", file, HttpUrl(path)});
  EXPECT_TRUE(r.status == 200 || r.status == 201 || r.status == 204) << r.status << " " << r.body;
  r = Curl({"-u", "bob:builder", HttpUrl(path)});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, blob);
  // Credentials in the URL, the form Bazel's --remote_cache takes.
  std::string url = HttpUrl(path);
  url.insert(std::string("http://").size(), "alice:wonderland@");
  r = Curl({url});
  EXPECT_EQ(r.status, 200);
  // Bearer works over HTTP too.
  r = Curl({"-H", "Authorization: Bearer " + kReaderToken, "-I", HttpUrl(path)});
  EXPECT_EQ(r.status, 200);
  unlink(file.c_str());
}

TEST_F(AuthE2eTest, HttpInstanceIsolationAndAnonymousRead) {
  const std::string value = "an action result stand-in";
  std::string file = testing::TempFile(value);
  const std::string key = Sha256Hex("some action");
  CurlResponse r = Curl(
      {"-H", "Authorization: Bearer " + kTeamAToken, "-T", file, HttpUrl("/team-a/ac/" + key)});
  EXPECT_TRUE(r.status == 200 || r.status == 201 || r.status == 204) << r.status << r.body;
  r = Curl(
      {"-H", "Authorization: Bearer " + kTeamAToken, "-T", file, HttpUrl("/team-b/ac/" + key)});
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("instance 'team-b'"), std::string::npos) << r.body;
  r = Curl({"-H", "Authorization: Bearer " + kTeamAToken, HttpUrl("/team-b/ac/" + key)});
  EXPECT_EQ(r.status, 403);
  r = Curl({"-H", "Authorization: Bearer " + kTeamAToken, HttpUrl("/team-a/ac/" + key)});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, value);

  // Anonymous: read in "public", nothing else; /metrics needs only the read scope.
  r = Curl({"-H", "Authorization: Bearer " + kCiToken, "-T", file, HttpUrl("/public/ac/" + key)});
  EXPECT_TRUE(r.status == 200 || r.status == 201 || r.status == 204) << r.status;
  r = Curl({HttpUrl("/public/ac/" + key)});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, value);
  r = Curl({"-T", file, HttpUrl("/public/ac/" + key)});
  EXPECT_EQ(r.status, 401);
  r = Curl({HttpUrl("/team-a/ac/" + key)});
  EXPECT_EQ(r.status, 401);
  r = Curl({HttpUrl("/metrics")});
  EXPECT_EQ(r.status, 200);
  unlink(file.c_str());
}

// ---- HTTPS ----

// A throwaway CA, a server certificate for 127.0.0.1 and a client certificate
// (CN agent-1), made with the openssl command line at test time.
bool MakeCertificates(const std::filesystem::path& dir, std::string* log) {
  auto p = [&](const char* name) { return (dir / name).string(); };
  WriteText(dir / "server.ext", "subjectAltName=IP:127.0.0.1\n");
  std::vector<std::vector<std::string>> steps = {
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "1", "-subj",
       "/CN=cycas test CA"},
      {"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", p("server.key"), "-out", p("server.csr"), "-subj", "/CN=127.0.0.1"},
      {"openssl", "x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
       "-CAcreateserial", "-out", p("server.pem"), "-days", "1", "-extfile", p("server.ext")},
      {"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", p("client.key"), "-out", p("client.csr"), "-subj", "/CN=agent-1"},
      {"openssl", "x509", "-req", "-in", p("client.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
       "-CAcreateserial", "-out", p("client.pem"), "-days", "1"},
  };
  for (const auto& argv : steps) {
    std::string out;
    if (testing::RunCommand(argv, {}, &out) != 0) {
      *log = out;
      return false;
    }
  }
  return true;
}

TEST(AuthHttpsE2eTest, HttpsWithBasicAndClientCertificates) {
  TempDir dir;
  std::string log;
  ASSERT_TRUE(MakeCertificates(dir.path(), &log)) << log;
  WriteText(dir.path() / "creds.toml",
            "anonymous = \"none\"\n"
            "[[user]]\nname = \"alice\"\npassword = \"" +
                CryptHash("$2y$", 5, "wonderland") +
                "\"\nscopes = [\"read\", \"write\"]\n"
                "[[cert]]\ncn = \"agent-1\"\nscopes = [\"read\", \"write\"]\n");
  auto p = [&](const char* name) { return (dir.path() / name).string(); };
  testing::CycasdProcess server(
      {"auth.credentials_file=" + p("creds.toml"), "http.tls_cert_file=" + p("server.pem"),
       "http.tls_key_file=" + p("server.key"), "http.tls_client_ca_file=" + p("ca.pem")});
  ASSERT_TRUE(server.Start()) << server.error();
  const std::string base = "https://127.0.0.1:" + std::to_string(server.port("http"));
  const std::string blob = "over TLS";
  const std::string path = "/cas/" + Sha256Hex(blob);
  std::string file = testing::TempFile(blob);

  CurlResponse r = Curl({"--cacert", p("ca.pem"), base + path});
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("www-authenticate"), "Basic realm=\"cycas\"");
  // With anonymous "none", /metrics needs credentials too.
  r = Curl({"--cacert", p("ca.pem"), base + "/metrics"});
  EXPECT_EQ(r.status, 401);
  r = Curl({"--cacert", p("ca.pem"), "-u", "alice:wonderland", "-T", file, base + path});
  EXPECT_TRUE(r.status == 200 || r.status == 201 || r.status == 204)
      << r.status << " " << r.stderr_text;
  r = Curl({"--cacert", p("ca.pem"), "-u", "alice:wonderland", base + path});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, blob);
  r = Curl({"--cacert", p("ca.pem"), "-u", "alice:wonderland", base + "/metrics"});
  EXPECT_EQ(r.status, 200);
  // A client certificate whose CN the credentials file maps to a principal.
  r = Curl(
      {"--cacert", p("ca.pem"), "--cert", p("client.pem"), "--key", p("client.key"), base + path});
  EXPECT_EQ(r.status, 200) << r.stderr_text;
  EXPECT_EQ(r.body, blob);
  // The certificate is verified against the CA: curl without --cacert refuses the
  // server, and plain HTTP on the TLS port gets no HTTP answer.
  r = Curl({base + path});
  EXPECT_NE(r.exit_code, 0);
  r = Curl(
      {"-u", "alice:wonderland", "http://127.0.0.1:" + std::to_string(server.port("http")) + path});
  EXPECT_NE(r.status, 200);
  unlink(file.c_str());
}

TEST(AuthGrpcTlsE2eTest, ClientCertificateCommonNameIsAPrincipal) {
  TempDir dir;
  std::string log;
  ASSERT_TRUE(MakeCertificates(dir.path(), &log)) << log;
  // agent-1 (the client certificate's CN) may read; nobody else is listed.
  WriteText(dir.path() / "creds.toml",
            "[[cert]]\ncn = \"agent-1\"\nscopes = [\"read\"]\n"
            "[[token]]\nname = \"ci\"\ntoken = \"" +
                kCiToken + "\"\nscopes = [\"read\", \"write\"]\n");
  auto p = [&](const char* name) { return (dir.path() / name).string(); };
  testing::CycasdProcess server(
      {"auth.credentials_file=" + p("creds.toml"), "tls.cert_file=" + p("server.pem"),
       "tls.key_file=" + p("server.key"), "tls.client_ca_file=" + p("ca.pem")});
  ASSERT_TRUE(server.Start()) << server.error();
  auto read = [&](const char* name) {
    std::ifstream in(p(name));
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = read("ca.pem");
  ssl.pem_private_key = read("client.key");
  ssl.pem_cert_chain = read("client.pem");
  auto channel = grpc::CreateChannel(server.address("grpc"), grpc::SslCredentials(ssl));
  auto cas = v2::ContentAddressableStorage::NewStub(channel);
  auto ctx = [](const std::string& authorization) {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (!authorization.empty()) c->AddMetadata("authorization", authorization);
    return c;
  };
  v2::FindMissingBlobsRequest find;
  *find.add_blob_digests() = ProtoDigest("probe");
  v2::FindMissingBlobsResponse found;
  grpc::Status st = cas->FindMissingBlobs(ctx("").get(), find, &found);
  EXPECT_TRUE(st.ok()) << st.error_message();
  v2::BatchUpdateBlobsRequest update;
  auto* r = update.add_requests();
  *r->mutable_digest() = ProtoDigest("cert");
  r->set_data("cert");
  v2::BatchUpdateBlobsResponse updated;
  st = cas->BatchUpdateBlobs(ctx("").get(), update, &updated);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(st.error_message().find("certificate 'agent-1'"), std::string::npos)
      << st.error_message();
  // A token on the same connection takes precedence over the certificate.
  st = cas->BatchUpdateBlobs(ctx("Bearer " + kCiToken).get(), update, &updated);
  EXPECT_TRUE(st.ok()) << st.error_message();
}

TEST(AuthConfigE2eTest, MalformedCredentialsFileStopsTheServerNamingLineAndField) {
  TempDir dir;
  WriteText(dir.path() / "creds.toml",
            "[[token]]\nname = \"ci\"\nsha256 = \"not-hex\"\nscopes = [\"read\"]\n");
  testing::CycasdProcess server({"auth.credentials_file=" + (dir.path() / "creds.toml").string()});
  EXPECT_FALSE(server.Start(10000));
  EXPECT_NE(server.log().find("line 3"), std::string::npos) << server.log();
  EXPECT_NE(server.log().find("token[0] ('ci').sha256"), std::string::npos) << server.log();
  // --check-config finds it too, before any restart.
  std::string out;
  int rc = testing::RunCommand({testing::CycasdProcess::BinaryPath(), "--check-config", "--set",
                                "auth.credentials_file=" + (dir.path() / "creds.toml").string()},
                               {}, &out);
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("line 3: token[0] ('ci').sha256: must be 64 hex digits"), std::string::npos)
      << out;
}

}  // namespace
}  // namespace cycas
