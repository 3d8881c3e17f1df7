#include "api/reapi/action_cache_service.h"

#include <algorithm>

#include "api/grpc_status.h"
#include "api/reapi/call_admission.h"

namespace cycas::api::reapi {

namespace {

// Room kept free in a GetActionResult response beyond the inlined bytes.
constexpr size_t kInlineMargin = size_t{64} << 10;

}  // namespace

void ActionCacheService::Inline(const v2::GetActionResultRequest& request, DigestFunction fn,
                                v2::ActionResult* result) {
  size_t limit = options_->max_message_bytes > 2 * kInlineMargin
                     ? options_->max_message_bytes - kInlineMargin
                     : options_->max_message_bytes / 2;
  size_t used = result->ByteSizeLong();
  // Reads one blob into `out` if it fits in what is left; inlining is a hint
  // the server may decline, so every failure just leaves the field as it was.
  auto fill = [&](const v2::Digest& proto, std::string* out) {
    auto d = DigestFromProto(proto, fn, "");
    if (!d.ok() || d->size_bytes() + used + 16 > limit) return;
    auto bytes = cas_->ReadAll(*d, limit - used);
    if (!bytes.ok()) return;
    used += bytes->size() + 16;
    *out = std::move(*bytes);
  };
  if (request.inline_stdout() && result->has_stdout_digest() && result->stdout_raw().empty()) {
    fill(result->stdout_digest(), result->mutable_stdout_raw());
  }
  if (request.inline_stderr() && result->has_stderr_digest() && result->stderr_raw().empty()) {
    fill(result->stderr_digest(), result->mutable_stderr_raw());
  }
  if (request.inline_output_files_size() > 0) {
    const auto& wanted = request.inline_output_files();
    for (auto& f : *result->mutable_output_files()) {
      if (!f.contents().empty()) continue;
      if (std::find(wanted.begin(), wanted.end(), f.path()) == wanted.end()) continue;
      fill(f.digest(), f.mutable_contents());
    }
  }
}

grpc::Status ActionCacheService::GetActionResult(grpc::ServerContext* context,
                                                 const v2::GetActionResultRequest* request,
                                                 v2::ActionResult* response) {
  Admitted call;
  if (auto a = AdmitCall(*options_, *context, auth::Access::kRead,
                         CallTarget(request->instance_name(), request->digest_function())
                             .About(request->action_digest(), "action_digest"),
                         &call);
      !a.ok()) {
    return a;
  }
  // NOT_FOUND both for a miss and for a result whose blobs are gone.
  auto result = cache_->Get(request->instance_name(), *call.digest);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = std::move(*result);
  Inline(*request, call.digest_function, response);
  return grpc::Status::OK;
}

grpc::Status ActionCacheService::UpdateActionResult(grpc::ServerContext* context,
                                                    const v2::UpdateActionResultRequest* request,
                                                    v2::ActionResult* response) {
  CallTarget target(request->instance_name(), request->digest_function());
  target.About(request->action_digest(), "action_digest");
  if (!options_->action_cache_update_enabled) {
    target.refusal = Status(StatusCode::kPermissionDenied,
                            "this server does not accept action cache updates "
                            "(reapi.action_cache_update = false)");
  }
  Admitted call;
  if (auto a = AdmitCall(*options_, *context, auth::Access::kWrite, target, &call); !a.ok()) {
    return a;
  }
  const DigestFunction fn = call.digest_function;
  const v2::ActionResult& result = request->action_result();
  Status st = ActionCache::Validate(result, fn);
  if (!st.ok()) return ToGrpcStatus(st.WithContext("action_result"));
  if (options_->action_cache_require_complete) {
    constexpr size_t kListed = 20;
    // Through the action cache's view of the CAS: with an S3 tier, a blob S3
    // cannot be asked about is UNAVAILABLE here, never reported missing.
    auto missing = cache_->MissingBlobs(result, fn, kListed);
    if (!missing.ok()) return ToGrpcStatus(missing.status().WithContext("action_result"));
    if (!missing->empty()) {
      std::string msg = "action_result references blobs the CAS does not have; upload them first:";
      for (const auto& m : *missing) msg += " " + m + ";";
      return ToGrpcStatus(Status::FailedPrecondition(msg));
    }
  }
  st = cache_->Put(request->instance_name(), *call.digest, result);
  if (!st.ok()) return ToGrpcStatus(st);
  *response = result;
  return grpc::Status::OK;
}

}  // namespace cycas::api::reapi
