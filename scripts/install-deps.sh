#!/usr/bin/env bash
# Installs every build, test and benchmark dependency of cycas from Debian 12's
# archive. Used by the README's commands and by .ci/run, so both stay in step.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build clang clang-format libclang-rt-dev pkg-config
  # gRPC and protobuf (C++), plus python stubs for the wire-compatibility tests
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  python3 python3-grpcio python3-grpc-tools python3-protobuf
  # hashing, checksums, compression, async I/O, config
  libssl-dev librust-blake3-dev libxxhash-dev libzstd-dev liburing-dev libtoml11-dev libcrypt-dev
  # allocator of cycasd (many small per-request allocations across threads)
  libjemalloc-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # HTTP front-end (Boost.Beast/Asio, header-only) and its end-to-end tests' clients
  libboost-dev curl ccache
  # auth e2e tests make a throwaway CA and certificates with the openssl command
  openssl
  # the official REAPI protos, used only by the proto compatibility test
  bazel-bootstrap-source
  # real Bazel as a REAPI client in the end-to-end tests
  bazel-bootstrap
  # S3 tier: libcurl (HTTP + SigV4); Ceph (monitor, OSD, RADOS Gateway) for its
  # integration tests and benchmark on loopback (scripts/ceph-rgw.sh)
  libcurl4-openssl-dev ceph-mon ceph-osd radosgw ceph-common
  # side-by-side benchmark (bench/compare.sh): load generator, peers, machine limits
  wrk nginx-light trafficserver fio iperf3
  # security tests: trace which files the server opens while handling hostile paths
  strace
  # the status page's end-to-end test loads it in headless Chromium (it skipped
  # without it, so CI never ran it)
  chromium
)

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${PACKAGES[@]}"

# The trafficserver package enables a system service listening on port 8080,
# cycasd's default HTTP port; the benchmark starts its own unprivileged
# instance, so the system one is switched off where systemd runs.
if command -v systemctl >/dev/null && systemctl is-enabled trafficserver >/dev/null 2>&1; then
  $SUDO systemctl disable --now trafficserver || true
fi
