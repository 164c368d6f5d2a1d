// The process's file size limit (RLIMIT_FSIZE, `ulimit -f`), checked before the shim grows a file.
//
// Past the limit the kernel sends the writing thread SIGXFSZ, whose default action kills the
// whole process: a node-cache fill, an index download or a shared buffer made for a program
// under `ulimit -f` would kill that program. Writers call WithinFileSizeLimit first and fail with
// FileSizeLimitError instead, so the program gets an errno and an `hfshim:` line naming the fix.
//
// Thread-safe; one getrlimit per call (the limit may change while the process runs).
#ifndef HFSHIM_CORE_BASE_FILE_SIZE_LIMIT_H_
#define HFSHIM_CORE_BASE_FILE_SIZE_LIMIT_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace hfshim {

// True if a file of this process may reach `end` bytes (a write ending there, or a truncate to
// that length) without SIGXFSZ.
bool WithinFileSizeLimit(uint64_t end);

// EFBIG: `what` (e.g. "write") would make a file `end` bytes long, past the limit.
absl::Status FileSizeLimitError(uint64_t end, absl::string_view what);

}  // namespace hfshim

#endif  // HFSHIM_CORE_BASE_FILE_SIZE_LIMIT_H_
