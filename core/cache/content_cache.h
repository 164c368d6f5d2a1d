// ContentCache: the node disk cache of file content, shared by every process of the node.
//
// Content is stored by its XXH3-128 hash under the HFSHIM_CACHE_DIR directories (spread by hash),
// so a blob shared by several repos or revisions is cached once. Small content is only ever
// created complete and verified (write to a temp file, check the per-block XXH3-64 checksums from
// the index, rename into place); large content (FilledByBlocks) is filled block by block into a
// sparse PartialFile with a presence record, each block verified before it is marked, and
// promoted to the complete file when every block is present. Either way a reader never sees
// torn or wrong bytes and a process killed mid-fill leaves nothing that is trusted.
//
// Thread-safety: thread-safe. Concurrent misses on the same content within a process fetch it
// once (single-flight); across processes a per-content lock file makes one process fetch while
// the others wait. A pack window's other members are written by background threads (at most as
// many as cores), which the destructor stops. Safe to use in a fork child after ResetAfterFork().
#ifndef HFSHIM_CORE_CACHE_CONTENT_CACHE_H_
#define HFSHIM_CORE_CACHE_CONTENT_CACHE_H_

#include <sys/stat.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/config/config.h"
#include "core/env/env.h"
#include "core/index/entry.h"
#include "core/index/index_reader.h"
#include "core/store/object_store.h"

namespace hfshim {

class LazyContent;

// True for content filled block by block and readable lazily (a data object of more than one
// block); other content (packed, empty, a single block) is always cached whole.
bool FilledByBlocks(const Entry& entry);

class ContentCache {
 public:
  // `store` and `env` must outlive the cache. Creates the cache directories (0700) if missing;
  // refuses (FailedPrecondition, naming the directory and the fix) a cache directory writable by
  // other users, since content there cannot be trusted.
  static absl::StatusOr<std::unique_ptr<ContentCache>> Create(const Config& config,
                                                              ObjectStore* store, Env* env);
  virtual ~ContentCache() = default;

  // Returns the path of a local file holding exactly the complete content of file `entry`,
  // fetching it from the store first if it is not cached. When the content comes from a pack,
  // the other files of the fetched pack range listed by `index.PackMembers` are cached too.
  // Errors: NotFound (object missing in the store), DataLoss (checksum mismatch after retries),
  // Unavailable/DeadlineExceeded (store unreachable), ResourceExhausted (disk full); each message
  // names the file's content hash or object key and the cause.
  // If `fetched` is given it is set to whether this call had to wait for a fetch (a miss).
  virtual absl::StatusOr<std::string> Materialize(const Entry& entry, const IndexReader& index,
                                                  absl::Time deadline, bool* fetched = nullptr) = 0;

  // Large content (FilledByBlocks) for lazy reading: complete if cached, else a sparse partial
  // file of which LazyContent::Ensure fetches the blocks a read needs. One LazyContent per
  // content per process; it uses this cache (its memory budget, its store), so it must not
  // outlive it. Errors as Materialize, for creating the partial file.
  virtual absl::StatusOr<std::shared_ptr<LazyContent>> OpenLazy(const Entry& entry,
                                                                absl::Time deadline) = 0;
  // The LazyContent of an existing partial data file (a ".partial" path of this cache, e.g. an
  // fd inherited across exec). NotFound if it is gone or not partial content.
  virtual absl::StatusOr<std::shared_ptr<LazyContent>> OpenLazyPath(
      const std::string& data_path) = 0;

  // Opens complete cached content `hash` read-only (O_RDONLY | `flags`: close-on-exec only if
  // `flags` has O_CLOEXEC, as the program asked): one openat relative to a directory fd the
  // cache keeps (falling back to the full path if the program closed it). NotFound if it is not
  // cached (a miss: Materialize fetches it).
  virtual absl::StatusOr<int> OpenCached(const Hash128& hash, int flags) = 0;

  // The path content `hash` has (or would have) in the cache; no I/O.
  virtual std::string PathFor(const Hash128& hash) const = 0;

  // Marks the cached content open on `fd` (whose fstat is `st`) as recently used for eviction,
  // at most once an hour (a futimens only when its mtime is older). Any thread.
  virtual void Touch(int fd, const struct stat& st) = 0;

  // True if content `hash` is complete in the cache (one stat).
  virtual bool Contains(const Hash128& hash) const = 0;

  // Re-reads cached content `entry` and checks its block checksums (hfshim-warm --verify).
  // OK if intact; NotFound if not cached; DataLoss if corrupt, in which case the cache file has
  // been removed so the next Materialize fetches it again.
  virtual absl::Status Verify(const Entry& entry) = 0;

  // Waits until the background writers have written every pack window member queued so far
  // (Materialize returns once the requested file is in place; its neighbours follow).
  virtual void Drain() = 0;

  // Fork protocol (the shim's atfork handlers): LockForFork() before fork() takes the locks of
  // the cache's shared maps, so no other thread is halfway through changing one when the
  // process is copied; UnlockAfterFork() releases them in the parent; in the child,
  // ResetAfterFork() (instead of UnlockAfterFork) re-creates them and drops in-flight state
  // inherited from the parent's threads. LockForFork must not be called by a thread that holds
  // one of those locks (none is held outside the cache's own calls).
  virtual void LockForFork() {}
  virtual void UnlockAfterFork() {}
  virtual void ResetAfterFork() = 0;

  // What this instance did, for tests and tools.
  struct Stats {
    uint64_t hits = 0;           // Materialize calls answered from the cache
    uint64_t misses = 0;         // Materialize calls that fetched
    uint64_t requests = 0;       // store GETs made
    uint64_t bytes_fetched = 0;  // bytes received from the store
    uint64_t checksum_failures = 0;
    uint64_t neighbours_filled = 0;  // pack members cached along with a requested file
    uint64_t evictions = 0;
  };
  virtual Stats stats() const = 0;
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_CACHE_CONTENT_CACHE_H_
