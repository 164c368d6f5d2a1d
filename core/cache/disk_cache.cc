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
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/log.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"
#include "core/cache/block_fetcher.h"
#include "core/cache/byte_budget.h"
#include "core/cache/content_cache.h"
#include "core/cache/lazy_content.h"
#include "core/cache/lock_file.h"
#include "core/cache/pack_window.h"
#include "core/cache/partial_file.h"
#include "core/cache/single_flight.h"
#include "core/cache/task_pool.h"
#include "core/env/file_util.h"
#include "core/stats/stats.h"

namespace hfshim {
namespace {

constexpr int kChecksumAttempts = 3;
constexpr uint64_t kMinBuffer = 1 << 20;
constexpr uint64_t kDefaultBuffer = 64 << 20;  // a Config built without LoadConfig
constexpr absl::Duration kEvictionPeriod = absl::Seconds(5);
// A hit refreshes the content's mtime (the LRU clock of eviction) at most this often: an epoch of
// training that reopens every file would otherwise pay a utimensat per open once the previous
// touch is older than the interval (it was 60 s: every open of every epoch longer than a minute).
constexpr int64_t kTouchAfterSeconds = 3600;

constexpr int kDenseWindows = 3;            // windows of a pack fetched before prefetching
constexpr size_t kMaxPrefetched = 1 << 16;  // windows remembered as queued for prefetching

// Background writers of pack windows: as many as there are cores (the writes are CPU work in the
// kernel), at most HFSHIM_THREADS.
int WindowWriterThreads(const Config& config) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, std::min(config.threads, cores));
}

class DiskCache final : public ContentCache {
 public:
  DiskCache(const Config& config, ObjectStore* store, Env* env)
      : config_(config),
        env_(env),
        fetcher_(store, std::max<uint64_t>(config.block_size_bytes, 1)),
        budget_(config.buffer_size_bytes == 0
                    ? kDefaultBuffer
                    : std::max<uint64_t>(config.buffer_size_bytes, kMinBuffer)),
        writer_threads_(WindowWriterThreads(config)),
        prefetchers_(std::max(1, config.threads)),
        writers_(writer_threads_) {}

  absl::Status Init() {
    for (const std::string& dir : config_.cache_dirs) RETURN_IF_ERROR(PrepareCacheDir(env_, dir));
    content_fds_.reset(new std::atomic<int>[config_.cache_dirs.size()]);
    for (size_t i = 0; i < config_.cache_dirs.size(); ++i) content_fds_[i] = -1;
    return absl::OkStatus();
  }

