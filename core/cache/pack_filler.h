// PackFiller: how DiskCache fills packed files (small files stored together in pack objects).
//
// A miss fetches the block-aligned window of the pack that holds the file and caches every
// member of it: the requested file first, the others by background writers while the memory
// buffer has room for the window (else before returning). Windows are shared: threads of this
// process missing files of one window wait for one fetch and take their file from the live
// window; other processes wait on the window's lock file and take their file from the ".window"
// file (a link to the window in the fetching process's memory, no copy on disk) that the fetching
// process keeps until its members are written; a process that reads a pack
// densely prefetches its next windows in parallel. A window is fetched once per node.
//
// Thread-safety: thread-safe. Fork: LockForFork before fork and UnlockAfterFork after it in both
// processes (the shim's atfork handlers, through ContentCache), then ResetAfterFork in the child.
#ifndef HFSHIM_CORE_CACHE_PACK_FILLER_H_
#define HFSHIM_CORE_CACHE_PACK_FILLER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/base/hash.h"
#include "core/base/mapped_buffer.h"
#include "core/cache/block_fetcher.h"
#include "core/cache/byte_budget.h"
#include "core/cache/pack_window.h"
#include "core/cache/single_flight.h"
#include "core/cache/task_pool.h"
#include "core/config/config.h"
#include "core/env/env.h"
#include "core/index/entry.h"
#include "core/index/index_reader.h"

namespace hfshim {

class PackFiller {
 public:
  // What the filler needs of the cache it fills.
  class Cache {
   public:
    virtual ~Cache() = default;
    // The cache path of content `hash` (also the stem of a window's lock and window files).
    virtual std::string PathFor(const Hash128& hash) const = 0;
    virtual bool Contains(const Hash128& hash) const = 0;
    // Writes verified content `hash` into the cache, atomically.
    virtual absl::Status WriteContent(const Hash128& hash, absl::string_view data) = 0;
  };

  // `fetcher`, `budget` (the memory buffer) and `cache` must outlive the filler.
  PackFiller(const Config& config, Env* env, BlockFetcher* fetcher, ByteBudget* budget,
             Cache* cache);
  // Stops the prefetchers, then the writers (windows in flight are abandoned, not written).
  ~PackFiller();
  PackFiller(const PackFiller&) = delete;
  PackFiller& operator=(const PackFiller&) = delete;

  // Caches packed file `entry` (its content in a packs/ object) at `path`, its cache path, as
  // above. OK once the file is in place; else the fetch's or the write's error.
  absl::Status Fill(const Entry& entry, const IndexReader& index, const std::string& path,
                    absl::Time deadline);

  // Members written besides the files asked for.
  uint64_t neighbours() const { return neighbours_; }

  // Waits until the background writers and prefetchers are idle (tests, tools).
  void Drain();
  void LockForFork();
  void UnlockAfterFork();
  // Child only (single-threaded): the parent's windows and queued work are dropped.
  void ResetAfterFork();

 private:
  using WindowKey = std::pair<std::string, uint64_t>;  // (pack, window start)

  // The window-flight leader: under the window's lock file, takes the file from another
  // process's window file or fetches the window; writes the requested file, then hands the
  // other members to the background writers. `in_place` is true once the file is cached.
  absl::Status LeadWindow(const Entry& entry, const IndexReader& index, const WindowKey& key,
                          const std::string& path, absl::Time deadline,
                          const std::function<bool()>& in_place);

  // Takes the requested file from a window file another process left (its bytes are checked
  // against the index like fetched ones). False if there is none or it does not serve `entry`.
  bool FromWindowFile(const Entry& entry, const WindowKey& key, const std::string& window_path);

  // Fetches the window of `entry`, writes `entry`'s file and has the other members written
  // (WriteRest). Queues prefetches when this process reads the pack densely.
  absl::Status FetchAndWrite(const Entry& entry, const IndexReader& index, const WindowKey& key,
                             const std::string& window_path, absl::Time deadline);

  // What runs once every member of the window `key` is written or has failed: it leaves the
  // live windows, its window file goes and its share of the memory buffer (`*budget`, set
  // before the window is handed to any other thread) is returned.
  std::function<void()> WindowDone(const WindowKey& key, const std::string& window_path,
                                   std::shared_ptr<uint64_t> budget);

