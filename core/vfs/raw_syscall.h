// RawSyscall: a system call made without going through any libc symbol, so that code which must
// not re-enter the shim's own wrappers (the router's fast checks, the shim before its
// constructor) can reach the kernel. Returns the kernel's result: >= 0, or -errno (errno is not
// touched).
//
// PRELOAD-SAFE: no allocation, no locks, no errno, async-signal-safe.
#ifndef HFSHIM_CORE_VFS_RAW_SYSCALL_H_
#define HFSHIM_CORE_VFS_RAW_SYSCALL_H_

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace hfshim {

inline long RawSyscall6(long nr, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0,
                        long a6 = 0) {
#if defined(__x86_64__)
  long ret;
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  register long r9 __asm__("r9") = a6;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
#else
  const int saved = errno;
  long ret = ::syscall(nr, a1, a2, a3, a4, a5, a6);
  if (ret == -1) ret = -errno;
  errno = saved;
  return ret;
#endif
}

template <typename... Args>
long RawSyscall(long nr, Args... args) {
  return RawSyscall6(nr, (long)(args)...);
}

// errno-style wrapper: -1 with errno set on failure (for passthrough before the constructor).
template <typename... Args>
long RawSyscallErrno(long nr, Args... args) {
  long r = RawSyscall(nr, args...);
  if (r < 0 && r > -4096) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return r;
}

}  // namespace hfshim

#endif  // HFSHIM_CORE_VFS_RAW_SYSCALL_H_
