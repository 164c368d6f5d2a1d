// AcquireLockFile: the cross-process lock that makes one process of a node do a fill.
#include "core/cache/lock_file.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace hfshim {
namespace {

absl::Time Later() { return absl::Now() + absl::Seconds(10); }

TEST(LockFileTest, FreeLockIsTakenAndHeldAgainstOtherProcesses) {
  TempDir tmp;
  const std::string path = tmp.Sub("x.lock");
  absl::StatusOr<int> fd = AcquireLockFile(path, Later(), [] { return false; });
  ASSERT_TRUE(fd.ok()) << fd.status();
  ASSERT_GE(*fd, 0);
  const pid_t pid = fork();
  if (pid == 0) {  // another process times out on it
    absl::StatusOr<int> other =
        AcquireLockFile(path, absl::Now() + absl::Milliseconds(50), [] { return false; });
    _exit(absl::IsDeadlineExceeded(other.status()) ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the lock was not exclusive";
  close(*fd);
}

// The holder before us may finish between our last look and our lock: it released the lock
// after we looked, or we created a fresh lock file after it removed its own. The work it did
// must be seen, not done again (a pack window was fetched twice by two processes this way).
TEST(LockFileTest, WorkDoneJustBeforeTheLockIsSeenAfterTakingIt) {
  TempDir tmp;
  int looks = 0;
  absl::StatusOr<int> fd = AcquireLockFile(tmp.Sub("x.lock"), Later(), [&] {
    return ++looks > 1;  // not yet at the first look; done by the time the lock is ours
  });
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(*fd, -1) << "the lock was taken although the work was done meanwhile";
  if (*fd >= 0) close(*fd);
}

TEST(LockFileTest, SatisfiedBeforehandTakesNoLock) {
  TempDir tmp;
  absl::StatusOr<int> fd = AcquireLockFile(tmp.Sub("x.lock"), Later(), [] { return true; });
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(*fd, -1);
}

}  // namespace
}  // namespace hfshim
