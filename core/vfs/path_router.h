// The router: the shim's first question for every path argument, "can this reach the prefix?",
// answered without allocation, locks or (for absolute paths) syscalls.
//
//  * Absolute paths: a first-component compare rejects almost every path in a few instructions;
//    the rest are compared with the prefix's literal and real forms (after a lexical clean-up
//    only when the path holds "//", "." or ".." components).
//  * Relative paths with AT_FDCWD: a cached relation of the working directory to the prefix
//    (inside it, a placeholder of a virtual directory, or elsewhere; recomputed after chdir);
//    from elsewhere only a first component naming a prefix component, or a ".." component, needs
//    the join (getcwd + Match).
//  * Relative paths with a dirfd: an fd hint (core/vfs/fd_table.h) says yes at once; otherwise the
//    same name filter, then readlink("/proc/self/fd/N") + join + Match.
//
// False positives only cost a slower check; the answer is exact for paths without symlinks into
// the prefix from outside (following those is not supported; INTERPOSE.md §4 calls it P2).
//
// PRELOAD-SAFE throughout: every function here may run before core starts, in a vfork child, in
// a signal handler or after fork. Thread-safety: InitRouter() once (constructor); the rest is
// thread-safe.
#ifndef HFSHIM_CORE_VFS_PATH_ROUTER_H_
#define HFSHIM_CORE_VFS_PATH_ROUTER_H_

#include <sys/syscall.h>
#include <sys/types.h>

#include "absl/strings/string_view.h"
#include "core/vfs/prefix.h"
#include "core/vfs/raw_syscall.h"

namespace hfshim {

// Computes the prefix and the placeholder root from the environment (HFSHIM_DISABLE=1 leaves the
// router disabled). Returns whether the router is enabled.
bool InitRouter(GetenvFn getenv_fn);
// For tests: route to `prefix` with placeholders under `placeholder_root`.
bool InitRouterWith(absl::string_view prefix, absl::string_view placeholder_root);

bool RouterEnabled();
const Prefix& RouterPrefix();
Prefix* MutableRouterPrefix();
absl::string_view PlaceholderRoot();

// True if (dirfd, path) may land at or under the prefix (or on a virtual directory). Never
// dereferences a null path (false: libc answers EFAULT).
bool MaybeVirtual(int dirfd, const char* path);

// True if `fd` may refer to a virtual entry or the prefix root (an fd hint is set).
bool MaybeVirtualFd(int fd);

// The spellings of an fd as a path: "/proc/self/fd/N", "/proc/thread-self/fd/N", "/dev/fd/N" and
// "/proc/<this process's pid>/fd/N", each alone or followed by "/rest", and "/dev/stdin",
// "/dev/stdout", "/dev/stderr" (0-2). The
// kernel resolves them to whatever fd N is open on (for a virtual fd: a node-cache file or a
// placeholder), never through the prefix, so the shim must answer them from the fd. True with
// *fd and *rest (the components after N, without the leading slash; empty if none) for those
// spellings.
bool ParseFdLink(absl::string_view path, int* fd, absl::string_view* rest);
// ParseFdLink of an fd that may be virtual (it has a hint): the shim's business.
bool VirtualFdLink(absl::string_view path, int* fd, absl::string_view* rest);

// With raw syscalls (PRELOAD-SAFE): the working directory's path into `out` (n bytes; returns
// the getcwd syscall's result: the length with the NUL, or < 0), and fd `fd`'s path, the
// readlink of /proc/self/fd/N, into `out` (kVfsPathMax bytes, NUL-terminated; the length, or
// -1).
inline long RawGetcwd(char* out, size_t n) { return RawSyscall(SYS_getcwd, out, n); }
long RawFdPath(int fd, char* out);

// True if a directory with this st_dev may be a placeholder (same file system as the
// placeholder root); lets fstat re-learn placeholders inherited across exec.
bool MaybePlaceholderDev(dev_t dev);

// False when the working directory is known not to be a placeholder (getcwd needs no
// translation).
bool CwdMaybePlaceholder();

// After a successful chdir/fchdir: the working directory's relation is recomputed lazily.
void NoteCwdChanged();
// Changes with every NoteCwdChanged: a relative path means the same thing while it is unchanged
// (unless the working directory moved without libc's chdir/fchdir, e.g. a raw system call).
uint64_t CwdGeneration();

// In a vfork child (which must not allocate or lock), chdir to a virtual directory: writes into
// `out` (kVfsPathMax bytes) the placeholder of absolute `path`, creating it and its sidecar with
// raw syscalls. The path is cleaned lexically and not checked against the index (a missing
// directory becomes an empty one). False if `path` is not under the prefix, names the root or a
// path that exists on the real disk, or the placeholder cannot be made. PRELOAD-SAFE.
bool VforkPlaceholder(const char* path, char* out);

// True if `path`'s first component (or any component, for "..") may reach the prefix from a
// directory outside it. Exposed for tests.
bool NeedsJoin(absl::string_view rel_path);

}  // namespace hfshim

#endif  // HFSHIM_CORE_VFS_PATH_ROUTER_H_
