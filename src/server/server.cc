#include "server/server.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>

#include <chrono>
#include <filesystem>

#include "util/log.h"

namespace cycas::server {

Server::~Server() { Shutdown(); }

engine::EngineOptions Server::EngineOptionsFromConfig() const {
  engine::EngineOptions o;
  o.path = config_.GetString("engine.path");
  if (o.path.empty()) o.path = config_.GetString("server.data_dir") + "/store.cyc";
  o.size = config_.GetBytes("engine.size");
  o.stripes = static_cast<uint32_t>(config_.GetInt("engine.stripes"));
  o.average_object_size = config_.GetBytes("engine.average_object_size");
  o.fragment_size = static_cast<uint32_t>(config_.GetBytes("engine.fragment_size"));
  o.aggregation_bytes = static_cast<uint32_t>(config_.GetBytes("engine.aggregation_buffer"));
  o.durable = config_.GetString("engine.durability") != "relaxed";
  o.direct_io = config_.GetBool("engine.direct_io");
  o.snapshot_interval = config_.GetDuration("engine.snapshot_interval");
  o.copy_forward_fraction = static_cast<double>(config_.GetInt("engine.copy_forward_fraction")) / 100.0;
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
  tiers_ = std::make_unique<TieredBlobStore>(ram_tier_.get(), local_tier_.get(), remote_tier_.get(),
                                             TieredBlobStore::Options{});
  CasOptions co;
  co.max_blob_size = config_.GetBytes("cas.max_blob_size");
  co.single_flight_wait = config_.GetDuration("cas.single_flight_wait");
  cas_ = std::make_unique<CasStore>(tiers_.get(), records_.get(), co);
  action_cache_ = std::make_unique<ActionCache>(cas_.get(), records_.get());
  return Status::Ok();
}

Status Server::Start() {
  const std::string& durability = config_.GetString("engine.durability");
  if (durability != "durable" && durability != "relaxed") {
    return Status::InvalidArgument("engine.durability must be 'durable' or 'relaxed', got '" +
                                   durability + "'");
  }
  int64_t cf = config_.GetInt("engine.copy_forward_fraction");
  if (cf < 0 || cf > 50) {
    return Status::InvalidArgument("engine.copy_forward_fraction must be between 0 and 50");
  }
  std::error_code ec;
  std::filesystem::create_directories(config_.GetString("server.data_dir"), ec);
  if (ec) {
    return Status::Internal("cannot create server.data_dir " + config_.GetString("server.data_dir") +
                            ": " + ec.message());
  }
  RETURN_IF_ERROR(BuildStorage());

  // Health checking (grpc.health.v1) lets load balancers and scripts probe the server.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int max_msg = static_cast<int>(config_.GetBytes("server.grpc_max_message"));
  builder.SetMaxReceiveMessageSize(max_msg);
  builder.SetMaxSendMessageSize(max_msg);
  api::reapi::CapabilitiesOptions caps;
  caps.max_batch_total_size_bytes = max_msg;
  reapi_capabilities_ = std::make_unique<api::reapi::CapabilitiesService>(caps);
  builder.RegisterService(reapi_capabilities_.get());

  builder.AddListeningPort(config_.GetString("server.listen"), grpc::InsecureServerCredentials(),
                           &port_);
  grpc_ = builder.BuildAndStart();
  if (!grpc_ || port_ == 0) {
    return Status::Unavailable("cannot listen on " + config_.GetString("server.listen"));
  }
  ports_["grpc"] = port_;
  LOG(kInfo, "cycasd listening").kv("address", config_.GetString("server.listen")).kv("port", port_);
  return WriteReadyFile();
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
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Status::IoError("server.ready_file " + path, errno);
  return Status::Ok();
}

void Server::Shutdown() {
  if (grpc_) {
    auto grace = config_.GetDuration("server.shutdown_grace");
    grpc_->Shutdown(std::chrono::system_clock::now() + grace);
  }
  if (engine_) {
    Status st = engine_->Close();
    if (!st.ok()) LOG(kError, "engine close failed").kv("error", st.ToString());
  }
}

void Server::Wait() {
  if (grpc_) grpc_->Wait();
}

}  // namespace cycas::server
