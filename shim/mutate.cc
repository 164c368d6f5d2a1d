// Mutations: EROFS (or EEXIST, ENOENT as the kernel would order them) inside virtual repos,
// passthrough everywhere else (the hub still creates new repos and .locks/ beside them).
#include <sys/xattr.h>

#include <cstring>
#include <string>

#include "shim/shim.h"

using hfshim::Mutation;
using hfshim::Outcome;
using hfshim::Vfs;
using namespace hfshim::shim;

namespace {

// `real(fd, path)` performs the call on (fd, path); a rewritten path comes with AT_FDCWD.
template <typename Real>
int Mutating(Mutation kind, int dirfd, const char* path, Real&& real) {
  if (!Enter(dirfd, path)) return real(dirfd, path);
  Scope scope;
  return scope.Run(
      -1,
      [&](Vfs& vfs) {
        Outcome o = vfs.Mutate(kind, dirfd, path);
        return scope.Finish(o,
                            [&](const char* p) { return real(AtFd(p, dirfd), AtPath(p, path)); });
      },
      [&] { return real(dirfd, path); });
}

// Two-path calls (rename, link): the source must not be virtual (EROFS; for link EEXIST/EROFS
// inside the tree, EXDEV out of it), nor the destination.
template <typename Real>
int MutatingPair(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, bool is_link,
                 Real&& real) {
  if (!Enter(olddirfd, oldpath) && !Enter(newdirfd, newpath)) {
    return real(olddirfd, oldpath, newdirfd, newpath);
  }
  Scope scope;
  return scope.Run(
      -1,
      [&](Vfs& vfs) {
        Outcome src = is_link ? vfs.Probe(olddirfd, oldpath, false)
                              : vfs.Mutate(Mutation::kRemove, olddirfd, oldpath);
        if (!src.passthrough) {
          if (src.rc < 0) return scope.Result(src.rc);
          // A link of a virtual file: within the read-only tree EEXIST or EROFS (as mkdir
          // there), out of it EXDEV (another file system).
          Outcome dst = vfs.Mutate(Mutation::kCreate, newdirfd, newpath);
          return scope.Result(dst.passthrough ? -EXDEV : dst.rc);
        }
        Outcome dst =
            vfs.Mutate(is_link ? Mutation::kCreate : Mutation::kReplace, newdirfd, newpath);
        if (!dst.passthrough) return scope.Result(dst.rc);
        errno = scope.saved_errno();
        const char* o = src.real_path.empty() ? nullptr : src.real_path.c_str();
        const char* n = dst.real_path.empty() ? nullptr : dst.real_path.c_str();
        return real(AtFd(o, olddirfd), AtPath(o, oldpath), AtFd(n, newdirfd), AtPath(n, newpath));
      },
      [&] { return real(olddirfd, oldpath, newdirfd, newpath); });
}

constexpr int kCwd = AT_FDCWD;

// The mkstemp family and mkdtemp: glibc creates the file with internal calls no wrapper sees,
// so a template in a virtual directory would fail with ENOENT (the directory is not on disk)
// or, relative to a working directory inside the tree, land in its empty placeholder. It fails
// with EROFS there, as on a read-only file system. `real(t)` makes the file from template `t`
// (0 or an fd on success, -1 with errno); a template rewritten by the router is made at the
// rewritten path and its generated name copied back into the caller's template.
template <typename Real>
int MakingTemp(char* tmpl, Real&& real) {
  if (tmpl == nullptr || !Enter(kCwd, tmpl)) return real(tmpl);
  Scope scope;
  return scope.Run(
      -1,
      [&](Vfs& vfs) {
        Outcome o = vfs.Mutate(Mutation::kCreate, kCwd, tmpl);
        if (!o.passthrough) return scope.Result(o.rc == -EEXIST ? -EROFS : o.rc);
        errno = scope.saved_errno();
        if (o.real_path.empty()) return real(tmpl);
        std::string rewritten = o.real_path;
        const int rc = real(rewritten.data());
        const size_t n = std::strlen(tmpl);
        const char* slash = std::strrchr(tmpl, '/');
        const size_t base = slash == nullptr ? n : n - static_cast<size_t>(slash + 1 - tmpl);
        if (base <= rewritten.size()) {
          std::memcpy(tmpl + n - base, rewritten.data() + rewritten.size() - base, base);
        }
        return rc;
      },
      [&] { return real(tmpl); });
}

}  // namespace

