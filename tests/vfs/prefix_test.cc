// Prefix and router: the allocation-free prefix must equal LoadConfig's, and the matching must
// accept every spelling of a path under the prefix and nothing else.
#include "core/vfs/prefix.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <map>
#include <string>

#include "core/config/config.h"
#include "core/vfs/fd_table.h"
#include "core/vfs/link_resolver.h"
#include "core/vfs/path_router.h"
#include "gtest/gtest.h"

namespace hfshim {
namespace {

std::map<std::string, std::string>* g_env = nullptr;
const char* FakeGetenv(const char* name) {
  auto it = g_env->find(name);
  return it == g_env->end() ? nullptr : it->second.c_str();
}

std::string PrefixFor(std::map<std::string, std::string> env) {
  g_env = &env;
  Prefix p;
  EXPECT_TRUE(p.InitFromEnv(&FakeGetenv));
  std::string literal(p.literal());
  auto config = LoadConfig([&](const char* n) { return FakeGetenv(n); });
  EXPECT_TRUE(config.ok()) << config.status();
  if (config.ok()) {
    EXPECT_EQ(literal, config->prefix);
  }
  g_env = nullptr;
  return literal;
}

TEST(PrefixTest, SameAsLoadConfig) {
  EXPECT_EQ(PrefixFor({{"HOME", "/home/u"}}), "/home/u/.cache/huggingface/hub");
  EXPECT_EQ(PrefixFor({{"HOME", "/home/u"}, {"XDG_CACHE_HOME", "/xdg"}}), "/xdg/huggingface/hub");
  EXPECT_EQ(PrefixFor({{"HOME", "/home/u"}, {"HF_HOME", "/hf//home/"}}), "/hf/home/hub");
  EXPECT_EQ(PrefixFor({{"HOME", "/home/u"}, {"HF_HOME", "~/hf"}}), "/home/u/hf/hub");
  EXPECT_EQ(PrefixFor({{"HOME", "/home/u"}, {"HF_HUB_CACHE", "/c/hub/"}, {"HF_HOME", "/x"}}),
            "/c/hub");
  EXPECT_EQ(PrefixFor({{"HOME", "/home/u"}, {"HUGGINGFACE_HUB_CACHE", "/old"}}), "/old");
  EXPECT_EQ(PrefixFor({{"HOME", "/home/u"}, {"HFSHIM_PREFIX", "/p"}, {"HF_HUB_CACHE", "/c"}}),
            "/p");
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  EXPECT_EQ(PrefixFor({{"HOME", "/home/u"}, {"HF_HOME", "rel"}}), std::string(cwd) + "/rel/hub");
}

TEST(PrefixTest, MatchesEverySpellingUnderThePrefix) {
  Prefix p;
  ASSERT_TRUE(p.InitWith("/nonexistent-hfshim/a/hub"));
  char scratch[kVfsPathMax];
  absl::string_view rel;
  ASSERT_TRUE(p.Match("/nonexistent-hfshim/a/hub", scratch, &rel));
  EXPECT_EQ(rel, "");
  ASSERT_TRUE(p.Match("/nonexistent-hfshim/a/hub/", scratch, &rel));
  EXPECT_EQ(rel, "");
  ASSERT_TRUE(p.Match("/nonexistent-hfshim/a/hub/models--x/y", scratch, &rel));
  EXPECT_EQ(rel, "models--x/y");
  ASSERT_TRUE(p.Match("//nonexistent-hfshim/./a/hub//models--x", scratch, &rel));
  EXPECT_EQ(rel, "models--x");
  ASSERT_TRUE(p.Match("/nonexistent-hfshim/b/../a/hub/m", scratch, &rel));
  EXPECT_EQ(rel, "m");
  EXPECT_FALSE(p.Match("/nonexistent-hfshim/a/hubx", scratch, &rel));
  EXPECT_FALSE(p.Match("/nonexistent-hfshim/a", scratch, &rel));
  EXPECT_FALSE(p.Match("relative/hub", scratch, &rel));
  EXPECT_FALSE(p.Match("", scratch, &rel));
  EXPECT_TRUE(p.IsPrefixComponent("hub"));
  EXPECT_TRUE(p.IsPrefixComponent("nonexistent-hfshim"));
  EXPECT_FALSE(p.IsPrefixComponent("models--x"));
}

TEST(PrefixTest, RealFormFollowsSymlinkedAncestors) {
  char tmpl[] = "/tmp/hfshim-prefix-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string base = tmpl;
  ASSERT_EQ(mkdir((base + "/real").c_str(), 0755), 0);
  ASSERT_EQ(symlink("real", (base + "/link").c_str()), 0);
  Prefix p;
  ASSERT_TRUE(p.InitWith(base + "/link/hub"));
  EXPECT_EQ(p.real(), base + "/real/hub");
  char scratch[kVfsPathMax];
  absl::string_view rel;
  const std::string path = base + "/real/hub/models--a";  // *rel points into it
  EXPECT_TRUE(p.Match(path, scratch, &rel));
  EXPECT_EQ(rel, "models--a");
  unlink((base + "/link").c_str());
  rmdir((base + "/real").c_str());
  rmdir(base.c_str());
}

TEST(PrefixTest, LexicalClean) {
  char out[kVfsPathMax];
  EXPECT_EQ(std::string(out, LexicalClean("/a//b/./c/../d/", out)), "/a/b/d");
  EXPECT_EQ(std::string(out, LexicalClean("/..", out)), "/");
  EXPECT_EQ(LexicalClean("rel", out), 0u);
  EXPECT_TRUE(NeedsLexicalClean("/a/./b"));
  EXPECT_TRUE(NeedsLexicalClean("/a/.."));
  EXPECT_TRUE(NeedsLexicalClean("/a//b"));
  EXPECT_FALSE(NeedsLexicalClean("/a/.cache/b"));
  EXPECT_FALSE(NeedsLexicalClean("/a/..b"));
}

TEST(RouterTest, FastFilter) {
  ASSERT_TRUE(InitRouterWith("/nonexistent-hfshim/home/.cache/huggingface/hub", "/tmp/ph"));
  EXPECT_TRUE(MaybeVirtual(AT_FDCWD, "/nonexistent-hfshim/home/.cache/huggingface/hub/m"));
  EXPECT_FALSE(MaybeVirtual(AT_FDCWD, "/etc/passwd"));
  EXPECT_FALSE(MaybeVirtual(AT_FDCWD, nullptr));
  EXPECT_FALSE(MaybeVirtual(AT_FDCWD, "relative/file"));  // cwd is not under the prefix
  EXPECT_TRUE(NeedsJoin("../x"));
  EXPECT_TRUE(NeedsJoin("huggingface/hub/x"));
  EXPECT_TRUE(NeedsJoin("./.cache/x"));
  EXPECT_FALSE(NeedsJoin("src/main.cc"));
  errno = 1234;
  MaybeVirtual(AT_FDCWD, "../../x");
  EXPECT_EQ(errno, 1234);
}

TEST(RouterTest, SymlinksFromOutsideIntoThePrefixAreFollowedIn) {
  char tmpl[] = "/tmp/hfshim-links-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string tmp = tmpl;
  ASSERT_EQ(mkdir((tmp + "/hub").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((tmp + "/out").c_str(), 0755), 0);
  ASSERT_TRUE(InitRouterWith(tmp + "/hub", "/tmp/ph"));
  // models--x does not exist on disk: it is virtual.
  ASSERT_EQ(symlink((tmp + "/hub/models--x/snapshots/r").c_str(), (tmp + "/out/snap").c_str()), 0);
  ASSERT_EQ(symlink("../hub/models--x", (tmp + "/out/rel").c_str()), 0);
  ASSERT_EQ(symlink("snap", (tmp + "/out/chain").c_str()), 0);
  ASSERT_EQ(symlink("loop", (tmp + "/out/loop").c_str()), 0);
  char out[kVfsPathMax];
  ASSERT_TRUE(ResolveIntoPrefix(AT_FDCWD, (tmp + "/out/snap/config.json").c_str(), true, out));
  EXPECT_EQ(std::string(out), tmp + "/hub/models--x/snapshots/r/config.json");
  ASSERT_TRUE(ResolveIntoPrefix(AT_FDCWD, (tmp + "/out/chain/a/../b").c_str(), true, out));
  EXPECT_EQ(std::string(out), tmp + "/hub/models--x/snapshots/r/a/../b");
  ASSERT_TRUE(ResolveIntoPrefix(AT_FDCWD, (tmp + "/out/rel/refs").c_str(), true, out));
  EXPECT_EQ(std::string(out), tmp + "/hub/models--x/refs");
  const int dir = open((tmp + "/out").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir, 0);
  ASSERT_TRUE(ResolveIntoPrefix(dir, "snap", true, out));
  EXPECT_EQ(std::string(out), tmp + "/hub/models--x/snapshots/r");
  EXPECT_FALSE(ResolveIntoPrefix(dir, "snap", false, out));  // lstat of the link itself
  close(dir);
  errno = 1234;
  EXPECT_FALSE(ResolveIntoPrefix(AT_FDCWD, (tmp + "/out/missing/x").c_str(), true, out));
  EXPECT_FALSE(ResolveIntoPrefix(AT_FDCWD, (tmp + "/out/loop/x").c_str(), true, out));
  EXPECT_FALSE(ResolveIntoPrefix(AT_FDCWD, "/etc/passwd/x", true, out));
  EXPECT_EQ(errno, 1234);
  for (const char* l : {"snap", "rel", "chain", "loop"}) unlink((tmp + "/out/" + l).c_str());
  rmdir((tmp + "/out").c_str());
  rmdir((tmp + "/hub").c_str());
  rmdir(tmp.c_str());
}

// A walk that found no way in is remembered for the rest of its second, then forgotten: a link
// made at the missed path is followed from the next second on.
TEST(RouterTest, MissedWalksAreRememberedForASecond) {
  char tmpl[] = "/tmp/hfshim-misses-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string tmp = tmpl;
  ASSERT_EQ(mkdir((tmp + "/hub").c_str(), 0755), 0);
  ASSERT_TRUE(InitRouterWith(tmp + "/hub", "/tmp/ph"));
  const std::string link = tmp + "/model";
  const std::string path = link + "/config.json";
  char out[kVfsPathMax];
  // Start early in a second, so that the checks below happen within it.
  for (const time_t t0 = time(nullptr); time(nullptr) == t0;) usleep(1000);
  EXPECT_FALSE(RecentlyMissed(AT_FDCWD, path.c_str(), true));
  EXPECT_FALSE(ResolveIntoPrefix(AT_FDCWD, path.c_str(), true, out));
  EXPECT_TRUE(RecentlyMissed(AT_FDCWD, path.c_str(), true));
  EXPECT_FALSE(RecentlyMissed(AT_FDCWD, path.c_str(), false)) << "lstat's walk is another walk";
  EXPECT_FALSE(RecentlyMissed(AT_FDCWD, (path + "x").c_str(), true));
  EXPECT_TRUE(RecentlyMissed(AT_FDCWD, nullptr, true));
  EXPECT_TRUE(RecentlyMissed(AT_FDCWD, "", true));
  ASSERT_EQ(symlink((tmp + "/hub/models--x/snapshots/r").c_str(), link.c_str()), 0);
  const time_t made = time(nullptr);
  while (time(nullptr) == made) usleep(1000);
  EXPECT_FALSE(RecentlyMissed(AT_FDCWD, path.c_str(), true));
  ASSERT_TRUE(ResolveIntoPrefix(AT_FDCWD, path.c_str(), true, out));
  EXPECT_EQ(std::string(out), tmp + "/hub/models--x/snapshots/r/config.json");
  unlink(link.c_str());
  rmdir((tmp + "/hub").c_str());
  rmdir(tmp.c_str());
}

TEST(RouterTest, FdSpelledAsAPath) {
  int fd = -1;
  absl::string_view rest;
  ASSERT_TRUE(ParseFdLink("/proc/self/fd/17", &fd, &rest));
  EXPECT_EQ(fd, 17);
  EXPECT_EQ(rest, "");
  ASSERT_TRUE(ParseFdLink("/dev/fd/3/snapshots//x", &fd, &rest));
  EXPECT_EQ(fd, 3);
  EXPECT_EQ(rest, "snapshots//x");
  ASSERT_TRUE(ParseFdLink("/proc/thread-self/fd/0/", &fd, &rest));
  EXPECT_EQ(fd, 0);
  EXPECT_EQ(rest, "");
  // This process's pid spelled out, as /proc/self resolves (another process's is not ours).
  const std::string own = "/proc/" + std::to_string(getpid()) + "/fd/5";
  ASSERT_TRUE(ParseFdLink(own, &fd, &rest));
  EXPECT_EQ(fd, 5);
  EXPECT_FALSE(ParseFdLink("/proc/" + std::to_string(getpid()) + "/fdinfo/5", &fd, &rest));
  EXPECT_FALSE(ParseFdLink("/proc/" + std::to_string(getpid() + 1) + "/fd/5", &fd, &rest));
  for (int i = 0; i < 3; ++i) {
    const char* name[] = {"/dev/stdin", "/dev/stdout", "/dev/stderr"};
    ASSERT_TRUE(ParseFdLink(name[i], &fd, &rest));
    EXPECT_EQ(fd, i);
  }
  for (const char* other :
       {"/proc/self/fd", "/proc/self/fd/", "/proc/self/fdinfo/3", "/proc/self/fd/3x", "/dev/fdx/3",
        "/dev/stdin2", "/proc/1/fd/3", "/dev/fd/99999999999", "dev/fd/3", "/etc/passwd"}) {
    EXPECT_FALSE(ParseFdLink(other, &fd, &rest)) << other;
  }
  // Only a virtual fd (one with a hint) makes such a path the shim's business.
  ASSERT_TRUE(InitRouterWith("/nonexistent-hfshim/hub", "/tmp/ph"));
  ClearFdHint(9);
  EXPECT_FALSE(MaybeVirtual(AT_FDCWD, "/dev/fd/9"));
  SetFdHint(9, FdKind::kContent);
  EXPECT_TRUE(MaybeVirtual(AT_FDCWD, "/dev/fd/9"));
  EXPECT_TRUE(MaybeVirtual(AT_FDCWD, "/proc/self/fd/9/x"));
  ClearFdHint(9);
}

}  // namespace
}  // namespace hfshim

namespace hfshim {
namespace {

TEST(PrefixTest, FirstComponentRejection) {
  Prefix p;
  ASSERT_TRUE(p.InitWith("/nonexistent-hfshim/a/hub"));
  EXPECT_TRUE(p.FirstComponentMayMatch("/nonexistent-hfshim/a/hub/x"));
  EXPECT_TRUE(p.FirstComponentMayMatch("//nonexistent-hfshim/b"));
  EXPECT_TRUE(p.FirstComponentMayMatch("/nonexistent-hfshim"));
  EXPECT_FALSE(p.FirstComponentMayMatch("/nonexistent-hfshimx/a/hub"));
  EXPECT_FALSE(p.FirstComponentMayMatch("/tmp/x"));
  EXPECT_FALSE(p.FirstComponentMayMatch("/"));
}

}  // namespace
}  // namespace hfshim
