// Lazy large files: block-wise fills into a sparse partial file with a presence record.
#include "core/cache/lazy_content.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"
#include "core/cache/disk_cache.h"
#include "core/cache/partial_file.h"
#include "core/env/file_util.h"
#include "tests/cache/cache_fixture.h"

namespace hfshim {
namespace {

constexpr char kBig[] = "models--o--m/snapshots/r/big.bin";  // 3 blocks of 1 MiB

std::string ReadRange(const std::string& path, uint64_t off, size_t len) {
  std::string out(len, '\0');
  int fd = open(path.c_str(), O_RDONLY);
  ssize_t n = pread(fd, out.data(), len, static_cast<off_t>(off));
  close(fd);
  out.resize(n < 0 ? 0 : n);
  return out;
}

// Counts GETs and can delay each one, so a test can kill a process mid-fill; can damage one
// byte of the next GET's answer, and records the ranges asked for.
class SlowStore final : public ObjectStore {
 public:
  SlowStore(ObjectStore* real, absl::Duration delay) : real_(real), delay_(delay) {}
  absl::Status GetRange(absl::string_view key, uint64_t offset, uint64_t length, std::string* out,
                        absl::Time deadline) override {
    absl::SleepFor(delay_);
    ++gets;
    {
      std::lock_guard<std::mutex> lock(mu);
      ranges.emplace_back(offset, length);
    }
    absl::Status s = real_->GetRange(key, offset, length, out, deadline);
    const int64_t at = corrupt_at.exchange(-1);
    if (s.ok() && at >= 0 && static_cast<uint64_t>(at) < out->size()) (*out)[at] ^= 1;
    return s;
  }
  absl::StatusOr<ObjectInfo> Head(absl::string_view key, absl::Time deadline) override {
    return real_->Head(key, deadline);
  }
  absl::Status Put(absl::string_view, absl::string_view, absl::Time) override {
    return absl::UnimplementedError("read-only");
  }
  absl::Status PutFile(absl::string_view, const std::string&, absl::Time) override {
    return absl::UnimplementedError("read-only");
  }
  absl::Status PutIfAbsent(absl::string_view, absl::string_view, absl::Time) override {
    return absl::UnimplementedError("read-only");
  }
  absl::StatusOr<std::vector<ObjectInfo>> List(absl::string_view prefix,
                                               absl::Time deadline) override {
    return real_->List(prefix, deadline);
  }
  std::string Describe() const override { return "slow " + real_->Describe(); }
  std::atomic<int> gets{0};
  std::atomic<int64_t> corrupt_at{-1};
  std::mutex mu;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // guarded by mu

 private:
  ObjectStore* const real_;
  const absl::Duration delay_;
};

using LazyContentTest = DiskCacheTest;

TEST_F(LazyContentTest, ReadingAFewBytesFetchesOneBlockNotTheFile) {
  auto cache = NewCache();
  Entry big = EntryOf(kBig);
  ASSERT_TRUE(FilledByBlocks(big));
  auto lazy = cache->OpenLazy(big, Later());
  ASSERT_TRUE(lazy.ok()) << lazy.status();
  EXPECT_FALSE((*lazy)->complete());
  const std::string path = (*lazy)->OpenPath();
  EXPECT_TRUE(absl::EndsWith(path, ".partial")) << path;
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), big.size) << "sparse, full size from the start";
  ASSERT_TRUE((*lazy)->Ensure(1000, 100, Later()).ok());
  EXPECT_EQ(cache->stats().requests, 1u);
  EXPECT_EQ(ReadRange(path, 1000, 100), files_[kBig].substr(1000, 100));
  // A range across a block boundary needs the next block only.
  ASSERT_TRUE((*lazy)->Ensure((1 << 20) - 10, 20, Later()).ok());
  EXPECT_EQ(cache->stats().requests, 2u);
  EXPECT_EQ(ReadRange(path, (1 << 20) - 10, 20), files_[kBig].substr((1 << 20) - 10, 20));
  EXPECT_FALSE(cache->Contains(big.content_hash)) << "not complete: block 2 is missing";
  // Past the end: nothing to fetch.
  ASSERT_TRUE((*lazy)->Ensure(big.size + 5, 100, Later()).ok());
  EXPECT_EQ(cache->stats().requests, 2u);
}

