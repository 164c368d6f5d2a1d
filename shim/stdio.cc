// stdio open: fopen/fopen64/freopen/freopen64. glibc's fopen opens with its internal __open,
// which never reaches our open(), so a virtual path is opened here (Vfs::Open: a real fd on the
// complete cache file, or EROFS for a write mode) and wrapped with fdopen.
#include <cstring>

#include "shim/shim.h"

using hfshim::Outcome;
using hfshim::Vfs;
using namespace hfshim::shim;

namespace {

// open(2) flags of an fopen mode string ("r", "rb", "re", "rm", "w+", "ax", "r,ccs=UTF-8"...).
int FlagsForMode(const char* mode) {
  int flags = 0;
  switch (mode[0]) {
    case 'r':
      flags = O_RDONLY;
      break;
    case 'w':
      flags = O_WRONLY | O_CREAT | O_TRUNC;
      break;
    case 'a':
      flags = O_WRONLY | O_CREAT | O_APPEND;
      break;
    default:
      return -1;
  }
  for (const char* c = mode + 1; *c != '\0' && *c != ','; ++c) {
    if (*c == '+') flags = (flags & ~O_ACCMODE) | O_RDWR;
    if (*c == 'e') flags |= O_CLOEXEC;
    if (*c == 'x') flags |= O_EXCL;
  }
  return flags;
}

// A stream reads through glibc's internal __read, past our read wrapper: a lazy large file is
// fetched whole first. On failure the fd is closed and -errno returned.
int CompleteIfLazy(Vfs& vfs, int fd) {
  if (hfshim::FdHint(fd) != hfshim::FdKind::kLazy) return 0;
  const int rc = vfs.CompleteFd(fd);
  if (rc < 0) {
    vfs.NoteClose(fd);
    REAL(close)(fd);
  }
  return rc;
}

}  // namespace

EXPORT FILE* fopen(const char* path, const char* mode) {
  if (IsNull(mode)) return REAL(fopen)(path, mode);
  if (!Enter(AT_FDCWD, path)) {
    return PassThrough(
        AT_FDCWD, path, true, [&] { return REAL(fopen)(path, mode); },
        [&](const char* p) { return fopen(p, mode); });
  }
  const int flags = FlagsForMode(mode);
  if (flags < 0) return REAL(fopen)(path, mode);  // glibc answers EINVAL
  Scope scope;
  return scope.Run(
      static_cast<FILE*>(nullptr),
      [&](Vfs& vfs) -> FILE* {
        Outcome o = vfs.Open(AT_FDCWD, path, flags, 0666);
        if (o.passthrough) {
          errno = scope.saved_errno();
          return REAL(fopen)(o.real_path.empty() ? path : o.real_path.c_str(), mode);
        }
        if (o.rc < 0) {
          errno = -o.rc;
          return nullptr;
        }
        if (int rc = CompleteIfLazy(vfs, o.rc); rc < 0) {
          errno = -rc;
          return nullptr;
        }
        FILE* f = fdopen(o.rc, mode);
        if (f == nullptr) {
          int err = errno;
          vfs.NoteClose(o.rc);
          REAL(close)(o.rc);
          errno = err;
          return nullptr;
        }
        errno = scope.saved_errno();
        return f;
      },
      [&] { return REAL(fopen)(path, mode); });
}

EXPORT FILE* freopen(const char* path, const char* mode, FILE* stream) {
  if (IsNull(path) || IsNull(mode) || !Enter(AT_FDCWD, path)) {
    return REAL(freopen)(path, mode, stream);
  }
  const int flags = FlagsForMode(mode);
  if (flags < 0) return REAL(freopen)(path, mode, stream);
  Scope scope;
  return scope.Run(
      static_cast<FILE*>(nullptr),
      [&](Vfs& vfs) -> FILE* {
        Outcome o = vfs.Open(AT_FDCWD, path, flags, 0666);
        if (o.passthrough) {
          errno = scope.saved_errno();
          return REAL(freopen)(o.real_path.empty() ? path : o.real_path.c_str(), mode, stream);
        }
        if (o.rc < 0) {
          fclose(stream);  // freopen closes the stream even when the open fails
          errno = -o.rc;
          return nullptr;
        }
        if (int rc = CompleteIfLazy(vfs, o.rc); rc < 0) {
          fclose(stream);
          errno = -rc;
          return nullptr;
        }
        // Reopen the stream on the backing file through /proc, then carry the fd's identity.
        char proc[48];
        std::snprintf(proc, sizeof(proc), "/proc/self/fd/%d", o.rc);
        FILE* f = REAL(freopen)(proc, mode, stream);
        int err = errno;
        if (f != nullptr) vfs.NoteDup(o.rc, fileno(f));
        vfs.NoteClose(o.rc);
        REAL(close)(o.rc);
        errno = f != nullptr ? scope.saved_errno() : err;
        return f;
      },
      [&] { return REAL(freopen)(path, mode, stream); });
}

extern "C" {
__attribute__((visibility("default"), alias("fopen"))) FILE* fopen64(const char*, const char*);
__attribute__((visibility("default"), alias("freopen"))) FILE* freopen64(const char*, const char*,
                                                                         FILE*);
}
