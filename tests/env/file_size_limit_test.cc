// Under `ulimit -f`, what the shim writes for a program (node-cache files, truncates, shared
// buffers) fails with EFBIG and names the limit: the kernel's SIGXFSZ would kill the program.
#include "core/base/file_size_limit.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "core/base/mapped_buffer.h"
#include "core/base/posix_error.h"
#include "core/env/env.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace hfshim {
namespace {

// Runs `body` in a forked child whose file size limit is `limit` bytes; returns its wait status
// (the child exits with body's result).
int StatusOfChild(rlim_t limit, const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid == 0) {
    const struct rlimit rl { limit, limit };
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(100);
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(FileSizeLimitTest, GrowingAFilePastTheLimitFailsWithEfbigInsteadOfKillingTheProcess) {
  TempDir tmp;
  const std::string path = tmp.Sub("f");
  const int status = StatusOfChild(64 << 10, [&] {
    Env* env = Env::Default();
    absl::StatusOr<int> fd = env->Open(path, O_RDWR | O_CREAT, 0644);
    if (!fd.ok()) return 1;
    const std::string block(48 << 10, 'x');
    if (!env->Pwrite(*fd, block.data(), block.size(), 0).ok()) return 2;  // within
    absl::StatusOr<size_t> past = env->Pwrite(*fd, block.data(), block.size(), 32 << 10);
    if (past.ok() || StatusToErrno(past.status()) != EFBIG) return 3;
    if (past.status().message().find("ulimit -f") == absl::string_view::npos) return 4;
    if (StatusToErrno(env->Ftruncate(*fd, 1 << 20)) != EFBIG) return 5;
    if (!env->Ftruncate(*fd, 60 << 10).ok()) return 6;
    absl::StatusOr<MappedBuffer> shared = MappedBuffer::CreateShared(1 << 20, 0);
    if (shared.ok() || StatusToErrno(shared.status()) != EFBIG) return 7;
    return WithinFileSizeLimit(64 << 10) && !WithinFileSizeLimit((64 << 10) + 1) ? 0 : 8;
  });
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(FileSizeLimitTest, WithoutALimitNothingIsRefused) {
  const int status =
      StatusOfChild(RLIM_INFINITY, [] { return WithinFileSizeLimit(uint64_t{1} << 50) ? 0 : 1; });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace hfshim
