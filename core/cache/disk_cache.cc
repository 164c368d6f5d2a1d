#include "core/cache/disk_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/base/log.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"
#include "core/cache/block_fetcher.h"
#include "core/cache/byte_budget.h"
#include "core/cache/content_cache.h"
#include "core/cache/lazy_content.h"
#include "core/cache/lock_file.h"
#include "core/cache/pack_filler.h"
#include "core/cache/partial_file.h"
#include "core/cache/single_flight.h"
#include "core/env/file_util.h"
#include "core/stats/stats.h"

namespace hfshim {
namespace {

constexpr uint64_t kMinBuffer = 1 << 20;
constexpr uint64_t kDefaultBuffer = 64 << 20;  // a Config built without LoadConfig
constexpr absl::Duration kEvictionPeriod = absl::Seconds(5);
// A hit refreshes the content's mtime (the LRU clock of eviction) at most this often: an epoch of
// training that reopens every file would otherwise pay a utimensat per open once the previous
// touch is older than the interval (it was 60 s: every open of every epoch longer than a minute).
constexpr int64_t kTouchAfterSeconds = 3600;
// Content written or used this recently is never evicted (EvictLeastRecentlyUsed).
constexpr absl::Duration kKeepRecent = absl::Minutes(1);

class DiskCache final : public ContentCache, public PackFiller::Cache {
 public:
  DiskCache(const Config& config, ObjectStore* store, Env* env)
      : config_(config),
        env_(env),
        fetcher_(store, std::max<uint64_t>(config.block_size_bytes, 1)),
        budget_(config.buffer_size_bytes == 0
                    ? kDefaultBuffer
                    : std::max<uint64_t>(config.buffer_size_bytes, kMinBuffer)),
        packs_(config_, env, &fetcher_, &budget_, this) {}

  absl::Status Init() {
    for (const std::string& dir : config_.cache_dirs) RETURN_IF_ERROR(PrepareCacheDir(env_, dir));
    content_fds_.reset(new std::atomic<int>[config_.cache_dirs.size()]);
    for (size_t i = 0; i < config_.cache_dirs.size(); ++i) content_fds_[i] = -1;
    return absl::OkStatus();
  }

  ~DiskCache() override {
    for (size_t i = 0; content_fds_ && i < config_.cache_dirs.size(); ++i) {
      if (content_fds_[i] >= 0) close(content_fds_[i]);
    }
  }

  absl::StatusOr<int> OpenCached(const Hash128& hash, int flags) override {
    // "<xx>/<hash>" relative to the content directory's fd: a two-component lookup for the
    // kernel instead of the whole cache path.
    char rel[3 + Hash128::kHexChars + 1];
    hash.HexTo(rel + 3);
    rel[0] = rel[3];
    rel[1] = rel[4];
    rel[2] = '/';
    rel[sizeof(rel) - 1] = '\0';
    const size_t dir = hash.lo % config_.cache_dirs.size();
    int dir_fd = content_fds_[dir].load(std::memory_order_relaxed);
    if (dir_fd < 0) dir_fd = OpenContentDir(dir);
    if (dir_fd >= 0) {
      const int fd = openat(dir_fd, rel, O_RDONLY | flags);
      if (fd >= 0) return fd;
      // ENOENT in a removed directory (rm -rf of the cache under us) finds nothing ever again.
      const bool missing = errno == ENOENT;
      const bool removed = missing && DirectoryRemoved(dir_fd);
      if (missing && !removed) return absl::NotFoundError("not cached");
      // The fd is no use any more: closed by the program (e.g. closerange; the number may be
      // someone else's now, so it stays open) or on a removed directory (ours to close, once).
      int expected = dir_fd;
      if (content_fds_[dir].compare_exchange_strong(expected, -1) && removed) close(dir_fd);
    }
    // The full path, and a fresh directory fd for next time.
    const std::string path = PathFor(hash);
    const int fd = open(path.c_str(), O_RDONLY | flags);
    if (fd >= 0) return fd;
    return ErrnoStatus(errno, "open " + path);
  }

  std::string PathFor(const Hash128& hash) const override {
    const std::string hex = hash.Hex();
    const std::string& dir = config_.cache_dirs[hash.lo % config_.cache_dirs.size()];
    return absl::StrCat(dir, "/content/", hex.substr(0, 2), "/", hex);
  }

  bool Contains(const Hash128& hash) const override {
    struct stat st;
    return env_->Stat(PathFor(hash), &st).ok();
  }

