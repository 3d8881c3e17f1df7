#include "client/zako_client.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <google/protobuf/arena.h>

#include "api/grpc_status.h"
#include "api/zako/wire.h"
#include "util/config.h"

namespace cycas::client {

namespace cas_pb = ::zako::v1::cas;
namespace tpb = ::zako::v1::transport;
using api::FromGrpcStatus;
using api::zako::DigestFromProto;
using api::zako::DigestToProto;

namespace {

Result<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::InvalidArgument(std::string("cannot read ") + what + " " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void Backoff(int attempt) {
  std::this_thread::sleep_for(std::chrono::milliseconds(50 << std::min(attempt, 5)));
}

}  // namespace

bool IsTransientTransferError(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::ABORTED ||
         code == grpc::StatusCode::INTERNAL;
}

// ---------------------------------------------------------------------------
// Streams

DownloadStream::~DownloadStream() {
  if (!finished_ && reader_) {
    context_->TryCancel();
    (void)reader_->Finish();
  }
}

Result<bool> DownloadStream::Next(std::string* data) {
  if (pending_) {
    *data = std::move(*pending_);
    pending_.reset();
    return true;
  }
  if (finished_) return false;
  tpb::DownloadResponse r;
  if (reader_->Read(&r)) {
    *data = std::move(*r.mutable_data());
    return true;
  }
  finished_ = true;
  grpc::Status st = reader_->Finish();
  if (!st.ok()) return FromGrpcStatus(st);
  return false;
}

UploadStream::~UploadStream() { Cancel(); }

Status UploadStream::Flush() {
  if (buffer_.empty()) return Status::Ok();
  tpb::UploadRequest m;
  m.set_chunk(std::move(buffer_));
  buffer_.clear();
  if (!writer_->Write(m)) {
    broken_ = true;
    return Status::Unavailable("upload stream broke");
  }
  return Status::Ok();
}

Status UploadStream::Append(std::span<const uint8_t> data) {
  if (finished_) return Status::FailedPrecondition("upload already finished");
  if (broken_) return Status::Unavailable("upload stream broke");
  while (!data.empty()) {
    size_t n = std::min(data.size(), chunk_size_ - buffer_.size());
    buffer_.append(reinterpret_cast<const char*>(data.data()), n);
    data = data.subspan(n);
    if (buffer_.size() == chunk_size_) RETURN_IF_ERROR(Flush());
  }
  return Status::Ok();
}

Result<uint64_t> UploadStream::Finish() {
  if (finished_) return Status::FailedPrecondition("upload already finished");
  if (!broken_) (void)Flush();
  if (!broken_) writer_->WritesDone();
  finished_ = true;
  grpc::Status st = writer_->Finish();
  if (!st.ok()) return FromGrpcStatus(st);
  return response_.committed_size();
}

void UploadStream::Cancel() {
  if (finished_ || !writer_) return;
  finished_ = true;
  context_->TryCancel();
  (void)writer_->Finish();
}

// ---------------------------------------------------------------------------
// Client

Result<std::unique_ptr<ZakoClient>> ZakoClient::Connect(ClientOptions options) {
  std::unique_ptr<ZakoClient> c(new ZakoClient(std::move(options)));
  RETURN_IF_ERROR(c->Init());
  return c;
}

Status ZakoClient::Init() {
  if (options_.chunk_size == 0) options_.chunk_size = 1 << 20;
  if (options_.negotiate_batch == 0) options_.negotiate_batch = 10'000;
  ASSIGN_OR_RETURN(auto server, api::zako::SplitHostPort(options_.server));
  bool tls = options_.tls || !options_.tls_ca_file.empty() || !options_.tls_cert_file.empty();
  if (tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options_.tls_ca_file.empty()) {
      ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadFile(options_.tls_ca_file, "TLS CA file"));
    }
    if (options_.tls_cert_file.empty() != options_.tls_key_file.empty()) {
      return Status::InvalidArgument("a client certificate needs both a cert and a key file");
    }
    if (!options_.tls_cert_file.empty()) {
      ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadFile(options_.tls_cert_file, "TLS certificate"));
      ASSIGN_OR_RETURN(ssl.pem_private_key, ReadFile(options_.tls_key_file, "TLS key"));
    }
    credentials_ = grpc::SslCredentials(ssl);
    // The transport address is an IP from GetTransportDetails; the server's
    // certificate is checked against the name used for the CAS service.
    tls_target_name_ = server.host;
  } else {
    credentials_ = grpc::InsecureChannelCredentials();
  }
  cas_stub_ = cas_pb::ContentAddressableStorage::NewStub(
      MakeChannel(options_.server, /*unlimited_receive=*/true, 0));
  return Status::Ok();
}

