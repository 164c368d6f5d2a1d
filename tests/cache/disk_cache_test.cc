#include "core/cache/disk_cache.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/hash.h"
#include "core/base/posix_error.h"
#include "core/cache/content_cache.h"
#include "core/env/file_util.h"
#include "core/index/generation.h"
#include "core/index/index_reader.h"
#include "core/push/publisher.h"
#include "core/push/pusher.h"
#include "core/store/local_store.h"
#include "gtest/gtest.h"
#include "tests/cache/cache_fixture.h"
#include "tests/testing/fault_env.h"
#include "tests/testing/temp_dir.h"

namespace hfshim {
namespace {

TEST_F(DiskCacheTest, ColdThenHitReturnsExactBytes) {
  auto cache = NewCache();
  for (const auto& [path, data] : files_) {
    auto p = cache->Materialize(EntryOf(path), *index_, Later());
    ASSERT_TRUE(p.ok()) << path << ": " << p.status();
    EXPECT_EQ(*ReadFile(Env::Default(), *p), data) << path;
  }
  const auto cold = cache->stats();
  for (const auto& [path, data] : files_) {
    ASSERT_TRUE(cache->Materialize(EntryOf(path), *index_, Later()).ok());
  }
  EXPECT_EQ(cache->stats().requests, cold.requests) << "hits must not touch the store";
}

// OpenCached gives close-on-exec only when asked (the program's open flags pass through).
TEST_F(DiskCacheTest, OpenCachedKeepsTheCallersCloseOnExec) {
  auto cache = NewCache();
  const Entry e = EntryOf("datasets--o--d/snapshots/r/f1003");
  EXPECT_TRUE(absl::IsNotFound(cache->OpenCached(e.content_hash, 0).status()));
  ASSERT_TRUE(cache->Materialize(e, *index_, Later()).ok());
  for (int cloexec : {0, O_CLOEXEC}) {
    auto fd = cache->OpenCached(e.content_hash, cloexec);
    ASSERT_TRUE(fd.ok()) << fd.status();
    EXPECT_EQ((fcntl(*fd, F_GETFD) & FD_CLOEXEC) != 0, cloexec != 0) << cloexec;
    close(*fd);
  }
}

TEST_F(DiskCacheTest, OnePackFetchFillsTheNeighbours) {
  auto cache = NewCache();
  ASSERT_TRUE(
      cache->Materialize(EntryOf("datasets--o--d/snapshots/r/f1000"), *index_, Later()).ok());
  EXPECT_EQ(cache->stats().requests, 1u);
  cache->Drain();  // the neighbours are written in the background
  EXPECT_GT(cache->stats().neighbours_filled, 100u);
  EXPECT_TRUE(cache->Contains(EntryOf("datasets--o--d/snapshots/r/f1150").content_hash));
}

// Bytes this process has passed to write calls (/proc/self/io, all threads).
uint64_t BytesWritten() {
  std::ifstream io("/proc/self/io");
  std::string key;
  uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "wchar:") return value;
  }
  return 0;
}

TEST_F(DiskCacheTest, AWindowIsSharedWithOtherProcessesWithoutACopyOnDisk) {
  auto cache = NewCache();
  const uint64_t before = BytesWritten();
  ASSERT_TRUE(
      cache->Materialize(EntryOf("datasets--o--d/snapshots/r/f1000"), *index_, Later()).ok());
  cache->Drain();
  ASSERT_GT(cache->stats().neighbours_filled, 100u) << "the members were written";
  // Each member is written once; the window's bytes, offered to other processes while the
  // members are written, are not written a second time (they were: a window file).
  EXPECT_LT(BytesWritten() - before, cache->stats().bytes_fetched * 11 / 10);
}