TEST_F(LazyContentTest, LastBlockPromotesTheFileInPlaceForOpenFds) {
  auto cache = NewCache();
  Entry big = EntryOf(kBig);
  auto lazy = cache->OpenLazy(big, Later());
  ASSERT_TRUE(lazy.ok());
  int fd = open((*lazy)->OpenPath().c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE((*lazy)->Ensure(0, big.size, Later()).ok());
  EXPECT_TRUE((*lazy)->complete());
  EXPECT_TRUE(cache->Contains(big.content_hash));
  const std::string final_path = cache->PathFor(big.content_hash);
  EXPECT_NE(access((final_path + ".partial").c_str(), F_OK), 0);
  EXPECT_NE(access((final_path + ".blocks").c_str(), F_OK), 0);
  EXPECT_EQ((*lazy)->OpenPath(), final_path);
  std::string all(big.size, '\0');
  ASSERT_EQ(pread(fd, all.data(), all.size(), 0), static_cast<ssize_t>(all.size()));
  close(fd);
  EXPECT_EQ(all, files_[kBig]) << "the fd opened on the partial file reads the promoted inode";
  // A second process-wide instance finds the complete file.
  auto other = NewCache();
  auto again = other->OpenLazy(big, Later());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE((*again)->complete());
}

TEST_F(LazyContentTest, AnotherInstanceReusesThePresentBlocks) {
  Entry big = EntryOf(kBig);
  {
    auto cache = NewCache();
    auto lazy = cache->OpenLazy(big, Later());
    ASSERT_TRUE(lazy.ok());
    ASSERT_TRUE((*lazy)->Ensure(0, 1, Later()).ok());
  }
  auto cache = NewCache();
  auto p = cache->Materialize(big, *index_, Later());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(cache->stats().requests, 2u) << "block 0 was already present on the node";
  EXPECT_EQ(*ReadFile(Env::Default(), *p), files_[kBig]);
}

TEST_F(LazyContentTest, KilledMidFillLeavesNothingTrustedAndTheNextReaderRefetches) {
  Entry big = EntryOf(kBig);
  const std::string final_path = NewCache()->PathFor(big.content_hash);
  pid_t pid = fork();
  if (pid == 0) {
    // Block by block, as a reader would: each GET is slow, so the kill lands between or
    // during block fills.
    SlowStore slow(store_.get(), absl::Milliseconds(150));
    auto c = ContentCache::Create(config_, &slow, Env::Default());
    if (!c.ok()) _exit(1);
    auto lazy = (*c)->OpenLazy(big, Later());
    if (!lazy.ok()) _exit(1);
    for (uint64_t off = 0; off < big.size; off += 1 << 20) {
      (void)(*lazy)->Ensure(off, 1, Later());
    }
    _exit(0);
  }
  ASSERT_GT(pid, 0);
  // Wait until the child has the pair and at least one block, then kill it mid-fill.
  const std::string record = final_path + ".blocks";
  for (int i = 0; i < 400 && access(record.c_str(), F_OK) != 0; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  absl::SleepFor(absl::Milliseconds(200));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  ASSERT_EQ(access(record.c_str(), F_OK), 0) << "the child was killed before completing";
  // Tear an unmarked block, as a write cut short by the kill would.
  {
    int fd = open((final_path + ".partial").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, "garbage", 7, (2 << 20) + 3), 7);
    close(fd);
  }
  auto cache = NewCache();
  auto p = cache->Materialize(big, *index_, Later());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*ReadFile(Env::Default(), *p), files_[kBig]);
  EXPECT_GE(cache->stats().requests, 1u);
  EXPECT_LE(cache->stats().requests, 2u) << "marked blocks of the killed process are reused";
}

TEST_F(LazyContentTest, MalformedRecordIsReplacedNotTrusted) {
  Entry big = EntryOf(kBig);
  const std::string final_path = NewCache()->PathFor(big.content_hash);
  {
    auto first = NewCache();
    auto lazy = first->OpenLazy(big, Later());
    ASSERT_TRUE(lazy.ok());
    ASSERT_TRUE((*lazy)->Ensure(0, 1, Later()).ok());
  }
  ASSERT_EQ(truncate((final_path + ".blocks").c_str(), 20), 0);
  auto cache = NewCache();
  auto p = cache->Materialize(big, *index_, Later());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*ReadFile(Env::Default(), *p), files_[kBig]);
  EXPECT_EQ(cache->stats().requests, 3u) << "a truncated record is recreated from scratch";
}

