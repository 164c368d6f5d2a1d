#include "core/store/local_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/posix_error.h"
#include "core/env/file_util.h"
#include "core/store/layout.h"
#include "gtest/gtest.h"
#include "tests/testing/fault_env.h"
#include "tests/testing/temp_dir.h"

namespace hfshim {
namespace {

absl::Time Later() { return absl::Now() + absl::Seconds(30); }

class LocalStoreTest : public ::testing::Test {
 protected:
  TempDir tmp_;
  std::unique_ptr<ObjectStore> store_ = NewLocalStore(tmp_.Sub("store"));
};

TEST_F(LocalStoreTest, PutGetRangeHeadList) {
  ASSERT_TRUE(store_->Put("packs/a", "hello world", Later()).ok());
  std::string out;
  ASSERT_TRUE(store_->GetRange("packs/a", 6, 5, &out, Later()).ok());
  EXPECT_EQ(out, "world");
  ASSERT_TRUE(store_->GetRange("packs/a", 0, 0, &out, Later()).ok());
  EXPECT_EQ(out, "");
  EXPECT_EQ(store_->Head("packs/a", Later())->size, 11u);
  EXPECT_TRUE(absl::IsOutOfRange(store_->GetRange("packs/a", 6, 6, &out, Later())));
  EXPECT_EQ(StatusToErrno(store_->GetRange("packs/zz", 0, 1, &out, Later())), ENOENT);
  EXPECT_EQ(StatusToErrno(store_->Head("nope", Later()).status()), ENOENT);
  ASSERT_TRUE(store_->Put("heads/00000000000000000002", "2", Later()).ok());
  ASSERT_TRUE(store_->Put("heads/00000000000000000001", "1", Later()).ok());
  ASSERT_TRUE(store_->Put("data/x/y/z", "deep", Later()).ok());
  auto heads = store_->List("heads/", Later());
  ASSERT_TRUE(heads.ok());
  ASSERT_EQ(heads->size(), 2u);
  EXPECT_EQ((*heads)[0].key, "heads/00000000000000000001");
  auto all = store_->List("", Later());
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 4u);
  EXPECT_EQ(store_->Describe(), "file://" + tmp_.Sub("store"));
  ASSERT_EQ(mkdir(tmp_.Sub("empty").c_str(), 0755), 0);
  EXPECT_TRUE(NewLocalStore(tmp_.Sub("empty"))->List("heads/", Later())->empty());
}

// An object's etag is the same from List and Head, and changes when its bytes are replaced, even
// by as many other bytes.
TEST_F(LocalStoreTest, ListingsAndHeadsGiveTheSameEtagUntilTheObjectChanges) {
  ASSERT_TRUE(store_->Put("heads/1", "one", Later()).ok());
  auto listed = store_->List("heads/", Later());
  ASSERT_TRUE(listed.ok() && listed->size() == 1u) << listed.status();
  const std::string etag = (*listed)[0].etag;
  EXPECT_FALSE(etag.empty());
  EXPECT_EQ(store_->Head("heads/1", Later())->etag, etag);
  ASSERT_TRUE(store_->Put("heads/1", "uno", Later()).ok());
  EXPECT_NE(store_->Head("heads/1", Later())->etag, etag);
  EXPECT_NE((*store_->List("heads/", Later()))[0].etag, etag);
}

TEST_F(LocalStoreTest, AMissingDirectoryIsAnErrorUntilAPusherCreatesIt) {
  const std::string root = tmp_.Sub("not-yet/store");
  std::unique_ptr<ObjectStore> store = NewLocalStore(root);
  auto listed = store->List("heads/", Later());
  ASSERT_FALSE(listed.ok());  // a typo or a lost mount, not an empty store
  EXPECT_NE(listed.status().message().find("store directory " + root + " does not exist"),
            std::string::npos)
      << listed.status();
  ASSERT_TRUE(store->EnsureCreated(Later()).ok());
  listed = store->List("heads/", Later());
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_TRUE(listed->empty());
}

TEST_F(LocalStoreTest, ZeroLengthAndLargeObjects) {
  ASSERT_TRUE(store_->Put("data/empty", "", Later()).ok());
  EXPECT_EQ(store_->Head("data/empty", Later())->size, 0u);
  std::string big(20 << 20, '\0');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>(i / 4096);
  const std::string local = tmp_.Sub("big");
  std::ofstream(local, std::ios::binary) << big;
  ASSERT_TRUE(store_->PutFile("data/big", local, Later()).ok());
  std::string out;
  ASSERT_TRUE(store_->GetRange("data/big", 0, big.size(), &out, Later()).ok());
  EXPECT_TRUE(out == big);
}

TEST_F(LocalStoreTest, BadKeysAreRejected) {
  for (const char* key : {"../x", "a//b", "/abs", "a/./b", "", "a/..", "."}) {
    EXPECT_TRUE(absl::IsInvalidArgument(store_->Put(key, "x", Later()))) << key;
    std::string out;
    EXPECT_TRUE(absl::IsInvalidArgument(store_->GetRange(key, 0, 0, &out, Later()))) << key;
  }
  EXPECT_NE(access(tmp_.Sub("x").c_str(), F_OK), 0);
}

TEST_F(LocalStoreTest, UnwritableStoreSaysWhyAndHowToFix) {
  std::ofstream(tmp_.Sub("file")) << "not a dir";
  auto store = NewLocalStore(tmp_.Sub("file") + "/store");
  absl::Status s = store->Put("packs/a", "x", Later());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(StatusToErrno(s), ENOTDIR);
  EXPECT_NE(s.message().find("is not writable"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("HFSHIM_STORE"), absl::string_view::npos) << s;
}

TEST_F(LocalStoreTest, PutIfAbsentCreatesOnce) {
  ASSERT_TRUE(store_->PutIfAbsent("heads/1", "first", Later()).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(store_->PutIfAbsent("heads/1", "second", Later())));
  std::string out;
  ASSERT_TRUE(store_->GetRange("heads/1", 0, 5, &out, Later()).ok());
  EXPECT_EQ(out, "first");
  EXPECT_EQ(store_->List("heads/", Later())->size(), 1u) << "no temp files may be listed";
}

// Eight processes race to create the same keys: exactly one wins each, and everyone reads the
// winner's bytes.
TEST_F(LocalStoreTest, PutIfAbsentIsAtomicAcrossProcesses) {
  constexpr int kProcs = 8, kKeys = 50;
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = fork();
    if (pid == 0) {
      auto store = NewLocalStore(tmp_.Sub("store"));
      int wins = 0;
      for (int k = 0; k < kKeys; ++k) {
        absl::Status s = store->PutIfAbsent(HeadKey(k), absl::StrCat("winner ", p), Later());
        if (s.ok()) {
          ++wins;
        } else if (!absl::IsAlreadyExists(s)) {
          _exit(100);
        }
      }
      _exit(wins);
    }
    kids.push_back(pid);
  }
  int total = 0;
  for (pid_t pid : kids) {
    int st = 0;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFEXITED(st));
    ASSERT_NE(WEXITSTATUS(st), 100);
    total += WEXITSTATUS(st);
  }
  EXPECT_EQ(total, kKeys);
  for (int k = 0; k < kKeys; ++k) {
    auto info = store_->Head(HeadKey(k), Later());
    ASSERT_TRUE(info.ok());
    std::string out;
    ASSERT_TRUE(store_->GetRange(HeadKey(k), 0, info->size, &out, Later()).ok());
    EXPECT_EQ(out.rfind("winner ", 0), 0u);
  }
}

