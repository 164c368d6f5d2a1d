// Helpers shared by the Vfs operation files (ops.cc, fd_link_ops.cc): how an operation turns
// into an Outcome (counted), and the open-flag rules. Internal to core/vfs.
#ifndef HFSHIM_CORE_VFS_OP_RESULTS_H_
#define HFSHIM_CORE_VFS_OP_RESULTS_H_

#include <fcntl.h>

#include <string>

#include "absl/status/status.h"
#include "core/base/posix_error.h"
#include "core/stats/stats.h"
#include "core/vfs/vfs.h"

namespace hfshim {

inline int ErrnoOf(const absl::Status& s) {
  int err = StatusToErrno(s);
  return err > 0 ? err : EIO;
}

inline Outcome Fail(const absl::Status& s) {
  int err = ErrnoOf(s);
  Count(err == ENOENT ? Counter::kErrorsEnoent : Counter::kErrors);
  return Outcome::Result(-err);
}

inline Outcome Fail(int err) {
  if (err == EROFS) Count(Counter::kErrorsErofs);
  Count(err == ENOENT ? Counter::kErrorsEnoent : Counter::kErrors);
  return Outcome::Result(-err);
}

inline Outcome Passthrough(std::string real_path) {
  Count(Counter::kPrefixPassthrough);
  return real_path.empty() ? Outcome::Pass() : Outcome::PassOn(std::move(real_path));
}

// The passthrough of a stat whose resolution left the index for `real_path` (the caller's own
// path when empty); at the prefix root, the caller then counts st_nlink (Outcome::union_root).
inline Outcome StatPassthrough(std::string real_path, bool prefix_root) {
  Outcome o = Passthrough(std::move(real_path));
  o.union_root = prefix_root;
  return o;
}

inline bool WriteIntent(int flags) {
  return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)) != 0 ||
         (flags & O_TMPFILE) == O_TMPFILE;
}

// The caller's open flags a content or placeholder fd keeps.
constexpr int kKeptOpenFlags = O_CLOEXEC | O_NONBLOCK | O_NOATIME | O_PATH | O_LARGEFILE | O_NOCTTY;

// Env::Open always adds O_CLOEXEC; a caller who did not ask for it gets an inheritable fd.
inline void MatchCloexec(int fd, int flags) {
  if ((flags & O_CLOEXEC) == 0) ::fcntl(fd, F_SETFD, 0);
}

}  // namespace hfshim

#endif  // HFSHIM_CORE_VFS_OP_RESULTS_H_
