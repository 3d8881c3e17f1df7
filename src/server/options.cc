#include "server/options.h"

namespace cycas::server {

std::vector<OptionSpec> ServerOptionSpecs() {
  using T = OptionType;
  return {
      {"server.listen", T::kString, "127.0.0.1:9092",
       "Address of the gRPC listener (zako CAS service). host:port; [::1]:port for IPv6."},
      {"server.data_dir", T::kString, "./cycas-data",
       "Directory for the store file and other state. Created if missing."},
      {"server.grpc_max_message", T::kBytes, "4MiB",
       "Largest gRPC message accepted or sent."},
      {"server.shutdown_grace", T::kDuration, "10s",
       "On SIGTERM/SIGINT, how long in-flight calls may run before they are cancelled."},
      {"server.ready_file", T::kString, "",
       "If set, once every listener is up the server writes one line per listener to this "
       "file (e.g. 'grpc 9092'), for scripts and tests that start it on port 0."},
      {"log.level", T::kString, "info", "Log level: debug, info, warn, error or off."},
      {"engine.path", T::kString, "",
       "Store file or block device. Empty: <server.data_dir>/store.cyc."},
      {"engine.size", T::kBytes, "1GiB",
       "Size of the store file, preallocated at first start (ignored for block devices). "
       "An existing store keeps the size it was created with."},
      {"engine.stripes", T::kInt, "0",
       "Stripes the store is divided into (each has its own lock, ring and directory). "
       "0: one per CPU core. Fixed when the store is created."},
      {"engine.average_object_size", T::kBytes, "8KiB",
       "Expected average object size; the directory holds size/this entries (16 bytes each). "
       "Fixed when the store is created."},
      {"engine.fragment_size", T::kBytes, "1MiB",
       "Objects larger than this are stored as fragments of this size plus a header."},
      {"engine.aggregation_buffer", T::kBytes, "4MiB",
       "Bytes gathered into one sequential write. Multiple of 4KiB, at least 64KiB."},
      {"engine.durability", T::kString, "durable",
       "durable: acknowledge an upload only once it is on stable storage (fdatasync, shared "
       "by all writers of one aggregated write). relaxed: acknowledge after the write is "
       "issued; a power cut may lose the last seconds of uploads."},
      {"engine.direct_io", T::kBool, "true",
       "Use O_DIRECT when the filesystem supports it (bypasses the page cache)."},
      {"engine.snapshot_interval", T::kDuration, "10s",
       "How often each stripe's directory is written to disk. Shorter: faster crash recovery."},
      {"engine.copy_forward_fraction", T::kInt, "10",
       "Percent of the ring nearest to being overwritten in which a touched object is "
       "copied forward, so objects in use survive eviction. 0 disables."},
      {"cas.ram_capacity", T::kBytes, "256MiB",
       "Memory for the RAM tier of small hot blobs (0 disables it)."},
      {"cas.ram_max_blob", T::kBytes, "64KiB",
       "Largest blob the RAM tier admits; larger blobs stream from disk."},
      {"cas.max_blob_size", T::kBytes, "1TiB",
       "Digests claiming a larger size are refused as INVALID_ARGUMENT."},
      {"cas.single_flight_wait", T::kDuration, "60s",
       "How long a second upload of a digest waits for the first to finish."},
  };
}

}  // namespace cycas::server
