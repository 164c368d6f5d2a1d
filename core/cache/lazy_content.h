// LazyContent: one large content of the node cache as this process reads it — complete, or a
// PartialFile whose missing blocks are fetched when a read, mmap or whole-file request needs
// them. All fds of the process on the same content share one LazyContent.
//
// Fills: each missing block is fetched once per node. Within the process, threads needing the
// same block wait for one fetch (single-flight); across processes, the block's byte-range lock
// on the presence record makes one process fetch while the others poll for its mark. Up to
// `parallel` runs of blocks of one Ensure are fetched at once, each GET streaming through a
// staging buffer held in the process's ByteBudget while in flight. When the last block is present
// the file is promoted to the complete cache file.
//
// Thread-safety: thread-safe. Fork: the child calls ResetAfterFork() (single-threaded).
#ifndef HFSHIM_CORE_CACHE_LAZY_CONTENT_H_
#define HFSHIM_CORE_CACHE_LAZY_CONTENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/cache/block_fetcher.h"
#include "core/cache/byte_budget.h"
#include "core/cache/partial_file.h"
#include "core/cache/single_flight.h"

namespace hfshim {

class LazyContent {
 public:
  // `partial` is null when the content is complete at `final_path`. `fetcher` and `budget` must
  // outlive this object; `parallel` >= 1. `after_fill` (may be empty) runs after an Ensure that
  // fetched blocks (the cache's eviction check).
  LazyContent(std::string final_path, std::unique_ptr<PartialFile> partial, BlockFetcher* fetcher,
              ByteBudget* budget, int parallel, std::function<void()> after_fill = {});

  // The local file to open for reading now: the partial data file while blocks are missing,
  // the complete file once promoted. (Both are the same inode after promotion.)
  std::string OpenPath() const;
  const std::string& final_path() const { return final_path_; }
  bool complete() const { return partial_ == nullptr || complete_.load(std::memory_order_acquire); }
  uint64_t size() const;
  uint64_t block_size() const;
  // Blocks fetched at once by one Ensure (>= 1).
  int parallel() const { return parallel_; }
  // True if content bytes [offset, offset + length), clamped to the size, are all present.
  // Lock-free (the mapped record): the cheap test before Ensure on every read.
  bool Present(uint64_t offset, uint64_t length) const;

  // Guarantees that content bytes [offset, offset + length), clamped to the size, are present in
  // the file's inode when it returns OK, fetching the missing blocks first. Adds the number of
  // blocks this call fetched to `*fetched_blocks` if given. Errors: those of the store (naming
  // the object), DataLoss after repeated checksum mismatches, ResourceExhausted (disk full,
  // naming the fix), DeadlineExceeded.
  absl::Status Ensure(uint64_t offset, uint64_t length, absl::Time deadline,
                      size_t* fetched_blocks = nullptr);

  // Readahead step: fetches the first block of [offset, offset + length) (clamped) that is
  // neither present nor being fetched in this process (kFetched); if every missing block there
  // is in flight, waits for the first of those (kWaited); kNothing: all present; kFailed: a
  // fetch failed (the read that needs the block fetches it again and reports).
  enum class Step { kFetched, kWaited, kNothing, kFailed };
  Step FetchNextMissing(uint64_t offset, uint64_t length, absl::Time deadline);

  void ResetAfterFork();

 private:
  // The blocks [*first, *last] holding content bytes [offset, offset + length), clamped to the
  // size; false if there are none to consider (complete, empty range, or past the end).
  bool BlocksOf(uint64_t offset, uint64_t length, size_t* first, size_t* last) const;
  // After blocks were filled (`fetched` of them by this process): promotion, eviction hook.
  void AfterFetch(size_t fetched);
  // Fetches `block` unless present, joining a fetch of it in flight; false on failure.
  bool Fill(size_t block, absl::Time deadline);
  // Fetches the missing blocks of [first, first + count), contiguous ones with one GET where no
  // other thread or process fetches them; adds the blocks fetched to `*fetched`.
  absl::Status FillRun(size_t first, size_t count, absl::Time deadline, size_t* fetched);
  // Fetches blocks [first, first + count), which the caller has locked (TryLockBlock) and found
  // missing, with one GET streamed into the data file; each block is marked once verified (also
  // when a later one fails). Unlocks them all; sets *fetched to the blocks marked.
  absl::Status FetchLocked(size_t first, size_t count, absl::Time deadline, size_t* fetched);
  absl::Status FetchBlockOnce(size_t block, absl::Time deadline, bool* fetched);
  void MaybePromote();

  const std::string final_path_;
  const std::unique_ptr<PartialFile> partial_;
  BlockFetcher* const fetcher_;
  ByteBudget* const budget_;
  const int parallel_;
  const std::function<void()> after_fill_;
  std::atomic<bool> complete_{false};
  SingleFlight<size_t> flights_;  // by block
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_CACHE_LAZY_CONTENT_H_
