// The one mapping between absl::Status and POSIX errno.
//
// Core reports errors as absl::Status. A status made by PosixError() carries the exact errno as a
// payload (ENOTDIR, ELOOP, EROFS, ... have no canonical code of their own); any other status maps
// through the table in posix_error.cc. The shim converts a status to errno exactly once, at the C
// boundary, with StatusToErrno().
#ifndef HFSHIM_CORE_BASE_POSIX_ERROR_H_
#define HFSHIM_CORE_BASE_POSIX_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace hfshim {

// A status whose canonical code matches `err` (ENOENT -> NotFound, EROFS -> FailedPrecondition,
// ...) and which carries `err` itself, so StatusToErrno() gives it back exactly. Requires err > 0.
absl::Status PosixError(int err, absl::string_view message);

// The errno for `status`: its payload if it has one, else the table (NotFound -> ENOENT,
// PermissionDenied -> EACCES, DataLoss/Unavailable/DeadlineExceeded/Internal -> EIO, ...).
// Returns 0 for OK.
int StatusToErrno(const absl::Status& status);

// PosixError(errno_value, "<what>: <strerror>") for a failed libc call.
absl::Status ErrnoStatus(int errno_value, absl::string_view what);

}  // namespace hfshim

#endif  // HFSHIM_CORE_BASE_POSIX_ERROR_H_
