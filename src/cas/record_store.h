// RecordStore: small mutable values under names (action-cache entries,
// key-value namespaces). The newest Put wins. Separate from BlobStore because
// records are not content-addressed: their bytes cannot be verified by name.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "util/status.h"

namespace cycas {

class RecordStore {
 public:
  virtual ~RecordStore() = default;
  // `name` is opaque and fully qualified by the caller (namespace included).
  virtual Result<std::string> Get(std::string_view name) = 0;  // NOT_FOUND when absent
  virtual Status Put(std::string_view name, std::string_view value) = 0;
  // As BlobWriter::CanCommitAsync / CommitAsync, for Put.
  virtual bool CanPutAsync() const { return false; }
  virtual void PutAsync(std::string_view name, std::string_view value,
                        std::function<void(Status)> done) {
    done(Put(name, value));
  }
  virtual Status Remove(std::string_view name) = 0;
  // For a caller that knows `value` is the right value of `name` now (it is
  // derived from data just found stored, e.g. a blob's size): a store that
  // evicts old records rewrites it, in the background, when it is missing or
  // about to be evicted, so it lives as long as the data it describes. Does
  // not wait for the write (only, as any write, for buffer space when the
  // store is saturated). Default: nothing (stores that do not evict).
  virtual void Keep(std::string_view name, std::string_view value) {}
  // Largest value accepted.
  virtual size_t max_value_size() const = 0;
};

}  // namespace cycas
