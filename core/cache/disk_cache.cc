#include "core/cache/disk_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/log.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"
#include "core/cache/content_cache.h"
#include "core/env/file_util.h"
#include "core/stats/stats.h"

namespace hfshim {
namespace {

constexpr int kChecksumAttempts = 3;
constexpr absl::Duration kEvictionPeriod = absl::Seconds(5);
constexpr int64_t kTouchAfterSeconds = 60;  // refresh a hit's mtime (LRU) at most this often

// One in-process fetch of one content hash that other threads wait for.
struct Flight {
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  absl::Status status;
};

class DiskCache final : public ContentCache {
 public:
  DiskCache(const Config& config, ObjectStore* store, Env* env)
      : config_(config), store_(store), env_(env) {}

  absl::Status Init() {
    for (const std::string& dir : config_.cache_dirs) RETURN_IF_ERROR(PrepareCacheDir(env_, dir));
    return absl::OkStatus();
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
    const std::string path = PathFor(entry.content_hash);
    struct stat st;
    if (fetched != nullptr) *fetched = false;
    if (env_->Stat(path, &st).ok() && static_cast<uint64_t>(st.st_size) == entry.size) {
      Hit(path, st, entry.size);
      return path;
    }
    if (fetched != nullptr) *fetched = true;
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto [it, inserted] = flights_.try_emplace(entry.content_hash, nullptr);
      if (inserted) it->second = std::make_shared<Flight>();
      flight = it->second;
      leader = inserted;
    }
    if (!leader) return Wait(flight.get(), path, deadline);
    absl::Status s = FillAcrossProcesses(entry, index, path, deadline);
    {
      std::lock_guard<std::mutex> lock(mu_);
      flights_.erase(entry.content_hash);
    }
    {
      std::lock_guard<std::mutex> lock(flight->mu);
      flight->done = true;
      flight->status = s;
    }
    flight->done_cv.notify_all();
    if (!s.ok()) return s;
    MaybeEvict();
    return path;
  }

  absl::Status Verify(const Entry& entry) override {
    const std::string path = PathFor(entry.content_hash);
    auto data = ReadFile(env_, path);
    if (!data.ok()) return data.status();
    absl::Status s = CheckBlocks(entry, *data, 0);
    if (!s.ok() || data->size() != entry.size) {
      env_->Unlink(path).IgnoreError();
      return absl::DataLossError(absl::StrCat("cached content ", entry.content_hash.Hex(),
                                              " was corrupt and has been removed"));
    }
    return absl::OkStatus();
  }

  void ResetAfterFork() override {
    // Single-threaded child: the parent's flights belong to threads that do not exist here.
    new (&mu_) std::mutex();
    flights_.clear();
  }

  Stats stats() const override {
    Stats s;
    s.hits = hits_;
    s.misses = misses_;
    s.requests = requests_;
    s.bytes_fetched = bytes_fetched_;
    s.checksum_failures = checksum_failures_;
    s.neighbours_filled = neighbours_;
    s.evictions = evictions_;
    return s;
  }

 private:
  void Hit(const std::string& path, const struct stat& st, uint64_t size) {
    ++hits_;
    Count(Counter::kCacheFileHits);
    if (time(nullptr) - st.st_mtime > kTouchAfterSeconds) {
      utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // LRU: mark as recently used
    }
  }

  absl::StatusOr<std::string> Wait(Flight* f, const std::string& path, absl::Time deadline) {
    std::unique_lock<std::mutex> lock(f->mu);
    const auto until =
        std::chrono::system_clock::now() +
        absl::ToChronoNanoseconds(std::max(deadline - absl::Now(), absl::ZeroDuration()));
    if (!f->done_cv.wait_until(lock, until, [f] { return f->done; })) {
      return absl::DeadlineExceededError("timed out waiting for another thread's fetch");
    }
    if (!f->status.ok()) return f->status;
    return path;
  }

