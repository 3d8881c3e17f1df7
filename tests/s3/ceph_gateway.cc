#include "ceph_gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>

namespace cycas::testing {

namespace {

bool OnPath(const std::string& name) {
  const char* path = getenv("PATH");
  std::stringstream ss(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (access((dir + "/" + name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

const char* const kBinaries[] = {"ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph", "monmaptool"};

}  // namespace

bool CephGateway::Available() {
  for (const char* b : kBinaries) {
    if (!OnPath(b)) return false;
  }
  return true;
}

std::string CephGateway::MissingMessage() {
  std::string missing;
  for (const char* b : kBinaries) {
    if (!OnPath(b)) missing += std::string(missing.empty() ? "" : ", ") + b;
  }
  return "Ceph is not installed (missing " + missing +
         "): apt-get install --no-install-recommends ceph-mon ceph-osd radosgw ceph-common";
}

CephGateway::CephGateway() {
  char tmpl[] = "/tmp/cycas-ceph-XXXXXX";
  char* d = mkdtemp(tmpl);
  dir_ = d ? d : "/tmp/cycas-ceph";
}

CephGateway::~CephGateway() {
  std::string out;
  Run("stop " + dir_, &out);
}

int CephGateway::Run(const std::string& args, std::string* output) {
  std::string cmd = std::string("bash ") + CEPH_RGW_SCRIPT + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool CephGateway::Start(const std::string& bucket) {
  std::string out;
  // The script bounds its own time (--timeout); the bucket proves the S3 user works.
  int rc = Run("start " + dir_ + " --bucket " + bucket + " --timeout 90", &out);
  if (rc != 0) {
    error_ = "scripts/ceph-rgw.sh start failed (exit " + std::to_string(rc) + "):\n" + out;
    return false;
  }
  std::stringstream ss(out);
  std::string line;
  while (std::getline(ss, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string k = line.substr(0, eq), v = line.substr(eq + 1);
    if (k == "S3_ENDPOINT") endpoint_ = v;
    if (k == "S3_ACCESS_KEY") access_key_ = v;
    if (k == "S3_SECRET_KEY") secret_key_ = v;
    if (k == "S3_REGION") region_ = v;
  }
  bucket_ = bucket;
  started_ = !endpoint_.empty();
  if (!started_) error_ = "scripts/ceph-rgw.sh printed no S3_ENDPOINT:\n" + out;
  return started_;
}

bool CephGateway::StopGateway() {
  std::string out;
  return Run("stop-gateway " + dir_, &out) == 0;
}

bool CephGateway::StartGateway() {
  std::string out;
  bool ok = Run("start-gateway " + dir_, &out) == 0;
  if (!ok) error_ = out;
  return ok;
}

}  // namespace cycas::testing
