#include "api/zako/frontend.h"

#include <netdb.h>
#include <sys/socket.h>

#include <thread>

#include "api/zako/wire.h"
#include "util/log.h"

namespace cycas::api::zako {

namespace {

uint32_t CoresOr(int64_t configured) {
  if (configured > 0) return static_cast<uint32_t>(configured);
  return std::max(1u, std::thread::hardware_concurrency());
}

// Strips gRPC's optional "ipv4:" / "ipv6:" / "dns:" scheme from a listen address.
std::string_view WithoutScheme(std::string_view address) {
  for (std::string_view scheme : {"ipv4:", "ipv6:", "dns:"}) {
    if (address.substr(0, scheme.size()) == scheme) return address.substr(scheme.size());
  }
  return address;
}

// The IP address clients should use for `listen`'s host, or an error saying
// why it cannot be advertised.
Result<std::string> AdvertisableIp(std::string_view option, std::string_view listen) {
  if (listen.substr(0, 5) == "unix:") {
    return Status::InvalidArgument(std::string(option) + " '" + std::string(listen) +
                                   "' is a Unix socket, which the zako protocol cannot "
                                   "advertise; set zako.advertise_address");
  }
  ASSIGN_OR_RETURN(HostPort hp, SplitHostPort(WithoutScheme(listen)));
  if (IsWildcardIp(hp.host)) {
    return Status::InvalidArgument(
        std::string(option) + " '" + std::string(listen) +
        "' listens on every interface; set zako.advertise_address to the IP address clients "
        "should connect to for the Transport service");
  }
  if (IsIpLiteral(hp.host)) return hp.host;
  // A host name: advertise what it resolves to here.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(hp.host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    return Status::InvalidArgument(std::string(option) + ": cannot resolve '" + hp.host +
                                   "': " + gai_strerror(rc) + "; set zako.advertise_address");
  }
  char buf[NI_MAXHOST];
  rc = getnameinfo(res->ai_addr, res->ai_addrlen, buf, sizeof(buf), nullptr, 0, NI_NUMERICHOST);
  freeaddrinfo(res);
  if (rc != 0) return Status::InvalidArgument(std::string(option) + ": cannot resolve " + hp.host);
  return std::string(buf);
}

}  // namespace

Result<std::unique_ptr<ZakoFrontend>> ZakoFrontend::Create(const Config& config, CasStore* cas,
                                                           const auth::Authenticator* authenticator,
                                                           GrpcMetrics::Payload* payload) {
  std::unique_ptr<ZakoFrontend> f(new ZakoFrontend());
  f->cas_ = cas;
  f->transport_listen_ = config.GetString("zako.transport_listen");
  f->advertise_address_ = config.GetString("zako.advertise_address");

  auto non_negative = [&](const char* key) -> Result<int64_t> {
    int64_t v = config.GetInt(key);
    if (v < 0)
      return Status::InvalidArgument(std::string(key) + " must be >= 0, got " + std::to_string(v));
    return v;
  };
  ASSIGN_OR_RETURN(int64_t max_tokens, non_negative("zako.max_tokens"));
  ASSIGN_OR_RETURN(int64_t concurrency, non_negative("zako.recommended_concurrency"));
  ASSIGN_OR_RETURN(int64_t parallelism, non_negative("negotiate.io_parallelism"));
  ASSIGN_OR_RETURN(int64_t max_parked, non_negative("zako.resume_max_uploads"));
  if (max_tokens == 0) return Status::InvalidArgument("zako.max_tokens must be at least 1");
  auto ttl = config.GetDuration("zako.token_ttl");
  if (ttl.count() <= 0) return Status::InvalidArgument("zako.token_ttl must be positive");
  uint64_t chunk = config.GetBytes("zako.chunk_size");
  uint64_t max_message = config.GetBytes("server.grpc_max_message");
  // A data message is the chunk plus a few bytes of framing.
  if (chunk == 0 || chunk + 64 > max_message) {
    return Status::InvalidArgument(
        "zako.chunk_size must be between 1 byte and "
        "server.grpc_max_message minus 64 bytes (" +
        std::to_string(max_message - 64) + "), got " + std::to_string(chunk));
  }

  f->tokens_ =
      std::make_unique<TokenTable>(TokenTableOptions{ttl, static_cast<size_t>(max_tokens)});
  f->pool_ = std::make_unique<CheckPool>(CoresOr(parallelism));
  f->parked_ = std::make_unique<ParkedUploads>(
      ParkedUploadsOptions{config.GetDuration("zako.resume_ttl"), static_cast<size_t>(max_parked)});
  f->cas_service_ = std::make_unique<CasService>(cas, f->pool_.get(), f->tokens_.get(),
                                                 CoresOr(concurrency), authenticator);
  f->transport_service_ =
      std::make_unique<TransportService>(cas, f->tokens_.get(), f->parked_.get(),
                                         TransportOptions{static_cast<size_t>(chunk), payload});
  return f;
}

