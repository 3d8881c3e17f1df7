#include "grpc_fixture.h"

#include <google/protobuf/stubs/logging.h>
#include <grpcpp/security/server_credentials.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "api/reapi/reapi_services.h"
#include "api/zako/frontend.h"
#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "cas/action_cache.h"
#include "cas/cas_store.h"
#include "cas/memory_blob_store.h"
#include "cas/tiered_blob_store.h"
#include "server/options.h"
#include "util/config.h"
#include "util/log.h"
#include "zako/v1/cas.grpc.pb.h"

namespace cycas::fuzz {
namespace {

namespace re = build::bazel::remote::execution::v2;

// The action cache's records, in memory (the server keeps them in the engine).
class MapRecords final : public RecordStore {
 public:
  Result<std::string> Get(std::string_view name) override {
    std::lock_guard lk(mu_);
    auto it = map_.find(std::string(name));
    if (it == map_.end()) return Status::NotFound("no record " + std::string(name));
    return it->second;
  }
  Status Put(std::string_view name, std::string_view value) override {
    if (value.size() > max_value_size()) return Status::InvalidArgument("record too large");
    std::lock_guard lk(mu_);
    map_[std::string(name)] = std::string(value);
    return Status::Ok();
  }
  Status Remove(std::string_view name) override {
    std::lock_guard lk(mu_);
    map_.erase(std::string(name));
    return Status::Ok();
  }
  size_t max_value_size() const override { return size_t{1} << 20; }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> map_;
};

void Check(const Status& st, const char* what) {
  if (!st.ok()) FailIn("grpc_fixture", std::string(what) + ": " + st.ToString());
}

void SetDigest(const Digest& d, re::Digest* out) {
  out->set_hash(d.hex());
  out->set_size_bytes(static_cast<int64_t>(d.size_bytes()));
}

std::string g_spool_root;
void RemoveSpool() {
  std::error_code ec;
  if (!g_spool_root.empty()) std::filesystem::remove_all(g_spool_root, ec);
}

// Everything the services need, kept alive for the life of the process.
struct Backend {
  // Bounded so that a long run's uploads cannot grow memory without limit:
  // both tiers evict (LRU) when full.
  MemoryBlobStore ram{uint64_t{16} << 20, uint64_t{64} << 10};
  MemoryBlobStore local{uint64_t{128} << 20, uint64_t{128} << 20};
  TieredBlobStore tiers{&ram, &local, nullptr, TieredBlobStore::Options{}};
  MapRecords records;
  Config config{server::ServerOptionSpecs()};
  std::unique_ptr<CasStore> cas;
  std::unique_ptr<ActionCache> action_cache;
  std::unique_ptr<api::reapi::ReapiServices> reapi;
  std::unique_ptr<api::zako::ZakoFrontend> zako;
  std::unique_ptr<grpc::Server> server;
  std::mutex token_mu;
  std::string token;
  std::chrono::steady_clock::time_point token_time;
};

Backend* g_backend = nullptr;

GrpcFixture* Build() {
  if (const char* level = std::getenv("CYCAS_FUZZ_LOG")) {
    log::Level l;
    if (log::ParseLevel(level, &l)) log::SetLevel(l);
  } else {
    // A log line per rejected request would cost more than the request.
    log::SetLevel(log::Level::kOff);
  }
  // Protobuf logs every string field with invalid UTF-8 it refuses to parse:
  // most fuzz inputs, and nothing to learn from.
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  auto* b = new Backend();
  g_backend = b;

  std::string dir = (std::filesystem::temp_directory_path() / "cycas-fuzz-grpc-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) FailIn("grpc_fixture", "mkdtemp failed for " + dir);
  g_spool_root = dir;
  std::atexit(RemoveSpool);
  Check(b->config.Set("server.data_dir", g_spool_root), "server.data_dir");
  // Transport on the main (in-process) server, not on a listener of its own.
  Check(b->config.Set("zako.transport_listen", ""), "zako.transport_listen");
  // Keeps a broken upload's prefix (so resumption and QueryWriteStatus are
  // exercised) but bounds the spool's disk use.
  Check(b->config.Set("reapi.upload_spool_max", "64MiB"), "reapi.upload_spool_max");

  b->cas = std::make_unique<CasStore>(
      &b->tiers, &b->records,
      CasOptions{.max_blob_size = b->config.GetBytes("cas.max_blob_size"),
                 .single_flight_wait = b->config.GetDuration("cas.single_flight_wait")});
  b->action_cache = std::make_unique<ActionCache>(b->cas.get(), &b->records);

  auto reapi_options = api::reapi::ReapiOptionsFromConfig(b->config);
  Check(reapi_options.status(), "ReapiOptionsFromConfig");
  auto reapi = api::reapi::ReapiServices::Create(std::move(*reapi_options), b->cas.get(),
                                                 b->action_cache.get());
  Check(reapi.status(), "ReapiServices::Create");
  b->reapi = std::move(*reapi);
  auto zako = api::zako::ZakoFrontend::Create(b->config, b->cas.get());
  Check(zako.status(), "ZakoFrontend::Create");
  b->zako = std::move(*zako);

  int max_msg = static_cast<int>(b->config.GetBytes("server.grpc_max_message"));
  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(max_msg);
  builder.SetMaxSendMessageSize(max_msg);
  b->reapi->Register(builder);
  b->zako->RegisterServices(&builder);
  // gRPC's sync server ends idle worker threads beyond MAX_POLLERS (default
  // 2). LeakSanitizer, checking after an input, does not reliably scan the
  // thread-local storage of a thread that is ending, and reported what its
  // thread_locals own (HashOf's per-thread SHA-256 context, with glibc's and
  // gRPC's bookkeeping for the thread) as leaked, about once per 20,000
  // inputs and never reproducibly (regressions/fuzz_zako_services/lsan-*).
  // A fuzzing client needs only a few threads: keep them all.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 1000);
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  b->server = builder.BuildAndStart();
  if (!b->server || port == 0) FailIn("grpc_fixture", "BuildAndStart failed");
  // No socket: the advertised Transport address is never dialled, it only has
  // to be a valid one for GetTransportDetails to answer.
  Check(b->zako->Start(grpc::InsecureServerCredentials(), max_msg, "127.0.0.1:1", 1),
        "ZakoFrontend::Start");

  auto* f = new GrpcFixture();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_msg);
  args.SetMaxSendMessageSize(max_msg);
  f->channel = b->server->InProcessChannel(args);
  f->stream_channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                                grpc::InsecureChannelCredentials(), args);

