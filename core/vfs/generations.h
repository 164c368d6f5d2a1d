// Generations: the index generation a process answers from, and its refresh.
//
// A generation is an immutable LMDB file (DESIGN.md decision 1). The process keeps one current
// Generation; every `refresh_seconds` a later call asks the GenerationSource for the newest one
// and, if it changed, opens it and swaps the pointer. Lookups in flight keep using the generation
// they started on: published generations are never destroyed (a few leaked readers over a long
// run are the price of lock-free lookups).
//
// Fork: LMDB forbids using an environment in a fork child, so ResetAfterFork() marks the current
// generation for reopening; the child's next Current() opens the same file afresh.
//
// Thread-safety: thread-safe. One thread refreshes at a time; the others keep answering from the
// current generation meanwhile (only the very first load makes callers wait).
#ifndef HFSHIM_CORE_VFS_GENERATIONS_H_
#define HFSHIM_CORE_VFS_GENERATIONS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <new>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/base/fork_mutex.h"
#include "core/index/index_reader.h"

namespace hfshim {

// A generation file available on local disk.
struct GenerationFile {
  std::string path;
  uint64_t sequence = 0;
  // How long ago the store named it current (zero: just now). The next check is due that much
  // sooner.
  absl::Duration checked_ago = absl::ZeroDuration();
};

// Where generations come from (the store's heads, or a fixed file in tests).
class GenerationSource {
 public:
  virtual ~GenerationSource() = default;
  // The newest generation, downloaded to local disk if needed. NotFound if there is none at all.
  // May be an answer the source had `checked_ago` (GenerationFile).
  virtual absl::StatusOr<GenerationFile> Latest() = 0;
  // The same, asked now (checked_ago zero): when the file of an earlier answer does not open.
  virtual absl::StatusOr<GenerationFile> LatestNow() { return Latest(); }
};

struct Generation {
  GenerationFile file;
  std::unique_ptr<IndexReader> reader;
};

class Generations {
 public:
  // `source` must outlive this object.
  Generations(GenerationSource* source, absl::Duration refresh)
      : source_(source), refresh_(refresh) {}

  // The generation to answer from, refreshed first if the interval has passed; nullptr if the
  // store has no index (or it could not be read and none was loaded before: the cause was
  // logged). Never blocks on another thread's refresh once a generation is loaded.
  const Generation* Current();
  // The generation Current() last returned (or published since), without refreshing: to tell
  // whether a refresh happened meanwhile. Lock-free.
  const Generation* Peek() const { return current_.load(std::memory_order_acquire); }

  // Fork child: the next Current() reopens the generation file (no other thread exists then).
  void ResetAfterFork();
  void LockForFork() ABSL_EXCLUSIVE_LOCK_FUNCTION(mu_) { mu_.Lock(); }
  void UnlockAfterFork() ABSL_UNLOCK_FUNCTION(mu_) { mu_.Unlock(); }
  // In the fork child, instead of UnlockAfterFork: a fresh mutex (core/base/fork_mutex.h).
  void ResetLockInChild() { mu_.ResetInChild(); }

 private:
  void RefreshLocked(bool force) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Publish(GenerationFile file, std::unique_ptr<IndexReader> reader)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  GenerationSource* const source_;
  const absl::Duration refresh_;
  ForkMutex mu_;
  std::atomic<Generation*> current_{nullptr};
  std::atomic<int64_t> next_check_ns_{0};  // CLOCK_MONOTONIC_COARSE ns of the next check
  std::atomic<bool> reopen_{false};
  std::atomic<bool> loaded_once_{false};
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_VFS_GENERATIONS_H_