TEST_F(DiskCacheTest, NeighboursWrittenInTheBackgroundAreCompleteAndVerified) {
  auto cache = NewCache();
  ASSERT_TRUE(
      cache->Materialize(EntryOf("datasets--o--d/snapshots/r/f1000"), *index_, Later()).ok());
  // Other threads open neighbours while the writers work: each gets its exact bytes.
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 1001 + t; k < 1200; k += 4) {
        const std::string path = absl::StrCat("datasets--o--d/snapshots/r/f", k);
        auto p = cache->Materialize(EntryOf(path), *index_, Later());
        if (!p.ok() || *ReadFile(Env::Default(), *p) != files_[path]) ++bad;
      }
    });
  }
  for (auto& t : threads) t.join();
  cache->Drain();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(cache->stats().requests, 1u) << "the window is fetched once";
  int cached = 0;
  for (const auto& [path, data] : files_) {
    const Entry e = EntryOf(path);
    if (!cache->Contains(e.content_hash)) continue;
    ++cached;
    EXPECT_TRUE(cache->Verify(e).ok()) << path;
  }
  EXPECT_GT(cached, 100);
}

// The dataset's files grouped by pack window, for windows of `block` bytes.
std::map<uint64_t, std::vector<std::string>> FilesByWindow(
    const std::map<std::string, std::string>& files,
    const std::function<Entry(const std::string&)>& entry_of, uint64_t block) {
  std::map<uint64_t, std::vector<std::string>> windows;
  for (const auto& [path, data] : files) {
    if (path.find("datasets--") != 0) continue;
    windows[entry_of(path).location.offset / block].push_back(path);
  }
  return windows;
}

TEST_F(DiskCacheTest, DenseReaderPrefetchesTheNextWindowsOfThePack) {
  config_.block_size_bytes = 64 << 10;  // windows of 64 KiB: about a dozen in the pack
  config_.threads = 4;
  auto windows = FilesByWindow(
      files_, [&](const std::string& p) { return EntryOf(p); }, config_.block_size_bytes);
  ASSERT_GT(windows.size(), 8u);
  auto cache = NewCache();
  auto it = windows.begin();
  for (int w = 0; w < 3; ++w, ++it) {  // one file of each of the first three windows
    ASSERT_TRUE(cache->Materialize(EntryOf(it->second.front()), *index_, Later()).ok());
  }
  cache->Drain();
  EXPECT_EQ(cache->stats().requests, 3u + config_.threads) << "the next 4 windows, once each";
  for (int w = 0; w < config_.threads; ++w, ++it) {
    for (const std::string& path : it->second) {
      ASSERT_TRUE(cache->Contains(EntryOf(path).content_hash)) << path;
      EXPECT_TRUE(cache->Verify(EntryOf(path)).ok()) << path;
    }
  }
  EXPECT_FALSE(cache->Contains(EntryOf(it->second.front()).content_hash)) << "and no further";
}

TEST_F(DiskCacheTest, PrefetchSkipsAWindowAnotherProcessHasInFlight) {
  config_.block_size_bytes = 64 << 10;
  config_.threads = 4;
  auto windows = FilesByWindow(
      files_, [&](const std::string& p) { return EntryOf(p); }, config_.block_size_bytes);
  auto cache = NewCache();
  auto it = windows.begin();
  std::advance(it, 3);
  // Another process fetched window 3 and keeps its bytes in the window file (FORMAT.md) while its
  // writers work: its first file is not cached yet.
  const Entry in_flight = EntryOf(it->second.front());
  const uint64_t start =
      in_flight.location.offset / config_.block_size_bytes * config_.block_size_bytes;
  const std::string window_file =
      cache->PathFor(ContentHash(absl::StrCat(in_flight.location.object_key, "@", start))) +
      ".window";
  ASSERT_TRUE(MakeDirs(Env::Default(), window_file.substr(0, window_file.rfind('/'))).ok());
  std::ofstream(window_file) << "in flight elsewhere";
  it = windows.begin();
  for (int w = 0; w < 3; ++w, ++it) {
    ASSERT_TRUE(cache->Materialize(EntryOf(it->second.front()), *index_, Later()).ok());
  }
  cache->Drain();
  EXPECT_EQ(cache->stats().requests, 3u + config_.threads - 1) << "windows 4-6, not 3";
  EXPECT_FALSE(cache->Contains(in_flight.content_hash));
}

