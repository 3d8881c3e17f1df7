#include "server/server.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cas/remote/zako_remote_blob_store.h"
#include "util/log.h"

namespace cycas::server {

Server::~Server() {
  Shutdown();
}

namespace {

// Reads a whole file named by an option (PEM files, the remote token).
Result<std::string> ReadPemFile(const std::string& option, const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::InvalidArgument(option + ": cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Credentials of every gRPC listener: TLS when tls.cert_file is set, with
// client certificates required and verified when tls.client_ca_file is set.
Result<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(const Config& config) {
  const std::string& cert = config.GetString("tls.cert_file");
  const std::string& key = config.GetString("tls.key_file");
  const std::string& client_ca = config.GetString("tls.client_ca_file");
  if (cert.empty() && key.empty() && client_ca.empty()) return grpc::InsecureServerCredentials();
  if (cert.empty() || key.empty()) {
    return Status::InvalidArgument("TLS needs both tls.cert_file and tls.key_file");
  }
  grpc::SslServerCredentialsOptions ssl;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, ReadPemFile("tls.cert_file", cert));
  ASSIGN_OR_RETURN(pair.private_key, ReadPemFile("tls.key_file", key));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!client_ca.empty()) {
    ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPemFile("tls.client_ca_file", client_ca));
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

Status ParseSpans(const std::string& text, std::vector<engine::SpanSpec>* spans) {
  spans->clear();
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    std::string item =
        text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? text.size() : comma + 1;
    size_t eq = item.rfind('=');
    if (item.empty() || eq == 0) {
      return Status::InvalidArgument("engine.spans: expected PATH=SIZE, got '" + item + "'");
    }
    engine::SpanSpec span;
    span.path = item.substr(0, eq);
    if (eq != std::string::npos) {
      auto size = ParseBytes(item.substr(eq + 1));
      if (!size.ok()) return size.status().WithContext("engine.spans");
      span.size = *size;
    }
    spans->push_back(span);
  }
  return Status::Ok();
}

engine::EngineOptions Server::EngineOptionsFromConfig() const {
  engine::EngineOptions o;
  o.path = config_.GetString("engine.path");
  if (o.path.empty()) o.path = config_.GetString("server.data_dir") + "/store.cyc";
  o.size = config_.GetBytes("engine.size");
  // engine.spans was validated in Start(); parsing again here cannot fail.
  (void)ParseSpans(config_.GetString("engine.spans"), &o.spans);
  o.stripes = static_cast<uint32_t>(config_.GetInt("engine.stripes"));
  o.average_object_size = config_.GetBytes("engine.average_object_size");
  o.fragment_size = static_cast<uint32_t>(config_.GetBytes("engine.fragment_size"));
  o.aggregation_bytes = static_cast<uint32_t>(config_.GetBytes("engine.aggregation_buffer"));
  o.durable = config_.GetString("engine.durability") != "relaxed";
  o.direct_io = config_.GetBool("engine.direct_io");
  o.cached_read_max = static_cast<uint32_t>(
      std::min<uint64_t>(config_.GetBytes("engine.page_cache_reads"), UINT32_MAX));
  o.cache_rereads = config_.GetBool("engine.page_cache_rereads");
  o.read_ahead_fragments = static_cast<uint32_t>(config_.GetInt("engine.read_ahead"));
  o.read_ahead_bytes = config_.GetBytes("engine.read_ahead_memory");
  o.snapshot_interval = config_.GetDuration("engine.snapshot_interval");
  o.convert_ahead_bytes = config_.GetBytes("engine.convert_ahead");
  o.copy_forward_fraction =
      static_cast<double>(config_.GetInt("engine.copy_forward_fraction")) / 100.0;
  return o;
}

Status Server::BuildStorage() {
  ASSIGN_OR_RETURN(engine_, engine::Engine::Open(EngineOptionsFromConfig()));
  local_tier_ = std::make_unique<EngineBlobStore>(engine_.get());
  records_ = std::make_unique<EngineRecordStore>(engine_.get());
  uint64_t ram = config_.GetBytes("cas.ram_capacity");
  if (ram > 0) {
    ram_tier_ = std::make_unique<MemoryBlobStore>(ram, config_.GetBytes("cas.ram_max_blob"));
  }
  if (const std::string& remote = config_.GetString("remote.address"); !remote.empty()) {
    // Another zako CAS server behind the local store (docs/zako-protocol.md).
    client::ClientOptions ro;
    ro.server = remote;
    ro.rpc_timeout = config_.GetDuration("remote.timeout");
    ro.tls_ca_file = config_.GetString("remote.tls_ca_file");
    ro.tls_cert_file = config_.GetString("remote.tls_cert_file");
    ro.tls_key_file = config_.GetString("remote.tls_key_file");
    if (const std::string& tf = config_.GetString("remote.token_file"); !tf.empty()) {
      auto token = ReadPemFile("remote.token_file", tf);
      if (!token.ok()) return token.status();
      std::string t = *token;
      while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
      if (t.empty()) return Status::InvalidArgument("remote.token_file " + tf + " is empty");
      ro.authorization = "Bearer " + t;
    }
    auto store = ZakoRemoteBlobStore::Create(ro);
    if (!store.ok()) return store.status().WithContext("remote.address");
    remote_tier_ = std::move(*store);
  }
  // The S3 tier (docs/s3-tier.md): the engine in front of a shared bucket.
  BlobStore* local = local_tier_.get();
  serving_records_ = records_.get();
  ASSIGN_OR_RETURN(s3::S3Options s3_options, s3::S3OptionsFromConfig(config_));
  if (!s3_options.endpoint.empty()) {
    if (remote_tier_) {
      return Status::InvalidArgument(
          "remote.address and s3.endpoint are both set: the remote tier is either another "
          "server or an S3 bucket; clear one of them");
    }
    auto tier = s3::S3Tier::Create(s3_options, local_tier_.get(), records_.get());
    if (!tier.ok()) return tier.status().WithContext("s3");
    s3_tier_ = std::move(*tier);
    local = s3_tier_->blobs();
    serving_records_ = s3_tier_->records();
  }
  tiers_ = std::make_unique<TieredBlobStore>(
      ram_tier_.get(), local, remote_tier_.get(),
      TieredBlobStore::Options{.remote_write_through = config_.GetBool("remote.write_through")});
  CasOptions co;
  co.max_blob_size = config_.GetBytes("cas.max_blob_size");
  co.single_flight_wait = config_.GetDuration("cas.single_flight_wait");
  cas_ = std::make_unique<CasStore>(tiers_.get(), serving_records_, co);
  CasStore* ac_cas = cas_.get();
  if (s3_tier_) {
    strict_tiers_ = std::make_unique<TieredBlobStore>(ram_tier_.get(), s3_tier_->strict_blobs(),
                                                      nullptr, TieredBlobStore::Options{});
    strict_cas_ = std::make_unique<CasStore>(strict_tiers_.get(), serving_records_, co);
    ac_cas = strict_cas_.get();
  }
  action_cache_ = std::make_unique<ActionCache>(ac_cas, serving_records_);
  return Status::Ok();
}

Status Server::Start() {
  const std::string& durability = config_.GetString("engine.durability");
  if (durability != "durable" && durability != "relaxed") {
    return Status::InvalidArgument("engine.durability must be 'durable' or 'relaxed', got '" +
                                   durability + "'");
  }
  std::vector<engine::SpanSpec> spans;
  RETURN_IF_ERROR(ParseSpans(config_.GetString("engine.spans"), &spans));
  int64_t cf = config_.GetInt("engine.copy_forward_fraction");
  if (cf < 0 || cf > 50) {
    return Status::InvalidArgument("engine.copy_forward_fraction must be between 0 and 50");
  }
  // Checked here, before EngineOptionsFromConfig narrows them to 32 bits: a
  // value past 4 GiB would otherwise wrap to a small, valid-looking size.
  if (uint64_t agg = config_.GetBytes("engine.aggregation_buffer"); agg > (256ull << 20)) {
    return Status::InvalidArgument("engine.aggregation_buffer must be at most 256MiB, got " +
                                   std::to_string(agg) + " bytes");
  }
  if (uint64_t fs = config_.GetBytes("engine.fragment_size"); fs > (256ull << 20)) {
    return Status::InvalidArgument("engine.fragment_size must be at most 256MiB, got " +
                                   std::to_string(fs) + " bytes");
  }
  if (int64_t ra = config_.GetInt("engine.read_ahead"); ra < 0 || ra > 64) {
    return Status::InvalidArgument("engine.read_ahead must be between 0 and 64 fragments, got " +
                                   std::to_string(ra));
  }
  std::error_code ec;
  std::filesystem::create_directories(config_.GetString("server.data_dir"), ec);
  if (ec) {
    return Status::Internal("cannot create server.data_dir " +
                            config_.GetString("server.data_dir") + ": " + ec.message());
  }
  if (const std::string& creds = config_.GetString("auth.credentials_file"); !creds.empty()) {
    int64_t cache_size = config_.GetInt("auth.password_cache_size");
    if (cache_size < 0) return Status::InvalidArgument("auth.password_cache_size must be >= 0");
    auth::AuthenticatorOptions ao;
    ao.password_cache_entries = static_cast<size_t>(cache_size);
    ao.password_cache_ttl = config_.GetDuration("auth.password_cache_ttl");
    auto a = auth::Authenticator::FromFile(creds, ao);
    if (!a.ok()) return a.status().WithContext("auth.credentials_file");
    authenticator_ = std::move(*a);
    LogCredentials("authentication on");
  }
  RETURN_IF_ERROR(BuildStorage());

  // Health checking (grpc.health.v1) lets load balancers and scripts probe the server.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int max_msg = static_cast<int>(config_.GetBytes("server.grpc_max_message"));
  builder.SetMaxReceiveMessageSize(max_msg);
  builder.SetMaxSendMessageSize(max_msg);
  grpc_metrics_.InstallOn(builder);
  // REAPI: Capabilities, ContentAddressableStorage, ActionCache, ByteStream (docs/reapi.md).
  ASSIGN_OR_RETURN(auto reapi_options, api::reapi::ReapiOptionsFromConfig(config_));
  reapi_options.authenticator = authenticator_.get();
  reapi_options.payload = &grpc_metrics_.payload(api::GrpcMetrics::FrontEnd::kReapi);
  ASSIGN_OR_RETURN(reapi_, api::reapi::ReapiServices::Create(std::move(reapi_options), cas_.get(),
                                                             action_cache_.get()));
  reapi_->Register(builder);
  // zako: ContentAddressableStorage, and Transport on its own listener (docs/zako-protocol.md).
  ASSIGN_OR_RETURN(zako_, api::zako::ZakoFrontend::Create(
                              config_, cas_.get(), authenticator_.get(),
                              &grpc_metrics_.payload(api::GrpcMetrics::FrontEnd::kZako)));
  zako_->RegisterServices(&builder);
  ASSIGN_OR_RETURN(auto credentials, GrpcServerCredentials(config_));

  builder.AddListeningPort(config_.GetString("server.listen"), credentials, &port_);
  grpc_ = builder.BuildAndStart();
  if (!grpc_ || port_ == 0) {
    return Status::Unavailable("cannot listen on " + config_.GetString("server.listen"));
  }
  ports_["grpc"] = port_;
  RETURN_IF_ERROR(zako_->Start(credentials, max_msg, config_.GetString("server.listen"), port_,
                               &grpc_metrics_));
  for (const auto& [name, port] : zako_->ports()) ports_[name] = port;
  LOG(kInfo, "cycasd listening")
      .kv("address", config_.GetString("server.listen"))
      .kv("port", port_);
  RETURN_IF_ERROR(StartHttp());
  return WriteReadyFile();
}

void Server::LogCredentials(const char* what) const {
  auto c = authenticator_->credentials();
  LOG(kInfo, what)
      .kv("credentials_file", config_.GetString("auth.credentials_file"))
      .kv("tokens", c->tokens.size())
      .kv("users", c->users.size())
      .kv("certs", c->certs.size())
      .kv("anonymous", c->anonymous.DescribeAccess());
}

void Server::ReloadCredentials() {
  if (!authenticator_) {
    LOG(kInfo, "SIGHUP: no auth.credentials_file to reload");
    return;
  }
  Status st = authenticator_->Reload();
  if (!st.ok()) {
    LOG(kError, "credentials reload failed; keeping the previous credentials")
        .kv("error", st.ToString());
    return;
  }
  LogCredentials("credentials reloaded");
}

Status Server::WriteReadyFile() const {
  const std::string& path = config_.GetString("server.ready_file");
  if (path.empty()) return Status::Ok();
  // Written to a temporary name and renamed, so a reader never sees half a file.
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return Status::IoError("server.ready_file " + tmp, errno);
  for (const auto& [name, port] : ports_) std::fprintf(f, "%s %d\n", name.c_str(), port);
  std::fclose(f);
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return Status::IoError("server.ready_file " + path, errno);
  return Status::Ok();
}

Status Server::StartHttp() {
  api::http::HttpOptions options = api::http::HttpOptionsFromConfig(config_);
  if (options.listen.empty()) return Status::Ok();
  api::http::HttpDeps deps;
  deps.cas = cas_.get();
  deps.action_cache = action_cache_.get();
  deps.records = serving_records_;
  deps.engine = engine_.get();
  deps.ram = ram_tier_.get();
  if (s3_tier_) deps.tier_reports.push_back(s3_tier_.get());
  deps.metrics_sources.push_back(&grpc_metrics_);
  deps.metrics_sources.push_back(reapi_.get());
  deps.grpc_calls = [this] { return grpc_metrics_.TotalCalls(); };
  deps.authenticator = authenticator_.get();
  deps.network_tiers = remote_tier_ != nullptr || s3_tier_ != nullptr;
  http_ = std::make_unique<api::http::HttpServer>(options, deps);
  RETURN_IF_ERROR(http_->Start());
  ports_["http"] = http_->port();
  return Status::Ok();
}

void Server::Shutdown() {
  // HTTP first: its threads call into the storage stack closed below.
  if (http_) http_->Stop();
  // Then zako: it stops parking uploads and closes the Transport listener
  // (in the background, alongside the main listener below).
  if (zako_) {
    zako_->Shutdown(std::chrono::system_clock::now() +
                    config_.GetDuration("server.shutdown_grace"));
  }
  if (grpc_) {
    auto grace = config_.GetDuration("server.shutdown_grace");
    grpc_->Shutdown(std::chrono::system_clock::now() + grace);
  }
  // The S3 uploader reads from the engine: stop it first (its queue is durable).
  if (s3_tier_) s3_tier_->Stop();
  if (zako_) zako_->Wait();  // Transport calls read and write the engine
  if (engine_) {
    Status st = engine_->Close();
    if (!st.ok()) LOG(kError, "engine close failed").kv("error", st.ToString());
  }
}

void Server::Wait() {
  if (grpc_) grpc_->Wait();
  if (zako_) zako_->Wait();
}

}  // namespace cycas::server
