#include "tests/testing/test_servers.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/store/http/http_client.h"

extern char** environ;

namespace hfshim {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// GETs `url` once with a short deadline; the status, or -1 on a transport failure.
int Probe(const std::string& url, std::string* body = nullptr, const std::string& ca = "") {
  HttpRequest r;
  r.url = url;
  HttpLimits limits;
  limits.ca_bundle = ca;
  limits.deadline = absl::Now() + absl::Seconds(5);
  limits.connect_timeout_seconds = 1;
  auto resp = HttpPerform(r, limits);
  if (!resp.ok()) return -1;
  if (body != nullptr) *body = resp->body;
  return resp->status;
}

absl::Status WaitUntilAnswering(const std::string& url, ChildProcess* child, const char* what,
                                const std::string& ca = "") {
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (absl::Now() < until) {
    if (Probe(url, nullptr, ca) > 0) return absl::OkStatus();
    int status;
    if (waitpid(child->pid(), &status, WNOHANG) == child->pid()) {
      return absl::UnavailableError(absl::StrCat(what, " exited during startup"));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat(what, " did not answer ", url, " within 30 s"));
}

}  // namespace

std::string SourceRoot() { return HFSHIM_SOURCE_DIR; }

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return 0;
  }
  const int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return absl::UnavailableError(absl::StrCat("fork for ", argv[0], " failed"));
  if (pid == 0) {  // only async-signal-safe calls from here to exec
    // The server dies with the test, even when the test is killed (no orphaned servers).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int null = open("/dev/null", O_RDONLY);
    if (log >= 0) {
      dup2(log, 1);
      dup2(log, 2);
    }
    if (null >= 0) dup2(null, 0);
    execve(args[0], args.data(), environ);
    _exit(127);
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid));
}

ChildProcess::~ChildProcess() {
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
}

absl::StatusOr<std::unique_ptr<S3rverProcess>> S3rverProcess::Start(const std::string& data_dir,
                                                                    const std::string& bucket) {
  const std::string s3rver = SourceRoot() + "/node_modules/s3rver/bin/s3rver.js";
  if (!Exists(s3rver)) {
    return absl::FailedPreconditionError(
        absl::StrCat(s3rver,
                     " is missing: the S3 tests need the npm package s3rver; run scripts/setup.sh "
                     "(it runs npm ci from package-lock.json)"));
  }
  std::string node = "/usr/bin/node";
  if (!Exists(node)) node = "/usr/local/bin/node";
  if (!Exists(node)) {
    return absl::FailedPreconditionError("node is missing; run scripts/setup.sh");
  }
  std::unique_ptr<S3rverProcess> p(new S3rverProcess());
  p->bucket_ = bucket;
  mkdir(data_dir.c_str(), 0755);
  for (int attempt = 0; attempt < 3; ++attempt) {
    p->port_ = FreeLoopbackPort();
    auto child = ChildProcess::Start(
        {node, "--openssl-legacy-provider", s3rver, "-d", data_dir, "-a", "127.0.0.1", "-p",
         absl::StrCat(p->port_), "--silent", "--no-vhost-buckets", "--configure-bucket", bucket},
        data_dir + ".log");
    if (!child.ok()) return child.status();
    p->child_ = *std::move(child);
    absl::Status s =
        WaitUntilAnswering(absl::StrCat(p->endpoint(), "/", bucket), p->child_.get(), "s3rver");
    if (s.ok()) return p;
    p->child_.reset();
    if (attempt == 2) return s;
  }
  return absl::UnavailableError("s3rver did not start");
}

std::string S3rverProcess::endpoint() const { return absl::StrCat("http://127.0.0.1:", port_); }

