#include "zako_test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace cycas::zako_e2e {

Digest Blake3Of(std::string_view bytes) { return Digest::Of(DigestFunction::kBlake3, bytes); }

std::string Bytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 7;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

zpb::digest::Digest ToProto(const Digest& d) {
  zpb::digest::Digest p;
  p.set_size_bytes(d.size_bytes());
  p.set_blake3(reinterpret_cast<const char*>(d.hash().data()), d.hash().size());
  return p;
}

ZakoConn::ZakoConn(const std::string& cas, const std::string& transport) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  cas_ = zpb::cas::ContentAddressableStorage::NewStub(
      grpc::CreateCustomChannel(cas, grpc::InsecureChannelCredentials(), args));
  transport_ = zpb::transport::Transport::NewStub(
      grpc::CreateCustomChannel(transport, grpc::InsecureChannelCredentials(), args));
}

std::string ZakoConn::Token() {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  zpb::cas::GetTransportDetailsRequest req;
  req.add_supported_protocols(zpb::net::grpc);
  zpb::cas::TransportDetails resp;
  grpc::Status st = cas_->GetTransportDetails(&ctx, req, &resp);
  return st.ok() ? resp.auth_token() : std::string();
}

const std::string& ZakoConn::Bearer() {
  if (bearer_.empty()) bearer_ = "Bearer " + Token();
  return bearer_;
}

ZakoConn::Negotiation ZakoConn::Negotiate(const std::vector<std::vector<Digest>>& messages) {
  std::vector<zpb::cas::NegotiateBlobsRequest> raw;
  for (const auto& m : messages) {
    zpb::cas::NegotiateBlobsRequest r;
    for (const auto& d : m) *r.add_blob_digests() = ToProto(d);
    raw.push_back(std::move(r));
  }
  return NegotiateRaw(raw);
}

ZakoConn::Negotiation ZakoConn::NegotiateRaw(
    const std::vector<zpb::cas::NegotiateBlobsRequest>& messages) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = cas_->NegotiateBlobs(&ctx);
  Negotiation n;
  std::thread reader([&] {
    zpb::cas::NegotiateBlobsResponse r;
    while (stream->Read(&r)) {
      std::vector<Digest> got;
      for (const auto& p : r.missing_blob_digests()) {
        got.push_back(*Digest::FromBytes(
            DigestFunction::kBlake3,
            {reinterpret_cast<const uint8_t*>(p.blake3().data()), p.blake3().size()},
            p.size_bytes()));
      }
      n.responses.push_back(std::move(got));
    }
  });
  for (const auto& m : messages) {
    if (!stream->Write(m)) break;
  }
  stream->WritesDone();
  reader.join();
  n.status = stream->Finish();
  return n;
}

zpb::transport::UploadRequest MetadataMessage(const Digest& d, std::optional<uint64_t> start,
                                              std::optional<uint64_t> length) {
  zpb::transport::UploadRequest m;
  *m.mutable_metadata()->mutable_digest() = ToProto(d);
  if (start || length) {
    auto* r = m.mutable_metadata()->mutable_range();
    if (start) r->set_start(*start);
    if (length) r->set_length(*length);
  }
  return m;
}

zpb::transport::UploadRequest ChunkMessage(std::string_view bytes) {
  zpb::transport::UploadRequest m;
  m.set_chunk(std::string(bytes));
  return m;
}

ZakoConn::UploadResult ZakoConn::UploadRaw(
    const std::vector<zpb::transport::UploadRequest>& messages,
    const std::optional<std::string>& authorization) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  if (authorization) ctx.AddMetadata("authorization", *authorization);
  zpb::transport::UploadResponse resp;
  auto w = transport_->Upload(&ctx, &resp);
  for (const auto& m : messages) {
    if (!w->Write(m)) break;
  }
  w->WritesDone();
  UploadResult r;
  r.status = w->Finish();
  r.committed_size = resp.committed_size();
  auto trailers = ctx.GetServerTrailingMetadata();
  auto it = trailers.find("cycas-resume-offset");
  if (it != trailers.end()) r.resume_offset = std::string(it->second.data(), it->second.size());
  return r;
}

ZakoConn::UploadResult ZakoConn::Upload(const Digest& d, std::string_view data, uint64_t start,
                                        std::optional<uint64_t> length, size_t chunk) {
  std::vector<zpb::transport::UploadRequest> msgs;
  msgs.push_back(MetadataMessage(d, start > 0 || length ? std::optional<uint64_t>(start) : std::nullopt,
                                 length));
  for (size_t off = 0; off < data.size(); off += chunk) msgs.push_back(ChunkMessage(data.substr(off, chunk)));
  return UploadRaw(msgs, Bearer());
}

ZakoConn::DownloadResult ZakoConn::DownloadRaw(const zpb::transport::DownloadRequest& req,
                                               const std::optional<std::string>& authorization) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  if (authorization) ctx.AddMetadata("authorization", *authorization);
  auto reader = transport_->Download(&ctx, req);
  DownloadResult r;
  zpb::transport::DownloadResponse m;
  while (reader->Read(&m)) {
    r.data += m.data();
    r.messages++;
    r.largest_message = std::max(r.largest_message, m.data().size());
  }
  r.status = reader->Finish();
  return r;
}

ZakoConn::DownloadResult ZakoConn::Download(const Digest& d, std::optional<uint64_t> start,
                                            std::optional<uint64_t> length,
                                            const std::optional<std::string>& authorization) {
  zpb::transport::DownloadRequest req;
  *req.mutable_metadata()->mutable_digest() = ToProto(d);
  if (start || length) {
    auto* r = req.mutable_metadata()->mutable_range();
    if (start) r->set_start(*start);
    if (length) r->set_length(*length);
  }
  return DownloadRaw(req, authorization ? authorization : std::optional<std::string>(Bearer()));
}

std::string CycasPath() { return CYCAS_CLIENT_PATH; }

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

pid_t SpawnCycas(const std::vector<std::string>& args, const std::string& out_file,
                 const std::string& err_file) {
  std::vector<std::string> all = {CycasPath()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

RunResult RunCycas(const std::vector<std::string>& args, int timeout_s) {
  char tmpl[] = "/tmp/cycas-run-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string out = dir + "/out", err = dir + "/err";
  RunResult r;
  pid_t pid = SpawnCycas(args, out, err);
  if (pid > 0) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    int status = 0;
    for (;;) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        r.exit_code = -2;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  r.out = ReadFileOrEmpty(out);
  r.err = ReadFileOrEmpty(err);
  unlink(out.c_str());
  unlink(err.c_str());
  rmdir(dir.c_str());
  return r;
}

}  // namespace cycas::zako_e2e
