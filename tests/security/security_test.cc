// Security checks that do not involve credentials (issue 7, item 6): path-like
// request data cannot reach a file outside the store, and the request, batch,
// message and decompression limits hold with precise errors and without
// blowing up the server's memory. The real cycasd on loopback, real clients.
//
// The path test runs the server under `strace -f` (attached once it is ready)
// and checks every path the server opens, creates, renames or removes while it
// answers the hostile requests; it also plants a canary directory next to the
// data directory that a naive join of the request path would write into.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "cycasd_process.h"
#include "digest/digest.h"
#include "google/bytestream/bytestream.grpc.pb.h"
#include "http_conn.h"

namespace cycas {
namespace {

namespace v2 = build::bazel::remote::execution::v2;
namespace bs = google::bytestream;
namespace fs = std::filesystem;
using testing::CycasdProcess;
using testing::HttpConn;

const std::string kUuid = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c";

v2::Digest Sha(const std::string& bytes) {
  Digest d = Digest::Of(DigestFunction::kSha256, bytes);
  v2::Digest p;
  p.set_hash(d.hex());
  p.set_size_bytes(static_cast<int64_t>(d.size_bytes()));
  return p;
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return c;
}

std::shared_ptr<grpc::Channel> Channel(const CycasdProcess& server) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(server.address("grpc"), grpc::InsecureChannelCredentials(),
                                   args);
}

// kB from /proc/<pid>/status, e.g. "VmHWM".
long ProcStatusKb(pid_t pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.compare(0, field.size() + 1, field + ":") == 0)
      return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

// `n` zero bytes as one zstd frame (a few KiB per hundreds of MiB).
std::string ZstdZeros(size_t n, bool with_size = true) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 19);
  if (with_size) ZSTD_CCtx_setPledgedSrcSize(c, n);
  std::string zeros(1 << 20, '\0');
  std::string out;
  std::string buf(ZSTD_CStreamOutSize(), '\0');
  size_t left = n;
  while (true) {
    size_t take = std::min(left, zeros.size());
    left -= take;
    ZSTD_EndDirective mode = left == 0 ? ZSTD_e_end : ZSTD_e_continue;
    ZSTD_inBuffer in{zeros.data(), take, 0};
    bool done = false;
    while (!done) {
      ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
      size_t r = ZSTD_compressStream2(c, &ob, &in, mode);
      out.append(buf.data(), ob.pos);
      done = mode == ZSTD_e_end ? r == 0 : in.pos == in.size;
    }
    if (left == 0) break;
  }
  ZSTD_freeCCtx(c);
  return out;
}

