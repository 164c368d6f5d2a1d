// stat family: stat/lstat/fstat/fstatat (+64), statx, the legacy __xstat* ABI, access family,
// statfs/statvfs, getxattr family.
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "core/base/hot_path.h"
#include "core/vfs/raw_syscall.h"
#include "shim/kernel_call.h"
#include "shim/shim.h"

using hfshim::Outcome;
using hfshim::Vfs;
using namespace hfshim::shim;

namespace {

int RealFstat(int fd, struct stat* st) {
  if (real_fstat == nullptr) return static_cast<int>(hfshim::RawSyscallErrno(SYS_fstat, fd, st));
  return real_fstat(fd, st);
}

}  // namespace

namespace hfshim::shim {

int FstatFd(int fd, struct stat* st, bool* virtualized) {
  if (virtualized != nullptr) *virtualized = false;
  int rc = RealFstat(fd, st);
  if (rc != 0 || t_depth != 0 || !Ready()) return rc;
  // Hinted fds, and directories on the placeholder file system (inherited across exec).
  if (!MaybeVirtualFd(fd) && !(S_ISDIR(st->st_mode) && MaybePlaceholderDev(st->st_dev))) {
    return rc;
  }
  if (!OwnerProcess()) return rc;
  Scope scope;
  return scope.Run(
      -1,
      [&](Vfs& vfs) {
        const bool replaced = vfs.Fstat(fd, st);
        if (virtualized != nullptr) *virtualized = replaced;
        errno = scope.saved_errno();
        return 0;
      },
      [&] { return 0; });
}

// The prefix root's st_nlink (Vfs::CountUnionSubdirs) over the kernel's answer, with the
// caller's errno. Out of line and cold: the wrappers' hot code keeps its size.
template <typename Stat>
[[gnu::noinline, gnu::cold]] void CountUnionSubdirs(Vfs& vfs, Stat* st, int saved_errno) {
  vfs.CountUnionSubdirs(st);
  errno = saved_errno;
}

// statx(fd, "", AT_EMPTY_PATH) of an fd on the prefix root: the kernel's answer `rc`/`stx`
// (birth time included) with the union's st_nlink.
[[gnu::noinline, gnu::cold]] int StatxOfRoot(int rc, struct statx* stx) {
  if (!OwnerProcess()) return rc;
  Scope scope;
  return scope.Run(
      rc,
      [&](Vfs& vfs) {
        CountUnionSubdirs(vfs, stx, scope.saved_errno());
        return rc;
      },
      [&] { return rc; });
}

// A stat-family call on a path that may be virtual (Enter said so): `ask(vfs)` answers it from
// the index into `*st`, or says to pass through, which `kernel(p)` does (on the caller's own
// path for a null `p`); at the prefix root, the union's st_nlink replaces the kernel's. Out of
// line: it keeps the wrappers' passthrough path short (as OpenMaybeVirtual, open.cc).
template <typename Stat, typename Ask, typename Kernel>
[[gnu::noinline]] int StatMaybeVirtual(Stat* st, Ask&& ask, Kernel&& kernel) {
  Scope scope;
  return scope.Run(
      -1,
      [&](Vfs& vfs) {
        Outcome o = ask(vfs);
        const int rc = scope.Finish(o, kernel);
        if (rc == 0 && o.union_root) CountUnionSubdirs(vfs, st, scope.saved_errno());
        return rc;
      },
      [&] { return kernel(nullptr); });
}

HFSHIM_HOT_PATH int StatAt(int dirfd, const char* path, struct stat* st, int flags) {
  if (!IsNull(path) && path[0] == '\0' && (flags & AT_EMPTY_PATH)) {
    if (dirfd == AT_FDCWD) return KernelFstatAt(dirfd, path, st, flags);
    return FstatFd(dirfd, st);
  }
  if (!Enter(dirfd, path)) {
    return PassThrough(
        dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) == 0,
        [&] { return KernelFstatAt(dirfd, path, st, flags); },
        [&](const char* p) { return StatAt(AT_FDCWD, p, st, flags); });
  }
  return StatMaybeVirtual(
      st, [&](Vfs& vfs) { return vfs.Stat(dirfd, path, flags, st); },
      [&](const char* p) { return KernelFstatAt(AtFd(p, dirfd), AtPath(p, path), st, flags); });
}

}  // namespace hfshim::shim

