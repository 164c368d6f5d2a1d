// Runs the built hfshim-stat against a live process whose counters are known.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>

#include "core/stats/stats.h"
#include "gtest/gtest.h"

namespace hfshim {
namespace {

// Runs a shell command, returns stdout; *status gets the exit status.
std::string RunCommand(const std::string& cmd, int* status) {
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

class StatToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hfshim-stattool-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    runtime_ = tmpl;
    setenv("XDG_RUNTIME_DIR", runtime_.c_str(), 1);
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    child_ = fork();
    if (child_ == 0) {
      StartStats();
      Count(Counter::kVirtualOpens, 7);
      Count(Counter::kVirtualStats, 11);
      char c = 1;
      if (write(ready[1], &c, 1) != 1) _exit(2);
      pause();
      _exit(0);
    }
    char c;
    ASSERT_EQ(read(ready[0], &c, 1), 1);
  }
  void TearDown() override {
    kill(child_, SIGKILL);
    waitpid(child_, nullptr, 0);
    std::string cmd = "rm -rf '" + runtime_ + "'";
    ASSERT_EQ(system(cmd.c_str()), 0);
  }
  std::string Tool(const std::string& args, int* status) {
    return RunCommand(std::string(HFSHIM_STAT_BINARY) + " " + args + " 2>&1", status);
  }
  std::string runtime_;
  pid_t child_ = 0;
};

TEST_F(StatToolTest, JsonShowsTheExactCountsOfTheProcess) {
  int status = 0;
  std::string out = Tool("--json --pid " + std::to_string(child_), &status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(out.find("\"pid\": " + std::to_string(child_)), std::string::npos) << out;
  EXPECT_NE(out.find("\"virtual_opens\": 7,"), std::string::npos) << out;
  EXPECT_NE(out.find("\"virtual_stats\": 11,"), std::string::npos) << out;
}

TEST_F(StatToolTest, OnceTableListsTheProcessAndPrometheusHasItsSamples) {
  int status = 0;
  std::string out = Tool("--once", &status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(out.find(std::to_string(child_) + " "), std::string::npos) << out;
  out = Tool("--prometheus", &status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(out.find("hfshim_virtual_opens_total{pid=\"" + std::to_string(child_) +
                     "\",comm=\"stat_tool_test\"} 7"),
            std::string::npos)
      << out;
}

TEST_F(StatToolTest, KilledProcessDisappearsFromTheTable) {
  kill(child_, SIGKILL);
  waitpid(child_, nullptr, 0);
  int status = 0;
  std::string out = Tool("--json", &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out.find("\"pid\": " + std::to_string(child_)), std::string::npos) << out;
}

TEST_F(StatToolTest, UsageErrorsExitWithTwo) {
  int status = 0;
  std::string out = Tool("--no-such-flag", &status);
  EXPECT_EQ(status, 2);
  EXPECT_NE(out.find("hfshim-stat: unknown argument"), std::string::npos);
  Tool("--interval -1", &status);
  EXPECT_EQ(status, 2);
  out = Tool("--help", &status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(out.find("HFSHIM_STORE"), std::string::npos);
}

TEST_F(StatToolTest, MissingProfileFileIsAClearError) {
  int status = 0;
  std::string out = Tool("--profile /nonexistent/p.log --once", &status);
  EXPECT_EQ(status, 1);
  EXPECT_NE(out.find("cannot read profile /nonexistent/p.log"), std::string::npos) << out;
}

}  // namespace
}  // namespace hfshim