  // Known content.
  f->blob = "cycas fuzz blob\n";
  f->blob_sha256 = Digest::Of(DigestFunction::kSha256, f->blob);
  f->blob_blake3 = Digest::Of(DigestFunction::kBlake3, f->blob);
  Check(b->cas->Put(f->blob_sha256, f->blob), "put blob");
  Check(b->cas->Put(f->blob_blake3, f->blob), "put blake3 blob");
  re::Directory leaf;
  auto* file = leaf.add_files();
  file->set_name("file");
  SetDigest(f->blob_sha256, file->mutable_digest());
  std::string leaf_bytes = leaf.SerializeAsString();
  Digest leaf_digest = Digest::Of(DigestFunction::kSha256, leaf_bytes);
  Check(b->cas->Put(leaf_digest, leaf_bytes), "put leaf directory");
  re::Directory root;
  auto* sub = root.add_directories();
  sub->set_name("sub");
  SetDigest(leaf_digest, sub->mutable_digest());
  auto* file2 = root.add_files();
  file2->set_name("top");
  SetDigest(f->blob_sha256, file2->mutable_digest());
  std::string root_bytes = root.SerializeAsString();
  f->tree_root = Digest::Of(DigestFunction::kSha256, root_bytes);
  Check(b->cas->Put(f->tree_root, root_bytes), "put root directory");
  re::Tree tree;
  *tree.mutable_root() = root;
  *tree.add_children() = leaf;
  std::string tree_bytes = tree.SerializeAsString();
  f->tree = Digest::Of(DigestFunction::kSha256, tree_bytes);
  Check(b->cas->Put(f->tree, tree_bytes), "put tree");

  f->action = Digest::Of(DigestFunction::kSha256, std::string_view("cycas fuzz action"));
  re::UpdateActionResultRequest update;
  SetDigest(f->action, update.mutable_action_digest());
  auto* out = update.mutable_action_result()->add_output_files();
  out->set_path("out/file");
  SetDigest(f->blob_sha256, out->mutable_digest());
  re::ActionResult stored;
  auto ctx = NewContext();
  auto st = re::ActionCache::NewStub(f->channel)->UpdateActionResult(ctx.get(), update, &stored);
  if (!st.ok()) FailIn("grpc_fixture", "UpdateActionResult: " + st.error_message());
  return f;
}

}  // namespace