  absl::StatusOr<std::string> Materialize(const Entry& entry, const IndexReader& index,
                                          absl::Time deadline, bool* fetched) override {
    if (fetched != nullptr) *fetched = false;
    if (FilledByBlocks(entry)) return MaterializeBlocks(entry, deadline, fetched);  // its own stat
    const std::string path = PathFor(entry.content_hash);
    struct stat st;
    if (env_->Stat(path, &st).ok() && static_cast<uint64_t>(st.st_size) == entry.size) {
      Hit(path, st, entry.size);
      return path;
    }
    if (fetched != nullptr) *fetched = true;
    bool led = false;
    absl::Status s = flights_.Do(
        entry.content_hash, deadline,
        [&] { return FillAcrossProcesses(entry, index, path, deadline); }, &led);
    if (!s.ok()) return s;
    if (led) MaybeEvict();
    return path;
  }

  absl::Status Verify(const Entry& entry) override {
    const std::string path = PathFor(entry.content_hash);
    auto data = ReadFile(env_, path);
    if (!data.ok()) return data.status();
    absl::Status s = fetcher_.CheckBlocks(entry, *data, 0);
    if (!s.ok() || data->size() != entry.size) {
      env_->Unlink(path).IgnoreError();
      return absl::DataLossError(absl::StrCat("cached content ", entry.content_hash.Hex(),
                                              " was corrupt and has been removed"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::shared_ptr<LazyContent>> OpenLazy(const Entry& entry,
                                                        absl::Time deadline) override {
    const std::string path = PathFor(entry.content_hash);
    struct stat st;
    if (env_->Stat(path, &st).ok() && static_cast<uint64_t>(st.st_size) == entry.size) {
      Hit(path, st, entry.size);
      return std::make_shared<LazyContent>(path, nullptr, &fetcher_, &budget_, Parallel(),
                                           AfterFill());
    }
    std::lock_guard<std::mutex> open_lock(open_mu_);  // one PartialFile per content per process
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = lazies_.find(entry.content_hash);
      if (it != lazies_.end()) {
        std::shared_ptr<LazyContent> live = it->second.lock();
        // Its file evicted since (by the size limit or another process; fds open on it still
        // read it): a new fill, as on a first miss.
        if (live != nullptr && env_->Stat(live->OpenPath(), &st).ok()) return live;
        lazies_.erase(it);
      }
    }
    RETURN_IF_ERROR(MakeDirs(env_, path.substr(0, path.rfind('/')), 0700));
    ASSIGN_OR_RETURN(std::unique_ptr<PartialFile> partial,
                     PartialFile::OpenOrCreate(env_, path, entry, deadline));
    if (partial == nullptr) {  // completed by another process meanwhile
      return std::make_shared<LazyContent>(path, nullptr, &fetcher_, &budget_, Parallel(),
                                           AfterFill());
    }
    auto lazy = std::make_shared<LazyContent>(path, std::move(partial), &fetcher_, &budget_,
                                              Parallel(), AfterFill());
    std::lock_guard<std::mutex> lock(mu_);
    lazies_[entry.content_hash] = lazy;
    return lazy;
  }

  absl::StatusOr<std::shared_ptr<LazyContent>> OpenLazyPath(const std::string& data_path) override {
    ASSIGN_OR_RETURN(std::unique_ptr<PartialFile> partial,
                     PartialFile::OpenExisting(env_, data_path));
    const std::string path = PathFor(partial->entry().content_hash);
    if (path + std::string(kPartialSuffix) != data_path) {
      return absl::NotFoundError(data_path + " is not partial content of this cache");
    }
    return std::make_shared<LazyContent>(path, std::move(partial), &fetcher_, &budget_, Parallel(),
                                         AfterFill());
  }

  void LockForFork() override {
    packs_.LockForFork();
    mu_.lock();
  }

  void UnlockAfterFork() override {
    mu_.unlock();
    packs_.UnlockAfterFork();
  }

  void ResetAfterFork() override {
    // Single-threaded child: the parent's flights belong to threads that do not exist here. The
    // maps are whole when LockForFork preceded the fork (the shim's atfork handlers).
    new (&mu_) std::mutex();
    new (&open_mu_) std::mutex();
    flights_.ResetAfterFork();
    packs_.ResetAfterFork();
    budget_.ResetAfterFork();
    for (auto& [hash, weak] : lazies_) {
      if (std::shared_ptr<LazyContent> live = weak.lock()) live->ResetAfterFork();
    }
  }

  void Drain() override { packs_.Drain(); }

  Stats stats() const override {
    Stats s;
    s.hits = hits_;
    s.misses = misses_;
    s.requests = fetcher_.requests();
    s.bytes_fetched = fetcher_.bytes_fetched();
    s.checksum_failures = fetcher_.checksum_failures();
    s.neighbours_filled = packs_.neighbours();
    s.evictions = evictions_;
    return s;
  }

 private:
  void Touch(int fd, const struct stat& st) override {
    if (time(nullptr) - st.st_mtime > kTouchAfterSeconds) futimens(fd, nullptr);
  }

  void Hit(const std::string& path, const struct stat& st, uint64_t size) {
    ++hits_;
    Count(Counter::kCacheFileHits);
    if (time(nullptr) - st.st_mtime > kTouchAfterSeconds) {
      utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // LRU: mark as recently used
    }
  }

  // Large content: its blocks through the process's LazyContent, then the complete file.
  absl::StatusOr<std::string> MaterializeBlocks(const Entry& entry, absl::Time deadline,
                                                bool* fetched) {
    ASSIGN_OR_RETURN(std::shared_ptr<LazyContent> lazy, OpenLazy(entry, deadline));
    size_t blocks = 0;
    RETURN_IF_ERROR(lazy->Ensure(0, entry.size, deadline, &blocks));
    if (fetched != nullptr) *fetched = blocks > 0;
    if (blocks > 0) {
      ++misses_;
      Count(Counter::kCacheFileMisses);
    }
    if (!lazy->complete()) {
      return absl::InternalError("content " + entry.content_hash.Hex() +
                                 " is complete but could not be promoted; see the log");
    }
    return lazy->final_path();
  }

  // Whether directory fd `fd` refers to a directory that was removed (no links left).
  static bool DirectoryRemoved(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_nlink == 0;
  }

  // Opens the content directory of cache dir `i` (O_PATH) and publishes its fd; -1 on failure.
  int OpenContentDir(size_t i) {
    const std::string dir = config_.cache_dirs[i] + "/content";
    const int fd = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int expected = -1;
    if (!content_fds_[i].compare_exchange_strong(expected, fd)) {
      close(fd);  // another thread published one first
      return expected;
    }
    return fd;
  }

  // Run by a LazyContent after it fetched blocks.
  // A LazyContent may outlive the cache (tests, tools): then the hook does nothing.
  std::function<void()> AfterFill() {
    return [this, alive = std::weak_ptr<DiskCache*>(self_)] {
      if (alive.lock()) MaybeEvict();
    };
  }

  int Parallel() const {
    const uint64_t in_buffer = budget_.capacity() / std::max<uint64_t>(config_.block_size_bytes, 1);
    return static_cast<int>(
        std::max<uint64_t>(1, std::min<uint64_t>(std::max(config_.threads, 1), in_buffer)));
  }

  // Takes the per-content lock file so one process of the node fetches; the others wait on it
  // and then find the content in place. A packed file needs no lock of its own: its window's
  // lock file makes one process fetch the window, and the others take their file from it.
  absl::Status FillAcrossProcesses(const Entry& entry, const IndexReader& index,
                                   const std::string& path, absl::Time deadline) {
    if (Packed(entry)) {
      ++misses_;
      Count(Counter::kCacheFileMisses);
      absl::Status s = packs_.Fill(entry, index, path, deadline);
      if (s.ok()) Count(Counter::kBytesFromStore, entry.size);
      return s;
    }
    const std::string dir = path.substr(0, path.rfind('/'));
    RETURN_IF_ERROR(MakeDirs(env_, dir, 0700));
    const std::string lock_path = path + ".lock";
    struct stat st;
    auto in_place = [&] {
      return env_->Stat(path, &st).ok() && static_cast<uint64_t>(st.st_size) == entry.size;
    };
    ASSIGN_OR_RETURN(int lock_fd, AcquireLockFile(lock_path, deadline, in_place));
    if (lock_fd < 0) {  // filled by another process meanwhile
      Hit(path, st, entry.size);
      return absl::OkStatus();
    }
    // Not in place under the lock either (AcquireLockFile asked once more): ours to fill.
    ++misses_;
    Count(Counter::kCacheFileMisses);
    absl::Status s = Fill(entry, index, path, deadline);
    if (s.ok()) Count(Counter::kBytesFromStore, entry.size);
    // Content in place: nobody needs the lock file any more. Removing it while we still hold the
    // lock is safe: a waiter re-checks that it locked the file at the path, and the content.
    if (s.ok()) unlink(lock_path.c_str());
    close(lock_fd);  // releases the lock
    return s;
  }

  static bool Packed(const Entry& entry) {
    return entry.size > 0 && absl::StartsWith(entry.location.object_key, "packs/");
  }

  absl::Status Fill(const Entry& entry, const IndexReader& index, const std::string& path,
                    absl::Time deadline) {
    if (entry.size == 0) return Write(path, "");
    return FillObject(entry, path, deadline);
  }

  // A data object of at most one block, fetched and verified whole.
  absl::Status FillObject(const Entry& entry, const std::string& path, absl::Time deadline) {
    std::string data;
    absl::Status s = fetcher_.GetVerified(entry, 0, entry.size, &data, deadline);
    if (!s.ok()) return s;
    return Write(path, data);
  }

  // Writes verified content `hash` into the cache (atomically: WriteFileAtomic), creating
  // its shard directory if missing.
  absl::Status WriteContent(const Hash128& hash, absl::string_view data) override {
    const std::string p = PathFor(hash);
    absl::Status s = Write(p, data);
    if (absl::IsNotFound(s) && MakeDirs(env_, p.substr(0, p.rfind('/')), 0700).ok()) {
      s = Write(p, data);
    }
    return s;
  }

  absl::Status Write(const std::string& path, absl::string_view data) {
    // No fsync: a killed process still leaves no torn file (WriteFileAtomic), and cache content
    // after a power loss is caught by hfshim-warm --verify. One fsync per neighbour file would make
    // a pack fill of a thousand small files take a second.
    absl::Status s = WriteFileAtomic(env_, path, data, /*durable=*/false);
    return s.ok() ? s : ExplainCacheWriteError(s, path);
  }

  // Scans for eviction every kEvictionPeriod, or sooner once this process has fetched a tenth
  // of the cache size since its last scan (a fast reader must not overrun the limit by much).
  void MaybeEvict() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      const uint64_t fetched = fetcher_.bytes_fetched();
      if (absl::Now() - last_eviction_ < kEvictionPeriod &&
          fetched - fetched_at_eviction_ < config_.cache_size_bytes / 10) {
        return;
      }
      last_eviction_ = absl::Now();
      fetched_at_eviction_ = fetched;
    }
    bool over = false;
    int n = EvictLeastRecentlyUsed(config_.cache_dirs, config_.cache_size_bytes, config_.free_ratio,
                                   kKeepRecent, &over);
    evictions_ += n;
    Count(Counter::kEvictions, n);
    if (over) {
      static std::atomic<bool> said{false};
      LogOnce(&said, LogLevel::kWarn,
              absl::StrCat("the node cache (", absl::StrJoin(config_.cache_dirs, ":"),
                           ")'s file system has less than HFSHIM_FREE_RATIO=", config_.free_ratio,
                           " free, and only content used in the last minute is left to evict, "
                           "which it keeps: free disk space there or lower HFSHIM_FREE_RATIO"));
    }
  }

  const Config config_;
  Env* const env_;
  const std::shared_ptr<DiskCache*> self_ = std::make_shared<DiskCache*>(this);
  BlockFetcher fetcher_;
  ByteBudget budget_;
  std::unique_ptr<std::atomic<int>[]> content_fds_;  // per cache dir: its content/ (O_PATH)
  std::mutex open_mu_;  // serialises creating the LazyContent of a content
  std::mutex mu_;
  SingleFlight<Hash128> flights_;                                    // by content
  absl::flat_hash_map<Hash128, std::weak_ptr<LazyContent>> lazies_;  // guarded by mu_
  absl::Time last_eviction_ = absl::InfinitePast();                  // guarded by mu_
  uint64_t fetched_at_eviction_ = 0;                                 // guarded by mu_
  std::atomic<uint64_t> hits_{0}, misses_{0}, evictions_{0};
  // Last: destroyed first, stopping its background work while everything it uses exists.
  PackFiller packs_;
};

}  // namespace

bool FilledByBlocks(const Entry& entry) {
  return entry.type == EntryType::kFile && entry.block_checksums.size() > 1 &&
         !absl::StartsWith(entry.location.object_key, "packs/");
}

absl::StatusOr<std::unique_ptr<ContentCache>> ContentCache::Create(const Config& config,
                                                                   ObjectStore* store, Env* env) {
  if (config.cache_dirs.empty()) return absl::InvalidArgumentError("no cache directory set");
  auto cache = std::make_unique<DiskCache>(config, store, env);
  RETURN_IF_ERROR(cache->Init());
  return std::unique_ptr<ContentCache>(std::move(cache));
}

}  // namespace hfshim
