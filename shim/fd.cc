// fd management: close, close_range, closefrom, dup, dup2, dup3, fcntl(64) F_DUPFD*, and the
// fd mutations fchmod/fchown/futimens/fsetxattr/fremovexattr (EROFS on virtual fds).
//
// Only fds with a hint (core/vfs/fd_table.h) do any work; in a vfork child (not the owner
// process) nothing shared is written, since the child runs in its parent's memory.
#include <cstdarg>

#include "core/base/hot_path.h"
#include "shim/kernel_call.h"
#include "shim/shim.h"

using hfshim::FdHint;
using hfshim::FdKind;
using hfshim::Vfs;
using namespace hfshim::shim;

namespace {

bool Tracked(int fd) { return FdHint(fd) != FdKind::kNone; }

// Runs `fn(vfs)` on the process Vfs if it is running, under the depth guard, keeping errno.
template <typename Fn>
void WithVfs(Fn&& fn) {
  const int saved = errno;
  ++t_depth;
  try {
    if (Vfs* vfs = Vfs::Instance()) fn(*vfs);
  } catch (...) {
  }
  --t_depth;
  errno = saved;
}

void AfterDup(int from, int to) {
  if (to < 0 || t_depth != 0 || !Ready() || (!Tracked(from) && !Tracked(to))) return;
  if (!OwnerProcess()) return;
  WithVfs([&](Vfs& vfs) { vfs.NoteDup(from, to); });
}

// True if `fd` is a virtual content fd or placeholder (its fstat reports virtual metadata).
bool IsVirtualFd(int fd) {
  if (!EnterFd(fd)) return false;
  const int saved = errno;
  struct stat st;
  bool virt = false;
  if (FstatFd(fd, &st, &virt) != 0) virt = false;
  errno = saved;
  return virt;
}

}  // namespace

EXPORT HFSHIM_HOT_PATH int close(int fd) {
  if (Tracked(fd) && t_depth == 0 && Ready() && OwnerProcess()) {
    WithVfs([&](Vfs& vfs) { vfs.NoteClose(fd); });
    hfshim::ClearFdHint(fd);
  }
  return KernelClose(fd);
}

EXPORT int close_range(unsigned first, unsigned last, int flags) {
  int rc = REAL(close_range)(first, last, flags);
  // CLOSE_RANGE_CLOEXEC keeps the fds open. Stale table rows heal by (dev, ino) on use.
  if (rc == 0 && !(flags & CLOSE_RANGE_CLOEXEC) && Ready() && OwnerProcess()) {
    hfshim::ClearFdHintRange(first, last);
  }
  return rc;
}

EXPORT void closefrom(int lowfd) {
  REAL(closefrom)(lowfd);
  if (lowfd >= 0 && Ready() && OwnerProcess()) hfshim::ClearFdHintRange(lowfd, ~0u);
}

EXPORT int dup(int fd) {
  int r = REAL(dup)(fd);
  AfterDup(fd, r);
  return r;
}

EXPORT int dup2(int from, int to) {
  int r = REAL(dup2)(from, to);
  if (r >= 0) AfterDup(from, r);
  return r;
}

EXPORT int dup3(int from, int to, int flags) {
  int r = REAL(dup3)(from, to, flags);
  if (r >= 0) AfterDup(from, r);
  return r;
}

// The argument is forwarded as a pointer-sized value, as glibc's own fcntl reads it.
EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  int r = REAL(fcntl)(fd, cmd, arg);
  if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && r >= 0) AfterDup(fd, r);
  return r;
}

EXPORT int fchmod(int fd, mode_t mode) {
  if (IsVirtualFd(fd)) {
    errno = EROFS;
    return -1;
  }
  return REAL(fchmod)(fd, mode);
}

EXPORT int fchown(int fd, uid_t uid, gid_t gid) {
  if (IsVirtualFd(fd)) {
    errno = EROFS;
    return -1;
  }
  return REAL(fchown)(fd, uid, gid);
}

EXPORT int futimens(int fd, const struct timespec* times) {
  if (IsVirtualFd(fd)) {
    errno = EROFS;
    return -1;
  }
  return REAL(futimens)(fd, times);
}

EXPORT int fsetxattr(int fd, const char* name, const void* value, size_t size, int flags) {
  if (IsVirtualFd(fd)) {
    errno = EROFS;
    return -1;
  }
  return REAL(fsetxattr)(fd, name, value, size, flags);
}

EXPORT int fremovexattr(int fd, const char* name) {
  if (IsVirtualFd(fd)) {
    errno = EROFS;
    return -1;
  }
  return REAL(fremovexattr)(fd, name);
}

extern "C" {
__attribute__((visibility("default"), alias("fcntl"))) int fcntl64(int, int, ...);
}
