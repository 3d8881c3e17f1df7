#include "server/options.h"

namespace cycas::server {

std::vector<OptionSpec> ServerOptionSpecs() {
  using T = OptionType;
  return {
      {"server.listen", T::kString, "127.0.0.1:9092",
       "Address of the gRPC listener (zako CAS service). host:port; [::1]:port for IPv6."},
      {"server.data_dir", T::kString, "./cycas-data",
       "Directory for the store file and other state. Created if missing."},
      {"server.grpc_max_message", T::kBytes, "4MiB", "Largest gRPC message accepted or sent."},
      {"server.shutdown_grace", T::kDuration, "10s",
       "On SIGTERM/SIGINT, how long in-flight calls may run before they are cancelled."},
      {"server.ready_file", T::kString, "",
       "If set, once every listener is up the server writes one line per listener to this "
       "file (e.g. 'grpc 9092'), for scripts and tests that start it on port 0."},
      {"server.malloc_retain", T::kBytes, "1GiB",
       "Freed memory the allocator may keep for reuse instead of returning it to the "
       "system (glibc's trim threshold; allocations up to 32MiB then come from the heap, "
       "not mmap); at most 1GiB. Streaming 1MiB messages otherwise faults in fresh pages for each "
       "one, "
       "which cost large uploads 15-20% of their throughput. 0: glibc's own defaults. "
       "Ignored when GLIBC_TUNABLES sets malloc options, and in builds linked with jemalloc "
       "(the default), which keeps freed memory for reuse by itself."},
      {"log.level", T::kString, "info", "Log level: debug, info, warn, error or off."},
      {"engine.path", T::kString, "",
       "Store file or block device. Empty: <server.data_dir>/store.cyc."},
      {"engine.spans", T::kString, "",
       "Several spans instead of engine.path, e.g. one per disk: comma-separated PATH=SIZE "
       "(SIZE ignored for block devices). Stripes are divided among them. Keep the order "
       "fixed for an existing store."},
      {"engine.size", T::kBytes, "1GiB",
       "Size of the store file, preallocated at first start (ignored for block devices). "
       "An existing store keeps the size it was created with."},
      {"engine.stripes", T::kInt, "0",
       "Stripes the store is divided into (each has its own lock, ring and directory). "
       "0: one per CPU core. Fixed when the store is created."},
      {"engine.average_object_size", T::kBytes, "8KiB",
       "Expected average object size; the directory holds size/this entries (14 bytes each). "
       "Fixed when the store is created."},
      {"engine.fragment_size", T::kBytes, "1048448",
       "Objects larger than this are stored as fragments of this size plus a header. The "
       "default is 1MiB less the 128-byte Doc header, so four fragments fill a 4MiB "
       "aggregated write exactly. Each object's fragment size is stored with it."},
      {"engine.aggregation_buffer", T::kBytes, "4MiB",
       "Bytes gathered into one sequential write. Multiple of 4KiB, 64KiB to 256MiB."},
      {"engine.durability", T::kString, "durable",
       "durable: acknowledge an upload only once it is on stable storage (fdatasync, shared "
       "by all writers of one aggregated write). relaxed: acknowledge after the write is "
       "issued; a power cut may lose the last seconds of uploads."},
      {"engine.direct_io", T::kBool, "true",
       "Use O_DIRECT when the filesystem supports it (bypasses the page cache)."},
      {"engine.page_cache_reads", T::kBytes, "64KiB",
       "Records up to this size are read through the operating system's page cache, so "
       "small blobs that fall out of the RAM tier but stay hot cost no disk read (writes "
       "still bypass it, and invalidate what they overwrite). Larger reads use O_DIRECT "
       "(see engine.page_cache_rereads). 0: small records are read with O_DIRECT too."},
      {"engine.page_cache_rereads", T::kBool, "true",
       "Larger records (fragments of big blobs) are read with O_DIRECT the first time and "
       "through the page cache, which keeps them, when asked for again soon after, so big "
       "blobs fetched over and over cost no disk reads while one-off reads stay direct. "
       "false: larger records always use O_DIRECT."},
      {"engine.read_ahead", T::kInt, "3",
       "Fragments of a large object read ahead of a sequential reader, so the device "
       "works on several reads at once (one 1MiB read at a time leaves much of a fast "
       "disk's bandwidth unused). 0 disables read-ahead."},
      {"engine.read_ahead_memory", T::kBytes, "64MiB",
       "Most memory held by fragments read ahead and not yet sent, for all readers "
       "together; past it, readers read one fragment at a time."},
      {"engine.convert_ahead", T::kBytes, "32MiB",
       "While uploads are small, zeros are written over the never-written space of a "
       "preallocated store file up to this far ahead of the write cursor, one large write "
       "at a time (only the first pass round the ring finds any). Without it every durable "
       "commit into such space also syncs filesystem metadata, which made small uploads up "
       "to ~2x slower on a fresh store. 0 disables."},
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
      // zako protocol front-end (docs/zako-protocol.md).
      {"zako.transport_listen", T::kString, "127.0.0.1:9093",
       "Address of the zako Transport service (Download/Upload). host:port; port 0 picks a free "
       "port. Empty: serve Transport on server.listen."},
      {"zako.advertise_address", T::kString, "",
       "IP[:port] that GetTransportDetails tells clients to use for Transport. Empty: the "
       "Transport listener's own address (required when it listens on 0.0.0.0 or ::)."},
      {"zako.token_ttl", T::kDuration, "1h",
       "Lifetime of a transport token from GetTransportDetails; Transport calls with an "
       "expired token are UNAUTHENTICATED."},
      {"zako.max_tokens", T::kInt, "65536",
       "Most live transport tokens kept; issuing one more evicts the oldest."},
      {"zako.recommended_concurrency", T::kInt, "0",
       "recommended_concurrency returned by GetTransportDetails. 0: the number of CPU cores."},
      {"zako.chunk_size", T::kBytes, "1MiB",
       "Largest data message of a Download (at most server.grpc_max_message minus 64 bytes)."},
      {"zako.resume_ttl", T::kDuration, "10m",
       "How long an interrupted upload is kept so the client can resume it (Upload with a "
       "range starting at the bytes held). 0: interrupted uploads are discarded at once."},
      {"zako.resume_max_uploads", T::kInt, "64",
       "Most interrupted uploads kept for resumption (each holds up to engine.fragment_size of "
       "memory); keeping one more discards the oldest."},
      {"negotiate.io_parallelism", T::kInt, "0",
       "Presence checks NegotiateBlobs runs at once, over all streams. 0: the number of CPU "
       "cores."},
      {"remote.address", T::kString, "",
       "host:port of another zako CAS server (e.g. a cycasd) used as the remote tier behind "
       "the local store: misses are fetched from it, verified and kept. Empty: no remote tier."},
      {"remote.write_through", T::kBool, "false",
       "Also upload every blob stored here to the remote tier (failures are logged, not "
       "returned to the client)."},
      {"remote.timeout", T::kDuration, "60s",
       "Deadline of the remote tier's negotiation and token calls."},
      {"remote.tls_ca_file", T::kString, "",
       "Connect to remote.address with TLS, trusting these CA certificates (PEM)."},
      {"remote.tls_cert_file", T::kString, "",
       "Client certificate (PEM) for a remote tier that requires one; with remote.tls_key_file."},
      {"remote.tls_key_file", T::kString, "", "Private key (PEM) of remote.tls_cert_file."},
      {"remote.token_file", T::kString, "",
       "File holding a bearer token (one line) sent to a remote tier that requires "
       "credentials (its auth.credentials_file; docs/auth.md). Empty: none."},
      // The S3 tier (docs/s3-tier.md): exclusive with remote.address.
      {"s3.endpoint", T::kString, "",
       "S3 endpoint (scheme://host[:port], e.g. https://s3.eu-west-1.amazonaws.com or "
       "http://127.0.0.1:7480 for a Ceph RADOS Gateway). Non-empty enables the S3 tier: a "
       "bucket shared by many nodes behind the local store. Exclusive with remote.address."},
      {"s3.region", T::kString, "us-east-1", "Region the requests are signed for (SigV4)."},
      {"s3.bucket", T::kString, "", "Bucket holding the shared cache (must exist)."},
      {"s3.prefix", T::kString, "",
       "Key prefix inside the bucket, so several caches can share one bucket. Objects are "
       "{prefix}/cas/{function}/{hash}, {prefix}/ac/{instance}/{function}/{hash}, {prefix}/kv/..."},
      {"s3.addressing", T::kString, "path",
       "path: {endpoint}/{bucket}/{key} (Ceph RGW, MinIO); virtual: "
       "{scheme}://{bucket}.{host}/{key} (AWS)."},
      {"s3.access_key", T::kString, "",
       "Access key id. Empty: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) "
       "from the environment, else s3.credentials_file."},
      {"s3.secret_key", T::kString, "", "Secret access key, with s3.access_key."},
      {"s3.credentials_file", T::kString, "",
       "AWS shared credentials file (INI: aws_access_key_id, aws_secret_access_key, "
       "aws_session_token). Empty: AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials if "
       "present."},
      {"s3.profile", T::kString, "",
       "Profile in the credentials file. Empty: AWS_PROFILE, else 'default'."},
      {"s3.tls_verify", T::kBool, "true",
       "Verify the endpoint's TLS certificate and host name (https endpoints)."},
      {"s3.tls_ca_file", T::kString, "",
       "CA bundle (PEM) to verify the endpoint with; empty: the system's."},
      {"s3.connect_timeout", T::kDuration, "5s", "Longest wait for a connection to S3."},
      {"s3.request_timeout", T::kDuration, "30s",
       "Longest HEAD, DELETE, small GET/PUT or multipart control request."},
      {"s3.stall_timeout", T::kDuration, "30s",
       "A transfer (ranged GET, large PUT, part) is aborted when no byte moved for this long; "
       "at least 1s. Also bounds a gateway that accepts connections but never answers."},
      {"s3.retries", T::kInt, "3",
       "Retries of a failed S3 request (connection errors, timeouts, 5xx, 429) after the first "
       "try."},
      {"s3.retry_backoff", T::kDuration, "100ms",
       "First backoff before a retry; doubles per retry (with full jitter) up to "
       "s3.retry_backoff_max."},
      {"s3.retry_backoff_max", T::kDuration, "5s",
       "Longest backoff between retries, and between upload attempts while S3 is down."},
      {"s3.concurrency", T::kInt, "32",
       "S3 requests in flight at once (connections kept alive); more wait in a queue."},
      {"s3.multipart_threshold", T::kBytes, "64MiB",
       "Blobs up to this size are uploaded with one PUT; larger ones as a multipart upload."},
      {"s3.part_size", T::kBytes, "16MiB",
       "Part size of multipart uploads (5MiB-5GiB; grown for blobs above 10000 parts)."},
      {"s3.max_record_size", T::kBytes, "64MiB",
       "Largest record (action-cache entry) read from S3."},
      {"s3.write_mode", T::kString, "write-back",
       "write-back: acknowledge an upload once durable locally; a durable queue uploads it to "
       "S3 (and retries after a restart). write-through: acknowledge only after S3 confirmed; "
       "a failed write-through is an error (the blob stays queued)."},
      {"s3.queue_dir", T::kString, "",
       "Directory of the durable upload queue. Empty: <server.data_dir>/s3-queue."},
      {"s3.queue_limit", T::kInt, "1000000",
       "Most uploads waiting for S3; beyond, uploads wait s3.queue_full_wait, then fail "
       "RESOURCE_EXHAUSTED."},
      {"s3.queue_full_wait", T::kDuration, "10s",
       "How long an upload waits for room in a full queue."},
      {"s3.upload_workers", T::kInt, "16",
       "Threads uploading queued blobs to S3 (each waits on one upload at a time)."},
      {"s3.existence_cache_ttl", T::kDuration, "60s",
       "How long S3's answer 'present' is remembered (saves HEADs of blobs asked about "
       "again). 0 disables the cache."},
      {"tls.cert_file", T::kString, "",
       "Server certificate chain (PEM). With tls.key_file, the gRPC listeners (server.listen, "
       "zako.transport_listen) use TLS. Empty: plaintext."},
      {"tls.key_file", T::kString, "", "Private key (PEM) of tls.cert_file."},
      {"tls.client_ca_file", T::kString, "",
       "CA certificates (PEM) for client certificates: when set, gRPC clients must present a "
       "certificate signed by one of them (mutual TLS). Needs tls.cert_file."},
      {"auth.credentials_file", T::kString, "",
       "Credentials file (TOML; docs/auth.md): bearer tokens, htpasswd users and client "
       "certificates with their scopes (read, write, instance prefixes), and what anonymous "
       "callers may do. Enforced on every front-end (REAPI, zako, HTTP). Empty: no "
       "authentication, every caller may read and write."},
      {"auth.password_cache_ttl", T::kDuration, "60s",
       "How long a successful password check is remembered (bcrypt costs tens of ms; clients "
       "send Basic credentials with every request). 0 checks every request."},
      {"auth.password_cache_size", T::kInt, "4096",
       "Most remembered password checks; one more evicts the oldest."},
      {"reapi.action_cache_update", T::kBool, "true",
       "Accept REAPI UpdateActionResult (announced in Capabilities); false answers it "
       "PERMISSION_DENIED, for a read-only cache."},
      {"reapi.action_cache_require_complete", T::kBool, "true",
       "Refuse (FAILED_PRECONDITION, listing them) action results that reference blobs the "
       "CAS does not hold, so the cache only stores results it can serve."},
      {"reapi.max_batch_size", T::kBytes, "0",
       "Largest sum of blob sizes in one BatchUpdateBlobs/BatchReadBlobs call, announced as "
       "max_batch_total_size_bytes. 0: server.grpc_max_message minus 64KiB for framing."},
      {"reapi.instance_names", T::kString, "*",
       "REAPI instance names served: '*' for any, or a comma-separated list; an empty element "
       "(e.g. ',ci/linux') is the empty instance name. Others are INVALID_ARGUMENT."},
      {"reapi.upload_retention", T::kDuration, "1h",
       "How long the received part of an interrupted ByteStream upload is kept (durably, in "
       "<server.data_dir>/uploads/) so the upload can resume, also after a restart. 0: uploads "
       "restart from the beginning."},
      {"reapi.upload_spool_max", T::kBytes, "4GiB",
       "Disk space all kept partial uploads may use together (oldest removed first); an "
       "upload larger than this is resumable only from the beginning."},
      {"reapi.upload_memory", T::kBytes, "256MiB",
       "Memory all ByteStream uploads in progress may use together for the copy of their "
       "bytes that makes them resumable; beyond it, uploads write that copy to "
       "<server.data_dir>/uploads/ as they arrive (slower). 0: always to the files."},
      {"reapi.zstd_level", T::kInt, "1",
       "zstd level (1-19) for compressed-blobs reads and compressed BatchReadBlobs responses."},
      {"http.listen", T::kString, "127.0.0.1:8080",
       "Address of the HTTP/1.1 listener (Bazel --remote_cache=http://..., ccache, /metrics, "
       "/status). host:port; empty disables it. See docs/http.md."},
      {"http.tls_cert_file", T::kString, "",
       "Server certificate chain (PEM). With http.tls_key_file, the HTTP listener speaks "
       "HTTPS only. Separate from tls.* (gRPC) so each listener can have its own certificate "
       "and client-certificate policy. Empty: plain HTTP."},
      {"http.tls_key_file", T::kString, "", "Private key (PEM) of http.tls_cert_file."},
      {"http.tls_client_ca_file", T::kString, "",
       "CA certificates (PEM) for HTTPS client certificates: a client that presents one must "
       "have it signed by one of them, and its subject CN can be mapped to a principal "
       "([[cert]] in the credentials file). Clients without a certificate are still served "
       "(they authenticate with Basic or Bearer). Needs http.tls_cert_file."},
      {"http.max_header_size", T::kBytes, "16KiB",
       "Largest request line plus headers; larger requests are answered 431."},
      {"http.max_body_size", T::kBytes, "4GiB",
       "Largest request body (after zstd decoding); larger uploads are answered 413."},
      {"http.idle_timeout", T::kDuration, "60s",
       "How long a keep-alive connection may sit idle, and how long a request header may take "
       "to arrive (408 when it started but did not finish)."},
      {"http.slow_client_timeout", T::kDuration, "30s",
       "Longest stall while reading a request body (408) or writing a response; the "
       "connection is closed after it."},
      {"http.ac_strict", T::kBool, "false",
       "Refuse (400) PUT /ac/ bodies that are not a well-formed ActionResult. Off by default "
       "so ccache's layout=bazel can store its own values there."},
      {"http.threads", T::kInt, "0",
       "Threads serving HTTP connections (parsing, sending, reading blobs held in the RAM "
       "tier, queueing commits); 0 means one per core. Nothing they do waits on the disk, so "
       "more threads than cores only add wake-ups: 16 on 2 cores served 4KiB PUTs at 8k/s "
       "against 11-15k/s with 2."},
      {"http.blocking_threads", T::kInt, "64",
       "Threads that make the HTTP front-end's storage calls that can block: commits of "
       "uploads (a durable upload waits for its group commit), action-cache writes, and reads "
       "of blobs and records that are not in the RAM tier. As many uploads as this can share "
       "one flush, and as many disk reads can be in flight, while the connection threads keep "
       "serving."},
      {"http.kv_namespaces", T::kString, "ccache,sccache",
       "Comma-separated first path segments that hold generic key-value namespaces "
       "(ccache's default layouts, sccache's WebDAV backend); cache paths (.../ac/{hash}, "
       ".../cas/{hash}) under them keep their meaning. Empty: none."},
      {"http.zstd_max_blob", T::kBytes, "16MiB",
       "Largest blob for which a zstd-compressed alternate is made on request "
       "(Accept-Encoding: zstd); 0 disables zstd responses."},
  };
}

}  // namespace cycas::server