EXPORT int mkstemp(char* tmpl) {
  return MakingTemp(tmpl, [](char* t) { return REAL(mkstemp)(t); });
}
EXPORT int mkostemp(char* tmpl, int flags) {
  return MakingTemp(tmpl, [&](char* t) { return REAL(mkostemp)(t, flags); });
}
EXPORT int mkstemps(char* tmpl, int suffixlen) {
  return MakingTemp(tmpl, [&](char* t) { return REAL(mkstemps)(t, suffixlen); });
}
EXPORT int mkostemps(char* tmpl, int suffixlen, int flags) {
  return MakingTemp(tmpl, [&](char* t) { return REAL(mkostemps)(t, suffixlen, flags); });
}
EXPORT char* mkdtemp(char* tmpl) {
  const int rc = MakingTemp(tmpl, [](char* t) { return REAL(mkdtemp)(t) != nullptr ? 0 : -1; });
  return rc == 0 ? tmpl : nullptr;
}

EXPORT int mkdir(const char* path, mode_t mode) {
  return Mutating(Mutation::kCreate, kCwd, path,
                  [&](int fd, const char* p) { return REAL(mkdirat)(fd, p, mode); });
}
EXPORT int mkdirat(int dirfd, const char* path, mode_t mode) {
  return Mutating(Mutation::kCreate, dirfd, path,
                  [&](int fd, const char* p) { return REAL(mkdirat)(fd, p, mode); });
}
EXPORT int mknod(const char* path, mode_t mode, dev_t dev) {
  return Mutating(Mutation::kCreate, kCwd, path,
                  [&](int fd, const char* p) { return REAL(mknodat)(fd, p, mode, dev); });
}
EXPORT int mknodat(int dirfd, const char* path, mode_t mode, dev_t dev) {
  return Mutating(Mutation::kCreate, dirfd, path,
                  [&](int fd, const char* p) { return REAL(mknodat)(fd, p, mode, dev); });
}
EXPORT int mkfifo(const char* path, mode_t mode) {
  return Mutating(Mutation::kCreate, kCwd, path,
                  [&](int fd, const char* p) { return REAL(mkfifoat)(fd, p, mode); });
}
EXPORT int mkfifoat(int dirfd, const char* path, mode_t mode) {
  return Mutating(Mutation::kCreate, dirfd, path,
                  [&](int fd, const char* p) { return REAL(mkfifoat)(fd, p, mode); });
}
EXPORT int symlink(const char* target, const char* linkpath) {
  return Mutating(Mutation::kCreate, kCwd, linkpath,
                  [&](int fd, const char* p) { return REAL(symlinkat)(target, fd, p); });
}
EXPORT int symlinkat(const char* target, int dirfd, const char* linkpath) {
  return Mutating(Mutation::kCreate, dirfd, linkpath,
                  [&](int fd, const char* p) { return REAL(symlinkat)(target, fd, p); });
}
EXPORT int rmdir(const char* path) {
  return Mutating(Mutation::kRemove, kCwd, path,
                  [&](int fd, const char* p) { return REAL(unlinkat)(fd, p, AT_REMOVEDIR); });
}
EXPORT int unlink(const char* path) {
  return Mutating(Mutation::kRemove, kCwd, path,
                  [&](int fd, const char* p) { return REAL(unlinkat)(fd, p, 0); });
}
EXPORT int unlinkat(int dirfd, const char* path, int flags) {
  return Mutating(Mutation::kRemove, dirfd, path,
                  [&](int fd, const char* p) { return REAL(unlinkat)(fd, p, flags); });
}
EXPORT int chmod(const char* path, mode_t mode) {
  return Mutating(Mutation::kModify, kCwd, path,
                  [&](int fd, const char* p) { return REAL(fchmodat)(fd, p, mode, 0); });
}
EXPORT int fchmodat(int dirfd, const char* path, mode_t mode, int flags) {
  return Mutating(Mutation::kModify, dirfd, path,
                  [&](int fd, const char* p) { return REAL(fchmodat)(fd, p, mode, flags); });
}
EXPORT int chown(const char* path, uid_t uid, gid_t gid) {
  return Mutating(Mutation::kModify, kCwd, path,
                  [&](int fd, const char* p) { return REAL(fchownat)(fd, p, uid, gid, 0); });
}
EXPORT int lchown(const char* path, uid_t uid, gid_t gid) {
  return Mutating(Mutation::kModify, kCwd, path, [&](int fd, const char* p) {
    return REAL(fchownat)(fd, p, uid, gid, AT_SYMLINK_NOFOLLOW);
  });
}
EXPORT int fchownat(int dirfd, const char* path, uid_t uid, gid_t gid, int flags) {
  return Mutating(Mutation::kModify, dirfd, path,
                  [&](int fd, const char* p) { return REAL(fchownat)(fd, p, uid, gid, flags); });
}
EXPORT int truncate(const char* path, off_t length) {
  return Mutating(Mutation::kModify, kCwd, path,
                  [&](int, const char* p) { return REAL(truncate)(p, length); });
}
EXPORT int utime(const char* path, const struct utimbuf* times) {
  return Mutating(Mutation::kModify, kCwd, path,
                  [&](int, const char* p) { return REAL(utime)(p, times); });
}
EXPORT int utimes(const char* path, const struct timeval* times) {
  return Mutating(Mutation::kModify, kCwd, path,
                  [&](int, const char* p) { return REAL(utimes)(p, times); });
}
EXPORT int lutimes(const char* path, const struct timeval* times) {
  return Mutating(Mutation::kModify, kCwd, path,
                  [&](int, const char* p) { return REAL(lutimes)(p, times); });
}
EXPORT int futimesat(int dirfd, const char* path, const struct timeval* times) {
  return Mutating(Mutation::kModify, dirfd, path,
                  [&](int fd, const char* p) { return REAL(futimesat)(fd, p, times); });
}
EXPORT int utimensat(int dirfd, const char* path, const struct timespec* times, int flags) {
  if (IsNull(path)) {  // futimens(dirfd) semantics
    if (EnterFd(dirfd)) return futimens(dirfd, times);
    return REAL(utimensat)(dirfd, path, times, flags);
  }
  return Mutating(Mutation::kModify, dirfd, path,
                  [&](int fd, const char* p) { return REAL(utimensat)(fd, p, times, flags); });
}
EXPORT int setxattr(const char* path, const char* name, const void* value, size_t size, int flags) {
  return Mutating(Mutation::kModify, kCwd, path,
                  [&](int, const char* p) { return REAL(setxattr)(p, name, value, size, flags); });
}
EXPORT int lsetxattr(const char* path, const char* name, const void* value, size_t size,
                     int flags) {
  return Mutating(Mutation::kModify, kCwd, path,
                  [&](int, const char* p) { return REAL(lsetxattr)(p, name, value, size, flags); });
}
EXPORT int removexattr(const char* path, const char* name) {
  return Mutating(Mutation::kModify, kCwd, path,
                  [&](int, const char* p) { return REAL(removexattr)(p, name); });
}
EXPORT int lremovexattr(const char* path, const char* name) {
  return Mutating(Mutation::kModify, kCwd, path,
                  [&](int, const char* p) { return REAL(lremovexattr)(p, name); });
}

