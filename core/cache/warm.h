// Warm-up: choosing which contents a set of targets needs, and fetching them into the node cache
// with parallel workers. Used by hfshim-warm; testable without the CLI.
#ifndef HFSHIM_CORE_CACHE_WARM_H_
#define HFSHIM_CORE_CACHE_WARM_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/cache/content_cache.h"
#include "core/index/index_reader.h"

namespace hfshim {

// The distinct file contents (by hash) under the given targets, each target being
//   "--all"                         every file of the generation
//   "org/name[@rev]", "datasets/org/name[@rev]"  a repo (with @rev: one snapshot, rev = a
//                                   revision hash or a ref name such as main)
//   a path relative to the hub cache root ("datasets--o--d/snapshots/<rev>/train")
// Symlinks are followed to their blobs. NotFound names a target that is not in the index.
absl::StatusOr<std::vector<Entry>> SelectContents(const IndexReader& index,
                                                  const std::vector<std::string>& targets,
                                                  ObjectStore* store, absl::Time deadline);

struct WarmProgress {
  uint64_t files_done = 0, files_total = 0, bytes_done = 0, bytes_total = 0;
};

struct WarmResult {
  uint64_t files = 0, bytes = 0;                   // what the targets need
  uint64_t already_cached = 0, already_bytes = 0;  // of which were cached before
  uint64_t fetched = 0, fetched_bytes = 0;
  uint64_t failed = 0;
  uint64_t corrupt_dropped = 0;  // with verify: cached contents found corrupt and removed
  std::string first_error;
};

// Materializes every entry with `threads` workers. With `verify`, already cached contents are
// re-checked first and refetched if corrupt. `progress` is called from worker threads, serialised.
WarmResult WarmContents(ContentCache* cache, const IndexReader& index,
                        const std::vector<Entry>& entries, int threads, bool verify,
                        absl::Time deadline,
                        const std::function<void(const WarmProgress&)>& progress);

}  // namespace hfshim

#endif  // HFSHIM_CORE_CACHE_WARM_H_