EXPORT HFSHIM_HOT_PATH int stat(const char* path, struct stat* st) {
  return StatAt(AT_FDCWD, path, st, 0);
}
EXPORT HFSHIM_HOT_PATH int lstat(const char* path, struct stat* st) {
  return StatAt(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}
EXPORT int fstat(int fd, struct stat* st) { return FstatFd(fd, st); }
EXPORT HFSHIM_HOT_PATH int fstatat(int dirfd, const char* path, struct stat* st, int flags) {
  return StatAt(dirfd, path, st, flags);
}

// Legacy ABI of binaries built against glibc < 2.33 (manylinux wheels): `ver` is
// _STAT_VER_LINUX (1) on x86_64, where struct stat is the kernel's.
EXPORT int __xstat(int, const char* path, struct stat* st) { return StatAt(AT_FDCWD, path, st, 0); }
EXPORT int __lxstat(int, const char* path, struct stat* st) {
  return StatAt(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}
EXPORT int __fxstat(int, int fd, struct stat* st) { return FstatFd(fd, st); }
EXPORT int __fxstatat(int, int dirfd, const char* path, struct stat* st, int flags) {
  return StatAt(dirfd, path, st, flags);
}

EXPORT HFSHIM_HOT_PATH int statx(int dirfd, const char* path, int flags, unsigned mask,
                                 struct statx* stx) {
  // Never dereference a null path: Rust's probe statx(0, NULL, 0, ...) expects EFAULT.
  if (IsNull(path)) return KernelStatx(dirfd, path, flags, mask, stx);
  if (path[0] == '\0' && (flags & AT_EMPTY_PATH)) {
    int rc = KernelStatx(dirfd, path, flags, mask, stx);
    if (rc != 0 || dirfd == AT_FDCWD || t_depth != 0 || !Ready()) return rc;
    struct stat st;
    st.st_mode = static_cast<mode_t>(stx->stx_mode);
    st.st_dev = makedev(stx->stx_dev_major, stx->stx_dev_minor);
    if (!hfshim::MaybeVirtualFd(dirfd) &&
        !(S_ISDIR(st.st_mode) && hfshim::MaybePlaceholderDev(st.st_dev)))
      return rc;
    if (hfshim::FdHint(dirfd) == hfshim::FdKind::kPrefixRoot) return StatxOfRoot(rc, stx);
    bool virtualized = false;
    if (FstatFd(dirfd, &st, &virtualized) != 0) return rc;
    if (virtualized) hfshim::StatToStatx(st, stx);
    return rc;
  }
  if (!Enter(dirfd, path)) {
    return PassThrough(
        dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) == 0,
        [&] { return KernelStatx(dirfd, path, flags, mask, stx); },
        [&](const char* p) { return statx(AT_FDCWD, p, flags, mask, stx); });
  }
  return StatMaybeVirtual(
      stx, [&](Vfs& vfs) { return vfs.Statx(dirfd, path, flags, stx); },
      [&](const char* p) {
        return KernelStatx(AtFd(p, dirfd), AtPath(p, path), flags, mask, stx);
      });
}

// ---- access family

namespace {

int AccessAt(int dirfd, const char* path, int mode, int flags) {
  auto real = [&](int fd, const char* p) {
    if (real_faccessat == nullptr) {
      return static_cast<int>(hfshim::RawSyscallErrno(SYS_faccessat, fd, p, mode));
    }
    return real_faccessat(fd, p, mode, flags);
  };
  if (!Enter(dirfd, path)) {
    return PassThrough(
        dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) == 0, [&] { return real(dirfd, path); },
        [&](const char* p) { return AccessAt(AT_FDCWD, p, mode, flags); });
  }
  Scope scope;
  return scope.Run(
      -1,
      [&](Vfs& vfs) {
        Outcome o = vfs.Access(dirfd, path, mode, flags);
        return scope.Finish(o,
                            [&](const char* p) { return real(AtFd(p, dirfd), AtPath(p, path)); });
      },
      [&] { return real(dirfd, path); });
}

}  // namespace

EXPORT int access(const char* path, int mode) { return AccessAt(AT_FDCWD, path, mode, 0); }
EXPORT int faccessat(int dirfd, const char* path, int mode, int flags) {
  return AccessAt(dirfd, path, mode, flags);
}
EXPORT int euidaccess(const char* path, int mode) {
  return AccessAt(AT_FDCWD, path, mode, AT_EACCESS);
}

// ---- statfs / statvfs: virtual paths report the cache file system.

