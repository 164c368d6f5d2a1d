// ResolveCache on its own (hit, generations, bound, trimming) and inside Vfs: every answer with
// the cache equals the answer without it, errors included, across a generation change.
#include "core/vfs/resolve_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/vfs/vfs_fixture.h"

namespace hfshim {
namespace {

CachedResolution Virtual(const std::string& path, uint64_t ino) {
  CachedResolution c;
  c.virtual_entry = true;
  c.path = path;
  c.entry.ino = ino;
  return c;
}

// The value of `key` under `gen`, or nullopt-like (found = false).
bool Get(const ResolveCache& cache, const void* gen, const std::string& key,
         CachedResolution* out) {
  return cache.Lookup(gen, key, [&](const CachedResolution& c) { *out = c; });
}

TEST(ResolveCacheTest, HitMissAndErrno) {
  ResolveCache cache(64);
  int gen = 0;
  CachedResolution got;
  EXPECT_FALSE(Get(cache, &gen, "Fa", &got));
  cache.Insert(&gen, "Fa", Virtual("a", 7));
  CachedResolution enoent;
  enoent.error = ENOENT;
  cache.Insert(&gen, "Fb", enoent);
  ASSERT_TRUE(Get(cache, &gen, "Fa", &got));
  EXPECT_TRUE(got.virtual_entry);
  EXPECT_EQ(got.path, "a");
  EXPECT_EQ(got.entry.ino, 7u);
  ASSERT_TRUE(Get(cache, &gen, "Fb", &got));
  EXPECT_EQ(got.error, ENOENT);
  EXPECT_FALSE(Get(cache, &gen, "Na", &got));  // follow and nofollow are different keys
  cache.Insert(&gen, "Fa", Virtual("a2", 8));  // replaced, not duplicated
  ASSERT_TRUE(Get(cache, &gen, "Fa", &got));
  EXPECT_EQ(got.entry.ino, 8u);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(ResolveCacheTest, AnotherGenerationNeverHits) {
  ResolveCache cache(64);
  int gen1 = 0, gen2 = 0;
  cache.Insert(&gen1, "Fa", Virtual("a", 1));
  CachedResolution got;
  EXPECT_FALSE(Get(cache, &gen2, "Fa", &got));
  EXPECT_FALSE(Get(cache, nullptr, "Fa", &got));
  // Storing under the new generation empties what the old one left in that shard.
  for (int i = 0; i < 200; ++i) cache.Insert(&gen2, absl::StrCat("Fx", i), Virtual("x", 2));
  EXPECT_FALSE(Get(cache, &gen1, "Fa", &got));
  EXPECT_FALSE(Get(cache, &gen2, "Fa", &got));
  EXPECT_TRUE(Get(cache, &gen2, "Fx199", &got));  // the newest of its shard is always kept
}

TEST(ResolveCacheTest, BoundedSize) {
  ResolveCache cache(64);  // 4 per shard
  int gen = 0;
  for (int i = 0; i < 10000; ++i) cache.Insert(&gen, absl::StrCat("F/p/", i), Virtual("p", i));
  EXPECT_LE(cache.size(), 64u);
  EXPECT_GE(cache.size(), 32u);
  // The most recent insert of a shard is always kept.
  CachedResolution got;
  EXPECT_TRUE(Get(cache, &gen, "F/p/9999", &got));
}

TEST(ResolveCacheTest, DisabledAndTrimmed) {
  ResolveCache off(0);
  int gen = 0;
  off.Insert(&gen, "Fa", Virtual("a", 1));
  CachedResolution got;
  EXPECT_FALSE(off.enabled());
  EXPECT_FALSE(Get(off, &gen, "Fa", &got));

  ResolveCache cache(64);
  CachedResolution big = Virtual("big", 3);
  big.entry.block_checksums.assign(ResolveCache::kMaxStoredChecksums + 1, 42);
  big.entry.size = 12345;
  cache.Insert(&gen, "Fbig", big);
  ASSERT_TRUE(Get(cache, &gen, "Fbig", &got));
  EXPECT_TRUE(got.entry_trimmed);
  EXPECT_TRUE(got.entry.block_checksums.empty());
  EXPECT_EQ(got.entry.size, 12345u);  // stat fields kept
  CachedResolution small = Virtual("small", 4);
  small.entry.block_checksums.assign(ResolveCache::kMaxStoredChecksums, 42);
  cache.Insert(&gen, "Fsmall", small);
  ASSERT_TRUE(Get(cache, &gen, "Fsmall", &got));
  EXPECT_FALSE(got.entry_trimmed);
  EXPECT_EQ(got.entry.block_checksums.size(), ResolveCache::kMaxStoredChecksums);
}

TEST(ResolveCacheTest, OffersAreSeenTheSecondTime) {
  ResolveCache cache(64);
  EXPECT_FALSE(cache.OfferedBefore("F/a"));
  EXPECT_TRUE(cache.OfferedBefore("F/a"));
  EXPECT_TRUE(cache.OfferedBefore("F/a"));
  EXPECT_FALSE(cache.OfferedBefore("N/a"));  // another key
  // Many other keys since: "F/a" may be forgotten (its slot reused), never wrongly kept apart
  // from a key that was not offered.
  for (int i = 0; i < 100000; ++i) cache.OfferedBefore(absl::StrCat("F/p/", i));
  int seen = 0;
  for (int i = 100000; i < 101000; ++i) seen += cache.OfferedBefore(absl::StrCat("F/p/", i));
  EXPECT_EQ(seen, 0) << "keys never offered are (with 64-bit tags) never seen";
  ResolveCache off(0);
  EXPECT_FALSE(off.OfferedBefore("F/a"));
  EXPECT_FALSE(off.OfferedBefore("F/a"));
}

// MayHoldOffered tells whether a key's offer is remembered, without recording one: a key never
// offered, or whose slot another key took, is surely not among the admitted keys.
TEST(ResolveCacheTest, MayHoldOfferedTellsARememberedOfferWithoutMakingOne) {
  ResolveCache cache(64);
  const Hash128 a = ResolveCache::KeyId("F/a");
  EXPECT_FALSE(cache.MayHoldOffered(a));
  EXPECT_FALSE(cache.MayHoldOffered(a)) << "asking records nothing";
  EXPECT_FALSE(cache.OfferedBefore(a));
  EXPECT_TRUE(cache.MayHoldOffered(a));
  Hash128 rival = a;  // the same slot, another key
  rival.lo ^= 2;
  EXPECT_FALSE(cache.MayHoldOffered(rival));
  EXPECT_FALSE(cache.OfferedBefore(rival));
  EXPECT_FALSE(cache.MayHoldOffered(a)) << "its slot was taken: a lookup is skipped, and the "
                                           "path is resolved again";
  ResolveCache off(0);
  EXPECT_FALSE(off.MayHoldOffered(a));
}

// ---- inside Vfs

class VfsCacheTest : public VfsTest {
 protected:
  std::unique_ptr<Vfs> MakeVfs(size_t entries, const std::string& run) {
    Vfs::Parts parts;
    parts.prefix = &prefix_;
    parts.placeholder_root = tmp_ + "/" + run + "/dirs";
    parts.env = Env::Default();
    parts.source = &source_;
    parts.cache = cache_.get();
    parts.refresh_seconds = 0;
    parts.statfs_path = tmp_ + "/cache";
    parts.resolve_cache_entries = entries;
    absl::StatusOr<std::unique_ptr<Vfs>> vfs = Vfs::Create(parts);
    EXPECT_TRUE(vfs.ok()) << vfs.status();
    return vfs.ok() ? std::move(*vfs) : nullptr;
  }

  // Every observable part of a stat outcome, as one string.
  static std::string Render(const Outcome& o, const struct stat& st) {
    if (o.passthrough) return "pass:" + o.real_path;
    if (o.rc < 0) return absl::StrCat("err:", -o.rc);
    return absl::StrCat("ok:", st.st_ino, ":", st.st_mode, ":", st.st_size, ":", st.st_nlink, ":",
                        st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ":", st.st_dev);
  }
  static std::string StatOf(Vfs* vfs, const std::string& path, int flags) {
    struct stat st;
    std::memset(&st, 0, sizeof(st));
    Outcome o = vfs->Stat(AT_FDCWD, path, flags, &st);
    return Render(o, st);
  }

  std::vector<std::string> Paths() {
    std::vector<std::string> rels = {
        "models--org--m/snapshots/rev1/config.json",  // symlink to a blob
        "models--org--m/snapshots/rev1/sub/model.bin",
        "models--org--m/snapshots/rev1/sub/../config.json",
        "models--org--m/snapshots/rev1/loop",    // ELOOP (follow) / the link (nofollow)
        "models--org--m/snapshots/rev1/escape",  // leaves the index: passthrough
        "models--org--m/nope",                   // ENOENT
        "models--org--m/refs/main/x",            // ENOTDIR
        "models--org--m/refs/main/",             // ENOTDIR (trailing slash)
        "models--org--m/..",                     // the real prefix root
        "models--org--m//refs/./main",           // messy spelling
        "models--nothere--x/y",                  // a real top-level name: passthrough
        ".locks/models--org--m",                 // real
        "datasets--org--d/empty",                // directory
        "datasets--org--d/data/f0007.txt",       // plain file
        "datasets--org--d/data/f0007.txt/",      // ENOTDIR
        "",                                      // the prefix root itself
    };
    std::vector<std::string> out;
    for (const std::string& r : rels) out.push_back(P(r));
    out.push_back(std::string(200, 'x'));  // relative: never cached, still answered
    return out;
  }
};

TEST_F(VfsCacheTest, SameAnswersWithAndWithoutTheCache) {
  std::unique_ptr<Vfs> plain = MakeVfs(0, "run-plain");
  ASSERT_NE(plain, nullptr);
  for (int round = 0; round < 3; ++round) {  // round 0 fills, the others hit
    for (const std::string& p : Paths()) {
      for (int flags : {0, AT_SYMLINK_NOFOLLOW}) {
        EXPECT_EQ(StatOf(vfs_.get(), p, flags), StatOf(plain.get(), p, flags))
            << p << " flags " << flags << " round " << round;
      }
    }
  }
  EXPECT_GT(vfs_->resolve_cache().size(), 0u);
  EXPECT_EQ(plain->resolve_cache().size(), 0u);
}

TEST_F(VfsCacheTest, ParentsReachedThroughSymlinksCountTheirHops) {
  // snapshots/main -> rev1, and a chain l0 -> l1 -> ... -> l39 -> rev1 (40 links): through l0 a
  // file link is the 41st hop (ELOOP), through l1 the 40th (fine), as the kernel counts.
  std::vector<TreeNode> tree = StandardTree();
  tree.push_back({"models--org--m/snapshots/main", EntryType::kSymlink, "rev1"});
  for (int i = 0; i < 40; ++i) {
    tree.push_back({absl::StrCat("models--org--m/snapshots/l", i), EntryType::kSymlink,
                    i == 39 ? std::string("rev1") : absl::StrCat("l", i + 1)});
  }
  source_.file = {BuildIndex(tree, 2), 2};
  std::unique_ptr<Vfs> plain = MakeVfs(0, "run-plain4");
  std::vector<std::string> rels = {"models--org--m/snapshots/main/config.json",
                                   "models--org--m/snapshots/main/sub/model.bin",
                                   "models--org--m/snapshots/main/nope",
                                   "models--org--m/snapshots/l0/config.json",
                                   "models--org--m/snapshots/l1/config.json",
                                   "models--org--m/snapshots/l1/sub/model.bin",
                                   "models--org--m/snapshots/l0/sub",
                                   "models--org--m/snapshots/l39/escape",
                                   "models--org--m/refs/main/x"};
  for (int round = 0; round < 3; ++round) {
    for (const std::string& r : rels) {
      for (int flags : {0, AT_SYMLINK_NOFOLLOW}) {
        EXPECT_EQ(StatOf(vfs_.get(), P(r), flags), StatOf(plain.get(), P(r), flags))
            << r << " flags " << flags << " round " << round;
      }
    }
  }
  struct stat st;
  EXPECT_EQ(vfs_->Stat(AT_FDCWD, P("models--org--m/snapshots/l0/config.json"), 0, &st).rc, -ELOOP);
  EXPECT_EQ(vfs_->Stat(AT_FDCWD, P("models--org--m/snapshots/l1/config.json"), 0, &st).rc, 0);
}

TEST_F(VfsCacheTest, ErrnoIsRemembered) {
  struct stat st;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(vfs_->Stat(AT_FDCWD, P("models--org--m/nope"), 0, &st).rc, -ENOENT);
    EXPECT_EQ(vfs_->Stat(AT_FDCWD, P("models--org--m/refs/main/x"), 0, &st).rc, -ENOTDIR);
    EXPECT_EQ(vfs_->Stat(AT_FDCWD, P("models--org--m/snapshots/rev1/loop"), 0, &st).rc, -ELOOP);
    EXPECT_EQ(vfs_->Access(AT_FDCWD, P("models--org--m/nope"), R_OK, 0).rc, -ENOENT);
    EXPECT_EQ(vfs_->Open(AT_FDCWD, P("models--org--m/refs/main/x"), O_RDONLY, 0).rc, -ENOTDIR);
    // A write intent on a missing name still sees its (virtual) directory: EROFS.
    EXPECT_EQ(vfs_->Open(AT_FDCWD, P("models--org--m/refs/new"), O_WRONLY | O_CREAT, 0644).rc,
              -EROFS);
  }
}

// A pass over a dataset asks for each path once: nothing of it is remembered (a first insert
// costs more than the lookup it would save). A path asked for again is remembered.
TEST_F(VfsCacheTest, PathsAskedForOnceAreNotRemembered) {
  struct stat st;
  const size_t before = vfs_->resolve_cache().size();  // parents and directories of the setup
  std::vector<std::string> files;
  for (int i = 0; i < 600; i += 7)
    files.push_back(P(absl::StrFormat("datasets--org--d/data/f%04d.txt", i)));
  for (const std::string& p : files) ASSERT_EQ(vfs_->Stat(AT_FDCWD, p, 0, &st).rc, 0) << p;
  for (const std::string& p : files) {
    Outcome o = vfs_->Open(AT_FDCWD, p + "x", O_RDONLY, 0);  // absent names, once each
    EXPECT_EQ(o.rc, -ENOENT);
  }
  const size_t after_once = vfs_->resolve_cache().size();
  EXPECT_LE(after_once, before + 4) << "only the directories on the way are new";
  for (const std::string& p : files) ASSERT_EQ(vfs_->Stat(AT_FDCWD, p, 0, &st).rc, 0) << p;
  EXPECT_GE(vfs_->resolve_cache().size(), after_once + files.size() / 2)
      << "paths asked for a second time are remembered";
}

TEST_F(VfsCacheTest, OpenAfterACachedStatReadsTheContent) {
  struct stat st;
  const std::string p = P("models--org--m/snapshots/rev1/config.json");
  ASSERT_EQ(vfs_->Stat(AT_FDCWD, p, 0, &st).rc, 0);
  for (int i = 0; i < 2; ++i) {
    Outcome o = vfs_->Open(AT_FDCWD, p, O_RDONLY | O_CLOEXEC, 0);
    ASSERT_GE(o.rc, 0);
    char buf[256];
    ssize_t n = read(o.rc, buf, sizeof(buf));
    EXPECT_EQ(std::string(buf, n > 0 ? n : 0), config_json_);
    vfs_->NoteClose(o.rc);
    close(o.rc);
  }
}

// Open's hot path (a remembered, cached file: one memo lookup and one openat) answers every
// path and flag combination exactly as the full path does without a memo: the same errno or
// passthrough, and for a virtual file the same fstat and bytes.
TEST_F(VfsCacheTest, RememberedOpensAnswerAsTheFullPath) {
  auto open_outcome = [](Vfs* vfs, const std::string& path, int flags) {
    Outcome o = vfs->Open(AT_FDCWD, path, flags, 0);
    if (o.passthrough) return "pass:" + o.real_path;
    if (o.rc < 0) return absl::StrCat("err:", -o.rc);
    struct stat st;
    std::memset(&st, 0, sizeof(st));
    fstat(o.rc, &st);
    vfs->Fstat(o.rc, &st);
    std::string bytes(4096, '\0');
    const ssize_t n = (flags & O_PATH) ? -1 : read(o.rc, bytes.data(), bytes.size());
    bytes.resize(n > 0 ? n : 0);
    vfs->NoteClose(o.rc);
    close(o.rc);
    return absl::StrCat("ok:", st.st_ino, ":", st.st_mode, ":", st.st_size, ":", st.st_dev, ":",
                        bytes);
  };
  std::unique_ptr<Vfs> plain = MakeVfs(0, "plain");
  std::unique_ptr<Vfs> memo = MakeVfs(1024, "memo");
  ASSERT_TRUE(plain && memo);
  for (int flags : {O_RDONLY, O_RDONLY | O_NOFOLLOW, O_RDONLY | O_DIRECTORY, O_WRONLY,
                    O_RDONLY | O_PATH, O_RDONLY | O_CLOEXEC | O_NONBLOCK}) {
    for (const std::string& path : Paths()) {
      const std::string want = open_outcome(plain.get(), path, flags);
      for (int round = 0; round < 3; ++round) {  // the first fills the memo, the rest use it
        EXPECT_EQ(open_outcome(memo.get(), path, flags), want)
            << path << " flags " << flags << " round " << round;
      }
    }
  }
}

TEST_F(VfsCacheTest, ANewGenerationIsNeverAnsweredFromTheOld) {
  struct stat st;
  const std::string added = P("models--org--m/refs/pr");
  const std::string gone = P("models--org--m/refs/main");
  ASSERT_EQ(vfs_->Stat(AT_FDCWD, added, 0, &st).rc, -ENOENT);
  ASSERT_EQ(vfs_->Stat(AT_FDCWD, gone, 0, &st).rc, 0);
  ASSERT_EQ(vfs_->Stat(AT_FDCWD, added, 0, &st).rc, -ENOENT);  // now from the cache
  std::vector<TreeNode> tree = StandardTree();
  for (TreeNode& n : tree) {
    if (n.path == "models--org--m/refs/main") n.path = "models--org--m/refs/pr";
  }
  source_.file = {BuildIndex(tree, 2), 2};  // refresh_seconds = 0: the next call switches
  EXPECT_EQ(vfs_->Stat(AT_FDCWD, added, 0, &st).rc, 0);
  EXPECT_EQ(st.st_size, 4);
  EXPECT_EQ(vfs_->Stat(AT_FDCWD, gone, 0, &st).rc, -ENOENT);
  EXPECT_EQ(vfs_->Access(AT_FDCWD, gone, R_OK, 0).rc, -ENOENT);
}

TEST_F(VfsCacheTest, SmallCacheStaysBoundedAndRight) {
  std::unique_ptr<Vfs> small = MakeVfs(32, "run-small");
  ASSERT_NE(small, nullptr);
  std::unique_ptr<Vfs> plain = MakeVfs(0, "run-plain2");
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 600; i += 7) {
      const std::string p = P(absl::StrFormat("datasets--org--d/data/f%04d.txt", i));
      EXPECT_EQ(StatOf(small.get(), p, 0), StatOf(plain.get(), p, 0)) << p;
    }
  }
  EXPECT_LE(small->resolve_cache().size(), 32u);
}

}  // namespace
}  // namespace hfshim