  // Takes the per-content lock file so one process of the node fetches; the others wait on it
  // and then find the content in place.
  absl::Status FillAcrossProcesses(const Entry& entry, const IndexReader& index,
                                   const std::string& path, absl::Time deadline) {
    const std::string dir = path.substr(0, path.rfind('/'));
    RETURN_IF_ERROR(MakeDirs(env_, dir, 0700));
    const std::string lock_path = path + ".lock";
    int lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0) return ErrnoStatus(errno, "open cache lock " + lock_path);
    // A process-associated fcntl lock, not flock: a child forked while a thread holds the lock
    // must not inherit it (with flock the child would wait on its own copy of the lock).
    struct flock whole = {};
    whole.l_type = F_WRLCK;
    whole.l_whence = SEEK_SET;
    while (fcntl(lock_fd, F_SETLK, &whole) != 0) {
      const int lock_err = errno;
      struct stat done;
      if (env_->Stat(path, &done).ok() && static_cast<uint64_t>(done.st_size) == entry.size) {
        close(lock_fd);  // filled by the holder meanwhile
        Hit(path, done, entry.size);
        return absl::OkStatus();
      }
      if (lock_err != EACCES && lock_err != EAGAIN && lock_err != EINTR) {
        close(lock_fd);
        return ErrnoStatus(lock_err, "lock " + lock_path);
      }
      if (absl::Now() > deadline) {
        close(lock_fd);
        return absl::DeadlineExceededError("timed out waiting for another process's fetch");
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
    absl::Status s;
    struct stat st;
    if (env_->Stat(path, &st).ok() && static_cast<uint64_t>(st.st_size) == entry.size) {
      Hit(path, st, entry.size);  // another process filled it while we waited
    } else {
      ++misses_;
      Count(Counter::kCacheFileMisses);
      s = Fill(entry, index, path, deadline);
      if (s.ok()) Count(Counter::kBytesFromStore, entry.size);
    }
    // Content in place: nobody needs the lock file any more. Removing it while we still hold the
    // lock is safe: a process waiting on this inode re-checks the content after locking it.
    if (s.ok()) unlink(lock_path.c_str());
    close(lock_fd);  // releases the lock
    return s;
  }

  absl::Status Fill(const Entry& entry, const IndexReader& index, const std::string& path,
                    absl::Time deadline) {
    if (entry.size == 0) return Write(path, "");
    if (absl::StartsWith(entry.location.object_key, "packs/")) {
      return FillFromPack(entry, index, path, deadline);
    }
    return FillObject(entry, path, deadline);
  }

  absl::Status Get(const std::string& key, uint64_t off, uint64_t len, std::string* out,
                   absl::Time deadline) {
    const absl::Time start = absl::Now();
    Count(Counter::kFetchesInFlight);
    absl::Status s = store_->GetRange(key, off, len, out, deadline);
    Uncount(Counter::kFetchesInFlight);
    const uint64_t micros = absl::ToInt64Microseconds(absl::Now() - start);
    ++requests_;
    Count(Counter::kFetchRequests);
    Count(Counter::kFetchMicros, micros);
    RecordFetchLatency(micros);
    if (s.ok()) {
      bytes_fetched_ += len;
      Count(Counter::kFetchBytes, len);
      Count(Counter::kCacheBlockMisses,
            (len + config_.block_size_bytes - 1) / std::max<uint64_t>(config_.block_size_bytes, 1));
    }
    return s;
  }

  // Checks the blocks of `data`, which holds content bytes starting at block `first_block`.
  absl::Status CheckBlocks(const Entry& entry, absl::string_view data, size_t first_block) {
    const uint64_t bs = entry.block_size;
    for (size_t i = 0; i * bs < data.size(); ++i) {
      const size_t b = first_block + i;
      if (b >= entry.block_checksums.size() ||
          BlockChecksum(data.substr(i * bs, bs)) != entry.block_checksums[b]) {
        ++checksum_failures_;
        Count(Counter::kChecksumFailures);
        return absl::DataLossError(absl::StrCat("block ", b, " of content ",
                                                entry.content_hash.Hex(), " (",
                                                entry.location.object_key, "): checksum mismatch"));
      }
    }
    return absl::OkStatus();
  }

  // Fetches [off, off+len) of the object and verifies it, retrying a mismatch.
  absl::Status GetVerified(const Entry& entry, uint64_t off, uint64_t len, size_t first_block,
                           std::string* out, absl::Time deadline) {
    absl::Status s;
    for (int attempt = 0; attempt < kChecksumAttempts; ++attempt) {
      s = Get(entry.location.object_key, entry.location.offset + off, len, out, deadline);
      if (s.ok()) s = CheckBlocks(entry, *out, first_block);
      if (s.ok() || !absl::IsDataLoss(s)) return s;
    }
    Log(LogLevel::kError, absl::StrCat(s.message(), " after ", kChecksumAttempts,
                                       " fetches; the store object is damaged: push it again"));
    return s;
  }

  // A whole data object, block by block, with up to `threads` blocks in flight.
  absl::Status FillObject(const Entry& entry, const std::string& path, absl::Time deadline) {
    const std::string tmp = TempPathFor(path);
    ASSIGN_OR_RETURN(int fd, env_->Open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600));
    const uint64_t bs = entry.block_size;
    const size_t blocks = entry.block_checksums.size();
    std::atomic<size_t> next{0};
    std::mutex err_mu;
    absl::Status first_error;
    auto work = [&] {
      std::string buf;
      for (size_t b = next++; b < blocks; b = next++) {
        const uint64_t off = b * bs;
        const uint64_t len = std::min<uint64_t>(bs, entry.size - off);
        absl::Status s = GetVerified(entry, off, len, b, &buf, deadline);
        if (s.ok()) s = WriteAll(env_, fd, buf, off);
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(err_mu);
          if (first_error.ok()) first_error = s;
          return;
        }
      }
    };
    const int n = static_cast<int>(std::min<size_t>(std::max(config_.threads, 1), blocks));
    std::vector<std::thread> workers;
    for (int i = 1; i < n; ++i) workers.emplace_back(work);
    work();
    for (auto& w : workers) w.join();
    absl::Status c = env_->Close(fd);
    if (first_error.ok()) first_error = c;
    if (first_error.ok()) first_error = env_->Rename(tmp, path);
    if (!first_error.ok()) {
      env_->Unlink(tmp).IgnoreError();
      return Explain(first_error, path);
    }
    return absl::OkStatus();
  }