EXPORT int rename(const char* oldpath, const char* newpath) {
  return MutatingPair(
      kCwd, oldpath, kCwd, newpath, false,
      [&](int of, const char* o, int nf, const char* n) { return REAL(renameat)(of, o, nf, n); });
}
EXPORT int renameat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath) {
  return MutatingPair(
      olddirfd, oldpath, newdirfd, newpath, false,
      [&](int of, const char* o, int nf, const char* n) { return REAL(renameat)(of, o, nf, n); });
}
EXPORT int renameat2(int olddirfd, const char* oldpath, int newdirfd, const char* newpath,
                     unsigned flags) {
  return MutatingPair(olddirfd, oldpath, newdirfd, newpath, false,
                      [&](int of, const char* o, int nf, const char* n) {
                        return REAL(renameat2)(of, o, nf, n, flags);
                      });
}
EXPORT int link(const char* oldpath, const char* newpath) {
  return MutatingPair(
      kCwd, oldpath, kCwd, newpath, true,
      [&](int of, const char* o, int nf, const char* n) { return REAL(linkat)(of, o, nf, n, 0); });
}
EXPORT int linkat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, int flags) {
  return MutatingPair(olddirfd, oldpath, newdirfd, newpath, true,
                      [&](int of, const char* o, int nf, const char* n) {
                        return REAL(linkat)(of, o, nf, n, flags);
                      });
}

extern "C" {
__attribute__((visibility("default"), alias("truncate"))) int truncate64(const char*, off64_t);
__attribute__((visibility("default"), alias("mkstemp"))) int mkstemp64(char*);
__attribute__((visibility("default"), alias("mkostemp"))) int mkostemp64(char*, int);
__attribute__((visibility("default"), alias("mkstemps"))) int mkstemps64(char*, int);
__attribute__((visibility("default"), alias("mkostemps"))) int mkostemps64(char*, int, int);
}  // extern "C"