TEST_F(LazyContentTest, RecordMarksOnlyVerifiedBlocks) {
  // A corrupt object: nothing may be marked present.
  Entry big = EntryOf(kBig);
  const std::string object = tmp_.Sub("store") + "/" + big.location.object_key;
  {
    int fd = open(object.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, "X", 1, 10), 1);
    close(fd);
  }
  auto cache = NewCache();
  auto lazy = cache->OpenLazy(big, Later());
  ASSERT_TRUE(lazy.ok());
  absl::Status s = (*lazy)->Ensure(0, 10, Later());
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  auto partial = PartialFile::OpenExisting(Env::Default(), (*lazy)->OpenPath());
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_FALSE((*partial)->Present(0));
  EXPECT_EQ((*partial)->entry().block_checksums, big.block_checksums) << "record carries them";
}

TEST_F(LazyContentTest, ChecksumMismatchMidRunRefetchesFromTheDamagedBlockOnly) {
  Entry big = EntryOf(kBig);
  SlowStore store(store_.get(), absl::ZeroDuration());
  store.corrupt_at = (1 << 20) + 777;  // in the second block of the first GET
  auto c = ContentCache::Create(config_, &store, Env::Default());
  ASSERT_TRUE(c.ok());
  auto lazy = (*c)->OpenLazy(big, Later());
  ASSERT_TRUE(lazy.ok());
  // A readahead step fetches two blocks with one GET.
  EXPECT_EQ((*lazy)->FetchNextMissing(0, 2 << 20, Later()), LazyContent::Step::kFetched);
  EXPECT_TRUE((*lazy)->Present(0, 2 << 20));
  const uint64_t base = big.location.offset;
  std::lock_guard<std::mutex> lock(store.mu);
  EXPECT_EQ(store.ranges, (std::vector<std::pair<uint64_t, uint64_t>>{{base, 2 << 20},
                                                                      {base + (1 << 20), 1 << 20}}))
      << "the verified first block is kept; only the damaged one is fetched again";
  EXPECT_EQ(ReadRange((*lazy)->OpenPath(), 0, 2 << 20), files_[kBig].substr(0, 2 << 20));
  EXPECT_EQ((*c)->stats().checksum_failures, 1u);
}

TEST_F(LazyContentTest, ThreadsReadingOneBlockFetchItOnce) {
  auto cache = NewCache();
  auto lazy = cache->OpenLazy(EntryOf(kBig), Later());
  ASSERT_TRUE(lazy.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] { EXPECT_TRUE((*lazy)->Ensure(5, 10, Later()).ok()); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(cache->stats().requests, 1u);
}

TEST_F(LazyContentTest, EvictionRemovesAPartialPairRecordFirst) {
  auto cache = NewCache();
  Entry big = EntryOf(kBig);
  auto lazy = cache->OpenLazy(big, Later());
  ASSERT_TRUE(lazy.ok());
  ASSERT_TRUE((*lazy)->Ensure(0, 1, Later()).ok());
  const std::string final_path = cache->PathFor(big.content_hash);
  EXPECT_GT(EvictLeastRecentlyUsed(config_.cache_dirs, 0, 0), 0);
  EXPECT_NE(access((final_path + ".partial").c_str(), F_OK), 0);
  EXPECT_NE(access((final_path + ".blocks").c_str(), F_OK), 0);
  // The process holding the evicted pair keeps reading it; a new instance starts afresh.
  ASSERT_TRUE((*lazy)->Ensure(0, big.size, Later()).ok());
  auto fresh = NewCache();
  auto p = fresh->Materialize(big, *index_, Later());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*ReadFile(Env::Default(), *p), files_[kBig]);
}

TEST_F(LazyContentTest, OpenLazyPathRebuildsFromTheRecord) {
  auto cache = NewCache();
  Entry big = EntryOf(kBig);
  auto lazy = cache->OpenLazy(big, Later());
  ASSERT_TRUE(lazy.ok());
  auto other = NewCache();
  auto again = other->OpenLazyPath((*lazy)->OpenPath());
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE((*again)->Ensure(0, big.size, Later()).ok());
  EXPECT_EQ(*ReadFile(Env::Default(), cache->PathFor(big.content_hash)), files_[kBig]);
  EXPECT_FALSE(NewCache()->OpenLazyPath(tmp_.Sub("nope.partial")).ok());
}

}  // namespace
}  // namespace hfshim

