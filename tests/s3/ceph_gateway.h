// CephGateway: a throwaway Ceph cluster with an S3 gateway on loopback for a
// test, run through scripts/ceph-rgw.sh (one monitor, one memstore OSD,
// radosgw). Available() is false when Debian's Ceph packages are missing, so
// tests can skip with a clear message instead of failing.
#pragma once

#include <string>

namespace cycas::testing {

class CephGateway {
 public:
  CephGateway();
  ~CephGateway();  // tears the cluster down

  // True when ceph-mon, ceph-osd, radosgw and the ceph CLI are installed.
  static bool Available();
  static std::string MissingMessage();

  // Bootstraps the cluster and creates `bucket`; false (with the script's
  // output in error()) when it did not come up in time.
  bool Start(const std::string& bucket);
  bool StopGateway();   // radosgw only: S3 becomes unreachable
  bool StartGateway();  // radosgw again, same port

  const std::string& endpoint() const { return endpoint_; }
  const std::string& access_key() const { return access_key_; }
  const std::string& secret_key() const { return secret_key_; }
  const std::string& region() const { return region_; }
  const std::string& bucket() const { return bucket_; }
  const std::string& error() const { return error_; }

 private:
  int Run(const std::string& args, std::string* output);
  std::string dir_;
  std::string endpoint_, access_key_, secret_key_, region_, bucket_;
  std::string error_;
  bool started_ = false;
};

}  // namespace cycas::testing
