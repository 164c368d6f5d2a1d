// links, paths and the working directory: readlink(at) (+ _chk), realpath (+ _chk),
// canonicalize_file_name, getcwd (+ _chk), get_current_dir_name, chdir, fchdir.
#include <climits>
#include <cstdlib>
#include <cstring>

#include "core/vfs/raw_syscall.h"
#include "shim/shim.h"

using hfshim::Outcome;
using hfshim::Vfs;
using namespace hfshim::shim;

namespace {

ssize_t ReadlinkAt(int dirfd, const char* path, char* buf, size_t size) {
  auto real = [&](int fd, const char* p) -> ssize_t {
    if (real_readlinkat == nullptr) {
      return hfshim::RawSyscallErrno(SYS_readlinkat, fd, p, buf, size);
    }
    return real_readlinkat(fd, p, buf, size);
  };
  if (!Enter(dirfd, path)) return real(dirfd, path);
  Scope scope;
  return scope.Run(
      static_cast<ssize_t>(-1),
      [&](Vfs& vfs) -> ssize_t {
        if (size == 0) return scope.Result(-EINVAL);  // readlinkat(2) checks it first
        std::string target;
        Outcome o = vfs.Readlink(dirfd, path, &target);
        if (o.passthrough) {
          errno = scope.saved_errno();
          return real(AtFd(o.real_path.empty() ? nullptr : o.real_path.c_str(), dirfd),
                      o.real_path.empty() ? path : o.real_path.c_str());
        }
        if (o.rc < 0) return scope.Result(o.rc);
        size_t n = target.size() < size ? target.size() : size;
        std::memcpy(buf, target.data(), n);
        errno = scope.saved_errno();
        return static_cast<ssize_t>(n);
      },
      [&] { return real(dirfd, path); });
}

// realpath for a virtual path; `resolved` null = malloc the result (as glibc does).
char* Realpath(const char* path, char* resolved) {
  if (IsNull(path)) {
    errno = EINVAL;
    return nullptr;
  }
  if (!Enter(AT_FDCWD, path)) {
    return PassThrough(
        AT_FDCWD, path, true, [&] { return REAL(realpath)(path, resolved); },
        [&](const char* p) { return Realpath(p, resolved); });
  }
  Scope scope;
  return scope.Run(
      static_cast<char*>(nullptr),
      [&](Vfs& vfs) -> char* {
        std::string out;
        Outcome o = vfs.Realpath(path, &out);
        if (o.passthrough) {
          errno = scope.saved_errno();
          return REAL(realpath)(o.real_path.empty() ? path : o.real_path.c_str(), resolved);
        }
        if (o.rc < 0) {
          errno = -o.rc;
          return nullptr;
        }
        if (out.size() >= PATH_MAX) {
          errno = ENAMETOOLONG;
          return nullptr;
        }
        char* dst = resolved != nullptr ? resolved : static_cast<char*>(std::malloc(PATH_MAX));
        if (dst == nullptr) {
          errno = ENOMEM;
          return nullptr;
        }
        std::memcpy(dst, out.c_str(), out.size() + 1);
        errno = scope.saved_errno();
        return dst;
      },
      [&] { return REAL(realpath)(path, resolved); });
}

}  // namespace

EXPORT ssize_t readlink(const char* path, char* buf, size_t size) {
  return ReadlinkAt(AT_FDCWD, path, buf, size);
}
EXPORT ssize_t readlinkat(int dirfd, const char* path, char* buf, size_t size) {
  return ReadlinkAt(dirfd, path, buf, size);
}
EXPORT ssize_t __readlink_chk(const char* path, char* buf, size_t size, size_t buflen) {
  if (size > buflen) ChkFail();
  return ReadlinkAt(AT_FDCWD, path, buf, size);
}
EXPORT ssize_t __readlinkat_chk(int dirfd, const char* path, char* buf, size_t size,
                                size_t buflen) {
  if (size > buflen) ChkFail();
  return ReadlinkAt(dirfd, path, buf, size);
}