namespace {

// `real(p)` on the path whose file system a statfs of `path` reports: the node cache's for a
// virtual path (Vfs::Statfs; *is_virtual, if given, set), `path` itself otherwise.
template <typename Real>
auto OnStatfsPath(const char* path, Real&& real, bool* is_virtual = nullptr)
    -> decltype(real(path)) {
  bool unused;
  if (is_virtual == nullptr) is_virtual = &unused;
  *is_virtual = false;
  if (!Enter(AT_FDCWD, path)) return real(path);
  Scope scope;
  return scope.Run(
      static_cast<decltype(real(path))>(-1),
      [&](Vfs& vfs) {
        Outcome o = vfs.Statfs(path);
        *is_virtual = !o.passthrough || !o.real_path.empty();
        return scope.Finish(o, [&](const char* p) { return real(p ? p : path); });
      },
      [&] { return real(path); });
}

}  // namespace

EXPORT int statfs(const char* path, struct statfs* buf) {
  return OnStatfsPath(path, [&](const char* p) { return REAL(statfs)(p, buf); });
}

EXPORT int statvfs(const char* path, struct statvfs* buf) {
  bool is_virtual;
  const int rc = OnStatfsPath(
      path, [&](const char* p) { return REAL(statvfs)(p, buf); }, &is_virtual);
  if (rc == 0 && is_virtual) buf->f_flag |= ST_RDONLY;
  return rc;
}

// File-system limits (NAME_MAX, PATH_MAX...) of a virtual path: the node cache's file system.
EXPORT long pathconf(const char* path, int name) {
  return OnStatfsPath(path, [&](const char* p) { return REAL(pathconf)(p, name); });
}

// ---- getxattr family: virtual entries have no extended attributes.

namespace {

template <typename Real>
ssize_t XattrProbe(const char* path, bool follow, bool list, Real real) {
  if (!Enter(AT_FDCWD, path)) return real(path);
  Scope scope;
  return scope.Run(
      static_cast<ssize_t>(-1),
      [&](Vfs& vfs) -> ssize_t {
        Outcome o = vfs.Probe(AT_FDCWD, path, follow);
        if (o.passthrough) {
          errno = scope.saved_errno();
          return real(o.real_path.empty() ? path : o.real_path.c_str());
        }
        if (o.rc < 0) return scope.Result(o.rc);
        if (list) return scope.Result(0);
        errno = ENODATA;
        return -1;
      },
      [&] { return real(path); });
}

}  // namespace

EXPORT ssize_t getxattr(const char* path, const char* name, void* value, size_t size) {
  return XattrProbe(path, true, false,
                    [&](const char* p) { return REAL(getxattr)(p, name, value, size); });
}
EXPORT ssize_t lgetxattr(const char* path, const char* name, void* value, size_t size) {
  return XattrProbe(path, false, false,
                    [&](const char* p) { return REAL(lgetxattr)(p, name, value, size); });
}
EXPORT ssize_t listxattr(const char* path, char* list, size_t size) {
  return XattrProbe(path, true, true,
                    [&](const char* p) { return REAL(listxattr)(p, list, size); });
}
EXPORT ssize_t llistxattr(const char* path, char* list, size_t size) {
  return XattrProbe(path, false, true,
                    [&](const char* p) { return REAL(llistxattr)(p, list, size); });
}

extern "C" {
__attribute__((visibility("default"), alias("stat"))) HFSHIM_HOT_PATH int stat64(const char*,
                                                                                 struct stat64*);
__attribute__((visibility("default"), alias("lstat"))) HFSHIM_HOT_PATH int lstat64(const char*,
                                                                                   struct stat64*);
__attribute__((visibility("default"), alias("fstat"))) int fstat64(int, struct stat64*);
__attribute__((visibility("default"), alias("fstatat"))) HFSHIM_HOT_PATH int fstatat64(
    int, const char*, struct stat64*, int);
__attribute__((visibility("default"), alias("__xstat"))) int __xstat64(int, const char*,
                                                                       struct stat64*);
__attribute__((visibility("default"), alias("__lxstat"))) int __lxstat64(int, const char*,
                                                                         struct stat64*);
__attribute__((visibility("default"), alias("__fxstat"))) int __fxstat64(int, int, struct stat64*);
__attribute__((visibility("default"), alias("__fxstatat"))) int __fxstatat64(int, int, const char*,
                                                                             struct stat64*, int);
__attribute__((visibility("default"), alias("euidaccess"))) int eaccess(const char*, int);
__attribute__((visibility("default"), alias("statfs"))) int statfs64(const char*, struct statfs64*);
__attribute__((visibility("default"), alias("statvfs"))) int statvfs64(const char*,
                                                                       struct statvfs64*);
}
