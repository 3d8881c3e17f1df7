#!/usr/bin/env python3
"""Writes N random blobs of SIZE bytes for the HTTP benchmark: one file per blob
named by its SHA-256 under DIR/blobs, plus DIR/paths.txt listing the names."""
import hashlib
import os
import sys

out, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(os.path.join(out, "blobs"), exist_ok=True)
names = []
for _ in range(count):
    data = os.urandom(size)
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(out, "blobs", h), "wb") as f:
        f.write(data)
    names.append(h)
with open(os.path.join(out, "paths.txt"), "w") as f:
    f.write("\n".join(names) + "\n")
