// Internal header of libhfshim.so: the real_* pointers, the re-entrancy guard and the helpers
// every wrapper uses. A wrapper is a few lines:
//
//   extern "C" int stat(const char* path, struct stat* st) {
//     if (!shim::Enter(AT_FDCWD, path)) return REAL(stat)(path, st);    // fast path
//     shim::Scope scope;                                                 // depth guard, errno
//     return scope.Run(-1, [&](Vfs& vfs) {                               // no exception escapes
//       Outcome o = vfs.Stat(AT_FDCWD, path, 0, st);
//       return scope.Finish(o, [&](const char* p) { return REAL(stat)(p ? p : path, st); });
//     }, [&] { return REAL(stat)(path, st); });
//   }
//
// PRELOAD-SAFE: Enter() and the fast path never allocate, lock or touch errno. Everything behind
// Scope runs with the thread's depth raised, so calls core makes (its own I/O, LMDB, curl, a
// signal handler interrupting it) reach the real functions directly.
#ifndef HFSHIM_SHIM_SHIM_H_
#define HFSHIM_SHIM_SHIM_H_

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#include <utime.h>

#include <cerrno>
#include <new>

#include "core/base/hot_path.h"
#include "core/vfs/link_resolver.h"
#include "core/vfs/path_router.h"
#include "core/vfs/vfs.h"

