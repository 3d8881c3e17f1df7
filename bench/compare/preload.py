#!/usr/bin/env python3
"""Unmeasured preload of an HTTP cache for bench/compare.sh: PUTs blobs
[FIRST, FIRST + COUNT) of a blob set written by `cycas-load gen` (or GETs
them, to warm a proxy cache), on CONC persistent connections. Exits non-zero,
naming the blob, if any response is not 2xx.

    preload.py HOST:PORT PREFIX SET_DIR FIRST COUNT PUT|GET CONC
"""
import http.client
import sys
import threading


def load_set(d):
    params = {}
    with open(f"{d}/params") as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            params[k] = int(v)
    with open(f"{d}/pool", "rb") as f:
        pool = f.read()
    with open(f"{d}/names.txt") as f:
        names = f.read().split()
    return params, pool, names


def main():
    hostport, prefix, set_dir, first, count, method, conc = sys.argv[1:8]
    first, count, conc = int(first), int(count), int(conc)
    params, pool, names = load_set(set_dir)
    size, rng, stride = params["size"], params["range"], params["stride"]
    if first + count > len(names):
        sys.exit(f"preload: {set_dir} has {len(names)} blobs, {first + count} wanted")
    host, port = hostport.rsplit(":", 1)
    errors = []
    lock = threading.Lock()
    next_index = [first]

    def worker():
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= first + count or errors:
                break
            path = prefix + names[i]
            body = None
            if method == "PUT":
                off = (i % rng) * stride % rng
                body = pool[off:off + size]
            conn.request(method, path, body=body)
            resp = conn.getresponse()
            resp.read()
            if resp.status >= 300:
                with lock:
                    errors.append(f"{method} {path}: HTTP {resp.status}")
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit("preload failed: " + errors[0])


if __name__ == "__main__":
    main()