// The gRPC targets never stop their server (see grpc_fixture.h), so its
// threads are alive at exit, and LeakSanitizer's exit-time check reports what
// they own (HashOf's thread_local SHA-256 context, gRPC's own objects) as
// leaked: the threads are blocked in gRPC, not finished, and their
// thread-local storage is not reliably scanned. libFuzzer's check after each
// input (-detect_leaks) stays on; only the check at exit is off.
extern "C" const char* __lsan_default_options() {
  return "leak_check_at_exit=0";
}

GrpcFixture& GrpcFixture::Get() {
  static GrpcFixture* f = Build();
  return *f;
}

std::string GrpcFixture::Token() {
  Backend* b = g_backend;
  std::lock_guard lk(b->token_mu);
  auto now = std::chrono::steady_clock::now();
  // Well inside zako.token_ttl (1 h), so long runs never use an expired token.
  if (b->token.empty() || now - b->token_time > std::chrono::minutes(5)) {
    ::zako::v1::cas::GetTransportDetailsRequest req;
    req.add_supported_protocols(::zako::v1::net::grpc);
    ::zako::v1::cas::TransportDetails details;
    auto ctx = NewContext();
    auto st = ::zako::v1::cas::ContentAddressableStorage::NewStub(channel)->GetTransportDetails(
        ctx.get(), req, &details);
    if (!st.ok()) FailIn("grpc_fixture", "GetTransportDetails: " + st.error_message());
    b->token = details.auth_token();
    b->token_time = now;
  }
  return b->token;
}

bool GrpcFixture::Contains(const Digest& digest) {
  auto r = g_backend->cas->Contains(digest);
  return r.ok() && *r;
}

std::unique_ptr<grpc::ClientContext> NewContext() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  return ctx;
}

void CheckStatus(std::string_view rpc, const grpc::Status& status,
                 std::set<grpc::StatusCode> extra) {
  using C = grpc::StatusCode;
  static const std::set<C> kAllowed = {C::OK,
                                       C::INVALID_ARGUMENT,
                                       C::NOT_FOUND,
                                       C::ALREADY_EXISTS,
                                       C::FAILED_PRECONDITION,
                                       C::OUT_OF_RANGE,
                                       C::RESOURCE_EXHAUSTED};
  std::string what = std::string(rpc) + ": status " + std::to_string(status.error_code()) + " '" +
                     status.error_message().substr(0, 512) + "'";
  static const bool verbose = std::getenv("CYCAS_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "%s\n", what.c_str());
  if (!kAllowed.count(status.error_code()) && !extra.count(status.error_code())) {
    FailIn("grpc", "unexpected status code: " + what);
  }
  if (status.ok()) return;
  if (status.error_message().empty()) FailIn("grpc", "error without a message: " + what);
  if (status.error_message().size() > 8192) {
    FailIn("grpc", "error message of " + std::to_string(status.error_message().size()) +
                       " bytes (clients accept 8 KiB of metadata): " + what);
  }
}

bool Pieces::Next(std::string* out) {
  if (size_ == 0) return false;
  size_t len = data_[0];
  if (size_ >= 2) len |= size_t{data_[1]} << 8;
  size_t head = size_ >= 2 ? 2 : 1;
  data_ += head;
  size_ -= head;
  len = std::min(len, size_);
  out->assign(reinterpret_cast<const char*>(data_), len);
  data_ += len;
  size_ -= len;
  return true;
}

std::string PieceOf(std::string_view bytes) {
  if (bytes.size() > 0xffff) FailIn("grpc_fixture", "seed piece too long");
  std::string out;
  out += static_cast<char>(bytes.size() & 0xff);
  out += static_cast<char>(bytes.size() >> 8);
  out += bytes;
  return out;
}

void MaybeWriteSeed(const std::string& name, std::string_view bytes) {
  const char* dir = std::getenv("CYCAS_FUZZ_WRITE_SEEDS");
  if (dir == nullptr || *dir == '\0') return;
  std::filesystem::create_directories(dir);
  std::ofstream out(std::string(dir) + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) FailIn("grpc_fixture", "cannot write seed " + name);
}

}  // namespace cycas::fuzz