S3Settings S3rverProcess::Settings(const std::string& prefix, const std::string& endpoint) const {
  S3Settings s;
  s.scheme = "http";
  s.host = (endpoint.empty() ? this->endpoint() : endpoint).substr(7);
  s.bucket = bucket_;
  s.prefix = prefix.empty() ? "" : prefix + "/";
  s.region = "us-east-1";
  s.path_style = true;
  s.credentials = {"S3RVER", "S3RVER", ""};
  s.credentials_source = "the test";
  s.custom_endpoint = true;
  return s;
}

absl::StatusOr<std::unique_ptr<FaultProxyProcess>> FaultProxyProcess::Launch(
    const std::vector<std::string>& mode, const std::string& log_dir, bool tls,
    const std::string& ca) {
  const std::string python = "/usr/bin/python3";
  if (!Exists(python)) return absl::FailedPreconditionError("/usr/bin/python3 is missing");
  std::unique_ptr<FaultProxyProcess> p(new FaultProxyProcess());
  p->tls_ = tls;
  p->ca_ = ca;
  for (int attempt = 0; attempt < 3; ++attempt) {
    p->port_ = FreeLoopbackPort();
    std::vector<std::string> argv = {python, SourceRoot() + "/tests/testing/fault_proxy.py",
                                     "--port", absl::StrCat(p->port_)};
    argv.insert(argv.end(), mode.begin(), mode.end());
    auto child = ChildProcess::Start(argv, log_dir + "/fault_proxy.log");
    if (!child.ok()) return child.status();
    p->child_ = *std::move(child);
    absl::Status s = WaitUntilAnswering(p->endpoint() + "/__proxy__/count", p->child_.get(),
                                        "fault_proxy.py", p->ca_);
    if (s.ok()) return p;
    p->child_.reset();
    if (attempt == 2) return s;
  }
  return absl::UnavailableError("fault_proxy.py did not start");
}

absl::StatusOr<std::unique_ptr<FaultProxyProcess>> FaultProxyProcess::Forwarding(
    const std::string& upstream, const std::string& log_dir) {
  return Launch({"--upstream", upstream}, log_dir);
}

absl::StatusOr<std::unique_ptr<FaultProxyProcess>> FaultProxyProcess::Serving(
    const std::string& root, const std::string& log_dir) {
  return Launch({"--root", root}, log_dir);
}

absl::StatusOr<std::unique_ptr<FaultProxyProcess>> FaultProxyProcess::ServingTls(
    const std::string& root, const std::string& cert, const std::string& key,
    const std::string& log_dir) {
  return Launch({"--root", root, "--tls-cert", cert, "--tls-key", key}, log_dir, true, cert);
}

std::string FaultProxyProcess::endpoint() const {
  return absl::StrCat(tls_ ? "https" : "http", "://127.0.0.1:", port_);
}

std::string FaultProxyProcess::Control(const std::string& path_and_query) {
  std::string body;
  Probe(absl::StrCat(endpoint(), "/__proxy__/", path_and_query), &body, ca_);
  return body;
}

void FaultProxyProcess::Arm(const std::string& fault, int count, const std::string& method,
                            const std::string& match, double seconds) {
  Control(absl::StrCat("arm?fault=", fault, "&count=", count, "&method=", method, "&match=", match,
                       "&seconds=", seconds));
}

void FaultProxyProcess::Disarm() { Control("disarm"); }

int FaultProxyProcess::Count(const std::string& method) {
  int n = -1;
  (void)absl::SimpleAtoi(Control(method.empty() ? "count" : "count?method=" + method), &n);
  return n;
}

void FaultProxyProcess::ResetCount() { Control("reset"); }

void FaultProxyProcess::VerifySignatures(const std::string& secret) {
  Control("verify?secret=" + secret);
}

void FaultProxyProcess::HonourConditionalPuts(bool on) {
  Control(on ? "conditional?on=1" : "conditional?on=0");
}

int FaultProxyProcess::Verified() {
  int n = -1;
  (void)absl::SimpleAtoi(Control("verified"), &n);
  return n;
}

}  // namespace hfshim
