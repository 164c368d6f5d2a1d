// BlockFetcher: verified ranged GETs of file content from the store, with the node cache's
// request accounting (process counters and per-instance figures for ContentCache::stats()).
//
// Thread-safety: thread-safe; one instance is shared by all fills of a ContentCache.
#ifndef HFSHIM_CORE_CACHE_BLOCK_FETCHER_H_
#define HFSHIM_CORE_CACHE_BLOCK_FETCHER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/base/mapped_buffer.h"
#include "core/cache/block_writer.h"
#include "core/index/entry.h"
#include "core/store/object_store.h"

namespace hfshim {

class BlockFetcher {
 public:
  // `store` must outlive the fetcher. `block_size` is the unit in which misses are counted.
  BlockFetcher(ObjectStore* store, uint64_t block_size) : store_(store), block_size_(block_size) {}

  // One ranged GET of `len` bytes at `off` of object `key`, counted.
  absl::Status Get(const std::string& key, uint64_t off, uint64_t len, std::string* out,
                   absl::Time deadline);
  // The same for `buffer->size()` bytes, streamed into `buffer` (no heap copy): for multi-MiB
  // transient buffers, which malloc would keep after they are freed (core/base/mapped_buffer.h).
  absl::Status GetInto(const std::string& key, uint64_t off, MappedBuffer* buffer,
                       absl::Time deadline);

  // Checks `data`, content bytes of `entry` starting at block `first_block`, against the block
  // checksums of the index. DataLoss names the block, the content and its object.
  absl::Status CheckBlocks(const Entry& entry, absl::string_view data, size_t first_block);

  // Content bytes [off, off + len) of `entry` (`off` a multiple of entry.block_size), fetched
  // and verified; a checksum mismatch is refetched up to 3 times, then logged as a damaged store
  // object and returned as DataLoss.
  absl::Status GetVerified(const Entry& entry, uint64_t off, uint64_t len, std::string* out,
                           absl::Time deadline);

  // Fills the blocks `writer` covers (content of `entry`) with one streamed GET: each block is
  // verified and marked by the writer as it arrives. A GET cut short (retryable) or a checksum
  // mismatch resumes at the first block not marked; mismatches are refetched up to 3 times,
  // then logged as a damaged store object and returned as DataLoss. On error the blocks marked
  // so far stay marked (writer.blocks_done()).
  absl::Status FetchBlocks(const Entry& entry, BlockWriter* writer, absl::Time deadline);

  uint64_t requests() const { return requests_; }
  uint64_t bytes_fetched() const { return bytes_fetched_; }
  uint64_t checksum_failures() const { return checksum_failures_; }

 private:
  // Runs `get`, one request for `len` bytes, with the request accounting.
  absl::Status Counted(uint64_t len, const std::function<absl::Status()>& get);

  ObjectStore* const store_;
  const uint64_t block_size_;
  std::atomic<uint64_t> requests_{0}, bytes_fetched_{0}, checksum_failures_{0};
};

// Rewrites a disk-full error (ENOSPC/EDQUOT) writing `path` into one that names the fix; other
// errors are returned unchanged.
absl::Status ExplainCacheWriteError(const absl::Status& s, const std::string& path);

}  // namespace hfshim

#endif  // HFSHIM_CORE_CACHE_BLOCK_FETCHER_H_