TEST_F(LocalStoreTest, ConcurrentPutsLeaveOneCompleteVersion) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(store_->Put("packs/same", std::string(100000, 'a' + t), Later()).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::string out;
  ASSERT_TRUE(store_->GetRange("packs/same", 0, 100000, &out, Later()).ok());
  EXPECT_EQ(out, std::string(100000, out[0]));
}

TEST(FileUtilTest, AtomicWriteNeverLeavesATornFile) {
  TempDir tmp;
  FaultInjectingEnv env;
  const std::string path = tmp.Sub("f");
  ASSERT_TRUE(WriteFileAtomic(&env, path, "old").ok());
  env.FailWritesAfter(0, ENOSPC);
  absl::Status s = WriteFileAtomic(&env, path, "new content");
  EXPECT_EQ(StatusToErrno(s), ENOSPC);
  EXPECT_NE(s.message().find(path), absl::string_view::npos);
  EXPECT_EQ(*ReadFile(Env::Default(), path), "old");
  env.Reset();
  env.FailRenames(true);
  EXPECT_EQ(StatusToErrno(WriteFileAtomic(&env, path, "new")), EIO);
  EXPECT_EQ(*ReadFile(Env::Default(), path), "old");
  env.Reset();
  env.ShortWrites(3);
  ASSERT_TRUE(WriteFileAtomic(&env, path, "short writes still complete").ok());
  EXPECT_EQ(*ReadFile(Env::Default(), path), "short writes still complete");
  auto names = Env::Default()->ListDir(tmp.path());
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 1u) << "temp files left behind";
}

// Counts the directory changes WriteFileAtomic makes; optionally a file system without
// unnamed files (open with O_TMPFILE fails as on such file systems).
class DirectoryChangeCountingEnv : public EnvWrapper {
 public:
  explicit DirectoryChangeCountingEnv(bool unnamed_files)
      : EnvWrapper(Env::Default()), unnamed_files_(unnamed_files) {}
  absl::StatusOr<int> Open(const std::string& p, int f, mode_t m) override {
    if ((f & O_TMPFILE) == O_TMPFILE) {
      if (!unnamed_files_) return ErrnoStatus(EOPNOTSUPP, "open " + p + " (injected)");
    } else if (f & O_CREAT) {
      ++creates;
    }
    return EnvWrapper::Open(p, f, m);
  }
  absl::Status Rename(const std::string& f, const std::string& t) override {
    ++renames;
    return EnvWrapper::Rename(f, t);
  }
  absl::Status LinkOpenFile(int fd, const std::string& t) override {
    ++links;
    if (!can_link) return absl::UnimplementedError("no /proc (test)");
    return EnvWrapper::LinkOpenFile(fd, t);
  }
  int creates = 0, renames = 0, links = 0;
  bool can_link = true;