// A window link names another process's fd; a killed publisher's pid may be reused by a process
// whose fd there is a FIFO or a device. Such a target is never opened (a FIFO's open would block
// for ever): the reader fetches the window itself.
TEST_F(DiskCacheTest, AWindowLinkToSomethingElseThanAFileIsNotOpened) {
  const Entry wanted = EntryOf("datasets--o--d/snapshots/r/f1000");
  const uint64_t start =
      wanted.location.offset / config_.block_size_bytes * config_.block_size_bytes;
  auto cache = NewCache();
  const std::string window_link =
      cache->PathFor(ContentHash(absl::StrCat(wanted.location.object_key, "@", start))) + ".window";
  ASSERT_TRUE(MakeDirs(Env::Default(), window_link.substr(0, window_link.rfind('/'))).ok());
  ASSERT_EQ(mkfifo(tmp_.Sub("fifo").c_str(), 0600), 0);
  ASSERT_EQ(symlink(tmp_.Sub("fifo").c_str(), window_link.c_str()), 0);
  pid_t pid = fork();
  if (pid == 0) {
    auto p = cache->Materialize(wanted, *index_, Later());
    _exit(p.ok() && *ReadFile(Env::Default(), *p) == files_["datasets--o--d/snapshots/r/f1000"]
              ? 0
              : 1);
  }
  ASSERT_GT(pid, 0);
  int status = -1;
  for (int i = 0; i < 1000 && waitpid(pid, &status, WNOHANG) == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  if (status == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "the reader hung opening the FIFO behind the window link";
  }
  EXPECT_EQ(status, 0) << "the file is fetched and exact";
}

TEST_F(DiskCacheTest, SparseReaderDoesNotPrefetch) {
  config_.block_size_bytes = 64 << 10;
  auto windows = FilesByWindow(
      files_, [&](const std::string& p) { return EntryOf(p); }, config_.block_size_bytes);
  auto cache = NewCache();
  auto it = windows.begin();
  for (int w = 0; w < 2; ++w, ++it) {
    ASSERT_TRUE(cache->Materialize(EntryOf(it->second.front()), *index_, Later()).ok());
  }
  cache->Drain();
  EXPECT_EQ(cache->stats().requests, 2u);
}

TEST_F(DiskCacheTest, DestroyingTheCacheWhileWritersRunLeavesOnlyCompleteFiles) {
  for (int round = 0; round < 5; ++round) {
    config_.cache_dirs = {tmp_.Sub(absl::StrCat("stop", round))};
    auto cache = NewCache();
    ASSERT_TRUE(
        cache->Materialize(EntryOf("datasets--o--d/snapshots/r/f1000"), *index_, Later()).ok());
    cache.reset();  // stops the writers mid-window
    auto again = NewCache();
    for (const auto& [path, data] : files_) {
      const Entry e = EntryOf(path);
      if (again->Contains(e.content_hash)) {
        EXPECT_TRUE(again->Verify(e).ok()) << path;
      }
    }
  }
}

TEST_F(DiskCacheTest, ChildForkedWhileWritersRunReadsItsFiles) {
  auto cache = NewCache();
  ASSERT_TRUE(
      cache->Materialize(EntryOf("datasets--o--d/snapshots/r/f1000"), *index_, Later()).ok());
  pid_t pid = fork();  // the writers may be mid-window
  if (pid == 0) {
    cache->ResetAfterFork();
    bool ok = true;
    for (int k = 1001; k < 1200; k += 3) {
      const std::string path = absl::StrCat("datasets--o--d/snapshots/r/f", k);
      auto p = cache->Materialize(EntryOf(path), *index_, absl::Now() + absl::Seconds(20));
      ok &= p.ok() && *ReadFile(Env::Default(), *p) == files_[path];
    }
    cache->Drain();
    _exit(ok ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  cache->Drain();
}

// Forks in the middle of background window fills and prefetches, with the shim's atfork
// protocol (LockForFork before, ResetAfterFork in the child): every child finds whole maps and
// serves its files. Without the fork-held locks a child could crash on a map a parent thread was
// changing.
TEST_F(DiskCacheTest, ForksDuringBackgroundFillsGiveWorkingChildren) {
  auto cache = NewCache();
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    for (int k = 1000; !stop && k < 1200; ++k) {
      (void)cache->Materialize(EntryOf(absl::StrCat("datasets--o--d/snapshots/r/f", k)), *index_,
                               Later());
    }
  });
  for (int round = 0; round < 12; ++round) {
    cache->LockForFork();
    const pid_t pid = fork();
    if (pid == 0) {
      cache->ResetAfterFork();
      bool ok = true;
      for (int k = 1003 + round; k < 1200; k += 37) {
        const std::string path = absl::StrCat("datasets--o--d/snapshots/r/f", k);
        auto p = cache->Materialize(EntryOf(path), *index_, absl::Now() + absl::Seconds(20));
        ok &= p.ok() && *ReadFile(Env::Default(), *p) == files_[path];
      }
      cache->Drain();
      _exit(ok ? 0 : 1);
    }
    cache->UnlockAfterFork();
    ASSERT_GT(pid, 0);
    int status = 0;
    pid_t done = 0;
    for (int waited_ms = 0; waited_ms < 60000 && done == 0; waited_ms += 10) {
      done = waitpid(pid, &status, WNOHANG);
      if (done == 0) absl::SleepFor(absl::Milliseconds(10));
    }
    if (done == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
    EXPECT_TRUE(done == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "round " << round << ": child " << (done == 0 ? "hung" : "failed") << ", status "
        << status;
    absl::SleepFor(absl::Milliseconds(2 * round));
  }
  stop = true;
  reader.join();
  cache->Drain();
}

TEST_F(DiskCacheTest, KilledWindowFillLeavesNoTornContentAndIsRedone) {
  for (int round = 0; round < 5; ++round) {
    config_.cache_dirs = {tmp_.Sub(absl::StrCat("killed", round))};
    pid_t pid = fork();
    if (pid == 0) {
      auto c = ContentCache::Create(config_, store_.get(), Env::Default());
      (void)(*c)->Materialize(EntryOf("datasets--o--d/snapshots/r/f1000"), *index_, Later());
      _exit(0);  // writers killed mid-window, window file left behind
    }
    ASSERT_GT(pid, 0);
    if (round > 0) absl::SleepFor(absl::Microseconds(500 * round));
    if (round > 0) kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    auto cache = NewCache();
    for (const auto& [path, data] : files_) {
      const Entry e = EntryOf(path);
      if (cache->Contains(e.content_hash)) {
        EXPECT_TRUE(cache->Verify(e).ok()) << path;
      }
    }
    for (int k = 1000; k < 1200; k += 11) {
      const std::string path = absl::StrCat("datasets--o--d/snapshots/r/f", k);
      auto p = cache->Materialize(EntryOf(path), *index_, Later());
      ASSERT_TRUE(p.ok()) << p.status();
      EXPECT_EQ(*ReadFile(Env::Default(), *p), files_[path]);
    }
    cache->Drain();
  }
}

TEST_F(DiskCacheTest, LargeFileIsFetchedInVerifiedBlocks) {
  auto cache = NewCache();
  auto p = cache->Materialize(EntryOf("models--o--m/snapshots/r/big.bin"), *index_, Later());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(cache->stats().requests, 3u);  // 3 MiB in 1 MiB blocks
  EXPECT_TRUE(*ReadFile(Env::Default(), *p) == files_["models--o--m/snapshots/r/big.bin"]);
}

TEST_F(DiskCacheTest, CorruptStoreObjectIsDataLossAndNothingIsCached) {
  Entry big = EntryOf("models--o--m/snapshots/r/big.bin");
  const std::string obj = tmp_.Sub("store/") + big.location.object_key;
  std::fstream f(obj, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(1500000);
  f.put('X');
  f.close();
  auto cache = NewCache();
  auto p = cache->Materialize(big, *index_, Later());
  EXPECT_TRUE(absl::IsDataLoss(p.status())) << p.status();
  EXPECT_FALSE(cache->Contains(big.content_hash));
  EXPECT_EQ(cache->stats().checksum_failures, 3u);  // retried, never returned
}

TEST_F(DiskCacheTest, MissingObjectIsNotFound) {
  Entry big = EntryOf("models--o--m/snapshots/r/big.bin");
  ASSERT_EQ(unlink((tmp_.Sub("store/") + big.location.object_key).c_str()), 0);
  auto p = NewCache()->Materialize(big, *index_, Later());
  EXPECT_EQ(StatusToErrno(p.status()), ENOENT) << p.status();
}

TEST_F(DiskCacheTest, VerifyDropsACorruptCacheFile) {
  auto cache = NewCache();
  Entry big = EntryOf("models--o--m/snapshots/r/big.bin");
  auto p = cache->Materialize(big, *index_, Later());
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(cache->Verify(big).ok());
  {
    std::fstream f(*p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(10);
    f.put('Z');
  }
  EXPECT_TRUE(absl::IsDataLoss(cache->Verify(big)));
  EXPECT_FALSE(cache->Contains(big.content_hash));
  p = cache->Materialize(big, *index_, Later());  // fetched again, right bytes
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(*ReadFile(Env::Default(), *p) == files_["models--o--m/snapshots/r/big.bin"]);
}

TEST_F(DiskCacheTest, ThreadsMissingTogetherFetchOnce) {
  auto cache = NewCache();
  Entry big = EntryOf("models--o--m/snapshots/r/big.bin");
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      auto p = cache->Materialize(big, *index_, Later());
      if (!p.ok()) ++bad;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(cache->stats().requests, 3u);
}

TEST_F(DiskCacheTest, ProcessesMissingTogetherFetchOnce) {
  Entry big = EntryOf("models--o--m/snapshots/r/big.bin");
  // Each byte once; how many GETs carry them depends on how the processes' fills interleave
  // (a process holding contiguous blocks fetches them in one GET).
  const Fetched f = FetchesOfProcessesMaterializing([&](int) { return big; });
  EXPECT_EQ(f.bytes, files_["models--o--m/snapshots/r/big.bin"].size())
      << "each block of the file is fetched by one process only";
  EXPECT_LE(f.requests, 3u);
}

// Holds the reads of one process until released, then fails them; other processes (fork
// children) read the real store.
class GatedStore final : public ObjectStore {
 public:
  explicit GatedStore(ObjectStore* real) : real_(real), gated_pid_(getpid()) {}
  absl::Status GetRange(absl::string_view key, uint64_t offset, uint64_t length, std::string* out,
                        absl::Time deadline) override {
    if (getpid() != gated_pid_) return real_->GetRange(key, offset, length, out, deadline);
    entered = true;
    while (!released) absl::SleepFor(absl::Milliseconds(1));
    return absl::UnavailableError("store down (test)");
  }
  absl::StatusOr<ObjectInfo> Head(absl::string_view key, absl::Time deadline) override {
    return real_->Head(key, deadline);
  }
  absl::Status Put(absl::string_view key, absl::string_view data, absl::Time deadline) override {
    return real_->Put(key, data, deadline);
  }
  absl::Status PutFile(absl::string_view key, const std::string& local_path,
                       absl::Time deadline) override {
    return real_->PutFile(key, local_path, deadline);
  }
  absl::Status PutIfAbsent(absl::string_view key, absl::string_view data,
                           absl::Time deadline) override {
    return real_->PutIfAbsent(key, data, deadline);
  }
  absl::StatusOr<std::vector<ObjectInfo>> List(absl::string_view prefix,
                                               absl::Time deadline) override {
    return real_->List(prefix, deadline);
  }
  std::string Describe() const override { return "gated " + real_->Describe(); }
  std::atomic<bool> entered{false}, released{false};

 private:
  ObjectStore* const real_;
  const pid_t gated_pid_;
};

TEST_F(DiskCacheTest, ChildForkedDuringAFillDoesNotInheritTheFillLock) {
  GatedStore gated(store_.get());
  auto c = ContentCache::Create(config_, &gated, Env::Default());
  ASSERT_TRUE(c.ok());
  ContentCache* cache = c->get();
  Entry big = EntryOf("models--o--m/snapshots/r/big.bin");
  std::thread filler([&] { EXPECT_FALSE(cache->Materialize(big, *index_, Later()).ok()); });
  while (!gated.entered) absl::SleepFor(absl::Milliseconds(1));  // the fill holds the lock
  int pipes[2];
  ASSERT_EQ(pipe(pipes), 0);
  pid_t pid = fork();
  if (pid == 0) {
    cache->ResetAfterFork();
    auto p = cache->Materialize(big, *index_, absl::Now() + absl::Seconds(20));
    char ok = p.ok() && *ReadFile(Env::Default(), *p) == files_["models--o--m/snapshots/r/big.bin"];
    if (write(pipes[1], &ok, 1) != 1) _exit(2);
    _exit(0);
  }
  ASSERT_GT(pid, 0);
  close(pipes[1]);  // a child that dies without answering reads as EOF, not as a hang
  absl::SleepFor(absl::Milliseconds(50));
  gated.released = true;  // the parent's fill fails and releases its lock
  filler.join();
  char ok = 0;
  struct pollfd answer {
    pipes[0], POLLIN, 0
  };
  const bool answered = poll(&answer, 1, /*timeout_ms=*/60000) == 1;
  if (!answered) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(answered) << "the child hung (killed)";
  ASSERT_EQ(read(pipes[0], &ok, 1), 1) << "the child died without answering, status " << status;
  close(pipes[0]);
  EXPECT_TRUE(ok) << "the child waits for the parent's fill only, then fetches itself";
}

// Hits refresh the LRU clock (mtime) of content unused for an hour or more, and leave recently
// refreshed content alone: no utimensat on every warm open.
TEST_F(DiskCacheTest, HitsRefreshTheLruClockAtMostHourly) {
  auto cache = NewCache();
  const Entry e = EntryOf("datasets--o--d/snapshots/r/f1000");
  auto p = cache->Materialize(e, *index_, Later());
  ASSERT_TRUE(p.ok()) << p.status();
  auto mtime_after_hit = [&](absl::Duration age) {
    const timespec then = absl::ToTimespec(absl::Now() - age);
    const timespec times[2] = {then, then};
    EXPECT_EQ(utimensat(AT_FDCWD, p->c_str(), times, 0), 0);
    EXPECT_TRUE(cache->Materialize(e, *index_, Later()).ok());
    struct stat st;
    EXPECT_EQ(stat(p->c_str(), &st), 0);
    return absl::Now() - absl::TimeFromTimespec(st.st_mtim);
  };
  EXPECT_LT(mtime_after_hit(absl::Hours(2)), absl::Minutes(1)) << "stale content is refreshed";
  const absl::Duration kept = mtime_after_hit(absl::Minutes(10));
  EXPECT_GT(kept, absl::Minutes(9)) << "recently used content is not touched again";
}

TEST_F(DiskCacheTest, DiskFullIsResourceExhaustedAndLeavesNoPartialFile) {
  FaultInjectingEnv env;
  auto cache = NewCache(&env);
  env.FailWritesAfter(1, ENOSPC);
  Entry big = EntryOf("models--o--m/snapshots/r/big.bin");
  auto p = cache->Materialize(big, *index_, Later());
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(StatusToErrno(p.status()), ENOSPC);
  EXPECT_NE(p.status().message().find("HFSHIM_CACHE_SIZE"), absl::string_view::npos);
  EXPECT_FALSE(cache->Contains(big.content_hash));
  env.Reset();
  EXPECT_TRUE(cache->Materialize(big, *index_, Later()).ok());
}

TEST_F(DiskCacheTest, EvictionKeepsTheCacheUnderItsLimit) {
  auto cache = NewCache();
  for (const auto& [path, data] : files_) {
    ASSERT_TRUE(cache->Materialize(EntryOf(path), *index_, Later()).ok());
  }
  const std::string big = cache->PathFor(EntryOf("models--o--m/snapshots/r/big.bin").content_hash);
  struct timespec old[2] = {{1000, 0}, {1000, 0}};  // least recently used
  ASSERT_EQ(utimensat(AT_FDCWD, big.c_str(), old, 0), 0);
  int deleted = EvictLeastRecentlyUsed(config_.cache_dirs, 1 << 20, 0);
  EXPECT_GT(deleted, 0);
  EXPECT_FALSE(cache->Contains(EntryOf("models--o--m/snapshots/r/big.bin").content_hash))
      << "the least recently used file goes first";
  uint64_t total = 0;
  int left = 0;
  for (const auto& [path, data] : files_) {
    struct stat st;
    if (stat(cache->PathFor(EntryOf(path).content_hash).c_str(), &st) == 0) {
      total += st.st_blocks * 512;
      ++left;
    }
  }
  EXPECT_LE(total, 1u << 20);
  EXPECT_GT(left, 0) << "only as much as needed is evicted";
  EXPECT_EQ(EvictLeastRecentlyUsed(config_.cache_dirs, 1 << 20, 0), 0) << "already under";
}

TEST_F(DiskCacheTest, AFileSystemShortOfSpaceDoesNotTakeWhatWasJustFetched) {
  // A free ratio no file system meets (all of it, while the test's files are there), as when
  // other data fills the disk. Evicting everything would remove each fill before its open
  // (opens failed with ENOENT); recent content is kept.
  auto cache = NewCache();
  for (const auto& [path, data] : files_) {
    ASSERT_TRUE(cache->Materialize(EntryOf(path), *index_, Later()).ok());
  }
  const std::string big = cache->PathFor(EntryOf("models--o--m/snapshots/r/big.bin").content_hash);
  struct timespec old[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, big.c_str(), old, 0), 0);
  bool over = false;
  EXPECT_EQ(EvictLeastRecentlyUsed(config_.cache_dirs, 1ull << 40, 1.0, absl::Minutes(1), &over),
            1);
  EXPECT_TRUE(over) << "still short of space: said so";
  EXPECT_FALSE(cache->Contains(EntryOf("models--o--m/snapshots/r/big.bin").content_hash));
  for (const auto& [path, data] : files_) {
    if (path == "models--o--m/snapshots/r/big.bin") continue;
    EXPECT_TRUE(cache->Contains(EntryOf(path).content_hash)) << path << " was just fetched";
  }
  // HFSHIM_CACHE_SIZE, which the cache alone fills, still evicts recent content.
  EXPECT_GT(EvictLeastRecentlyUsed(config_.cache_dirs, 1, 0, absl::Minutes(1), &over), 0);
}

TEST_F(DiskCacheTest, LeftoversOfKilledFillsAreRemovedAndLockFilesDoNotPileUp) {
  auto cache = NewCache();
  Entry big = EntryOf("models--o--m/snapshots/r/big.bin");
  const std::string path = cache->PathFor(big.content_hash);
  ASSERT_TRUE(cache->Materialize(big, *index_, Later()).ok());
  EXPECT_NE(access((path + ".lock").c_str(), F_OK), 0) << "lock file removed once filled";
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  ASSERT_GT(dead, 0);
  waitpid(dead, nullptr, 0);
  const std::string dead_tmp = absl::StrCat(path, "x.tmp.", dead, ".0");
  const std::string live_tmp = absl::StrCat(path, "y.tmp.", getpid(), ".0");
  std::ofstream(dead_tmp) << "partial";
  std::ofstream(live_tmp) << "partial";
  // Window links (FORMAT.md): one into a dead process, one into this one, and a temp link.
  const std::string dead_window = path + "d.window";
  const std::string live_window = path + "l.window";
  const std::string dead_tmp_link = absl::StrCat(path, "z.window.tmp.", dead, ".0");
  const std::string fifo_window = path + "f.window";  // a reused pid's fd, not a memory file
  ASSERT_EQ(mkfifo(tmp_.Sub("fifo").c_str(), 0600), 0);
  ASSERT_EQ(symlink(tmp_.Sub("fifo").c_str(), fifo_window.c_str()), 0);
  ASSERT_EQ(symlink(absl::StrCat("/proc/", dead, "/fd/0").c_str(), dead_window.c_str()), 0);
  const int live_fd = open(live_tmp.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(live_fd, 0);
  ASSERT_EQ(symlink(absl::StrCat("/proc/", getpid(), "/fd/", live_fd).c_str(), live_window.c_str()),
            0);
  ASSERT_EQ(symlink(absl::StrCat("/proc/", dead, "/fd/0").c_str(), dead_tmp_link.c_str()), 0);
  EvictLeastRecentlyUsed(config_.cache_dirs, 1ull << 40, 0);
  EXPECT_NE(access(dead_tmp.c_str(), F_OK), 0) << "temp file of a dead process is garbage";
  EXPECT_EQ(access(live_tmp.c_str(), F_OK), 0) << "a live process's fill is left alone";
  struct stat st;
  EXPECT_NE(lstat(dead_window.c_str(), &st), 0) << "a window link of a dead process is garbage";
  EXPECT_NE(lstat(dead_tmp_link.c_str(), &st), 0) << "so is its temp link";
  EXPECT_NE(lstat(fifo_window.c_str(), &st), 0) << "and a link to something else than a file";
  EXPECT_EQ(lstat(live_window.c_str(), &st), 0) << "a live process's window is left alone";
  close(live_fd);
  EXPECT_TRUE(cache->Contains(big.content_hash));
}

TEST_F(DiskCacheTest, SharedWritableCacheDirIsRefused) {
  ASSERT_TRUE(MakeDirs(Env::Default(), tmp_.Sub("shared")).ok());
  ASSERT_EQ(chmod(tmp_.Sub("shared").c_str(), 0777), 0);
  config_.cache_dirs = {tmp_.Sub("shared")};
  auto c = ContentCache::Create(config_, store_.get(), Env::Default());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("writable by other users"), absl::string_view::npos);
}

TEST_F(DiskCacheTest, BulkFillCoalescesContiguousBlocksIntoOneGet) {
  config_.threads = 1;  // one worker: the whole 3-block file is one run
  auto cache = NewCache();
  Entry big = EntryOf("models--o--m/snapshots/r/big.bin");
  auto p = cache->Materialize(big, *index_, Later());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(cache->stats().requests, 1u);
  EXPECT_EQ(*ReadFile(Env::Default(), *p), files_["models--o--m/snapshots/r/big.bin"])
      << "every block verified and written";
  config_.threads = 4;  // more workers than blocks: one GET per block keeps them all busy
  config_.cache_dirs = {tmp_.Sub("cache3")};
  auto parallel = NewCache();
  ASSERT_TRUE(parallel->Materialize(big, *index_, Later()).ok());
  EXPECT_EQ(parallel->stats().requests, 3u);
}

TEST_F(DiskCacheTest, ProcessesMissingNeighboursFetchTheirWindowOnce) {
  // Four processes want four different small files of one pack window at once.
  EXPECT_EQ(FetchesOfProcessesMaterializing([&](int k) {
              return EntryOf(absl::StrCat("datasets--o--d/snapshots/r/f", 1010 + k * 7));
            }).requests,
            1u)
      << "one window GET serves all four processes";
}

}  // namespace
}  // namespace hfshim
