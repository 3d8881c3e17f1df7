#!/usr/bin/env python3
"""Wire compatibility of cycasd's zako protocol with an independent client.

This client is written from the .proto files and docs/zako-protocol.md alone:
its stubs are generated at test time with grpc_tools.protoc from proto/, and
it computes BLAKE3 with its own pure-Python implementation below (so the
server's verification of uploads also checks both implementations agree).
It starts a real cycasd on loopback and exercises every RPC and the error
codes a client must handle. Exit status 0 when every check passes.
"""

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import traceback

# --------------------------------------------------------------------------
# BLAKE3 (hash mode, 32-byte output), after the reference implementation.

_IV = (0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
       0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19)
_PERM = (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8)
_CHUNK_START, _CHUNK_END, _PARENT, _ROOT = 1, 2, 4, 8
_M32 = 0xFFFFFFFF


def _g(s, a, b, c, d, x, y):
    s[a] = (s[a] + s[b] + x) & _M32
    v = s[d] ^ s[a]; s[d] = ((v >> 16) | (v << 16)) & _M32
    s[c] = (s[c] + s[d]) & _M32
    v = s[b] ^ s[c]; s[b] = ((v >> 12) | (v << 20)) & _M32
    s[a] = (s[a] + s[b] + y) & _M32
    v = s[d] ^ s[a]; s[d] = ((v >> 8) | (v << 24)) & _M32
    s[c] = (s[c] + s[d]) & _M32
    v = s[b] ^ s[c]; s[b] = ((v >> 7) | (v << 25)) & _M32


def _compress(cv, block, counter, block_len, flags):
    m = list(struct.unpack("<16I", block))
    s = list(cv) + list(_IV[:4]) + [counter & _M32, (counter >> 32) & _M32, block_len, flags]
    for r in range(7):
        _g(s, 0, 4, 8, 12, m[0], m[1]); _g(s, 1, 5, 9, 13, m[2], m[3])
        _g(s, 2, 6, 10, 14, m[4], m[5]); _g(s, 3, 7, 11, 15, m[6], m[7])
        _g(s, 0, 5, 10, 15, m[8], m[9]); _g(s, 1, 6, 11, 12, m[10], m[11])
        _g(s, 2, 7, 8, 13, m[12], m[13]); _g(s, 3, 4, 9, 14, m[14], m[15])
        if r < 6:
            m = [m[i] for i in _PERM]
    return [s[i] ^ s[i + 8] for i in range(8)]


def _chunk_output(chunk, index):
    """(cv, last block, counter, len, flags) of a chunk, before its last compression."""
    blocks = [chunk[i:i + 64] for i in range(0, len(chunk), 64)] or [b""]
    cv = _IV
    for i, b in enumerate(blocks[:-1]):
        cv = _compress(cv, b, index, 64, _CHUNK_START if i == 0 else 0)
    last = blocks[-1]
    flags = _CHUNK_END | (_CHUNK_START if len(blocks) == 1 else 0)
    return (cv, last.ljust(64, b"\0"), index, len(last), flags)


def _cv_of(out):
    cv, block, counter, n, flags = out
    return _compress(cv, block, counter, n, flags)


def _parent(left, right):
    return (_IV, struct.pack("<16I", *(list(left) + list(right))), 0, 64, _PARENT)


def blake3(data):
    chunks = [data[i:i + 1024] for i in range(0, len(data), 1024)] or [b""]
    stack = []
    for index, chunk in enumerate(chunks[:-1]):
        cv = _cv_of(_chunk_output(chunk, index))
        total = index + 1
        while total & 1 == 0:
            cv = _cv_of(_parent(stack.pop(), cv))
            total >>= 1
        stack.append(cv)
    out = _chunk_output(chunks[-1], len(chunks) - 1)
    while stack:
        out = _parent(stack.pop(), _cv_of(out))
    cv, block, _, n, flags = out
    return struct.pack("<8I", *_compress(cv, block, 0, n, flags | _ROOT))


