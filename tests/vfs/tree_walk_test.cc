// WalkFileTree against glibc's own nftw/ftw on the same real tree: every flag combination must
// report the same entries, in the same order, with the same typeflag, level, base and metadata.
#include "core/vfs/tree_walk.h"

#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace hfshim {
namespace {

std::vector<std::string>* g_records = nullptr;
std::string (*g_action)(const std::string& name, int type) = nullptr;

// One line per callback; with FTW_CHDIR also whether the entry is reachable by its bare name.
int Record(const char* path, const struct stat* st, int type, struct FTW* f, bool chdir) {
  std::string line = absl::StrCat(path, " type=", type, " level=", f->level, " base=", f->base);
  if (type != FTW_NS) absl::StrAppend(&line, " mode=", st->st_mode, " ino=", st->st_ino);
  if (type == FTW_F) absl::StrAppend(&line, " size=", st->st_size);
  if (chdir) {
    struct stat here;
    absl::StrAppend(&line, " here=", lstat(path + f->base, &here) == 0);
  }
  g_records->push_back(line);
  if (g_action == nullptr) return 0;
  const std::string act = g_action(path + f->base, type);
  return act.empty() ? 0 : std::stoi(act);
}

int GlibcVisit(const char* p, const struct stat* st, int type, struct FTW* f) {
  return Record(p, st, type, f, false);
}
int GlibcVisitChdir(const char* p, const struct stat* st, int type, struct FTW* f) {
  return Record(p, st, type, f, true);
}
int GlibcFtwVisit(const char* p, const struct stat* st, int type) {
  g_records->push_back(absl::StrCat(p, " type=", type));
  return 0;
}

class TreeWalkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.Sub("root");
    for (const char* d : {"", "/a", "/b", "/b/c", "/b/c/deep", "/empty"}) {
      ASSERT_EQ(mkdir((root_ + d).c_str(), 0755), 0) << d;
    }
    for (const char* f : {"/a/file1", "/a/file2", "/b/c/deep/x", "/top.txt"}) {
      std::ofstream(root_ + f) << "content of " << f;
    }
    ASSERT_EQ(symlink("a", (root_ + "/link_to_a").c_str()), 0);
    ASSERT_EQ(symlink("../..", (root_ + "/b/c/up").c_str()), 0);  // a cycle when followed
    ASSERT_EQ(symlink("nowhere", (root_ + "/dangling").c_str()), 0);
    ASSERT_EQ(symlink("a/file1", (root_ + "/file_link").c_str()), 0);
  }

  // (result, errno if -1, records) of glibc's nftw and of WalkFileTree.
  void ExpectSame(const std::string& path, int flags) {
    const bool chdir_mode = (flags & FTW_CHDIR) != 0;
    char cwd_before[4096], cwd_after[4096];
    ASSERT_NE(getcwd(cwd_before, sizeof(cwd_before)), nullptr);
    std::vector<std::string> glibc, ours;
    g_records = &glibc;
    errno = 0;
    const int glibc_rc = ::nftw(path.c_str(), chdir_mode ? GlibcVisitChdir : GlibcVisit, 8, flags);
    const int glibc_errno = glibc_rc == -1 ? errno : 0;
    g_records = &ours;
    errno = 0;
    const int our_rc = WalkFileTree(
        path.c_str(),
        [&](const char* p, const struct stat* st, int type, struct FTW* f) {
          return Record(p, st, type, f, chdir_mode);
        },
        flags);
    const int our_errno = our_rc == -1 ? errno : 0;
    ASSERT_NE(getcwd(cwd_after, sizeof(cwd_after)), nullptr);
    EXPECT_STREQ(cwd_before, cwd_after) << "flags " << flags;
    EXPECT_EQ(our_rc, glibc_rc) << path << " flags " << flags;
    EXPECT_EQ(our_errno, glibc_errno) << path << " flags " << flags;
    EXPECT_EQ(ours, glibc) << path << " flags " << flags;
  }

  TempDir tmp_;
  std::string root_;
};

TEST_F(TreeWalkTest, EveryFlagCombinationMatchesGlibc) {
  for (int flags = 0; flags < 16; ++flags) {  // FTW_PHYS | FTW_MOUNT | FTW_DEPTH | FTW_CHDIR
    ExpectSame(root_, flags);
    ExpectSame(root_ + "/", flags);
    ExpectSame(root_ + "/b/c", flags);
  }
}

TEST_F(TreeWalkTest, RootsThatAreNotDirectories) {
  for (int flags : std::vector<int>{0, FTW_PHYS, FTW_CHDIR}) {
    ExpectSame(root_ + "/top.txt", flags);
    ExpectSame(root_ + "/file_link", flags);
    ExpectSame(root_ + "/dangling", flags);
    ExpectSame(root_ + "/missing", flags);  // -1 with ENOENT, no callback
    ExpectSame(root_ + "/top.txt/x", flags);
  }
  g_records = nullptr;
  errno = 0;
  EXPECT_EQ(WalkFileTree(
                "", [](const char*, const struct stat*, int, struct FTW*) { return 0; }, 0),
            -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(WalkFileTree(
                root_.c_str(), [](const char*, const struct stat*, int, struct FTW*) { return 0; },
                1 << 10),
            -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST_F(TreeWalkTest, CallbackResultsStopOrSkipAsInGlibc) {
  // A plain non-zero result stops the walk and is returned.
  g_action = [](const std::string& name, int) { return std::string(name == "c" ? "7" : ""); };
  ExpectSame(root_, FTW_PHYS);
  ExpectSame(root_, FTW_PHYS | FTW_DEPTH);
  // FTW_ACTIONRETVAL: skip a subtree, skip the rest of a directory, stop.
  g_action = [](const std::string& name, int) {
    if (name == "b") return absl::StrCat(FTW_SKIP_SUBTREE);
    if (name == "file1") return absl::StrCat(FTW_SKIP_SIBLINGS);
    return std::string();
  };
  for (int flags : std::vector<int>{0, FTW_PHYS, FTW_DEPTH, FTW_CHDIR | FTW_PHYS}) {
    ExpectSame(root_, flags | FTW_ACTIONRETVAL);
  }
  g_action = [](const std::string& name, int) {
    return std::string(name == "deep" ? absl::StrCat(FTW_STOP) : "");
  };
  ExpectSame(root_, FTW_PHYS | FTW_ACTIONRETVAL);
  ExpectSame(root_, FTW_PHYS | FTW_ACTIONRETVAL | FTW_CHDIR);
  g_action = nullptr;
}

TEST_F(TreeWalkTest, FtwTypeflagsAreTheOldFour) {
  std::vector<std::string> glibc, ours;
  g_records = &glibc;
  ASSERT_EQ(::ftw(root_.c_str(), GlibcFtwVisit, 4), 0);
  g_records = &ours;
  ASSERT_EQ(WalkFileTree(
                root_.c_str(),
                [](const char* p, const struct stat* st, int type, struct FTW*) {
                  return GlibcFtwVisit(p, st, FtwTypeflag(type));
                },
                0),
            0);
  EXPECT_EQ(ours, glibc);
}

}  // namespace
}  // namespace hfshim
