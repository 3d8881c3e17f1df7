#include "api/reapi/reapi_services.h"

#include <algorithm>
#include <cstdint>

#include "util/log.h"

namespace cycas::api::reapi {

namespace {

CapabilitiesOptions CapabilitiesFrom(const ReapiOptions& o) {
  CapabilitiesOptions c;
  c.action_cache_update_enabled = o.action_cache_update_enabled;
  c.max_batch_total_size_bytes = o.max_batch_total_size_bytes;
  c.max_cas_blob_size_bytes = static_cast<int64_t>(std::min<uint64_t>(o.max_blob_size, INT64_MAX));
  c.instances = &o.instances;
  c.authenticator = o.authenticator;
  return c;
}

}  // namespace

Result<ReapiOptions> ReapiOptionsFromConfig(const Config& config) {
  ReapiOptions o;
  o.action_cache_update_enabled = config.GetBool("reapi.action_cache_update");
  o.action_cache_require_complete = config.GetBool("reapi.action_cache_require_complete");
  o.max_message_bytes = static_cast<size_t>(config.GetBytes("server.grpc_max_message"));
  o.max_blob_size = config.GetBytes("cas.max_blob_size");
  uint64_t batch = config.GetBytes("reapi.max_batch_size");
  if (batch == 0) {
    // Leave room for the framing of many small blobs (digests, statuses) in
    // the one message that carries the batch.
    constexpr uint64_t kFraming = uint64_t{64} << 10;
    batch = o.max_message_bytes > 2 * kFraming ? o.max_message_bytes - kFraming
                                               : o.max_message_bytes / 2;
  }
  if (batch > o.max_message_bytes) {
    return Status::InvalidArgument("reapi.max_batch_size (" + std::to_string(batch) +
                                   ") must not exceed server.grpc_max_message (" +
                                   std::to_string(o.max_message_bytes) + ")");
  }
  o.max_batch_total_size_bytes = static_cast<int64_t>(batch);
  ASSIGN_OR_RETURN(o.instances, InstanceFilter::Parse(config.GetString("reapi.instance_names")));
  int64_t level = config.GetInt("reapi.zstd_level");
  if (level < 1 || level > 19)
    return Status::InvalidArgument("reapi.zstd_level must be between 1 and 19");
  o.zstd_level = static_cast<int>(level);
  // Read chunks stay well under every client's 4 MiB default receive limit.
  o.read_chunk_bytes = std::min<size_t>(size_t{1} << 20, o.max_message_bytes / 2);
  o.uploads.dir = config.GetString("server.data_dir") + "/uploads";
  o.uploads.retention = config.GetDuration("reapi.upload_retention");
  o.uploads.max_bytes = config.GetBytes("reapi.upload_spool_max");
  o.uploads.memory_bytes = config.GetBytes("reapi.upload_memory");
  int64_t threads = config.GetInt("negotiate.io_parallelism");
  if (threads < 0) return Status::InvalidArgument("negotiate.io_parallelism must not be negative");
  o.check_threads = static_cast<size_t>(threads);
  return o;
}

Result<std::unique_ptr<ReapiServices>> ReapiServices::Create(ReapiOptions options, CasStore* cas,
                                                             ActionCache* action_cache) {
  if (options.max_batch_total_size_bytes <= 0 ||
      static_cast<uint64_t>(options.max_batch_total_size_bytes) > options.max_message_bytes) {
    return Status::InvalidArgument(
        "reapi.max_batch_size must be > 0 and at most server.grpc_max_message");
  }
  ASSIGN_OR_RETURN(auto spool, UploadSpool::Open(options.uploads));
  LOG(kInfo, "reapi services ready")
      .kv("max_batch_total_size_bytes", options.max_batch_total_size_bytes)
      .kv("action_cache_update", options.action_cache_update_enabled ? "true" : "false")
      .kv("instances", options.instances.allows_all() ? "any" : "listed")
      .kv("upload_dir", options.uploads.dir)
      .kv("upload_retention_ms", options.uploads.retention.count());
  return std::unique_ptr<ReapiServices>(
      new ReapiServices(std::move(options), cas, action_cache, std::move(spool)));
}

ReapiServices::ReapiServices(ReapiOptions options, CasStore* cas, ActionCache* action_cache,
                             std::unique_ptr<UploadSpool> spool)
    : options_(std::move(options)),
      spool_(std::move(spool)),
      pool_(options_.check_threads),
      capabilities_(CapabilitiesFrom(options_)),
      cas_(cas, &pool_, &options_),
      action_cache_(cas, action_cache, &options_),
      bytestream_(cas, spool_.get(), &options_) {}

void ReapiServices::Register(grpc::ServerBuilder& builder) {
  builder.RegisterService(&capabilities_);
  builder.RegisterService(&cas_);
  builder.RegisterService(&action_cache_);
  builder.RegisterService(&bytestream_);
}

void ReapiServices::RenderPrometheus(std::string& out) const {
  UploadSpool::Usage u = spool_->usage();
  AppendMetric(out, "cycas_reapi_uploads_active", "gauge", "ByteStream uploads being written now.",
               u.active);
  AppendMetric(out, "cycas_reapi_upload_memory_bytes", "gauge",
               "Memory the live ByteStream uploads' resumable copies hold (bounded by "
               "reapi.upload_memory).",
               spool_->memory_used());
  AppendMetric(out, "cycas_reapi_upload_memory_limit_bytes", "gauge", "reapi.upload_memory.",
               options_.uploads.memory_bytes);
  AppendMetric(out, "cycas_reapi_kept_uploads", "gauge",
               "Interrupted ByteStream uploads kept on disk so that they can be resumed.", u.kept);
  AppendMetric(out, "cycas_reapi_kept_upload_bytes", "gauge",
               "Bytes of the interrupted uploads kept on disk.", u.kept_bytes);
}

}  // namespace cycas::api::reapi
