// open family: open/open64, openat/openat64, the fortified __open_2/__openat_2 forms, creat.
#include <cstdarg>

#include "core/vfs/raw_syscall.h"
#include "shim/shim.h"

using hfshim::Outcome;
using hfshim::Vfs;
using namespace hfshim::shim;

namespace {

bool NeedsMode(int flags) { return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE; }

// Passthrough of an open the shim does not handle.
int RealOpenAt(int dirfd, const char* path, int flags, mode_t mode) {
  if (real_openat == nullptr) {  // before the constructor: straight to the kernel
    return static_cast<int>(hfshim::RawSyscallErrno(SYS_openat, dirfd, path, flags, mode));
  }
  return real_openat(dirfd, path, flags, mode);
}

}  // namespace

namespace hfshim::shim {

int OpenAt(int dirfd, const char* path, int flags, mode_t mode) {
  if (!Enter(dirfd, path)) {
    const int fd = RealOpenAt(dirfd, path, flags, mode);
    if (fd < 0 && MayRetryThroughLink()) {
      return RetryThroughLink(fd, dirfd, path, (flags & O_NOFOLLOW) == 0,
                              [&](const char* p) { return OpenAt(AT_FDCWD, p, flags, mode); });
    }
    return fd;
  }
  Scope scope;
  return scope.Run(
      -1,
      [&](Vfs& vfs) {
        Outcome o = vfs.Open(dirfd, path, flags, mode);
        return scope.Finish(o, [&](const char* p) {
          return RealOpenAt(AtFd(p, dirfd), AtPath(p, path), flags, mode);
        });
      },
      [&] { return RealOpenAt(dirfd, path, flags, mode); });
}

}  // namespace hfshim::shim

extern "C" {

__attribute__((visibility("default"))) int open(const char* path, int flags, ...) {
  mode_t mode = 0;
  if (NeedsMode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  return OpenAt(AT_FDCWD, path, flags, mode);
}

__attribute__((visibility("default"))) int openat(int dirfd, const char* path, int flags, ...) {
  mode_t mode = 0;
  if (NeedsMode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  return OpenAt(dirfd, path, flags, mode);
}

// Fortified forms: glibc aborts when O_CREAT/O_TMPFILE come without a mode argument.
__attribute__((visibility("default"))) int __open_2(const char* path, int flags) {
  if (NeedsMode(flags)) ChkFail();
  return OpenAt(AT_FDCWD, path, flags, 0);
}

__attribute__((visibility("default"))) int __openat_2(int dirfd, const char* path, int flags) {
  if (NeedsMode(flags)) ChkFail();
  return OpenAt(dirfd, path, flags, 0);
}

__attribute__((visibility("default"))) int creat(const char* path, mode_t mode) {
  return OpenAt(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

__attribute__((visibility("default"), alias("open"))) int open64(const char*, int, ...);
__attribute__((visibility("default"), alias("openat"))) int openat64(int, const char*, int, ...);
__attribute__((visibility("default"), alias("__open_2"))) int __open64_2(const char*, int);
__attribute__((visibility("default"), alias("__openat_2"))) int __openat64_2(int, const char*, int);
__attribute__((visibility("default"), alias("creat"))) int creat64(const char*, mode_t);

}  // extern "C"
