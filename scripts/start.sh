#!/usr/bin/env bash
# Installs dependencies, builds cycas and starts the server on the default
# embedded configuration (data in ./cycas-data, gRPC on 127.0.0.1:9092).
# Extra arguments are passed to cycasd, e.g. --set engine.size=8GiB.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release
exec ./build/src/server/cycasd "$@"