EXPORT char* realpath(const char* path, char* resolved) { return Realpath(path, resolved); }
EXPORT char* __realpath_chk(const char* path, char* resolved, size_t resolvedlen) {
  if (resolvedlen < PATH_MAX) ChkFail();
  return Realpath(path, resolved);
}
EXPORT char* canonicalize_file_name(const char* path) { return Realpath(path, nullptr); }

// ---- working directory

namespace {

char* Getcwd(char* buf, size_t size) {
  if (t_depth != 0 || !Ready() || !hfshim::CwdMaybePlaceholder() || !OwnerProcess()) {
    return REAL(getcwd)(buf, size);
  }
  char kernel[PATH_MAX];
  if (REAL(getcwd)(kernel, sizeof(kernel)) == nullptr) return REAL(getcwd)(buf, size);
  absl::string_view root = hfshim::PlaceholderRoot();
  if (std::strncmp(kernel, root.data(), root.size()) != 0 || kernel[root.size()] != '/') {
    return REAL(getcwd)(buf, size);
  }
  Scope scope;
  return scope.Run(
      static_cast<char*>(nullptr),
      [&](Vfs& vfs) -> char* {
        std::string virt;
        if (!vfs.VirtualCwd(kernel, &virt)) {
          errno = scope.saved_errno();
          return REAL(getcwd)(buf, size);
        }
        size_t need = virt.size() + 1;
        if (buf == nullptr) {
          size_t cap = size == 0 ? need : size;
          if (cap < need) {
            errno = ERANGE;
            return nullptr;
          }
          char* out = static_cast<char*>(std::malloc(cap));
          if (out == nullptr) {
            errno = ENOMEM;
            return nullptr;
          }
          std::memcpy(out, virt.c_str(), need);
          errno = scope.saved_errno();
          return out;
        }
        if (size == 0) {
          errno = EINVAL;
          return nullptr;
        }
        if (size < need) {
          errno = ERANGE;
          return nullptr;
        }
        std::memcpy(buf, virt.c_str(), need);
        errno = scope.saved_errno();
        return buf;
      },
      [&] { return REAL(getcwd)(buf, size); });
}

}  // namespace

EXPORT char* getcwd(char* buf, size_t size) { return Getcwd(buf, size); }
EXPORT char* __getcwd_chk(char* buf, size_t size, size_t buflen) {
  if (size > buflen) ChkFail();
  return Getcwd(buf, size);
}
EXPORT char* get_current_dir_name(void) { return Getcwd(nullptr, 0); }

EXPORT int chdir(const char* path) {
  int rc;
  if (t_depth == 0 && Ready() && hfshim::MaybeVirtual(AT_FDCWD, path) && !OwnerProcess()) {
    // A vfork child (subprocess cwd=...): no allocation or locks; see VforkPlaceholder.
    char placeholder[hfshim::kVfsPathMax];
    if (hfshim::VforkPlaceholder(path, placeholder)) return REAL(chdir)(placeholder);
    return REAL(chdir)(path);
  }
  if (!Enter(AT_FDCWD, path)) {
    rc = PassThrough(
        AT_FDCWD, path, true, [&] { return REAL(chdir)(path); },
        [](const char* p) { return chdir(p); });
  } else {
    Scope scope;
    rc = scope.Run(
        -1,
        [&](Vfs& vfs) {
          Outcome o = vfs.Chdir(path);
          return scope.Finish(o, [&](const char* p) { return REAL(chdir)(p ? p : path); });
        },
        [&] { return REAL(chdir)(path); });
  }
  if (rc == 0) hfshim::NoteCwdChanged();
  return rc;
}

EXPORT int fchdir(int fd) {
  int rc = REAL(fchdir)(fd);
  if (rc == 0) hfshim::NoteCwdChanged();
  return rc;
}