namespace hfshim {
namespace {

// Once armed, holds the parent's Pwrite calls until released; a fork child's go through.
class GatedWriteEnv final : public EnvWrapper {
 public:
  GatedWriteEnv() : EnvWrapper(Env::Default()), parent_(getpid()) {}
  absl::StatusOr<size_t> Pwrite(int fd, const void* b, size_t n, uint64_t o) override {
    if (armed && getpid() == parent_) {
      entered = true;
      while (!released) absl::SleepFor(absl::Milliseconds(1));
    }
    return EnvWrapper::Pwrite(fd, b, n, o);
  }
  std::atomic<bool> armed{false}, entered{false}, released{false};

 private:
  const pid_t parent_;
};

// A fork child (a DataLoader worker) fills a large file whose write lock a parent thread held at
// the fork: after the cache's ResetAfterFork it must not wait for a thread that does not exist.
TEST_F(LazyContentTest, ChildForkedMidWriteCanFillTheSameFile) {
  Entry big = EntryOf(kBig);
  GatedWriteEnv env;
  auto cache = NewCache(&env);
  auto lazy = cache->OpenLazy(big, Later());
  ASSERT_TRUE(lazy.ok()) << lazy.status();
  env.armed = true;
  std::thread writer([&] { (*lazy)->Ensure(0, 1, Later()).IgnoreError(); });
  for (int i = 0; i < 5000 && !env.entered; ++i) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_TRUE(env.entered) << "the fill never wrote";
  const pid_t pid = fork();
  if (pid == 0) {
    cache->ResetAfterFork();
    const bool ok = (*lazy)->Ensure(big.block_size, 1, Later()).ok();
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 500 && done == 0; ++i) {  // up to 5 s
    done = waitpid(pid, &status, WNOHANG);
    if (done == 0) absl::SleepFor(absl::Milliseconds(10));
  }
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  env.released = true;
  writer.join();
  EXPECT_NE(done, 0) << "the child waited for the parent's writer";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace hfshim

namespace hfshim {
namespace {

// An Env whose opens first go through `hook(path, flags)`, which may act on the files (as
// another process would at that moment) and fail the open with a status; OK lets it through.
class OpenHookEnv final : public EnvWrapper {
 public:
  using Hook = std::function<absl::Status(const std::string& path, int flags)>;
  explicit OpenHookEnv(Hook hook) : EnvWrapper(Env::Default()), hook_(std::move(hook)) {}
  absl::StatusOr<int> Open(const std::string& p, int f, mode_t m) override {
    RETURN_IF_ERROR(hook_(p, f));
    return EnvWrapper::Open(p, f, m);
  }

 private:
  const Hook hook_;
};

TEST_F(LazyContentTest, PairPromotedWhileWeWaitedIsNotCreatedAgain) {
  Entry big = EntryOf(kBig);
  const std::string final_path = tmp_.Sub("promoted");
  // Open of a presence record fails as if there were none; the second time, the complete file
  // appears first, as when another process promotes the pair between our check and our open.
  int record_opens = 0;
  OpenHookEnv env([&](const std::string& p, int) {
    if (!absl::EndsWith(p, kRecordSuffix)) return absl::OkStatus();
    if (++record_opens == 2) {
      EXPECT_TRUE(WriteFileAtomic(Env::Default(), final_path, "complete").ok());
    }
    return ErrnoStatus(ENOENT, "open " + p + " (test)");
  });
  auto partial = PartialFile::OpenOrCreate(&env, final_path, big, Later());
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_EQ(*partial, nullptr) << "a new partial pair for content already complete";
  struct stat st;
  EXPECT_FALSE(Env::Default()->Stat(final_path + std::string(kPartialSuffix), &st).ok());
}

TEST_F(LazyContentTest, PairPromotedRightAfterWeCreatedItIsDone) {
  Entry big = EntryOf(kBig);
  const std::string final_path = tmp_.Sub("promoted");
  // Another process opens the pair we just created, fills it and promotes it before our own
  // open of its data file (a 3 MiB file from a local store takes a few milliseconds).
  bool promoted = false;
  OpenHookEnv env([&](const std::string& p, int flags) {
    if (absl::EndsWith(p, kPartialSuffix) && (flags & O_CREAT) == 0 && !promoted) {
      promoted = true;
      EXPECT_EQ(rename(p.c_str(), final_path.c_str()), 0);
      EXPECT_EQ(unlink((final_path + std::string(kRecordSuffix)).c_str()), 0);
    }
    return absl::OkStatus();
  });
  auto partial = PartialFile::OpenOrCreate(&env, final_path, big, Later());
  ASSERT_TRUE(promoted);
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_EQ(*partial, nullptr) << "the content is complete: nothing left to fill";
}

}  // namespace
}  // namespace hfshim