namespace hfshim::shim {

// The real_* pointers (symbols.def). Null until the constructor ran; REAL() resolves lazily then.
#define SHIM_REAL(name, version, ret, params) \
  using name##_fn = ret(*) params;            \
  extern name##_fn real_##name;               \
  name##_fn Resolve_##name();
#define SHIM_ALIAS(name, target)
#define SHIM_EXPORT(name)
#include "shim/symbols.def"
#undef SHIM_REAL
#undef SHIM_ALIAS
#undef SHIM_EXPORT

// Marks a wrapper definition: an exported C symbol (the version script keeps only symbols.def's).
#define EXPORT extern "C" __attribute__((visibility("default")))

#define REAL(name) \
  (::hfshim::shim::real_##name ? ::hfshim::shim::real_##name : ::hfshim::shim::Resolve_##name())

// vfork() calls in flight in this address space (init.cc).
extern "C" __attribute__((visibility("hidden"))) int hfshim_vfork_inflight;

// Depth of shim frames on this thread. initial-exec: no __tls_get_addr (which may allocate).
extern __thread int t_depth __attribute__((tls_model("initial-exec")));

// errno without a call to __errno_location(). glibc's errno is an initial-exec TLS variable of
// libc.so.6, so its address is the thread pointer plus an offset that is the same in every
// thread; the constructor records that offset. Before it has, `errno` itself. PRELOAD-SAFE.
extern long g_errno_offset;
inline int& Errno() {
  if (__builtin_expect(g_errno_offset != 0, 1)) {
    return *reinterpret_cast<int*>(static_cast<char*>(__builtin_thread_pointer()) + g_errno_offset);
  }
  return errno;
}

// True once the constructor resolved every real_* and set up the router.
bool Ready();
// True in the process that ran the constructor (or a fork child of it, after atfork); false in
// a vfork child, which must not allocate, lock or write shared tables. No system call unless a
// vfork is in flight or the process created children the atfork handlers did not see
// (init.cc documents each case). PRELOAD-SAFE.
bool OwnerProcess();
// From now on OwnerProcess() asks the kernel (a child may share or copy our memory without the
// atfork handlers having run). PRELOAD-SAFE.
void NoteUntrackedProcess();

// The fast test: not nested, router on, and (dirfd, path) may reach the prefix.
inline bool Enter(int dirfd, const char* path) {
  return t_depth == 0 && Ready() && MaybeVirtual(dirfd, path) && OwnerProcess();
}
inline bool EnterFd(int fd) {
  return t_depth == 0 && Ready() && MaybeVirtualFd(fd) && OwnerProcess();
}

// Raises the depth for its lifetime and keeps the caller's errno.
class Scope {
 public:
  Scope() : saved_errno_(Errno()) { ++t_depth; }
  ~Scope() { --t_depth; }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

  int saved_errno() const { return saved_errno_; }

  // Runs `body` on the process Vfs; `fallback` (the real call) when core is not running. Any
  // exception becomes `fail_value` with errno ENOMEM.
  template <typename R, typename Body, typename Fallback>
  R Run(R fail_value, Body&& body, Fallback&& fallback) {
    try {
      Vfs* vfs = Vfs::Instance();
      if (vfs == nullptr) {
        Errno() = saved_errno_;
        return fallback();
      }
      return body(*vfs);
    } catch (...) {
      errno = ENOMEM;
      return fail_value;
    }
  }

  // Passthrough: `real(path_or_null)` with the caller's errno restored (null = the caller's
  // own path). Result: the value, errno untouched on success; -1 with errno on failure.
  template <typename Real>
  auto Finish(const Outcome& o, Real&& real) -> decltype(real(nullptr)) {
    if (o.passthrough) {
      Errno() = saved_errno_;
      return real(o.real_path.empty() ? nullptr : o.real_path.c_str());
    }
    return Result(o.rc);
  }
  int Result(int rc) {
    if (rc < 0) {
      Errno() = -rc;
      return -1;
    }
    Errno() = saved_errno_;
    return rc;
  }

 private:
  const int saved_errno_;
};

// For passthrough of *at() calls: the rewritten absolute path replaces (dirfd, path).
inline int AtFd(const char* rewritten, int dirfd) { return rewritten ? AT_FDCWD : dirfd; }
inline const char* AtPath(const char* rewritten, const char* path) {
  return rewritten ? rewritten : path;
}

// A null test the compiler cannot fold away: glibc declares many path parameters nonnull, which
// would let GCC delete `path == nullptr` checks, yet callers do pass NULL (Rust's statx probe)
// and must get EFAULT from the kernel, not a crash in the shim.
inline bool IsNull(const void* p) {
  __asm__("" : "+r"(p));
  return p == nullptr;
}

// After a passthrough call failed: whether the kernel's walk may have gone through a symlink
// into the prefix (errno ENOENT or ENOTDIR, in a program's own call after start-up), so that
// RetryThroughLink is worth asking.
inline bool MayRetryThroughLink() {
  const int e = Errno();
  return (e == ENOENT || e == ENOTDIR) && t_depth == 0 && Ready();
}

// The failed call made again as `call(path)` on the path from the prefix on, if the walk of
// (dirfd, path) enters the prefix through a symlink (core/vfs/link_resolver.h); else `failed`,
// with errno untouched. Out of line: its path buffer stays off the wrappers' fast path.
template <typename R, typename Call>
[[gnu::noinline]] HFSHIM_HOT_PATH R RetryThroughLink(R failed, int dirfd, const char* path,
                                                     bool follow_last, Call&& call) {
  char again[kVfsPathMax];
  if (IsNull(path) || !OwnerProcess() || !ResolveIntoPrefix(dirfd, path, follow_last, again)) {
    return failed;
  }
  return call(again);
}

// Whether a libc result means failure: -1 for int calls, null for pointer ones.
inline bool Failed(int rc) { return rc < 0; }
inline bool Failed(const void* p) { return p == nullptr; }

// After a passthrough call failed: `failed`, or the call made again as `call(p)` from the prefix
// on when a symlink into the prefix explains the failure (RetryThroughLink). A path whose walk
// found no way in during the last second is let fail first thing, before errno is even read: a
// program that misses the same path repeatedly pays a hash and a table slot (bench/README.md,
// tenth session). Out of line: nothing of it is live in the wrapper's frame on success.
template <typename R, typename Call>
[[gnu::noinline]] HFSHIM_HOT_PATH R AfterFailedPassThrough(R failed, int dirfd, const char* path,
                                                           bool follow_last, Call&& call) {
  if (RecentlyMissed(dirfd, path, follow_last) || !MayRetryThroughLink()) return failed;
  return RetryThroughLink(failed, dirfd, path, follow_last, call);
}

// The passthrough of a path call that Enter() declined: `real()`, then AfterFailedPassThrough if
// it failed. Inlined: a wrapper's passthrough stays one frame above the program.
template <typename Real, typename Again>
[[gnu::always_inline]] inline auto PassThrough(int dirfd, const char* path, bool follow_last,
                                               Real&& real, Again&& again) {
  const auto r = real();
  if (Failed(r)) return AfterFailedPassThrough(r, dirfd, path, follow_last, again);
  return r;
}

// Fortify failure (glibc's __chk_fail prints "buffer overflow detected" and aborts).
[[noreturn]] void ChkFail();

// Shared bodies (open.cc, stat.cc): one per family, the 64-bit and legacy names call them.
int OpenAt(int dirfd, const char* path, int flags, mode_t mode);
int StatAt(int dirfd, const char* path, struct stat* st, int flags);
// fstat with a virtual fd's metadata (*virtualized, if given, says whether it was one).
int FstatFd(int fd, struct stat* st, bool* virtualized = nullptr);

}  // namespace hfshim::shim

#endif  // HFSHIM_SHIM_SHIM_H_
