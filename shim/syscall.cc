// syscall(): libuv's uv__statx and Rust's fallback call syscall(SYS_statx, ...) directly. The
// path-taking numbers the shim answers are dispatched to the wrappers; all else is forwarded
// untouched.
#include <cstdarg>

#include "core/vfs/raw_syscall.h"
#include "shim/shim.h"

using namespace hfshim::shim;

extern "C" int statx(int, const char*, int, unsigned, struct statx*);
extern "C" ssize_t readlinkat(int, const char*, char*, size_t);

EXPORT long syscall(long nr, ...) {
  va_list ap;
  va_start(ap, nr);
  long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
  long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
  va_end(ap);
  switch (nr) {
    case SYS_fork:
    case SYS_vfork:
    case SYS_clone:
    case SYS_clone3:
      NoteUntrackedProcess();  // a child the atfork handlers do not see (init.cc)
      break;
    default:
      break;
  }
  if (t_depth == 0 && Ready()) {
    switch (nr) {
      case SYS_statx:
        return statx(static_cast<int>(a1), reinterpret_cast<const char*>(a2), static_cast<int>(a3),
                     static_cast<unsigned>(a4), reinterpret_cast<struct statx*>(a5));
      case SYS_newfstatat:
        return StatAt(static_cast<int>(a1), reinterpret_cast<const char*>(a2),
                      reinterpret_cast<struct stat*>(a3), static_cast<int>(a4));
      case SYS_stat:
        return StatAt(AT_FDCWD, reinterpret_cast<const char*>(a1),
                      reinterpret_cast<struct stat*>(a2), 0);
      case SYS_lstat:
        return StatAt(AT_FDCWD, reinterpret_cast<const char*>(a1),
                      reinterpret_cast<struct stat*>(a2), AT_SYMLINK_NOFOLLOW);
      case SYS_openat:
        return OpenAt(static_cast<int>(a1), reinterpret_cast<const char*>(a2), static_cast<int>(a3),
                      static_cast<mode_t>(a4));
      case SYS_open:
        return OpenAt(AT_FDCWD, reinterpret_cast<const char*>(a1), static_cast<int>(a2),
                      static_cast<mode_t>(a3));
      case SYS_readlinkat:
        return readlinkat(static_cast<int>(a1), reinterpret_cast<const char*>(a2),
                          reinterpret_cast<char*>(a3), static_cast<size_t>(a4));
      default:
        break;
    }
  }
  if (real_syscall == nullptr) return hfshim::RawSyscallErrno(nr, a1, a2, a3, a4, a5, a6);
  return real_syscall(nr, a1, a2, a3, a4, a5, a6);
}