// Traces the file system calls of a running process with strace.
class FileTrace {
 public:
  FileTrace(pid_t target, const std::string& log) : log_(log) {
    pid_ = fork();
    if (pid_ == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, STDERR_FILENO);
      execlp("strace", "strace", "-f", "-qq", "-s", "4096", "-e",
             "trace=open,openat,openat2,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,"
             "symlink,symlinkat,unlink,unlinkat,truncate,chdir",
             "-p", std::to_string(target).c_str(), "-o", log.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    // strace writes nothing until a traced call happens; give it time to attach to every thread.
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    int status;
    running_ = waitpid(pid_, &status, WNOHANG) == 0;
  }
  ~FileTrace() { Stop(); }
  bool running() const { return running_; }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGINT);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  struct Call {
    std::string syscall, path, line;
  };
  // Every traced call that names a path (the first quoted argument).
  std::vector<Call> Calls() const {
    std::vector<Call> out;
    std::ifstream f(log_);
    std::string line;
    std::regex call("^(?:\\[pid +)?\\d*\\]? *([a-z0-9_]+)\\(.*?\"((?:[^\"\\\\]|\\\\.)*)\"");
    std::smatch m;
    while (std::getline(f, line)) {
      if (std::regex_search(line, m, call)) out.push_back({m[1], m[2], line});
    }
    return out;
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  bool running_ = false;
};

class SecurityTest : public ::testing::Test {
 protected:
  static std::vector<std::string> Limits() {
    return {"http.max_header_size=8KiB", "http.max_body_size=32MiB", "reapi.max_batch_size=256KiB",
            "server.grpc_max_message=1MiB", "zako.chunk_size=512KiB"};
  }
};

// Every hostile path gets its protocol's precise error, and the server opens
// no file outside its data directory while answering them.
TEST_F(SecurityTest, PathLikeInputsCannotEscapeTheDataDir) {
  CycasdProcess server;
  ASSERT_TRUE(server.Start()) << server.error();
  fs::path data = fs::canonical(server.data_dir());
  // A canary beside the data directory: "../<canary>/x" from the data dir
  // (or from its uploads/ or store directory) lands here.
  char tmpl[] = "/tmp/cycas-canary-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  fs::path canary = tmpl;
  std::string cname = canary.filename();
  std::set<std::string> before;
  for (const auto& e : fs::recursive_directory_iterator(data)) before.insert(e.path());

  std::string trace_log = canary.string() + ".strace";
  FileTrace trace(server.pid(), trace_log);
  ASSERT_TRUE(trace.running()) << "strace could not attach (needs ptrace permission)";

  // HTTP: raw request targets, sent byte-exact (curl would normalise them).
  const std::string hex = Sha("payload").hash();
  struct Case {
    std::string method, target;
  };
  std::vector<Case> http_cases = {
      {"PUT", "/cas/../" + cname + "/x"},
      {"GET", "/cas/../../etc/passwd"},
      {"PUT", "/../" + cname + "/cas/" + hex},
      {"PUT", "/%2e%2e/" + cname + "/cas/" + hex},
      {"PUT", "/%2E%2E/%2E%2E/" + cname + "/ac/" + hex},
      {"GET", "/cas/%2e%2e%2f%2e%2e%2fetc%2fpasswd"},
      {"PUT", "/ccache/../" + cname + "/x"},
      {"PUT", "/ccache/a/../../" + cname + "/x"},
      {"PUT", "/ccache/%2e%2e/" + cname + "/x"},
      {"PUT", "/ccache/..%2f" + cname + "%2fx"},
      {"PUT", "/ccache/./x"},
      {"PUT", "/ccache/a//b"},
      {"PUT", "/sccache/.."},
      {"PUT", "/ccache/a%00b"},
      {"PUT", "/ccache/a\\..\\..\\" + cname},
      {"GET", "/ccache/" + data.string() + "/store.cyc"},
      {"PUT", "/team/../../" + cname + "/ac/" + hex},
      // (append, not "/" + string: GCC 12 warns falsely of overlapping memcpy there)
      {"PUT", std::string("/").append(canary.string()).append("/cas/").append(hex)},
  };
  HttpConn http(server.port("http"));
  for (const auto& c : http_cases) {
    auto r = http.Request(c.method, c.target, c.method == "PUT" ? "payload" : "");
    EXPECT_EQ(r.status, 400) << c.method << " " << c.target << " -> " << r.status << " " << r.body
                             << r.error;
    // The error body is one line naming what was wrong.
    EXPECT_FALSE(r.body.empty()) << c.target;
    EXPECT_NE(r.body.find("path"), std::string::npos) << c.target << ": " << r.body;
  }

  // gRPC: ByteStream resource names and instance names.
  auto ch = Channel(server);
  auto bstream = bs::ByteStream::NewStub(ch);
  auto ac = v2::ActionCache::NewStub(ch);
  auto cas = v2::ContentAddressableStorage::NewStub(ch);
  v2::Digest d = Sha("payload");
  std::string blob = d.hash() + "/" + std::to_string(d.size_bytes());
  std::vector<std::string> read_names = {
      "../../etc/passwd",
      "/etc/passwd",
      "blobs/../../../etc/passwd/1",
      "../blobs/" + blob,
      "../" + cname + "/blobs/" + blob,
      "a/../../blobs/" + blob,
      "/blobs/" + blob,
      canary.string() + "/blobs/" + blob,
      "blobs/" + d.hash() + "/../../x",
      "./blobs/" + blob,
  };
  for (const auto& name : read_names) {
    bs::ReadRequest req;
    req.set_resource_name(name);
    auto ctx = Ctx();
    auto reader = bstream->Read(ctx.get(), req);
    bs::ReadResponse resp;
    while (reader->Read(&resp)) {
    }
    grpc::Status st = reader->Finish();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << name << " -> " << st.error_code() << " " << st.error_message();
    EXPECT_NE(st.error_message().find("resource_name"), std::string::npos) << st.error_message();
  }
  std::vector<std::string> write_names = {
      "../" + cname + "/uploads/" + kUuid + "/blobs/" + blob,
      "uploads/../../" + cname + "/blobs/" + blob,
      "uploads/../../../../../../" + cname + "/x/blobs/" + blob,
      canary.string() + "/uploads/" + kUuid + "/blobs/" + blob,
      "/uploads/" + kUuid + "/blobs/" + blob,
      "a/../uploads/" + kUuid + "/blobs/" + blob,
      "uploads/" + kUuid + "/blobs/../../" + cname + "/7",
  };
  for (const auto& name : write_names) {
    bs::WriteResponse resp;
    auto ctx = Ctx();
    auto w = bstream->Write(ctx.get(), &resp);
    bs::WriteRequest req;
    req.set_resource_name(name);
    req.set_data("pay");  // a partial write: the kind that is spooled for resumption
    w->Write(req);
    w->WritesDone();
    grpc::Status st = w->Finish();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << name << " -> " << st.error_code() << " " << st.error_message();
    EXPECT_NE(st.error_message().find("resource_name"), std::string::npos) << st.error_message();
    bs::QueryWriteStatusRequest q;
    q.set_resource_name(name);
    bs::QueryWriteStatusResponse qr;
    st = bstream->QueryWriteStatus(Ctx().get(), q, &qr);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name;
  }
  for (const std::string& instance :
       std::vector<std::string>{"..", "../" + cname, "a/../..", "/abs", canary.string()}) {
    v2::GetActionResultRequest req;
    req.set_instance_name(instance);
    *req.mutable_action_digest() = d;
    v2::ActionResult res;
    grpc::Status st = ac->GetActionResult(Ctx().get(), req, &res);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << instance;
    EXPECT_NE(st.error_message().find("instance_name"), std::string::npos) << st.error_message();
    v2::BatchUpdateBlobsRequest up;
    up.set_instance_name(instance);
    auto* r = up.add_requests();
    *r->mutable_digest() = d;
    r->set_data("payload");
    v2::BatchUpdateBlobsResponse upr;
    st = cas->BatchUpdateBlobs(Ctx().get(), up, &upr);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << instance;
  }

  // A legitimate partial upload after the hostile ones, so the trace shows the
  // spool working (the check below is not vacuous).
  {
    bs::WriteResponse resp;
    auto ctx = Ctx();
    auto w = bstream->Write(ctx.get(), &resp);
    bs::WriteRequest req;
    req.set_resource_name("uploads/" + kUuid + "/blobs/" + Sha(std::string(300000, 'q')).hash() +
                          "/300000");
    req.set_data(std::string(200000, 'q'));
    w->Write(req);
    // Cancel only once the server holds the bytes: a cancel that overtakes the
    // message leaves nothing to keep, and the trace would then see no spool
    // file at all (1 run in 20 did).
    bs::QueryWriteStatusRequest q;
    q.set_resource_name(req.resource_name());
    bs::QueryWriteStatusResponse qr;
    for (int i = 0; i < 250 && qr.committed_size() < 200000; i++) {
      if (!bstream->QueryWriteStatus(Ctx().get(), q, &qr).ok()) qr.Clear();
      if (qr.committed_size() < 200000) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(qr.committed_size(), 200000);
    ctx->TryCancel();
    w->Finish();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  trace.Stop();

  // Nothing beside the data directory, nothing new in it but the store's own files.
  EXPECT_TRUE(fs::is_empty(canary)) << "a file was created in the canary directory";
  // Outside the data directory the server may only read a few fixed system
  // files that libc and OpenSSL load lazily (none named by request data).
  const std::vector<std::string> system_reads = {
      "/etc/localtime", "/usr/share/zoneinfo/", "/usr/lib/ssl/", "/etc/ssl/", "/proc/",
      "/sys/",          "/dev/urandom"};
  std::vector<FileTrace::Call> calls = trace.Calls();
  size_t in_data_dir = 0;
  for (const auto& c : calls) {
    const std::string& p = c.path;
    EXPECT_EQ(p.find(cname), std::string::npos) << "the server touched " << c.line;
    EXPECT_EQ(p.find("etc/passwd"), std::string::npos) << "the server touched " << c.line;
    bool dotdot = p == ".." || p.rfind("../", 0) == 0 || p.find("/../") != std::string::npos ||
                  (p.size() >= 3 && p.compare(p.size() - 3, 3, "/..") == 0);
    EXPECT_FALSE(dotdot) << "the server used a path with '..': " << c.line;
    if (p.rfind(data.string() + "/", 0) == 0) {
      in_data_dir++;
      continue;
    }
    if (p.empty() || p[0] != '/') continue;  // relative to a directory fd: checked for '..' above
    bool read_only = (c.syscall == "open" || c.syscall == "openat") &&
                     c.line.find("O_RDONLY") != std::string::npos &&
                     c.line.find("O_CREAT") == std::string::npos;
    bool system_file = std::any_of(system_reads.begin(), system_reads.end(),
                                   [&](const std::string& s) { return p.rfind(s, 0) == 0; });
    EXPECT_TRUE(read_only && system_file)
        << "the server opened a file outside its data directory: " << c.line;
  }
  EXPECT_GT(in_data_dir, 0u) << "the trace saw no file activity at all; is strace working?";
  std::printf("strace saw %zu file calls, %zu inside the data directory\n", calls.size(),
              in_data_dir);
  for (const auto& e : fs::recursive_directory_iterator(data)) {
    if (before.count(e.path())) continue;
    std::string rel = fs::relative(e.path(), data);
    bool store_file = rel == "uploads" || rel.rfind("uploads/", 0) == 0;
    EXPECT_TRUE(store_file) << "unexpected new file in the data directory: " << rel;
  }
  fs::remove_all(canary);
  fs::remove(trace_log);
}

TEST_F(SecurityTest, HttpHeaderAndBodyLimitsAnswer431And413) {
  CycasdProcess server(Limits());
  ASSERT_TRUE(server.Start()) << server.error();
  HttpConn http(server.port("http"));
  auto r =
      http.Request("GET", "/cas/" + Sha("x").hash(), "", "X-Padding: " + std::string(9000, 'a'));
  EXPECT_EQ(r.status, 431) << r.error;
  EXPECT_NE(r.body.find("header"), std::string::npos) << r.body;

  std::string big(33 << 20, 'b');
  HttpConn http2(server.port("http"));
  r = http2.Request("PUT", "/cas/" + Sha(big).hash(), big);
  EXPECT_EQ(r.status, 413) << r.error;
  EXPECT_NE(r.body.find("33554432"), std::string::npos) << "413 should name the limit: " << r.body;

  // The server keeps serving after both.
  HttpConn http3(server.port("http"));
  r = http3.Request("PUT", "/cas/" + Sha("ok").hash(), "ok");
  EXPECT_EQ(r.status, 201) << r.error << r.body;
}

TEST_F(SecurityTest, BatchOverMaxBatchTotalSizeIsInvalidArgument) {
  CycasdProcess server(Limits());
  ASSERT_TRUE(server.Start()) << server.error();
  auto ch = Channel(server);
  auto caps = v2::Capabilities::NewStub(ch);
  v2::ServerCapabilities sc;
  ASSERT_TRUE(caps->GetCapabilities(Ctx().get(), {}, &sc).ok());
  EXPECT_EQ(sc.cache_capabilities().max_batch_total_size_bytes(), 256 << 10);
  auto cas = v2::ContentAddressableStorage::NewStub(ch);
  v2::BatchUpdateBlobsRequest req;
  for (int i = 0; i < 3; i++) {  // 3 x 100 KiB: over 256 KiB, under the 1 MiB message limit
    std::string b(100 << 10, static_cast<char>('a' + i));
    auto* r = req.add_requests();
    *r->mutable_digest() = Sha(b);
    r->set_data(b);
  }
  v2::BatchUpdateBlobsResponse resp;
  grpc::Status st = cas->BatchUpdateBlobs(Ctx().get(), req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_NE(st.error_message().find("262144"), std::string::npos) << st.error_message();
  // Nothing of the refused batch was stored.
  v2::FindMissingBlobsRequest fm;
  for (const auto& r : req.requests()) *fm.add_blob_digests() = r.digest();
  v2::FindMissingBlobsResponse fmr;
  ASSERT_TRUE(cas->FindMissingBlobs(Ctx().get(), fm, &fmr).ok());
  EXPECT_EQ(fmr.missing_blob_digests_size(), 3);
  // BatchReadBlobs of more than the limit is refused the same way.
  v2::BatchReadBlobsRequest rr;
  for (int i = 0; i < 3; i++) {
    v2::Digest d = Sha(std::string(100 << 10, static_cast<char>('a' + i)));
    *rr.add_digests() = d;
  }
  v2::BatchReadBlobsResponse rresp;
  st = cas->BatchReadBlobs(Ctx().get(), rr, &rresp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
}

TEST_F(SecurityTest, GrpcMessageOverTheLimitIsResourceExhausted) {
  CycasdProcess server(Limits());
  ASSERT_TRUE(server.Start()) << server.error();
  auto ch = Channel(server);
  auto cas = v2::ContentAddressableStorage::NewStub(ch);
  v2::BatchUpdateBlobsRequest req;
  std::string b(2 << 20, 'z');
  auto* r = req.add_requests();
  *r->mutable_digest() = Sha(b);
  r->set_data(b);
  v2::BatchUpdateBlobsResponse resp;
  grpc::Status st = cas->BatchUpdateBlobs(Ctx().get(), req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  // ByteStream: one 2 MiB data message.
  auto bstream = bs::ByteStream::NewStub(ch);
  bs::WriteResponse wr;
  auto ctx = Ctx();
  auto w = bstream->Write(ctx.get(), &wr);
  bs::WriteRequest wq;
  wq.set_resource_name("uploads/" + kUuid + "/blobs/" + Sha(b).hash() + "/" +
                       std::to_string(b.size()));
  wq.set_data(b);
  wq.set_finish_write(true);
  w->Write(wq);
  w->WritesDone();
  st = w->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  // The same bytes in messages under the limit are accepted.
  bs::WriteResponse wr2;
  auto ctx2 = Ctx();
  auto w2 = bstream->Write(ctx2.get(), &wr2);
  for (size_t off = 0; off < b.size(); off += 512 << 10) {
    bs::WriteRequest q;
    if (off == 0) q.set_resource_name(wq.resource_name());
    q.set_write_offset(static_cast<int64_t>(off));
    q.set_data(b.substr(off, 512 << 10));
    q.set_finish_write(off + (512 << 10) >= b.size());
    ASSERT_TRUE(w2->Write(q));
  }
  w2->WritesDone();
  st = w2->Finish();
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(wr2.committed_size(), static_cast<int64_t>(b.size()));
}

// A few KiB that decompress to 1 GiB, sent for a digest of 1000 bytes
// (ByteStream) and as an HTTP body: refused early, memory stays flat.
TEST_F(SecurityTest, ZstdBombsAreRefusedWithoutBlowingUpMemory) {
  CycasdProcess server(Limits());
  ASSERT_TRUE(server.Start()) << server.error();
  const std::string bomb = ZstdZeros(size_t{1} << 30);
  ASSERT_LT(bomb.size(), 256u << 10);
  std::printf("bomb: %zu bytes of zstd for 1 GiB\n", bomb.size());
  long hwm_before = ProcStatusKb(server.pid(), "VmHWM");
  ASSERT_GT(hwm_before, 0);

  auto ch = Channel(server);
  auto bstream = bs::ByteStream::NewStub(ch);
  std::string claimed(1000, '\0');
  v2::Digest d = Sha(claimed);
  bs::WriteResponse wr;
  auto ctx = Ctx();
  auto w = bstream->Write(ctx.get(), &wr);
  bs::WriteRequest q;
  q.set_resource_name("uploads/" + kUuid + "/compressed-blobs/zstd/" + d.hash() + "/1000");
  q.set_data(bomb);
  q.set_finish_write(true);
  w->Write(q);
  w->WritesDone();
  grpc::Status st = w->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  std::printf("ByteStream bomb: %s\n", st.error_message().c_str());

  // The same bomb, claiming its true size: over the HTTP body limit (413) and,
  // over gRPC, stored only if it verifies — it does not, the digest is of 1000 bytes.
  HttpConn http(server.port("http"));
  auto r = http.Request("PUT", "/cas/" + d.hash(), bomb, "Content-Encoding: zstd");
  EXPECT_EQ(r.status, 413) << r.body << r.error;
  std::printf("HTTP bomb: %d %s", r.status, r.body.c_str());
  // A bomb under the body limit: decoded (spooled, not held in memory), then refused (400).
  const std::string small_bomb = ZstdZeros(size_t{24} << 20);
  HttpConn http2(server.port("http"));
  r = http2.Request("PUT", "/cas/" + d.hash(), small_bomb, "Content-Encoding: zstd");
  EXPECT_EQ(r.status, 400) << r.body << r.error;
  EXPECT_NE(r.body.find("does not match"), std::string::npos) << r.body;
  // A bomb in a zstd BatchUpdateBlobs entry.
  auto cas = v2::ContentAddressableStorage::NewStub(ch);
  v2::BatchUpdateBlobsRequest breq;
  auto* e = breq.add_requests();
  *e->mutable_digest() = d;
  e->set_compressor(v2::Compressor::ZSTD);
  e->set_data(ZstdZeros(size_t{256} << 20));
  v2::BatchUpdateBlobsResponse bresp;
  st = cas->BatchUpdateBlobs(Ctx().get(), breq, &bresp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(bresp.responses_size(), 1);
  EXPECT_EQ(bresp.responses(0).status().code(), grpc::StatusCode::INVALID_ARGUMENT)
      << bresp.responses(0).status().message();

  long hwm_after = ProcStatusKb(server.pid(), "VmHWM");
  std::printf("server peak RSS %ld KiB before the bombs, %ld KiB after\n", hwm_before, hwm_after);
  EXPECT_LT(hwm_after - hwm_before, 64 * 1024)
      << "a bomb grew the server's peak RSS by " << (hwm_after - hwm_before) << " KiB";
  // Nothing was stored under the digest.
  v2::FindMissingBlobsRequest fm;
  *fm.add_blob_digests() = d;
  v2::FindMissingBlobsResponse fmr;
  ASSERT_TRUE(cas->FindMissingBlobs(Ctx().get(), fm, &fmr).ok());
  EXPECT_EQ(fmr.missing_blob_digests_size(), 1);
}

}  // namespace
}  // namespace cycas