 private:
  const bool unnamed_files_;
};

TEST(FileUtilTest, NewFilesAreWrittenUnnamedAndNamedOnce) {
  TempDir tmp;
  DirectoryChangeCountingEnv env(/*unnamed_files=*/true);
  ASSERT_TRUE(WriteFileAtomic(&env, tmp.Sub("f"), "content", /*durable=*/false).ok());
  EXPECT_EQ(*ReadFile(Env::Default(), tmp.Sub("f")), "content");
  EXPECT_EQ(env.creates + env.renames, 0) << "a named temp file was created or renamed";
  EXPECT_EQ(env.links, 1);
  // Durable: the same.
  ASSERT_TRUE(WriteFileAtomic(&env, tmp.Sub("g"), "xy", /*durable=*/true).ok());
  EXPECT_EQ(*ReadFile(Env::Default(), tmp.Sub("g")), "xy");
  // A missing directory is NotFound (callers create it and write again), nothing left.
  EXPECT_TRUE(absl::IsNotFound(WriteFileAtomic(&env, tmp.Sub("no/f"), "x")));
}

TEST(FileUtilTest, ReplacingAFileGoesThroughATempNameAndLeavesNone) {
  TempDir tmp;
  DirectoryChangeCountingEnv env(/*unnamed_files=*/true);
  ASSERT_TRUE(WriteFileAtomic(&env, tmp.Sub("f"), "old").ok());
  ASSERT_TRUE(WriteFileAtomic(&env, tmp.Sub("f"), "new content").ok());
  EXPECT_EQ(*ReadFile(Env::Default(), tmp.Sub("f")), "new content");
  EXPECT_EQ(env.renames, 1);
  EXPECT_EQ(Env::Default()->ListDir(tmp.path())->size(), 1u) << "temp files left behind";
}

TEST(FileUtilTest, FileSystemsWithoutUnnamedFilesGetATempFileRenamed) {
  TempDir tmp;
  DirectoryChangeCountingEnv env(/*unnamed_files=*/false);
  ASSERT_TRUE(WriteFileAtomic(&env, tmp.Sub("f"), "content").ok());
  ASSERT_TRUE(WriteFileAtomic(&env, tmp.Sub("f"), "again").ok());
  EXPECT_EQ(*ReadFile(Env::Default(), tmp.Sub("f")), "again");
  EXPECT_EQ(env.creates, 2);
  EXPECT_EQ(env.renames, 2);
  EXPECT_EQ(env.links, 0);
  EXPECT_EQ(Env::Default()->ListDir(tmp.path())->size(), 1u) << "temp files left behind";
}

TEST(FileUtilTest, WithoutProcTheUnnamedFileIsDroppedOnceThenTempFilesAreUsed) {
  TempDir tmp;
  DirectoryChangeCountingEnv env(/*unnamed_files=*/true);
  env.can_link = false;
  ASSERT_TRUE(WriteFileAtomic(&env, tmp.Sub("f"), "content").ok());
  ASSERT_TRUE(WriteFileAtomic(&env, tmp.Sub("g"), "more").ok());
  ForgetUnnamedFileFailuresForTesting();
  EXPECT_EQ(*ReadFile(Env::Default(), tmp.Sub("f")), "content");
  EXPECT_EQ(*ReadFile(Env::Default(), tmp.Sub("g")), "more");
  EXPECT_EQ(env.links, 1) << "unnamed files kept being written and lost";
  EXPECT_EQ(env.renames, 2);
  EXPECT_EQ(Env::Default()->ListDir(tmp.path())->size(), 2u) << "temp files left behind";
}

TEST(FileUtilTest, MakeDirsAndErrors) {
  TempDir tmp;
  ASSERT_TRUE(MakeDirs(Env::Default(), tmp.Sub("a/b/c")).ok());
  ASSERT_TRUE(MakeDirs(Env::Default(), tmp.Sub("a/b/c")).ok());
  ASSERT_TRUE(WriteFileAtomic(Env::Default(), tmp.Sub("file"), "x").ok());
  EXPECT_EQ(StatusToErrno(MakeDirs(Env::Default(), tmp.Sub("file/sub"))), ENOTDIR);
  EXPECT_EQ(StatusToErrno(ReadFile(Env::Default(), tmp.Sub("missing")).status()), ENOENT);
}

}  // namespace
}  // namespace hfshim
