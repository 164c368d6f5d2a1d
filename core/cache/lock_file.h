// Cross-process locks on files of the node cache.
#ifndef HFSHIM_CORE_CACHE_LOCK_FILE_H_
#define HFSHIM_CORE_CACHE_LOCK_FILE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hfshim {

// Takes an exclusive lock on the lock file `path` (created 0600 if missing), polling until it is
// free, `satisfied()` turns true (another process did the work meanwhile) or `deadline` passes.
// Returns the locked fd (close it to release), or -1 if `satisfied()` answered true first; it is
// asked once more after the lock is taken, so work finished just before is never done twice.
// The lock is a process-associated fcntl lock, not flock: a child forked while a thread holds it
// does not inherit it. A lock file unlinked and recreated under us is detected (the locked
// inode must still be the one at `path`), so lock files may be removed by their holder or by
// eviction. Errors: DeadlineExceeded, or the errno of open/fcntl naming `path`.
absl::StatusOr<int> AcquireLockFile(const std::string& path, absl::Time deadline,
                                    const std::function<bool()>& satisfied);

}  // namespace hfshim

#endif  // HFSHIM_CORE_CACHE_LOCK_FILE_H_
