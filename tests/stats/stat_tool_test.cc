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

TEST_F(StatToolTest, PidOfNoShimmedProcessIsAFailure) {
  for (const char* mode : {"--once", "--json", "--prometheus"}) {
    int status = 0;
    std::string out = Tool(std::string(mode) + " --pid 999999", &status);
    EXPECT_EQ(status, 1) << mode;
    EXPECT_NE(out.find("hfshim-stat: no shimmed process 999999 (is it running with "
                       "LD_PRELOAD=libhfshim.so?)"),
              std::string::npos)
        << mode << ": " << out;
    EXPECT_EQ(out.find("TOTAL"), std::string::npos) << out;
  }
  // One missing pid among live ones is named; the live one is not.
  int status = 0;
  std::string out = Tool("--once --pid " + std::to_string(child_) + " --pid 999998", &status);
  EXPECT_EQ(status, 1);
  EXPECT_NE(out.find("no shimmed process 999998 "), std::string::npos) << out;
}

TEST_F(StatToolTest, OptionsThatWouldBeIgnoredAreUsageErrors) {
  // `timeout`: an unfixed --listen serves forever instead of failing.
  const std::string tool = "timeout 10 " + std::string(HFSHIM_STAT_BINARY) + " ";
  const char* const cases[][2] = {
      {"--listen 127.0.0.1:1 --json", "--listen cannot be combined with --json"},
      {"--listen 127.0.0.1:1 --once", "--listen cannot be combined with --once"},
      {"--listen 127.0.0.1:1 --interval 5", "--listen cannot be combined with --interval"},
      {"--profile /dev/null --prometheus", "--profile cannot be combined with --prometheus"},
      {"--profile /dev/null --once --pid 1", "--profile cannot be combined with --pid"},
      {"--profile /dev/null --listen 127.0.0.1:1", "--profile cannot be combined with --listen"},
      {"--once --top 3", "--top applies only to --profile"},
      {"--json --prometheus", "--json cannot be combined with --prometheus"},
  };
  for (const auto& c : cases) {
    int status = 0;
    std::string out = RunCommand(tool + c[0] + " 2>&1", &status);
    EXPECT_EQ(status, 2) << c[0] << ": " << out;
    EXPECT_NE(out.find(std::string("hfshim-stat: ") + c[1]), std::string::npos)
        << c[0] << ": " << out;
    EXPECT_NE(out.find("Try 'hfshim-stat --help'."), std::string::npos) << out;
  }
}

TEST_F(StatToolTest, VersionIsPrintedAndListedInHelp) {
  int status = 0;
  std::string out = Tool("--version", &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out.rfind("hfshim-stat 0.", 0), 0u) << out;
  out = Tool("--help", &status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(out.substr(0, out.find("HFSHIM_STORE")).find("--version"), std::string::npos) << out;
}

TEST_F(StatToolTest, ProfileThatIsADirectoryIsAClearError) {
  int status = 0;
  std::string out = Tool("--profile " + runtime_ + " --once", &status);
  EXPECT_EQ(status, 1);
  EXPECT_NE(out.find("cannot read profile " + runtime_ + ": Is a directory"), std::string::npos)
      << out;
}

}  // namespace
}  // namespace hfshim
