#include "core/stats/profile.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace hfshim {
namespace {

TEST(ProfileLineTest, RoundTripsPathsWithSpacesNewlinesAndBackslashes) {
  ProfileRecord r{1700000000000000,
                  "read",
                  42,
                  4096,
                  8192,
                  "store",
                  "datasets--a--b/snapshots/r/dir with space/x\ny\\z.png"};
  std::string line = FormatProfileLine(r);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "embedded newline must be escaped";
  ProfileRecord back;
  ASSERT_TRUE(ParseProfileLine(line.substr(0, line.size() - 1), &back));
  EXPECT_EQ(back.unix_us, r.unix_us);
  EXPECT_EQ(back.op, r.op);
  EXPECT_EQ(back.latency_us, r.latency_us);
  EXPECT_EQ(back.offset, r.offset);
  EXPECT_EQ(back.bytes, r.bytes);
  EXPECT_EQ(back.tier, r.tier);
  EXPECT_EQ(back.path, r.path);
}

TEST(ProfileLineTest, RejectsMalformedLines) {
  ProfileRecord r;
  EXPECT_FALSE(ParseProfileLine("", &r));
  EXPECT_FALSE(ParseProfileLine("1 open 2 3", &r));
  EXPECT_FALSE(ParseProfileLine("x open 2 3 4 disk p", &r));
}

int OpenFdCount() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++n;
  }
  return n;
}

// One process's whole profile life: threads, escapes, an oversized line, and no fd held (a held
// fd was moved to number 900, which in a threaded process cost an RCU grace period, and a
// program closing all its fds lost the profile).
TEST(ProfileTest, ThreadsAppendWholeLinesWithoutHoldingAnFd) {
  char tmpl[] = "/tmp/hfshim-profile-XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  const int fds_before = OpenFdCount();
  ASSERT_TRUE(StartProfile(tmpl));
  ASSERT_TRUE(ProfileEnabled());
  RecordProfile("open", "models--o--m/snapshots/r/first", 0, 1, 1, "disk");
  EXPECT_EQ(OpenFdCount(), fds_before);
  constexpr int kThreads = 4, kPerThread = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kPerThread; ++i) {
        RecordProfile("open", "models--o--m/snapshots/r/file" + std::to_string(t), 0, i, 7, "disk");
      }
    });
  }
  for (auto& th : threads) th.join();
  // Escapes, and a path whose line cannot fit the per-thread buffer (written on its own).
  const std::string escaped = "datasets--a--b/snapshots/r/x\ny\\z";
  const std::string huge = "models--o--m/snapshots/r/" + std::string(40000, 'n') + "\n\\";
  RecordProfile("read", escaped, 4096, 8192, 3, "store");
  RecordProfile("stat", huge, 0, 0, 0, "index");
  // A program that closes every fd it did not open (e.g. a daemon) keeps its profile.
  ASSERT_EQ(close_range(3, ~0U, 0), 0);
  RecordProfile("open", "models--o--m/snapshots/r/last", 0, 1, 1, "disk");
  FlushProfile();
  std::ifstream in(tmpl);
  std::string line;
  int opens = 0;
  std::vector<ProfileRecord> others;
  while (std::getline(in, line)) {
    ProfileRecord r;
    ASSERT_TRUE(ParseProfileLine(line, &r)) << line.substr(0, 200);
    if (r.op == "open") {
      ++opens;
    } else {
      others.push_back(r);
    }
  }
  EXPECT_EQ(opens, kThreads * kPerThread + 2);
  ASSERT_EQ(others.size(), 2u);
  // In the order recorded: the huge line's own write comes after the buffered "read" line.
  EXPECT_EQ(others[0].path, escaped);
  EXPECT_EQ(others[0].offset, 4096u);
  EXPECT_EQ(others[0].bytes, 8192u);
  EXPECT_EQ(others[0].latency_us, 3u);
  EXPECT_EQ(others[0].tier, "store");
  EXPECT_EQ(others[1].path, huge);
  unlink(tmpl);
}

}  // namespace
}  // namespace hfshim
