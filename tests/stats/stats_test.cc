#include "core/stats/stats.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "core/stats/segment.h"
#include "gtest/gtest.h"

namespace hfshim {
namespace {

// Every test gets its own stats directory through XDG_RUNTIME_DIR.
class StatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hfshim-stats-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    runtime_ = tmpl;
    setenv("XDG_RUNTIME_DIR", runtime_.c_str(), 1);
  }
  void TearDown() override {
    StopStats();
    std::string cmd = "rm -rf '" + runtime_ + "'";
    ASSERT_EQ(system(cmd.c_str()), 0);
  }

  const SegmentSnapshot* Find(const std::vector<SegmentSnapshot>& all, pid_t pid) {
    for (const auto& s : all) {
      if (s.pid == static_cast<uint32_t>(pid)) return &s;
    }
    return nullptr;
  }

  std::string runtime_;
};

TEST_F(StatsTest, CountsBeforeAndAfterStartAreVisibleInTheSegment) {
  const uint64_t before = CounterValue(Counter::kVirtualOpens);
  Count(Counter::kVirtualOpens, 3);
  ASSERT_TRUE(StartStats());
  Count(Counter::kVirtualOpens);
  Count(Counter::kFetchBytes, 4096);
  RecordFetchLatency(5);
  EXPECT_EQ(StatsDir(), runtime_ + "/hfshim/stats");

  auto segments = ReadSegments(StatsDir(), /*remove_stale=*/true);
  ASSERT_TRUE(segments.ok()) << segments.status();
  const SegmentSnapshot* mine = Find(*segments, getpid());
  ASSERT_NE(mine, nullptr);
  EXPECT_EQ(mine->counters[static_cast<size_t>(Counter::kVirtualOpens)], before + 4);
  EXPECT_GE(mine->counters[static_cast<size_t>(Counter::kFetchBytes)], 4096u);
  EXPECT_EQ(mine->latency[3], 1u);  // 5 us < 2^3
  EXPECT_FALSE(mine->comm.empty());
}

TEST_F(StatsTest, ForkChildGetsItsOwnSegmentAndParentIsUntouched) {
  ASSERT_TRUE(StartStats());
  Count(Counter::kVirtualStats, 10);
  const uint64_t parent_value = CounterValue(Counter::kVirtualStats);
  int ready[2], release[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(release), 0);
  pid_t child = fork();
  if (child == 0) {
    RestartStatsAfterFork();
    Count(Counter::kVirtualStats, 2);
    char c = 1;
    if (write(ready[1], &c, 1) != 1) _exit(2);
    if (read(release[0], &c, 1) != 1) _exit(3);
    _exit(0);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  auto segments = ReadSegments(StatsDir(), true);
  ASSERT_TRUE(segments.ok());
  const SegmentSnapshot* parent = Find(*segments, getpid());
  const SegmentSnapshot* kid = Find(*segments, child);
  ASSERT_NE(parent, nullptr);
  ASSERT_NE(kid, nullptr);
  EXPECT_EQ(parent->counters[static_cast<size_t>(Counter::kVirtualStats)], parent_value);
  EXPECT_EQ(kid->counters[static_cast<size_t>(Counter::kVirtualStats)], 2u);
  ASSERT_EQ(write(release[1], &c, 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(StatsTest, KilledProcessDisappearsAndItsSegmentIsRemoved) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  if (child == 0) {
    StartStats();
    Count(Counter::kVirtualOpens);
    char c = 1;
    if (write(ready[1], &c, 1) != 1) _exit(2);
    pause();
    _exit(0);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  const std::string path = StatsDir() + "/" + std::to_string(child) + ".stats";
  auto segments = ReadSegments(StatsDir(), true);
  ASSERT_TRUE(segments.ok());
  EXPECT_NE(Find(*segments, child), nullptr);

  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  segments = ReadSegments(StatsDir(), true);
  ASSERT_TRUE(segments.ok());
  EXPECT_EQ(Find(*segments, child), nullptr);
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "stale segment left behind";
}

TEST_F(StatsTest, MalformedSegmentIsSkipped) {
  ASSERT_TRUE(StartStats());
  const std::string bogus = StatsDir() + "/" + std::to_string(getppid()) + ".stats";
  FILE* f = fopen(bogus.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("garbage", f);
  fclose(f);
  auto segments = ReadSegments(StatsDir(), false);
  ASSERT_TRUE(segments.ok());
  EXPECT_EQ(Find(*segments, getppid()), nullptr);
  EXPECT_NE(Find(*segments, getpid()), nullptr);
}

TEST(StatsDirTest, ReadersLookInBothDefaultPlacesButKeepACustomOneAlone) {
  const char* saved = std::getenv("XDG_RUNTIME_DIR");
  const std::string saved_value = saved ? saved : "";
  const std::string uid = std::to_string(getuid());
  const std::string login = "/run/user/" + uid + "/hfshim/stats";
  const std::string shm = "/dev/shm/hfshim-" + uid;
  unsetenv("XDG_RUNTIME_DIR");
  EXPECT_EQ(StatsDirsToRead(), (std::vector<std::string>{shm, login}));
  setenv("XDG_RUNTIME_DIR", ("/run/user/" + uid).c_str(), 1);
  EXPECT_EQ(StatsDirsToRead(), (std::vector<std::string>{login, shm}));
  setenv("XDG_RUNTIME_DIR", "/tmp/custom-run", 1);
  EXPECT_EQ(StatsDirsToRead(), (std::vector<std::string>{"/tmp/custom-run/hfshim/stats"}));
  if (saved) {
    setenv("XDG_RUNTIME_DIR", saved_value.c_str(), 1);
  } else {
    unsetenv("XDG_RUNTIME_DIR");
  }
}

TEST(CounterTableTest, EveryCounterHasNameUnitAndHelp) {
  for (size_t i = 0; i < kCounterCount; ++i) {
    const CounterInfo& info = InfoFor(static_cast<Counter>(i));
    EXPECT_NE(std::string(info.name), "");
    EXPECT_NE(std::string(info.unit), "");
    EXPECT_NE(std::string(info.help), "");
  }
}

}  // namespace
}  // namespace hfshim