# --------------------------------------------------------------------------
# Test harness

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL: " + what, flush=True)


def expect_code(fn, code, what, contains=None):
    import grpc
    try:
        fn()
    except grpc.RpcError as e:
        check(e.code() == code, "%s: expected %s, got %s: %s" % (what, code, e.code(), e.details()))
        if contains is not None:
            check(contains in (e.details() or ""),
                  "%s: message %r does not mention %r" % (what, e.details(), contains))
        return e
    check(False, "%s: expected %s, call succeeded" % (what, code))
    return None


def start_server(cycasd, tmp, extra):
    data = os.path.join(tmp, "data")
    ready = os.path.join(tmp, "ready")
    log = open(os.path.join(tmp, "cycasd.log"), "wb")
    args = [cycasd, "--set", "server.data_dir=" + data, "--set", "server.listen=127.0.0.1:0",
            "--set", "zako.transport_listen=127.0.0.1:0", "--set", "http.listen=",
            "--set", "server.ready_file=" + ready, "--set", "engine.size=64MiB",
            "--set", "engine.stripes=2", "--set", "log.level=warn"]
    for e in extra:
        args += ["--set", e]
    proc = subprocess.Popen(args, stdout=log, stderr=log)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("cycasd exited: " + open(os.path.join(tmp, "cycasd.log")).read())
        if os.path.exists(ready):
            ports = dict(line.split() for line in open(ready) if line.strip())
            return proc, {k: int(v) for k, v in ports.items()}
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("cycasd did not become ready")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycasd", required=True)
    ap.add_argument("--proto", required=True)
    ap.add_argument("--protoc", default=shutil.which("protoc"))
    ap.add_argument("--grpc-python-plugin", default=shutil.which("grpc_python_plugin"))
    args = ap.parse_args()

    # BLAKE3 self-check against the published hash of zero bytes.
    check(blake3(b"").hex() ==
          "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", "blake3 of b''")

    tmp = tempfile.mkdtemp(prefix="cycas-pycompat-")
    proc = None
    try:
        gen = os.path.join(tmp, "gen")
        os.mkdir(gen)
        protos = ["zako/v1/digest.proto", "zako/v1/range.proto", "zako/v1/net.proto",
                  "zako/v1/cas.proto", "zako/v1/transport.proto"]
        # grpc_tools' bundled protoc first; Debian's is too old for proto3
        # `optional` (range.proto), so fall back to the system protoc with
        # the gRPC Python plugin.
        common = ["-I", args.proto, "--python_out=" + gen, "--grpc_python_out=" + gen] + protos
        attempts = [[sys.executable, "-m", "grpc_tools.protoc"] + common]
        if args.protoc and args.grpc_python_plugin:
            attempts.append([args.protoc, "--plugin=protoc-gen-grpc_python=" + args.grpc_python_plugin]
                            + common)
        for cmd in attempts:
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode == 0:
                print("stubs generated with: " + " ".join(cmd[:3]))
                break
            print("stub generation with %s failed: %s" % (" ".join(cmd[:3]), r.stderr.strip()))
        else:
            return 1
        sys.path.insert(0, gen)
        import grpc
        from zako.v1 import cas_pb2, cas_pb2_grpc, digest_pb2, net_pb2, range_pb2  # noqa: F401
        from zako.v1 import transport_pb2, transport_pb2_grpc

        proc, ports = start_server(args.cycasd, tmp, ["zako.chunk_size=4KiB"])
        cas = cas_pb2_grpc.ContentAddressableStorageStub(
            grpc.insecure_channel("127.0.0.1:%d" % ports["grpc"]))
        C = grpc.StatusCode

        def digest(data):
            return digest_pb2.Digest(size_bytes=len(data), blake3=blake3(data))

        def negotiate(messages):
            reqs = [cas_pb2.NegotiateBlobsRequest(blob_digests=m) for m in messages]
            return [list(r.missing_blob_digests) for r in cas.NegotiateBlobs(iter(reqs), timeout=30)]

        # GetTransportDetails
        det = cas.GetTransportDetails(cas_pb2.GetTransportDetailsRequest(
            supported_protocols=[net_pb2.grpc]), timeout=10)
        check(det.server_addr.ip.WhichOneof("ip_addr") == "v4", "transport address is IPv4")
        v4 = det.server_addr.ip.v4
        check("%d.%d.%d.%d" % (v4 >> 24, (v4 >> 16) & 255, (v4 >> 8) & 255, v4 & 255) == "127.0.0.1",
              "v4 is the big-endian value of 127.0.0.1, got %#x" % v4)
        check(det.server_addr.port == ports["transport"], "advertised port is the transport port")
        check(len(det.auth_token) >= 32, "token has >= 128 bits")
        check(det.recommended_concurrency >= 1, "recommended_concurrency >= 1")
        expect_code(lambda: cas.GetTransportDetails(cas_pb2.GetTransportDetailsRequest(
            supported_protocols=[]), timeout=10), C.FAILED_PRECONDITION, "no protocols", "grpc")
        ok = cas.GetTransportDetails(cas_pb2.GetTransportDetailsRequest(
            supported_protocols=[5, net_pb2.grpc]), timeout=10)
        check(len(ok.auth_token) >= 32, "unknown protocol values are ignored")

        host = "127.0.0.1:%d" % det.server_addr.port
        transport = transport_pb2_grpc.TransportStub(grpc.insecure_channel(host))
        auth = [("authorization", "Bearer " + det.auth_token)]

        def upload(messages, metadata=auth):
            return transport.Upload.with_call(iter(messages), metadata=metadata, timeout=30)

        def meta(d, start=None, length=None):
            r = None
            if start is not None or length is not None:
                r = range_pb2.BlobRange(start=start or 0)
                if length is not None:
                    r.length = length
            res = transport_pb2.BlobResource(digest=d, range=r) if r else transport_pb2.BlobResource(digest=d)
            return transport_pb2.UploadRequest(metadata=res)

        def chunks(data, size=3000):
            return [transport_pb2.UploadRequest(chunk=data[i:i + size]) for i in range(0, len(data), size)]

        def download(d, start=None, length=None, metadata=auth):
            r = None
            if start is not None or length is not None:
                r = range_pb2.BlobRange(start=start or 0)
                if length is not None:
                    r.length = length
            res = transport_pb2.BlobResource(digest=d, range=r) if r else transport_pb2.BlobResource(digest=d)
            parts = list(transport.Download(transport_pb2.DownloadRequest(metadata=res),
                                            metadata=metadata, timeout=30))
            return b"".join(p.data for p in parts), parts

        # Upload: a multi-chunk blob (BLAKE3 tree with parents) is accepted.
        blob = bytes((i * 7 + (i >> 8)) & 255 for i in range(10_000))
        d = digest(blob)
        resp, call = upload([meta(d)] + chunks(blob))
        check(resp.committed_size == len(blob), "committed_size is the blob size")
        expect_code(lambda: upload([meta(d)]), C.ALREADY_EXISTS, "upload of a present blob")
        expect_code(lambda: upload([meta(digest(b"x"))] + chunks(b"y")), C.INVALID_ARGUMENT,
                    "wrong content", "does not match")
        expect_code(lambda: upload(chunks(b"abc")), C.INVALID_ARGUMENT, "first message not metadata",
                    "metadata")
        expect_code(lambda: upload([meta(digest(b"q"))] + chunks(b"q"), metadata=[]),
                    C.UNAUTHENTICATED, "upload without token")
        expect_code(lambda: upload([meta(digest(b"q"))] + chunks(b"q"),
                                   metadata=[("authorization", "Bearer 00")]),
                    C.UNAUTHENTICATED, "upload with a bad token")
        bad = digest_pb2.Digest(size_bytes=3, blake3=b"\0" * 31)
        expect_code(lambda: upload([meta(bad)]), C.INVALID_ARGUMENT, "malformed digest",
                    "metadata.digest.blake3")

        # Partial upload, then resume (cycas-resume-offset trailer).
        blob2 = bytes((i * 13) & 255 for i in range(9000))
        d2 = digest(blob2)
        resp, call = upload([meta(d2, 0, 4000)] + chunks(blob2[:4000]))
        check(resp.committed_size == 4000, "partial upload reports the bytes held")
        trailers = dict(call.trailing_metadata() or ())
        check(trailers.get("cycas-resume-offset") == "4000", "resume offset trailer: %r" % trailers)
        e = expect_code(lambda: upload([meta(d2, 100)] + chunks(blob2[100:])),
                        C.FAILED_PRECONDITION, "resume at the wrong offset", "4000")
        if e is not None:
            check(dict(e.trailing_metadata() or ()).get("cycas-resume-offset") == "4000",
                  "resume offset trailer on FAILED_PRECONDITION")
        resp, call = upload([meta(d2, 4000)] + chunks(blob2[4000:]))
        check(resp.committed_size == len(blob2), "resumed upload completes the blob")

        # Download: whole, ranges, chunking, errors.
        got, parts = download(d)
        check(got == blob, "download of the whole blob")
        check(max(len(p.data) for p in parts) <= 4096, "download chunks respect zako.chunk_size")
        for start, length in [(0, 1), (4095, 2), (4096, 4096), (9999, 1), (0, 10000), (5000, None)]:
            got, _ = download(d, start, length)
            want = blob[start:] if length is None else blob[start:start + length]
            check(got == want, "range %s+%s" % (start, length))
        got, _ = download(d2)
        check(got == blob2, "download of the resumed blob")
        got, _ = download(digest(b""))
        check(got == b"", "the empty blob exists and is empty")
        expect_code(lambda: download(digest(b"never")), C.NOT_FOUND, "unknown blob")
        expect_code(lambda: download(d, 0, 0), C.INVALID_ARGUMENT, "zero length", "length 0")
        expect_code(lambda: download(d, 10000), C.INVALID_ARGUMENT, "start at the end",
                    "10000 bytes long")
        expect_code(lambda: download(d, 9000, 1001), C.INVALID_ARGUMENT, "range past the end")
        expect_code(lambda: download(d, metadata=[]), C.UNAUTHENTICATED, "download without token")

        # NegotiateBlobs: order, no answer for complete messages, malformed digest.
        absent1, absent2 = digest(b"absent-1"), digest(b"absent-2")
        res = negotiate([[d, absent1, d2, absent2], [d, d2], [absent2]])
        check(len(res) == 2, "one response per message with missing blobs, got %d" % len(res))
        if len(res) == 2:
            check([m.blake3 for m in res[0]] == [absent1.blake3, absent2.blake3], "missing in order")
            check([m.blake3 for m in res[1]] == [absent2.blake3], "third message answered")
        many = [digest(b"n%d" % i) for i in range(5000)]
        res = negotiate([many])
        check(len(res) == 1 and len(res[0]) == 5000, "5000-digest message")
        expect_code(lambda: negotiate([[d, bad]]), C.INVALID_ARGUMENT, "malformed digest",
                    "blob_digests[1].blake3")
    except Exception:
        traceback.print_exc()
        FAILURES.append("exception")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                rc = proc.wait(timeout=30)
                check(rc == 0, "cycasd exit status %s" % rc)
            except subprocess.TimeoutExpired:
                proc.kill()
                check(False, "cycasd did not stop")
        if FAILURES:
            try:
                print(open(os.path.join(tmp, "cycasd.log")).read())
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("python wire-compatibility checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