  // A packed file: fetch the block-aligned window of the pack that holds it and cache every
  // complete member of that window (dataset neighbours are read soon).
  absl::Status FillFromPack(const Entry& entry, const IndexReader& index, const std::string& path,
                            absl::Time deadline) {
    const uint64_t bs = config_.block_size_bytes;
    const uint64_t off = entry.location.offset, len = entry.size;
    const uint64_t begin = off / bs * bs;
    const uint64_t window_end = (off + len + bs - 1) / bs * bs;
    ASSIGN_OR_RETURN(std::vector<IndexReader::PackMember> members,
                     index.PackMembers(entry.location.object_key, begin, window_end));
    uint64_t first = off, last = off + len;
    for (const auto& m : members) {
      first = std::min(first, m.offset);
      last = std::max(last, m.offset + m.length);
    }
    std::string window;
    absl::Status s;
    for (int attempt = 0; attempt < kChecksumAttempts; ++attempt) {
      s = Get(entry.location.object_key, first, last - first, &window, deadline);
      if (!s.ok()) return Explain(s, path);
      s = CheckBlocks(entry, absl::string_view(window).substr(off - first, len), 0);
      if (s.ok()) break;
    }
    if (!s.ok()) {
      Log(LogLevel::kError, absl::StrCat(s.message(), "; the store object is damaged: push again"));
      return s;
    }
    RETURN_IF_ERROR(Write(path, absl::string_view(window).substr(off - first, len)));
    for (const auto& m : members) {
      if (m.content_hash == entry.content_hash) continue;
      absl::string_view data = absl::string_view(window).substr(m.offset - first, m.length);
      if (BlockChecksum(data) != m.checksum) continue;  // never cache unverified bytes
      const std::string p = PathFor(m.content_hash);
      struct stat st;
      if (env_->Stat(p, &st).ok()) continue;
      if (MakeDirs(env_, p.substr(0, p.rfind('/')), 0700).ok() && Write(p, data).ok()) {
        ++neighbours_;
      }
    }
    return absl::OkStatus();
  }

  absl::Status Write(const std::string& path, absl::string_view data) {
    // No fsync: a killed process still leaves no torn file (rename), and cache content after a
    // power loss is caught by hfshim-warm --verify. One fsync per neighbour file would make a
    // pack fill of a thousand small files take a second.
    absl::Status s = WriteFileAtomic(env_, path, data, /*durable=*/false);
    return s.ok() ? s : Explain(s, path);
  }

  absl::Status Explain(const absl::Status& s, const std::string& path) const {
    const int err = StatusToErrno(s);
    if (err == ENOSPC || err == EDQUOT) {
      return PosixError(err, absl::StrCat("node cache is full writing ", path,
                                          "; free space, lower HFSHIM_CACHE_SIZE or point "
                                          "HFSHIM_CACHE_DIR elsewhere"));
    }
    return s;
  }

  void MaybeEvict() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (absl::Now() - last_eviction_ < kEvictionPeriod) return;
      last_eviction_ = absl::Now();
    }
    int n =
        EvictLeastRecentlyUsed(config_.cache_dirs, config_.cache_size_bytes, config_.free_ratio);
    evictions_ += n;
    Count(Counter::kEvictions, n);
  }

  const Config config_;
  ObjectStore* const store_;
  Env* const env_;
  std::mutex mu_;
  absl::flat_hash_map<Hash128, std::shared_ptr<Flight>> flights_;
  absl::Time last_eviction_ = absl::InfinitePast();
  std::atomic<uint64_t> hits_{0}, misses_{0}, requests_{0}, bytes_fetched_{0},
      checksum_failures_{0}, neighbours_{0}, evictions_{0};
};

}  // namespace

absl::StatusOr<std::unique_ptr<ContentCache>> ContentCache::Create(const Config& config,
                                                                   ObjectStore* store, Env* env) {
  if (config.cache_dirs.empty()) return absl::InvalidArgumentError("no cache directory set");
  auto cache = std::make_unique<DiskCache>(config, store, env);
  RETURN_IF_ERROR(cache->Init());
  return std::unique_ptr<ContentCache>(std::move(cache));
}

}  // namespace hfshim