  // Has the members of `window` that nobody has claimed written: if the window holds memory
  // buffer room (`budgeted`), by the background writers, its bytes published at `window_path`
  // meanwhile for other processes; else (or if that fails) here, before returning. Called by the
  // holder of the window's lock, which it may release on return.
  void WriteRest(const std::shared_ptr<PackWindow>& window, const WindowKey& key,
                 const std::string& window_path, bool budgeted);

  // Dense reading: once this process has fetched kDenseWindows windows of a pack itself, each
  // further window it fetches queues the next HFSHIM_THREADS windows of the pack (those not
  // cached nor queued before) for the prefetchers, which fetch them in parallel.
  void MaybePrefetch(const WindowKey& key, const IndexReader& index, absl::Time deadline);

  // A prefetcher: fetches window `key` (files `members`) unless a thread or process is on it
  // (holds its lock or keeps its window file), it is cached or the memory buffer is full, and
  // hands it to the writers. Errors are dropped:
  // a reader of a file in the window fetches it then.
  void PrefetchWindow(const WindowKey& key, const std::vector<IndexReader::PackMember>& members,
                      absl::Time deadline);

  // The files of window `key`: those that start in its block. Windows partition the pack, so no
  // file is written by two windows (files are smaller than a block; a longer one is its own).
  absl::StatusOr<std::vector<IndexReader::PackMember>> WindowMembers(const IndexReader& index,
                                                                     const WindowKey& key);

  // The path stem of window `key`'s lock and window files.
  std::string WindowBase(const WindowKey& key) const;

  // Makes the window's bytes readable by other processes at `window_path`: a symlink to its
  // memory file through /proc/<pid>/fd (FORMAT.md), replacing any left by a killed process.
  // Unavailable if the window is not in a memory file; the error of symlink or rename, or of the
  // link not resolving here (no /proc).
  absl::Status PublishWindow(const PackWindow& window, const std::string& window_path);
  // Whether another process publishes a window at `window_path`: the link resolves to a regular
  // file. The link names another process's fd; a killed publisher's pid may have been reused by a
  // process whose fd there is anything (a FIFO, a device), which is never opened.
  bool WindowPublished(const std::string& window_path);

  // The window of `key` whose members are being written in the background, or null.
  std::shared_ptr<PackWindow> LiveWindow(const WindowKey& key);
  // Stops `window` from being the live window of `key` (if it still is).
  void ForgetWindow(const WindowKey& key, const std::shared_ptr<PackWindow>& window);

  // Fetches the window of the pack that holds `entry` (WindowMembers), with `entry`'s bytes
  // verified (refetched on a mismatch, up to kChecksumAttempts times).
  absl::StatusOr<std::shared_ptr<PackWindow>> FetchWindow(const Entry& entry,
                                                          const IndexReader& index,
                                                          absl::Time deadline,
                                                          std::function<void()> on_done);

  // A window of pack bytes `data` from `first`, whose members are written as cache content
  // (counted as neighbours, but for `requested`).
  std::shared_ptr<PackWindow> MakeWindow(MappedBuffer data, uint64_t first,
                                         std::vector<IndexReader::PackMember> members,
                                         const Hash128& requested, std::function<void()> on_done);

  const Config& config_;
  Env* const env_;
  BlockFetcher* const fetcher_;
  ByteBudget* const budget_;
  Cache* const cache_;
  SingleFlight<WindowKey> window_flights_;  // by (pack, window start)
  std::mutex windows_mu_;
  // Windows whose members are being written in the background, by (pack, window start).
  absl::flat_hash_map<WindowKey, std::shared_ptr<PackWindow>> windows_;  // guarded by windows_mu_
  absl::flat_hash_map<std::string, int> fetched_windows_;  // by pack; guarded by windows_mu_
  absl::flat_hash_set<WindowKey> prefetched_;              // guarded by windows_mu_
  std::atomic<uint64_t> neighbours_{0};
  const int writer_threads_;
  // Last: stopped first, while everything their tasks use exists.
  TaskPool prefetchers_;  // fetch pack windows ahead of dense readers
  TaskPool writers_;      // write the members of pack windows
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_CACHE_PACK_FILLER_H_