std::shared_ptr<grpc::Channel> ZakoClient::MakeChannel(const std::string& target,
                                                       bool unlimited_receive,
                                                       int connection_index) const {
  grpc::ChannelArguments args;
  if (unlimited_receive) args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  if (!tls_target_name_.empty()) args.SetSslTargetNameOverride(tls_target_name_);
  // Separate channels get separate TCP connections only with their own
  // subchannel pools; the index also keeps their arguments distinct.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("cycas.connection_index", connection_index);
  return grpc::CreateCustomChannel(target, credentials_, args);
}

Result<std::vector<Digest>> ZakoClient::FindMissing(std::span<const Digest> digests) {
  std::vector<Digest> missing;
  if (digests.empty()) return missing;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.rpc_timeout);
  if (!options_.authorization.empty()) ctx.AddMetadata("authorization", options_.authorization);
  auto stream = cas_stub_->NegotiateBlobs(&ctx);
  Status parse_error;
  // Messages live on arenas: a batch is tens of thousands of small messages.
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = 64 << 10;
  arena_options.max_block_size = 1 << 20;
  auto read_all = [&] {
    google::protobuf::Arena arena(arena_options);
    for (;;) {
      arena.Reset();
      auto* r = google::protobuf::Arena::CreateMessage<cas_pb::NegotiateBlobsResponse>(&arena);
      if (!stream->Read(r)) break;
      for (int i = 0; i < r->missing_blob_digests_size(); ++i) {
        const auto& wire = r->missing_blob_digests(i);
        if (wire.blake3().size() != kHashLength) {
          if (parse_error.ok()) {
            parse_error = DigestFromProto(wire, "missing_blob_digests[" + std::to_string(i) + "]")
                              .status()
                              .WithContext("server response");
          }
          continue;
        }
        HashBytes h;
        std::memcpy(h.data(), wire.blake3().data(), kHashLength);
        missing.emplace_back(DigestFunction::kBlake3, h, wire.size_bytes());
      }
    }
  };
  // With more than one message the responses are read concurrently, so that
  // neither side can block the other on flow control.
  const bool one_message = digests.size() <= options_.negotiate_batch;
  std::thread reader;
  if (!one_message) reader = std::thread(read_all);
  google::protobuf::Arena arena(arena_options);
  for (size_t i = 0; i < digests.size(); i += options_.negotiate_batch) {
    arena.Reset();
    auto* req = google::protobuf::Arena::CreateMessage<cas_pb::NegotiateBlobsRequest>(&arena);
    size_t end = std::min(digests.size(), i + options_.negotiate_batch);
    req->mutable_blob_digests()->Reserve(static_cast<int>(end - i));
    for (size_t j = i; j < end; ++j) DigestToProto(digests[j], req->add_blob_digests());
    if (!stream->Write(*req)) break;
  }
  stream->WritesDone();
  if (one_message) {
    read_all();
  } else {
    reader.join();
  }
  grpc::Status st = stream->Finish();
  if (!st.ok()) return FromGrpcStatus(st).WithContext("NegotiateBlobs");
  if (!parse_error.ok()) return parse_error;
  return missing;
}

Result<TransportDetails> ZakoClient::GetTransportDetails() {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.rpc_timeout);
  if (!options_.authorization.empty()) ctx.AddMetadata("authorization", options_.authorization);
  cas_pb::GetTransportDetailsRequest req;
  req.add_supported_protocols(::zako::v1::net::grpc);
  cas_pb::TransportDetails resp;
  grpc::Status st = cas_stub_->GetTransportDetails(&ctx, req, &resp);
  if (!st.ok()) return FromGrpcStatus(st).WithContext("GetTransportDetails");
  TransportDetails d;
  if (options_.transport_override.empty()) {
    ASSIGN_OR_RETURN(d.address, api::zako::SocketAddressFromProto(resp.server_addr()));
  } else {
    d.address = options_.transport_override;
  }
  if (resp.auth_token().empty()) return Status::Internal("GetTransportDetails returned no token");
  d.token = resp.auth_token();
  d.recommended_concurrency = std::max<uint32_t>(1, resp.recommended_concurrency());
  return d;
}

Result<uint32_t> ZakoClient::RecommendedConcurrency() {
  ASSIGN_OR_RETURN(auto t, GetTransport(false));
  (void)t;
  std::lock_guard lk(mu_);
  return details_->recommended_concurrency;
}