  ~DiskCache() override {
    prefetchers_.Stop();  // they hand windows to the writers
    writers_.Stop();      // before the members the writers use go
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
      const int fd = openat(dir_fd, rel, O_RDONLY | O_CLOEXEC | flags);
      if (fd >= 0) return fd;
      if (errno == ENOENT) return absl::NotFoundError("not cached");
    }
    // The directory fd is gone (closed by the program, e.g. closerange): the full path, and a
    // fresh directory fd for next time.
    content_fds_[dir].store(-1, std::memory_order_relaxed);
    const std::string path = PathFor(hash);
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | flags);
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
        if (std::shared_ptr<LazyContent> live = it->second.lock()) return live;
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
    windows_mu_.lock();
    mu_.lock();
  }

  void UnlockAfterFork() override {
    mu_.unlock();
    windows_mu_.unlock();
  }

  void ResetAfterFork() override {
    // Single-threaded child: the parent's flights belong to threads that do not exist here. The
    // maps are whole when LockForFork preceded the fork (the shim's atfork handlers).
    new (&mu_) std::mutex();
    new (&open_mu_) std::mutex();
    flights_.ResetAfterFork();
    window_flights_.ResetAfterFork();
    prefetchers_.ResetAfterFork();
    writers_.ResetAfterFork();
    new (&windows_mu_) std::mutex();
    windows_.clear();  // their writers are the parent's threads; members are fetched anew
    fetched_windows_.clear();
    prefetched_.clear();
    budget_.ResetAfterFork();
    for (auto& [hash, weak] : lazies_) {
      if (std::shared_ptr<LazyContent> live = weak.lock()) live->ResetAfterFork();
    }
  }

  void Drain() override {
    prefetchers_.Drain();
    writers_.Drain();
  }

  Stats stats() const override {
    Stats s;
    s.hits = hits_;
    s.misses = misses_;
    s.requests = fetcher_.requests();
    s.bytes_fetched = fetcher_.bytes_fetched();
    s.checksum_failures = fetcher_.checksum_failures();
    s.neighbours_filled = neighbours_;
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
      absl::Status s = FillFromPack(entry, index, path, deadline);
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

  using WindowKey = std::pair<std::string, uint64_t>;  // (pack, window start)

  // A packed file: fetch the block-aligned window of the pack that holds it and cache every
  // complete member of that window (dataset neighbours are read soon). The requested file is
  // written first; the other members are written by background writers while
  // the memory buffer has room for the window, else before returning.
  // Threads of this process missing files of one window wait for one fetch of it, then find it
  // among the live windows and write (or wait for) their own file only. Other processes wait on
  // the window's lock file; the fetching process keeps the window's bytes in a ".window" file
  // until its members are all written, so they take their file from there: a window is fetched
  // once per node.
  absl::Status FillFromPack(const Entry& entry, const IndexReader& index, const std::string& path,
                            absl::Time deadline) {
    const uint64_t bs = config_.block_size_bytes;
    const WindowKey key{entry.location.object_key, entry.location.offset / bs * bs};
    struct stat st;
    auto in_place = [&] {
      return env_->Stat(path, &st).ok() && static_cast<uint64_t>(st.st_size) == entry.size;
    };
    for (int round = 0; round < 2; ++round) {
      if (std::shared_ptr<PackWindow> live = LiveWindow(key)) {
        const int i = live->Find(entry.location.offset, entry.content_hash);
        if (i >= 0 && live->Ensure(i, deadline).ok()) return absl::OkStatus();
        break;  // not among its members, or its copy failed: fetch our own
      }
      bool led = false;
      absl::Status s = window_flights_.Do(
          key, deadline, [&] { return LeadWindow(entry, index, key, path, deadline, in_place); },
          &led);
      if (led || !s.ok()) return s;
      if (in_place()) return absl::OkStatus();
    }
    // Not a member of the window the leader fetched (a file longer than a block), or its write
    // there failed: fetch this file's window again, cache it alone.
    ASSIGN_OR_RETURN(std::shared_ptr<PackWindow> own, FetchWindow(entry, index, deadline, nullptr));
    return own->Ensure(own->Find(entry.location.offset, entry.content_hash), deadline);
  }

  // The window-flight leader: under the window's lock file, takes the file from another
  // process's window file or fetches the window; writes the requested file, then hands the
  // other members to the background writers. `in_place` is true once the file is cached.
  absl::Status LeadWindow(const Entry& entry, const IndexReader& index, const WindowKey& key,
                          const std::string& path, absl::Time deadline,
                          const std::function<bool()>& in_place) {
    const std::string base = WindowBase(key);
    const std::string lock_path = base + ".window.lock";
    const std::string window_path = base + std::string(kWindowSuffix);
    RETURN_IF_ERROR(MakeDirs(env_, base.substr(0, base.rfind('/')), 0700));
    struct stat st;
    auto satisfied = [&] { return in_place() || env_->Stat(window_path, &st).ok(); };
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (in_place() || FromWindowFile(entry, key, window_path)) {
        return absl::OkStatus();
      }
      ASSIGN_OR_RETURN(int lock_fd, AcquireLockFile(lock_path, deadline, satisfied));
      if (lock_fd < 0) continue;  // another process cached it or left its window file
      // Not satisfied under the lock either (AcquireLockFile asked once more): ours to fetch.
      absl::Status s = FetchAndWrite(entry, index, key, window_path, deadline);
      unlink(lock_path.c_str());  // safe while held: AcquireLockFile re-checks the inode
      close(lock_fd);
      return s;
    }
    return FetchAndWrite(entry, index, key, window_path, deadline);  // window files kept failing
  }

  // Takes the requested file from a window file another process left (its bytes are checked
  // against the index like fetched ones). False if there is none or it does not serve `entry`.
  bool FromWindowFile(const Entry& entry, const WindowKey& key, const std::string& window_path) {
    absl::StatusOr<int> fd = env_->Open(window_path, O_RDONLY);
    if (!fd.ok()) return false;
    std::string data(entry.size, '\0');
    absl::StatusOr<size_t> got =
        env_->Pread(*fd, data.data(), data.size(), entry.location.offset - key.second);
    env_->Close(*fd).IgnoreError();
    return got.ok() && *got == data.size() && fetcher_.CheckBlocks(entry, data, 0).ok() &&
           WriteContent(entry.content_hash, data).ok();
  }

  // Fetches the window of `entry`, writes `entry`'s file and has the other members written
  // (WriteRest). Queues prefetches when this process reads the pack densely.
  absl::Status FetchAndWrite(const Entry& entry, const IndexReader& index, const WindowKey& key,
                             const std::string& window_path, absl::Time deadline) {
    auto budget = std::make_shared<uint64_t>(0);
    ASSIGN_OR_RETURN(std::shared_ptr<PackWindow> window,
                     FetchWindow(entry, index, deadline, WindowDone(key, window_path, budget)));
    RETURN_IF_ERROR(
        window->Ensure(window->Find(entry.location.offset, entry.content_hash), deadline));
    if (window->pending() && budget_.Acquire(window->last() - window->first(), absl::Now()).ok()) {
      *budget = window->last() - window->first();
    }
    WriteRest(window, key, window_path, *budget > 0);
    MaybePrefetch(key, index, deadline);
    return absl::OkStatus();
  }

  // What runs once every member of the window `key` is written or has failed: it leaves the
  // live windows, its window file goes and its share of the memory buffer (`*budget`, set
  // before the window is handed to any other thread) is returned.
  std::function<void()> WindowDone(const WindowKey& key, const std::string& window_path,
                                   std::shared_ptr<uint64_t> budget) {
    return [this, key, window_path, budget] {
      {
        std::lock_guard<std::mutex> lock(windows_mu_);
        windows_.erase(key);
      }
      if (*budget > 0) {
        unlink(window_path.c_str());
        budget_.Release(*budget);
      }
    };
  }

  // Has the members of `window` that nobody has claimed written: if the window holds memory
  // buffer room (`budgeted`), by the background writers, its bytes kept in `window_path`
  // meanwhile for other processes; else (or if that fails) here, before returning. Called by the
  // holder of the window's lock, which it may release on return.
  void WriteRest(const std::shared_ptr<PackWindow>& window, const WindowKey& key,
                 const std::string& window_path, bool budgeted) {
    if (budgeted && window->pending() && WriteWindowFile(*window, key, window_path).ok()) {
      {
        std::lock_guard<std::mutex> lock(windows_mu_);
        windows_[key] = window;
      }
      bool queued = false;
      for (int i = 0; i < writer_threads_; ++i) {  // several writers share a window
        queued |= writers_.Add({[window] {
                                  while (window->WriteNext()) {
                                  }
                                },
                                [window] { window->Abandon(); }});
      }
      if (queued) return;
    }
    while (window->WriteNext()) {
    }
  }

  // Dense reading: once this process has fetched kDenseWindows windows of a pack itself, each
  // further window it fetches queues the next HFSHIM_THREADS windows of the pack (those not
  // cached nor queued before) for the prefetchers, which fetch them in parallel.
  void MaybePrefetch(const WindowKey& key, const IndexReader& index, absl::Time deadline) {
    {
      std::lock_guard<std::mutex> lock(windows_mu_);
      if (++fetched_windows_[key.first] < kDenseWindows) return;
      if (prefetched_.size() > kMaxPrefetched) prefetched_.clear();
    }
    const uint64_t bs = config_.block_size_bytes;
    for (int k = 1; k <= config_.threads; ++k) {
      const WindowKey next{key.first, key.second + k * bs};
      {
        std::lock_guard<std::mutex> lock(windows_mu_);
        if (!prefetched_.insert(next).second) continue;
      }
      absl::StatusOr<std::vector<IndexReader::PackMember>> members = WindowMembers(index, next);
      if (!members.ok() || members->empty()) break;  // the end of the pack
      if (Contains(members->front().content_hash)) continue;
      prefetchers_.Add(
          {[this, next, m = *std::move(members), deadline] { PrefetchWindow(next, m, deadline); },
           nullptr});
    }
  }

  // A prefetcher: fetches window `key` (files `members`) unless a thread or process is on it
  // (holds its lock or keeps its window file), it is cached or the memory buffer is full, and
  // hands it to the writers. Errors are dropped:
  // a reader of a file in the window fetches it then.
  void PrefetchWindow(const WindowKey& key, const std::vector<IndexReader::PackMember>& members,
                      absl::Time deadline) {
    if (!window_flights_.TryLead(key)) return;
    const std::string base = WindowBase(key);
    const std::string lock_path = base + ".window.lock";
    const std::string window_path = base + std::string(kWindowSuffix);
    const uint64_t first = members.front().offset;
    const uint64_t last = members.back().offset + members.back().length;
    struct stat st;
    auto cached = [&] {  // or in flight in another process, which keeps its window file
      return Contains(members.front().content_hash) || env_->Stat(window_path, &st).ok();
    };
    absl::StatusOr<int> lock_fd = MakeDirs(env_, base.substr(0, base.rfind('/')), 0700).ok()
                                      ? AcquireLockFile(lock_path, absl::Now(), cached)
                                      : absl::StatusOr<int>(-1);
    if (lock_fd.ok() && *lock_fd >= 0) {  // else another process has it, or it is cached
      auto budget = std::make_shared<uint64_t>(0);
      MappedBuffer data;
      if (budget_.Acquire(last - first, absl::Now()).ok()) {  // not cached: AcquireLockFile asked
        *budget = last - first;
        if (fetcher_.GetMapped(key.first, first, last - first, &data, deadline).ok()) {
          WriteRest(MakeWindow(std::move(data), first, members, Hash128{},
                               WindowDone(key, window_path, budget)),
                    key, window_path, true);
        } else {
          budget_.Release(*budget);
        }
      }
      unlink(lock_path.c_str());  // safe while held: AcquireLockFile re-checks the inode
      close(*lock_fd);
    }
    window_flights_.Finish(key, absl::OkStatus());
  }

  // The files of window `key`: those that start in its block. Windows partition the pack, so no
  // file is written by two windows (files are smaller than a block; a longer one is its own).
  absl::StatusOr<std::vector<IndexReader::PackMember>> WindowMembers(const IndexReader& index,
                                                                     const WindowKey& key) {
    const uint64_t bs = config_.block_size_bytes;
    ASSIGN_OR_RETURN(std::vector<IndexReader::PackMember> members,
                     index.PackMembers(key.first, key.second, key.second + 2 * bs));
    members.erase(
        std::find_if(members.begin(), members.end(),
                     [&](const IndexReader::PackMember& m) { return m.offset >= key.second + bs; }),
        members.end());
    return members;
  }

  // The path stem of window `key`'s lock and window files.
  std::string WindowBase(const WindowKey& key) const {
    return PathFor(ContentHash(absl::StrCat(key.first, "@", key.second)));
  }

  // Writes the window's bytes to `window_path` (atomically: WriteFileAtomic), at
  // their offset from the window's start `key.second` (pack bytes before the first member, if
  // any, are a hole).
  absl::Status WriteWindowFile(const PackWindow& window, const WindowKey& key,
                               const std::string& window_path) {
    absl::Status s = WriteFileAtomic(env_, window_path,
                                     window.Bytes(window.first(), window.last() - window.first()),
                                     /*durable=*/false, window.first() - key.second);
    return s.ok() ? s : ExplainCacheWriteError(s, window_path);
  }

  // The window of `key` whose members are being written in the background, or null.
  std::shared_ptr<PackWindow> LiveWindow(const WindowKey& key) {
    std::lock_guard<std::mutex> lock(windows_mu_);
    auto it = windows_.find(key);
    return it == windows_.end() ? nullptr : it->second;
  }

  // Fetches the window of the pack that holds `entry` (WindowMembers), with `entry`'s bytes
  // verified (refetched on a mismatch, up to kChecksumAttempts times).
  absl::StatusOr<std::shared_ptr<PackWindow>> FetchWindow(const Entry& entry,
                                                          const IndexReader& index,
                                                          absl::Time deadline,
                                                          std::function<void()> on_done) {
    const uint64_t bs = config_.block_size_bytes;
    const uint64_t off = entry.location.offset, len = entry.size;
    ASSIGN_OR_RETURN(std::vector<IndexReader::PackMember> members,
                     WindowMembers(index, {entry.location.object_key, off / bs * bs}));
    uint64_t first = off, last = off + len;
    for (const auto& m : members) {
      first = std::min(first, m.offset);
      last = std::max(last, m.offset + m.length);
    }
    MappedBuffer window;
    absl::Status s;
    for (int attempt = 0; attempt < kChecksumAttempts; ++attempt) {
      s = fetcher_.GetMapped(entry.location.object_key, first, last - first, &window, deadline);
      if (!s.ok()) return s;
      s = fetcher_.CheckBlocks(entry, window.view().substr(off - first, len), 0);
      if (s.ok()) break;
    }
    if (!s.ok()) {
      Log(LogLevel::kError, absl::StrCat(s.message(), "; the store object is damaged: push again"));
      return s;
    }
    bool listed = false;
    for (const auto& m : members) listed |= m.offset == off && m.content_hash == entry.content_hash;
    if (!listed) {  // longer than a block
      IndexReader::PackMember self;
      self.offset = off;
      self.length = len;
      self.content_hash = entry.content_hash;
      self.checksum = entry.block_checksums.empty() ? 0 : entry.block_checksums[0];
      members.insert(
          std::upper_bound(members.begin(), members.end(), self,
                           [](const auto& a, const auto& b) { return a.offset < b.offset; }),
          self);
    }
    return MakeWindow(std::move(window), first, std::move(members), entry.content_hash,
                      std::move(on_done));
  }

  // A window of pack bytes `data` from `first`, whose members are written as cache content
  // (counted as neighbours, but for `requested`).
  std::shared_ptr<PackWindow> MakeWindow(MappedBuffer data, uint64_t first,
                                         std::vector<IndexReader::PackMember> members,
                                         const Hash128& requested, std::function<void()> on_done) {
    return std::make_shared<PackWindow>(
        std::move(data), first, std::move(members),
        [this, requested](const IndexReader::PackMember& m, absl::string_view data) {
          absl::Status w = WriteContent(m.content_hash, data);
          if (w.ok() && m.content_hash != requested) ++neighbours_;
          return w;
        },
        std::move(on_done));
  }

  // Writes verified content `hash` into the cache (atomically: WriteFileAtomic), creating
  // its shard directory if missing.
  absl::Status WriteContent(const Hash128& hash, absl::string_view data) {
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
    int n =
        EvictLeastRecentlyUsed(config_.cache_dirs, config_.cache_size_bytes, config_.free_ratio);
    evictions_ += n;
    Count(Counter::kEvictions, n);
  }

  const Config config_;
  Env* const env_;
  const std::shared_ptr<DiskCache*> self_ = std::make_shared<DiskCache*>(this);
  BlockFetcher fetcher_;
  ByteBudget budget_;
  std::unique_ptr<std::atomic<int>[]> content_fds_;  // per cache dir: its content/ (O_PATH)
  std::mutex open_mu_;  // serialises creating the LazyContent of a content
  std::mutex mu_;
  SingleFlight<Hash128> flights_;           // by content
  SingleFlight<WindowKey> window_flights_;  // by (pack, window start)
  std::mutex windows_mu_;
  // Windows whose members are being written in the background, by (pack, window start).
  absl::flat_hash_map<WindowKey, std::shared_ptr<PackWindow>> windows_;  // guarded by windows_mu_
  absl::flat_hash_map<std::string, int> fetched_windows_;  // by pack; guarded by windows_mu_
  absl::flat_hash_set<WindowKey> prefetched_;              // guarded by windows_mu_
  absl::flat_hash_map<Hash128, std::weak_ptr<LazyContent>> lazies_;  // guarded by mu_
  absl::Time last_eviction_ = absl::InfinitePast();                  // guarded by mu_
  uint64_t fetched_at_eviction_ = 0;                                 // guarded by mu_
  std::atomic<uint64_t> hits_{0}, misses_{0}, neighbours_{0}, evictions_{0};
  const int writer_threads_;
  // Last: stopped first, while everything their tasks use exists.
  TaskPool prefetchers_;  // fetch pack windows ahead of dense readers
  TaskPool writers_;      // write the members of pack windows
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
