// RunOnWorkers / RunParts: every part runs once, on the threads the system grants, and a refused
// thread is never an exception (the shim's callers are libc entry points).
#include "core/base/parallel_parts.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>

#include "gtest/gtest.h"
#include "tests/testing/process_limits.h"

namespace hfshim {
namespace {

TEST(RunPartsTest, EveryPartRunsOnceAndTheFirstErrorWins) {
  std::atomic<int> runs{0};
  std::mutex mu;
  std::set<int> workers;
  absl::Status s = RunParts(100, 4, [&](uint64_t part, int worker) {
    ++runs;
    std::lock_guard<std::mutex> lock(mu);
    workers.insert(worker);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(runs.load(), 100);
  EXPECT_TRUE(*workers.begin() >= 0 && *workers.rbegin() <= 3);
  s = RunParts(100, 4, [](uint64_t part, int) {
    return part == 7 ? absl::DataLossError("part 7") : absl::OkStatus();
  });
  EXPECT_EQ(s.message(), "part 7");
}

// In a child with no address space left for new thread stacks, std::thread throws once glibc's
// cache of freed stacks is used up: the threads that started and the caller then do every part
// (before: std::terminate, the process aborted).
TEST(RunPartsTest, WhenNoThreadCanBeStartedTheCallerDoesAllTheParts) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (!LimitAddressSpaceToCurrentPlus(1 << 20)) _exit(3);
    std::atomic<int> runs{0};
    absl::Status s = RunParts(64, 16, [&](uint64_t, int) {
      ++runs;
      return absl::OkStatus();
    });
    _exit(s.ok() && runs == 64 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace hfshim