Result<ZakoClient::Transport> ZakoClient::GetTransport(bool refresh) {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lk(mu_);
    if (!refresh && details_ && now - details_time_ < options_.token_refresh_after) {
      auto stub = transport_stubs_[next_stub_++ % transport_stubs_.size()];
      return Transport{std::move(stub), details_->token};
    }
  }
  ASSIGN_OR_RETURN(TransportDetails d, GetTransportDetails());
  std::lock_guard lk(mu_);
  if (d.address != transport_address_ || transport_stubs_.empty()) {
    int n = options_.transport_connections > 0
                ? options_.transport_connections
                : static_cast<int>(std::min<uint32_t>(d.recommended_concurrency, 8));
    transport_stubs_.clear();
    for (int i = 0; i < n; ++i) {
      transport_stubs_.push_back(tpb::Transport::NewStub(MakeChannel(d.address, true, i)));
    }
    transport_address_ = d.address;
  }
  details_ = d;
  details_time_ = now;
  auto stub = transport_stubs_[next_stub_++ % transport_stubs_.size()];
  return Transport{std::move(stub), d.token};
}

void ZakoClient::Authorize(grpc::ClientContext* context, const Transport& t) const {
  context->AddMetadata(std::string(api::zako::kAuthorizationKey),
                       std::string(api::zako::kBearerPrefix) + t.token);
}

Status ZakoClient::Download(const Digest& digest, uint64_t offset, std::optional<uint64_t> length,
                            const Sink& sink) {
  uint64_t delivered = 0;
  bool refreshed = false;
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(Transport t, GetTransport(false));
    grpc::ClientContext ctx;
    Authorize(&ctx, t);
    tpb::DownloadRequest req;
    DigestToProto(digest, req.mutable_metadata()->mutable_digest());
    if (offset + delivered > 0 || length) {
      auto* r = req.mutable_metadata()->mutable_range();
      r->set_start(offset + delivered);
      if (length) r->set_length(*length - delivered);
    }
    auto reader = t.stub->Download(&ctx, req);
    tpb::DownloadResponse resp;
    Status sink_error;
    while (reader->Read(&resp)) {
      const std::string& d = resp.data();
      sink_error = sink({reinterpret_cast<const uint8_t*>(d.data()), d.size()});
      if (!sink_error.ok()) {
        ctx.TryCancel();
        break;
      }
      delivered += d.size();
    }
    grpc::Status st = reader->Finish();
    if (!sink_error.ok()) return sink_error;
    if (st.ok()) return Status::Ok();
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED && !refreshed) {
      refreshed = true;
      RETURN_IF_ERROR(GetTransport(true).status());
      continue;
    }
    if (IsTransientTransferError(st.error_code()) && attempt < options_.transfer_retries &&
        (!length || delivered < *length)) {
      Backoff(attempt);
      continue;
    }
    return FromGrpcStatus(st).WithContext("Download of " + digest.ToString());
  }
}

Result<std::unique_ptr<DownloadStream>> ZakoClient::OpenDownload(const Digest& digest,
                                                                 uint64_t offset) {
  bool refreshed = false;
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(Transport t, GetTransport(false));
    std::unique_ptr<DownloadStream> s(new DownloadStream());
    s->context_ = std::make_unique<grpc::ClientContext>();
    Authorize(s->context_.get(), t);
    tpb::DownloadRequest req;
    DigestToProto(digest, req.mutable_metadata()->mutable_digest());
    if (offset > 0) req.mutable_metadata()->mutable_range()->set_start(offset);
    s->reader_ = t.stub->Download(s->context_.get(), req);
    tpb::DownloadResponse first;
    if (s->reader_->Read(&first)) {
      s->pending_ = std::move(*first.mutable_data());
      return s;
    }
    s->finished_ = true;
    grpc::Status st = s->reader_->Finish();
    if (st.ok()) return s;  // an empty range: the empty blob
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED && !refreshed) {
      refreshed = true;
      RETURN_IF_ERROR(GetTransport(true).status());
      continue;
    }
    if (IsTransientTransferError(st.error_code()) && attempt < options_.transfer_retries) {
      Backoff(attempt);
      continue;
    }
    return FromGrpcStatus(st).WithContext("Download of " + digest.ToString());
  }
}

