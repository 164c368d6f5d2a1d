// Real servers for store tests, started as child processes on free loopback ports:
//   S3rverProcess     the npm s3rver (an S3-compatible server), path style, S3RVER/S3RVER
//   FaultProxyProcess tests/testing/fault_proxy.py: a proxy in front of a server, or a
//                     range-capable static file server, that injects faults on request
// Each waits until its server answers and kills it (by its pid) on destruction. A missing
// prerequisite (node_modules, /usr/bin/python3) is a startup error telling what to run.
//
// Not thread-safe; one owner (the test fixture).
#ifndef HFSHIM_TESTS_TESTING_TEST_SERVERS_H_
#define HFSHIM_TESTS_TESTING_TEST_SERVERS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/store/s3/s3_settings.h"

namespace hfshim {

// The repository root (where package.json and node_modules live).
std::string SourceRoot();

// A port nobody listens on right now (bound and released).
int FreeLoopbackPort();

class ChildProcess {
 public:
  // Starts argv[0] (a path) with stdout/stderr appended to `log_path`.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                             const std::string& log_path);
  ~ChildProcess();  // SIGKILL and reap
  pid_t pid() const { return pid_; }

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
};

class S3rverProcess {
 public:
  // Starts s3rver with its data under `data_dir` and `bucket` created.
  static absl::StatusOr<std::unique_ptr<S3rverProcess>> Start(const std::string& data_dir,
                                                              const std::string& bucket);
  int port() const { return port_; }
  std::string endpoint() const;  // "http://127.0.0.1:PORT"
  const std::string& bucket() const { return bucket_; }
  // Settings for s3://bucket/prefix on this server, or on `endpoint` (e.g. a proxy before it).
  S3Settings Settings(const std::string& prefix, const std::string& endpoint = "") const;

 private:
  S3rverProcess() = default;
  std::unique_ptr<ChildProcess> child_;
  int port_ = 0;
  std::string bucket_;
};

class FaultProxyProcess {
 public:
  // Proxy to `upstream` ("http://127.0.0.1:PORT").
  static absl::StatusOr<std::unique_ptr<FaultProxyProcess>> Forwarding(const std::string& upstream,
                                                                       const std::string& log_dir);
  // Static, range-capable server of the files under `root`.
  static absl::StatusOr<std::unique_ptr<FaultProxyProcess>> Serving(const std::string& root,
                                                                    const std::string& log_dir);
  // The same over HTTPS with a certificate and key (PEM files).
  static absl::StatusOr<std::unique_ptr<FaultProxyProcess>> ServingTls(const std::string& root,
                                                                       const std::string& cert,
                                                                       const std::string& key,
                                                                       const std::string& log_dir);
  std::string endpoint() const;  // "http://127.0.0.1:PORT" (https:// with TLS)

  // Arms `fault` for the next `count` requests (optionally only `method`, only paths containing
  // `match`; `seconds` for stalls). See fault_proxy.py.
  void Arm(const std::string& fault, int count, const std::string& method = "",
           const std::string& match = "", double seconds = 5);
  void Disarm();
  int Count(const std::string& method = "");  // requests seen since ResetCount()
  // Checks the SigV4 signature of every request with `secret` ("" stops checking); a mismatch
  // is answered 403 SignatureDoesNotMatch. Verified() counts the requests that passed.
  void VerifySignatures(const std::string& secret);
  int Verified();
  // Makes PUT with "If-None-Match: *" answer 412 when the object exists, atomically (like AWS S3
  // and MinIO), in front of a server that ignores it (s3rver).
  void HonourConditionalPuts(bool on);
  void ResetCount();

 private:
  static absl::StatusOr<std::unique_ptr<FaultProxyProcess>> Launch(
      const std::vector<std::string>& mode, const std::string& log_dir, bool tls = false,
      const std::string& ca = "");
  std::string Control(const std::string& path_and_query);
  std::unique_ptr<ChildProcess> child_;
  int port_ = 0;
  bool tls_ = false;
  std::string ca_;  // the CA file control requests trust (TLS)
};

}  // namespace hfshim

#endif  // HFSHIM_TESTS_TESTING_TEST_SERVERS_H_
