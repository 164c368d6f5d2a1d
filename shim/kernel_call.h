// Passthrough straight to the kernel, for the calls a program makes most outside the prefix.
//
// glibc's open/openat, close, read, fstatat and statx are each one system call on x86_64 Linux. A
// wrapper that calls them puts its own frame between the program and that system call, and on
// this machine's CPUs the kernel leaves the return predictor empty on its way out (RSB filling,
// SRSO "safe RET"), so every `ret` after a system call mispredicts: ~8 ns per frame
// (bench/README.md, "Passthrough costs"). The wrappers below make the system call themselves,
// one frame above the program as glibc does, whenever that is exactly what glibc would do:
//  * the next definition of the function is glibc's own (the constructor checks; another
//    preloaded library that wraps it after us is called, not bypassed), and
//  * for the cancellation points (open, openat, close, read), the process has one thread
//    (`__libc_single_threaded`): with more, glibc's wrapper also honours pthread_cancel, so the
//    call goes through glibc.
// Before the constructor ran (real_* still null) they call the kernel too: libc's symbols may
// not be resolved yet.
//
// Each returns as glibc does: the result, errno untouched on success; -1 with errno on failure.
// PRELOAD-SAFE: no allocation, no locks, async-signal-safe.
#ifndef HFSHIM_SHIM_KERNEL_CALL_H_
#define HFSHIM_SHIM_KERNEL_CALL_H_

#include <fcntl.h>
#include <sys/single_threaded.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/vfs/raw_syscall.h"
#include "shim/shim.h"

namespace hfshim::shim {

// Set once by the constructor: the real_* of the calls below are glibc's own definitions.
extern bool g_next_is_glibc;

// Whether a call whose next definition is `real` (a real_* pointer) goes to the kernel directly.
template <typename Fn>
inline bool DirectToKernel(Fn real, bool cancellation_point) {
  if (real == nullptr) return true;
  return g_next_is_glibc && (!cancellation_point || __libc_single_threaded);
}

// A raw system call's result as glibc returns it: -1 with errno for -4095..-1.
template <typename T = int>
inline T KernelResult(long r) {
  if (r < 0 && r > -4096) {
    Errno() = static_cast<int>(-r);
    return -1;
  }
  return static_cast<T>(r);
}

inline int KernelOpenAt(int dirfd, const char* path, int flags, mode_t mode) {
  if (DirectToKernel(real_openat, true)) {
    return KernelResult(RawSyscall(SYS_openat, dirfd, path, flags, mode));
  }
  return real_openat(dirfd, path, flags, mode);
}

inline int KernelClose(int fd) {
  if (DirectToKernel(real_close, true)) {
    return KernelResult(RawSyscall(SYS_close, fd));
  }
  return real_close(fd);
}

inline ssize_t KernelRead(int fd, void* buf, size_t n) {
  if (DirectToKernel(real_read, true)) {
    return KernelResult<ssize_t>(RawSyscall(SYS_read, fd, buf, n));
  }
  return real_read(fd, buf, n);
}

inline int KernelFstatAt(int dirfd, const char* path, struct stat* st, int flags) {
  if (DirectToKernel(real_fstatat, false)) {
    return KernelResult(RawSyscall(SYS_newfstatat, dirfd, path, st, flags));
  }
  return real_fstatat(dirfd, path, st, flags);
}

// glibc answers a kernel without statx (ENOSYS, e.g. under an old seccomp profile) from fstatat:
// that case is left to it.
inline int KernelStatx(int dirfd, const char* path, int flags, unsigned mask, struct statx* stx) {
  if (DirectToKernel(real_statx, false)) {
    const long r = RawSyscall(SYS_statx, dirfd, path, flags, mask, stx);
    if (r != -ENOSYS || real_statx == nullptr) return KernelResult(r);
  }
  return real_statx(dirfd, path, flags, mask, stx);
}

}  // namespace hfshim::shim

#endif  // HFSHIM_SHIM_KERNEL_CALL_H_
