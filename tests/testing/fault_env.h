// FaultInjectingEnv: an Env that fails chosen operations, for tests of error paths.
// Not thread-safe to reconfigure while in use.
#ifndef HFSHIM_TESTS_TESTING_FAULT_ENV_H_
#define HFSHIM_TESTS_TESTING_FAULT_ENV_H_

#include <atomic>
#include <string>

#include "core/env/env.h"

namespace hfshim {

class FaultInjectingEnv : public EnvWrapper {
 public:
  explicit FaultInjectingEnv(Env* target = Env::Default()) : EnvWrapper(target) {}

  // Writes fail with `err` (e.g. ENOSPC, EIO) once `writes_before_failure` writes succeeded.
  void FailWritesAfter(int writes_before_failure, int err) {
    writes_left_ = writes_before_failure;
    write_errno_ = err;
  }
  // Every write writes at most `bytes` (short writes).
  void ShortWrites(size_t bytes) { short_write_ = bytes; }
  // Renames, and the naming of unnamed files, fail with EIO, as a crash between writing a file
  // and naming it would leave things.
  void FailRenames(bool fail) { fail_renames_ = fail; }
  // Opens of paths containing `needle` fail with `err`.
  void FailOpens(const std::string& needle, int err) {
    open_needle_ = needle;
    open_errno_ = err;
  }
  void Reset() {
    writes_left_ = -1;
    short_write_ = 0;
    fail_renames_ = false;
    open_needle_.clear();
  }

  absl::StatusOr<int> Open(const std::string& p, int f, mode_t m) override;
  absl::StatusOr<size_t> Pwrite(int fd, const void* b, size_t n, uint64_t o) override;
  absl::Status Rename(const std::string& f, const std::string& t) override;
  absl::Status LinkOpenFile(int fd, const std::string& t) override;

 private:
  std::atomic<int> writes_left_{-1};
  int write_errno_ = 0;
  size_t short_write_ = 0;
  bool fail_renames_ = false;
  std::string open_needle_;
  int open_errno_ = 0;
};

}  // namespace hfshim

#endif  // HFSHIM_TESTS_TESTING_FAULT_ENV_H_