ZakoFrontend::~ZakoFrontend() {
  Shutdown(std::chrono::system_clock::now());
  Wait();
}

void ZakoFrontend::RegisterServices(grpc::ServerBuilder* builder) {
  builder->RegisterService(cas_service_.get());
  if (transport_listen_.empty()) builder->RegisterService(transport_service_.get());
}

Status ZakoFrontend::Start(const std::shared_ptr<grpc::ServerCredentials>& credentials,
                           int max_message_size, const std::string& main_listen, int main_port,
                           GrpcMetrics* metrics) {
  std::string listen_option = "server.listen";
  std::string listen = main_listen;
  if (transport_listen_.empty()) {
    transport_port_ = main_port;
  } else {
    listen_option = "zako.transport_listen";
    listen = transport_listen_;
    grpc::ServerBuilder builder;
    builder.SetMaxReceiveMessageSize(max_message_size);
    builder.SetMaxSendMessageSize(max_message_size);
    builder.RegisterService(transport_service_.get());
    if (metrics != nullptr) metrics->InstallOn(builder);
    builder.AddListeningPort(transport_listen_, credentials, &transport_port_);
    transport_server_ = builder.BuildAndStart();
    if (!transport_server_ || transport_port_ == 0) {
      transport_server_.reset();
      return Status::Unavailable("cannot listen on zako.transport_listen " + transport_listen_);
    }
  }

  std::string ip;
  int port = transport_port_;
  if (!advertise_address_.empty()) {
    if (IsIpLiteral(advertise_address_)) {
      ip = advertise_address_;
    } else {
      auto hp = SplitHostPort(advertise_address_);
      if (!hp.ok()) return hp.status().WithContext("zako.advertise_address");
      if (!IsIpLiteral(hp->host)) {
        return Status::InvalidArgument("zako.advertise_address '" + advertise_address_ +
                                       "' must be an IP address (the protocol carries no host "
                                       "names), optionally with :port");
      }
      ip = hp->host;
      if (hp->port != 0) port = hp->port;
    }
  } else {
    ASSIGN_OR_RETURN(ip, AdvertisableIp(listen_option, listen));
  }
  ::zako::v1::net::SocketAddress address;
  RETURN_IF_ERROR(
      SocketAddressToProto(ip, port, &address).WithContext("advertised transport address"));
  advertised_ = JoinHostPort(ip, port);
  cas_service_->SetTransportAddress(address);
  LOG(kInfo, "zako transport listening")
      .kv("listen", listen)
      .kv("port", transport_port_)
      .kv("advertised", advertised_);
  return Status::Ok();
}

std::map<std::string, int> ZakoFrontend::ports() const {
  return {{"transport", transport_port_}};
}

void ZakoFrontend::Shutdown(std::chrono::system_clock::time_point deadline) {
  std::lock_guard lk(shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  // First, so no call blocks on the single-flight slot a parked upload holds.
  if (parked_) parked_->Close();
  if (transport_server_) {
    shutdown_thread_ = std::thread([this, deadline] { transport_server_->Shutdown(deadline); });
  }
}

void ZakoFrontend::Wait() {
  {
    std::lock_guard lk(shutdown_mu_);
    if (shutdown_thread_.joinable()) shutdown_thread_.join();
  }
  if (transport_server_) transport_server_->Wait();
}

}  // namespace cycas::api::zako
