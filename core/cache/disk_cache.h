// DiskCache: the ContentCache implementation (see content_cache.h for the contract).
// Internal pieces shared with eviction live here; everyone else uses ContentCache.
#ifndef HFSHIM_CORE_CACHE_DISK_CACHE_H_
#define HFSHIM_CORE_CACHE_DISK_CACHE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/env/env.h"

namespace hfshim {

// Suffix of a pack window file: a symlink to the memory file holding a fetched pack window's
// bytes, kept while the fetching process writes its members in the background so other
// processes take their files from it (FORMAT.md).
inline constexpr absl::string_view kWindowSuffix = ".window";

// Refuses a cache directory that others could write into (group/other write bits, or owned by
// another user): content there cannot be trusted. Creates it 0700 if missing.
absl::Status PrepareCacheDir(Env* env, const std::string& dir);

// Deletes least recently used content files (by mtime) under `dirs` until their total size is
// at most `max_bytes` and each file system keeps `free_ratio` free. Returns files deleted.
// Files open elsewhere stay readable (unlinked inodes live on). Also removes leftovers of killed
// fills: temp files whose writer process is dead (or idle for an hour), hour-old lock and window
// files, and
// presence records whose data file is gone. A partial file counts its allocated bytes; it is
// evicted like complete content (record first, then data). To meet `free_ratio` alone, content
// written or used within `keep_recent` (by mtime) is kept: a process opens what it just fetched
// by name, and a disk filled by other data must not make the cache evict every fill before its
// open (the opens failed). *still_over, if given, says whether the limits are still exceeded.
int EvictLeastRecentlyUsed(const std::vector<std::string>& dirs, uint64_t max_bytes,
                           double free_ratio, absl::Duration keep_recent = absl::ZeroDuration(),
                           bool* still_over = nullptr);

}  // namespace hfshim

#endif  // HFSHIM_CORE_CACHE_DISK_CACHE_H_