grpc::Status ZakoClient::UploadAttempt(const Transport& t, const Digest& digest, uint64_t start,
                                       const Source& source, const Progress& progress,
                                       uint64_t* sent, std::string* resume_trailer,
                                       Status* source_error) {
  grpc::ClientContext ctx;
  Authorize(&ctx, t);
  tpb::UploadResponse resp;
  auto writer = t.stub->Upload(&ctx, &resp);
  tpb::UploadRequest m;
  DigestToProto(digest, m.mutable_metadata()->mutable_digest());
  if (start > 0) m.mutable_metadata()->mutable_range()->set_start(start);
  bool ok = writer->Write(m);
  uint64_t off = start;
  const uint64_t size = digest.size_bytes();
  std::string buf;
  while (ok && off < size) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(options_.chunk_size, size - off));
    buf.resize(want);
    auto n = source(off, {reinterpret_cast<uint8_t*>(buf.data()), want});
    if (!n.ok() || *n == 0) {
      *source_error = n.ok() ? Status::DataLoss("the data of " + digest.ToString() +
                                                " ended at byte " + std::to_string(off))
                             : n.status();
      ctx.TryCancel();
      break;
    }
    buf.resize(*n);
    m.set_chunk(std::move(buf));
    ok = writer->Write(m);
    buf = std::move(*m.mutable_chunk());
    if (ok) {
      off += *n;
      if (progress) progress(static_cast<int64_t>(*n));
    }
  }
  if (ok && source_error->ok()) writer->WritesDone();
  grpc::Status st = writer->Finish();
  *sent = off;
  auto trailers = ctx.GetServerTrailingMetadata();
  auto it = trailers.find(grpc::string_ref(api::zako::kResumeOffsetTrailer.data(),
                                           api::zako::kResumeOffsetTrailer.size()));
  resume_trailer->clear();
  if (it != trailers.end()) resume_trailer->assign(it->second.data(), it->second.size());
  if (st.ok() && resp.committed_size() != size) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        "server committed " + std::to_string(resp.committed_size()) +
                            " bytes of a " + std::to_string(size) + "-byte blob");
  }
  return st;
}

Result<ZakoClient::UploadOutcome> ZakoClient::Upload(const Digest& digest, const Source& source,
                                                     const Progress& progress) {
  uint64_t start = 0;
  bool refreshed = false;
  int retries = 0;
  for (;;) {
    ASSIGN_OR_RETURN(Transport t, GetTransport(false));
    uint64_t sent = start;
    std::string trailer;
    Status source_error;
    grpc::Status st =
        UploadAttempt(t, digest, start, source, progress, &sent, &trailer, &source_error);
    if (!source_error.ok()) return source_error;
    if (st.ok()) return UploadOutcome::kStored;
    if (st.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
      if (progress) progress(static_cast<int64_t>(digest.size_bytes() - sent));
      return UploadOutcome::kAlreadyPresent;
    }
    auto rewind_to = [&](uint64_t offset) {
      if (progress) progress(static_cast<int64_t>(offset) - static_cast<int64_t>(sent));
      start = offset;
    };
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED && !refreshed) {
      refreshed = true;
      RETURN_IF_ERROR(GetTransport(true).status());
      rewind_to(start);
      continue;
    }
    if (st.error_code() == grpc::StatusCode::FAILED_PRECONDITION && start > 0 &&
        retries <= options_.transfer_retries) {
      // A resume at the wrong offset: continue where the server says, or anew.
      uint64_t held = 0;
      if (!trailer.empty()) {
        auto v = ParseInt(trailer);
        if (v.ok() && *v > 0 && static_cast<uint64_t>(*v) < digest.size_bytes()) held = *v;
      }
      ++retries;
      rewind_to(held);
      continue;
    }
    if (IsTransientTransferError(st.error_code()) && retries < options_.transfer_retries) {
      // Try to continue after what was sent; the server answers with the
      // prefix it actually holds if that is not it.
      Backoff(retries++);
      uint64_t guess = sent < digest.size_bytes() ? sent : 0;
      rewind_to(guess);
      continue;
    }
    return FromGrpcStatus(st).WithContext("Upload of " + digest.ToString());
  }
}

Result<std::unique_ptr<UploadStream>> ZakoClient::OpenUpload(const Digest& digest) {
  ASSIGN_OR_RETURN(Transport t, GetTransport(false));
  std::unique_ptr<UploadStream> s(new UploadStream());
  s->chunk_size_ = options_.chunk_size;
  s->context_ = std::make_unique<grpc::ClientContext>();
  Authorize(s->context_.get(), t);
  s->writer_ = t.stub->Upload(s->context_.get(), &s->response_);
  tpb::UploadRequest m;
  DigestToProto(digest, m.mutable_metadata()->mutable_digest());
  if (!s->writer_->Write(m)) s->broken_ = true;
  return s;
}

}  // namespace cycas::client
