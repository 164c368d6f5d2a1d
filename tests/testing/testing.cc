#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "core/base/posix_error.h"
#include "tests/testing/fault_env.h"
#include "tests/testing/process_limits.h"
#include "tests/testing/temp_dir.h"

namespace hfshim {

bool LimitAddressSpaceToCurrentPlus(size_t headroom) {
  long pages = 0;
  FILE* statm = fopen("/proc/self/statm", "r");
  if (statm == nullptr) return false;
  const bool read = fscanf(statm, "%ld", &pages) == 1;
  fclose(statm);
  if (!read) return false;
  const rlim_t limit = static_cast<rlim_t>(pages) * sysconf(_SC_PAGESIZE) + headroom;
  const struct rlimit rl { limit, limit };
  return setrlimit(RLIMIT_AS, &rl) == 0;
}

TempDir::TempDir() {
  const char* tmp = getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/hfshim-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) abort();
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::string cmd = "chmod -R u+rwx '" + path_ + "' 2>/dev/null; rm -rf '" + path_ + "'";
  if (system(cmd.c_str()) != 0) {
    // best effort: a leftover temp dir is not a test failure
  }
}

absl::StatusOr<int> FaultInjectingEnv::Open(const std::string& p, int f, mode_t m) {
  if (!open_needle_.empty() && p.find(open_needle_) != std::string::npos) {
    return ErrnoStatus(open_errno_, "open " + p + " (injected)");
  }
  return EnvWrapper::Open(p, f, m);
}

absl::StatusOr<size_t> FaultInjectingEnv::Pwrite(int fd, const void* b, size_t n, uint64_t o) {
  if (writes_left_ >= 0 && writes_left_-- == 0) {
    writes_left_ = 0;  // keep failing
    return ErrnoStatus(write_errno_, "write (injected)");
  }
  if (short_write_ > 0 && n > short_write_) n = short_write_;
  return EnvWrapper::Pwrite(fd, b, n, o);
}

absl::Status FaultInjectingEnv::Rename(const std::string& f, const std::string& t) {
  if (fail_renames_) return ErrnoStatus(EIO, "rename " + f + " (injected)");
  return EnvWrapper::Rename(f, t);
}

absl::Status FaultInjectingEnv::LinkOpenFile(int fd, const std::string& t) {
  if (fail_renames_) return ErrnoStatus(EIO, "link unnamed file as " + t + " (injected)");
  return EnvWrapper::LinkOpenFile(fd, t);
}

}  // namespace hfshim
