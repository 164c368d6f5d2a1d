// open family: open/open64, openat/openat64, the fortified __open_2/__openat_2 forms, creat.
#include <cstdarg>

#include "core/base/hot_path.h"
#include "shim/kernel_call.h"
#include "shim/shim.h"

using hfshim::Outcome;
using hfshim::Vfs;
using namespace hfshim::shim;

namespace {

bool NeedsMode(int flags) { return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE; }

}  // namespace

namespace hfshim::shim {
namespace {

// An open of a path that may be virtual (Enter said so). Out of line: it keeps the wrappers'
// passthrough path short.
[[gnu::noinline]] int OpenMaybeVirtual(int dirfd, const char* path, int flags, mode_t mode) {
  Scope scope;
  return scope.Run(
      -1,
      [&](Vfs& vfs) {
        Outcome o = vfs.Open(dirfd, path, flags, mode);
        return scope.Finish(o, [&](const char* p) {
          return KernelOpenAt(AtFd(p, dirfd), AtPath(p, path), flags, mode);
        });
      },
      [&] { return KernelOpenAt(dirfd, path, flags, mode); });
}

// The body of every open wrapper, inlined into each so that a passthrough open makes its system
// call from the wrapper's own frame, one frame above the program as glibc's does
// (shim/kernel_call.h).
[[gnu::always_inline]] inline int OpenBody(int dirfd, const char* path, int flags, mode_t mode) {
  if (!Enter(dirfd, path)) {
    return PassThrough(
        dirfd, path, (flags & O_NOFOLLOW) == 0,
        [&] { return KernelOpenAt(dirfd, path, flags, mode); },
        [=](const char* p) { return OpenAt(AT_FDCWD, p, flags, mode); });
  }
  return OpenMaybeVirtual(dirfd, path, flags, mode);
}

}  // namespace

HFSHIM_HOT_PATH int OpenAt(int dirfd, const char* path, int flags, mode_t mode) {
  return OpenBody(dirfd, path, flags, mode);
}

}  // namespace hfshim::shim

extern "C" {

__attribute__((visibility("default"))) HFSHIM_HOT_PATH int open(const char* path, int flags, ...) {
  mode_t mode = 0;
  if (NeedsMode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  return OpenBody(AT_FDCWD, path, flags, mode);
}

__attribute__((visibility("default"))) HFSHIM_HOT_PATH int openat(int dirfd, const char* path,
                                                                  int flags, ...) {
  mode_t mode = 0;
  if (NeedsMode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  return OpenBody(dirfd, path, flags, mode);
}

// Fortified forms: glibc aborts when O_CREAT/O_TMPFILE come without a mode argument.
__attribute__((visibility("default"))) HFSHIM_HOT_PATH int __open_2(const char* path, int flags) {
  if (NeedsMode(flags)) ChkFail();
  return OpenBody(AT_FDCWD, path, flags, 0);
}

__attribute__((visibility("default"))) HFSHIM_HOT_PATH int __openat_2(int dirfd, const char* path,
                                                                      int flags) {
  if (NeedsMode(flags)) ChkFail();
  return OpenBody(dirfd, path, flags, 0);
}

__attribute__((visibility("default"))) int creat(const char* path, mode_t mode) {
  return OpenBody(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

__attribute__((visibility("default"), alias("open"))) HFSHIM_HOT_PATH int open64(const char*, int,
                                                                                 ...);
__attribute__((visibility("default"), alias("openat"))) HFSHIM_HOT_PATH int openat64(int,
                                                                                     const char*,
                                                                                     int, ...);
__attribute__((visibility("default"), alias("__open_2"))) HFSHIM_HOT_PATH int __open64_2(
    const char*, int);
__attribute__((visibility("default"), alias("__openat_2"))) HFSHIM_HOT_PATH int __openat64_2(
    int, const char*, int);
__attribute__((visibility("default"), alias("creat"))) int creat64(const char*, mode_t);

}  // extern "C"
