// SingleFlight: one call per key in flight; a fork child can use it whatever the parent's
// threads were doing at the fork.
#include "core/cache/single_flight.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "gtest/gtest.h"

namespace hfshim {
namespace {

TEST(SingleFlightTest, ConcurrentCallersShareOneCall) {
  SingleFlight<int> flights;
  std::atomic<int> calls{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      absl::Status s = flights.Do(7, absl::Now() + absl::Seconds(10), [&] {
        ++calls;
        while (!go) std::this_thread::yield();
        return absl::OkStatus();
      });
      EXPECT_TRUE(s.ok());
    });
  }
  absl::SleepFor(absl::Milliseconds(50));
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_LE(calls.load(), 8);
  EXPECT_GE(calls.load(), 1);
}

TEST(SingleFlightTest, ForkChildResetsWhileAParentThreadWasMidUpdate) {
  // A parent thread keeps the map changing (inserts, erases, rehashes); forks land at any point
  // of that, possibly in the middle of an update. Every child must be able to reset and use it.
  SingleFlight<size_t> flights;
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    for (size_t round = 0; !stop; ++round) {
      // Freed memory full of non-zero bytes: what a torn map's unconstructed slots then hold.
      for (size_t size = 256; size <= 8192; size *= 2) {
        void* p = malloc(size);
        memset(p, 0x66, size);
        free(p);
      }
      for (size_t k = 0; k < 64; ++k) flights.TryLead(round * 64 + k);
      for (size_t k = 0; k < 64; ++k) flights.Finish(round * 64 + k, absl::OkStatus());
    }
  });
  int crashed = 0;
  for (int i = 0; i < 500; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      flights.ResetAfterFork();
      bool ok = flights.TryLead(1) && flights.Busy(1);
      flights.Finish(1, absl::OkStatus());
      _exit(ok && !flights.Busy(1) ? 0 : 1);
    }
    ASSERT_GT(pid, 0);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++crashed;
  }
  stop = true;
  churn.join();
  EXPECT_EQ(crashed, 0) << "children that could not use the flights after the fork";
}

}  // namespace
}  // namespace hfshim
