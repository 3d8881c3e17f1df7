// ZakoRemoteBlobStore: another cycas (or any zako CAS server) as a BlobStore,
// for the remote tier behind the local engine (TieredBlobStore's `remote`).
//
//  * Contains: one NegotiateBlobs stream with one digest. Exact: the remote
//    server answers "missing" for what it cannot confirm.
//  * OpenRead: a Download of the whole blob, opened eagerly so NOT_FOUND is
//    returned by OpenRead; sequential reads consume that stream, and a read
//    at another offset opens a new one from there. The bytes are not
//    verified here: TieredBlobStore verifies a remote hit before keeping it.
//  * OpenWrite: ALREADY_EXISTS if the remote has the blob, else an Upload
//    stream fed by Append; Commit ends it (the remote verifies the bytes).
//  * Remove: UNIMPLEMENTED (the protocol has no delete).
// Safe for concurrent use (readers and writers are each used by one thread).
#pragma once

#include <memory>

#include "cas/blob_store.h"
#include "client/zako_client.h"

namespace cycas {

class ZakoRemoteBlobStore final : public BlobStore {
 public:
  static Result<std::unique_ptr<ZakoRemoteBlobStore>> Create(client::ClientOptions options);

  Result<bool> Contains(const Digest& digest) override;
  Result<std::unique_ptr<BlobReader>> OpenRead(const Digest& digest) override;
  Result<std::unique_ptr<BlobWriter>> OpenWrite(const Digest& digest) override;
  Status Remove(const Digest& digest) override;
  std::string_view name() const override { return "remote"; }

  client::ZakoClient* client() { return client_.get(); }

 private:
  explicit ZakoRemoteBlobStore(std::unique_ptr<client::ZakoClient> c) : client_(std::move(c)) {}
  std::unique_ptr<client::ZakoClient> client_;
};

}  // namespace cycas
