// Directory streams: opendir/fdopendir/readdir(64)(_r)/rewinddir/seekdir/telldir/closedir/dirfd,
// scandir(at)(64). A virtual listing is a shim-owned DIR* whose first member is its fd, as in
// glibc's struct __dirstream, so code that reads the fd out of a DIR* still works; a magic word
// tells our DIR* from glibc's (at that offset glibc keeps the buffer size, never this value).
#include <dirent.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/base/posix_error.h"
#include "core/vfs/tree_walk.h"
#include "shim/shim.h"

using hfshim::DirItem;
using hfshim::DirStream;
using hfshim::Outcome;
using hfshim::Vfs;
using namespace hfshim::shim;

namespace {

constexpr uint64_t kShimDirMagic = 0x6866736869644952ull;  // "hfshidIR"

struct ShimDir {
  int fd;  // first, like glibc's DIR
  int pad = 0;
  uint64_t magic = kShimDirMagic;
  DirStream* stream = nullptr;
  struct dirent64 ent;
};
static_assert(offsetof(ShimDir, fd) == 0, "dirfd() reads the first int of a DIR");

ShimDir* AsShim(DIR* d) {
  auto* s = reinterpret_cast<ShimDir*>(d);
  return !IsNull(s) && s->magic == kShimDirMagic ? s : nullptr;
}

DIR* MakeDir(int fd, std::unique_ptr<DirStream> stream) {
  auto* d = new (std::nothrow) ShimDir;
  if (d == nullptr) return nullptr;
  d->fd = fd;
  d->stream = stream.release();
  return reinterpret_cast<DIR*>(d);
}

// Fills d->ent with the next entry; nullptr at the end (errno untouched) or on error (errno set).
struct dirent64* Next(ShimDir* d) {
  const int saved = errno;
  ++t_depth;
  struct dirent64* result = nullptr;
  try {
    DirItem item;
    absl::StatusOr<bool> got = d->stream->Next(&item);
    if (!got.ok()) {
      int err = hfshim::StatusToErrno(got.status());
      errno = err > 0 ? err : EIO;
    } else if (*got) {
      std::memset(&d->ent, 0, offsetof(struct dirent64, d_name));
      d->ent.d_ino = item.ino;
      d->ent.d_off = d->stream->Tell();
      d->ent.d_type = item.type;
      size_t n = std::min(item.name.size(), sizeof(d->ent.d_name) - 1);
      std::memcpy(d->ent.d_name, item.name.data(), n);
      d->ent.d_name[n] = '\0';
      d->ent.d_reclen = static_cast<unsigned short>(offsetof(struct dirent64, d_name) + n + 1);
      result = &d->ent;
      errno = saved;
    } else {
      errno = saved;  // end of the listing: errno untouched (CPython checks)
    }
  } catch (...) {
    errno = ENOMEM;
  }
  --t_depth;
  return result;
}

DIR* OpenDirAt(int dirfd, const char* path) {
  auto real = [&](const char* p) -> DIR* {
    if (dirfd == AT_FDCWD || p != nullptr) return REAL(opendir)(p ? p : path);
    // scandirat on a real dirfd: glibc's own path.
    int fd = REAL(openat)(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return nullptr;
    DIR* d = REAL(fdopendir)(fd);
    if (d == nullptr) {
      int e = errno;
      REAL(close)(fd);
      errno = e;
    }
    return d;
  };
  if (!Enter(dirfd, path)) {
    return PassThrough(
        dirfd, path, true, [&] { return real(nullptr); },
        [&](const char* p) { return OpenDirAt(AT_FDCWD, p); });
  }
  Scope scope;
  return scope.Run(
      static_cast<DIR*>(nullptr),
      [&](Vfs& vfs) -> DIR* {
        std::unique_ptr<DirStream> stream;
        int fd = -1;
        Outcome o = vfs.OpenDir(dirfd, path, &stream, &fd);
        if (o.passthrough) {
          errno = scope.saved_errno();
          return real(o.real_path.empty() ? nullptr : o.real_path.c_str());
        }
        if (o.rc < 0) {
          errno = -o.rc;
          return nullptr;
        }
        DIR* d = MakeDir(fd, std::move(stream));
        if (d == nullptr) {
          vfs.NoteClose(fd);
          REAL(close)(fd);
          errno = ENOMEM;
          return nullptr;
        }
        errno = scope.saved_errno();
        return d;
      },
      [&] { return real(nullptr); });
}

}  // namespace

EXPORT DIR* opendir(const char* path) { return OpenDirAt(AT_FDCWD, path); }

EXPORT DIR* fdopendir(int fd) {
  if (t_depth != 0 || !Ready()) return REAL(fdopendir)(fd);
  bool maybe = hfshim::MaybeVirtualFd(fd);
  if (!maybe) {
    struct stat st;
    maybe =
        REAL(fstat)(fd, &st) == 0 && S_ISDIR(st.st_mode) && hfshim::MaybePlaceholderDev(st.st_dev);
  }
  if (!maybe || !OwnerProcess()) return REAL(fdopendir)(fd);
  Scope scope;
  return scope.Run(
      static_cast<DIR*>(nullptr),
      [&](Vfs& vfs) -> DIR* {
        std::unique_ptr<DirStream> stream;
        Outcome o = vfs.OpenDirFd(fd, &stream);
        if (o.passthrough) {
          errno = scope.saved_errno();
          return REAL(fdopendir)(fd);
        }
        if (o.rc < 0) {
          errno = -o.rc;
          return nullptr;
        }
        DIR* d = MakeDir(fd, std::move(stream));
        if (d == nullptr) {
          errno = ENOMEM;
          return nullptr;
        }
        errno = scope.saved_errno();
        return d;
      },
      [&] { return REAL(fdopendir)(fd); });
}

EXPORT struct dirent* readdir(DIR* dir) {
  ShimDir* d = AsShim(dir);
  if (d == nullptr) return REAL(readdir)(dir);
  return reinterpret_cast<struct dirent*>(Next(d));
}

EXPORT int readdir_r(DIR* dir, struct dirent* entry, struct dirent** result) {
  ShimDir* d = AsShim(dir);
  if (d == nullptr) return REAL(readdir_r)(dir, entry, result);
  const int saved = errno;
  errno = 0;
  struct dirent64* e = Next(d);
  int err = errno;
  errno = saved;
  if (e == nullptr) {
    *result = nullptr;
    return err;
  }
  std::memcpy(entry, e, sizeof(struct dirent));
  *result = entry;
  return 0;
}

EXPORT void rewinddir(DIR* dir) {
  ShimDir* d = AsShim(dir);
  if (d == nullptr) return REAL(rewinddir)(dir);
  const int saved = errno;
  ++t_depth;
  try {
    d->stream->Seek(0).IgnoreError();
  } catch (...) {
  }
  --t_depth;
  errno = saved;
}

EXPORT void seekdir(DIR* dir, long pos) {
  ShimDir* d = AsShim(dir);
  if (d == nullptr) return REAL(seekdir)(dir, pos);
  const int saved = errno;
  ++t_depth;
  try {
    d->stream->Seek(pos).IgnoreError();
  } catch (...) {
  }
  --t_depth;
  errno = saved;
}

EXPORT long telldir(DIR* dir) {
  ShimDir* d = AsShim(dir);
  if (d == nullptr) return REAL(telldir)(dir);
  return static_cast<long>(d->stream->Tell());
}

EXPORT int dirfd(DIR* dir) {
  ShimDir* d = AsShim(dir);
  if (d == nullptr) return REAL(dirfd)(dir);
  return d->fd;
}

EXPORT int closedir(DIR* dir) {
  ShimDir* d = AsShim(dir);
  if (d == nullptr) return REAL(closedir)(dir);
  const int saved = errno;
  ++t_depth;
  if (Vfs* vfs = OwnerProcess() ? Vfs::Instance() : nullptr) {
    vfs->NoteClose(d->fd);
  } else {
    hfshim::ClearFdHint(d->fd);
  }
  int rc = REAL(close)(d->fd);
  int err = errno;
  d->magic = 0;
  delete d->stream;
  delete d;
  --t_depth;
  errno = rc == 0 ? saved : err;
  return rc;
}

// ---- scandir: glibc's calls its internal opendir, so virtual directories are listed here.

namespace {

using Filter = int (*)(const struct dirent*);
using Compar = int (*)(const struct dirent**, const struct dirent**);

int ScanVirtual(DIR* dir, struct dirent*** namelist, Filter filter, Compar compar) {
  size_t n = 0, cap = 0;
  struct dirent** list = nullptr;
  const int saved = errno;
  errno = 0;
  while (struct dirent* e = readdir(dir)) {
    if (filter != nullptr && !filter(e)) continue;
    if (n == cap) {
      cap = cap == 0 ? 16 : cap * 2;
      auto* grown = static_cast<struct dirent**>(std::realloc(list, cap * sizeof(*list)));
      if (grown == nullptr) goto fail;
      list = grown;
    }
    auto* copy = static_cast<struct dirent*>(std::malloc(sizeof(struct dirent)));
    if (copy == nullptr) goto fail;
    std::memcpy(copy, e, sizeof(struct dirent));
    list[n++] = copy;
  }
  if (errno != 0) goto fail;
  if (compar != nullptr && n > 1) {
    std::qsort(list, n, sizeof(*list), reinterpret_cast<int (*)(const void*, const void*)>(compar));
  }
  closedir(dir);
  *namelist = list;
  errno = saved;
  return static_cast<int>(n);
fail : {
  int err = errno != 0 ? errno : ENOMEM;
  for (size_t i = 0; i < n; ++i) std::free(list[i]);
  std::free(list);
  closedir(dir);
  errno = err;
  return -1;
}
}

}  // namespace

EXPORT int scandir(const char* path, struct dirent*** namelist, Filter filter, Compar compar) {
  if (!Enter(AT_FDCWD, path)) return REAL(scandir)(path, namelist, filter, compar);
  DIR* dir = opendir(path);
  if (dir == nullptr) return -1;
  if (AsShim(dir) == nullptr) {  // a real directory under the prefix: glibc lists it
    REAL(closedir)(dir);
    return REAL(scandir)(path, namelist, filter, compar);
  }
  return ScanVirtual(dir, namelist, filter, compar);
}

EXPORT int scandirat(int dirfd, const char* path, struct dirent*** namelist, Filter filter,
                     Compar compar) {
  if (!Enter(dirfd, path)) return REAL(scandirat)(dirfd, path, namelist, filter, compar);
  DIR* dir = OpenDirAt(dirfd, path);
  if (dir == nullptr) return -1;
  if (AsShim(dir) == nullptr) {
    REAL(closedir)(dir);
    return REAL(scandirat)(dirfd, path, namelist, filter, compar);
  }
  return ScanVirtual(dir, namelist, filter, compar);
}

// glob: glibc's walks with its internal opendir unless GLOB_ALTDIRFUNC is set, so a pattern
// that may reach the prefix is re-run with our directory functions.
EXPORT int glob(const char* pattern, int flags, int (*errfunc)(const char*, int), glob_t* pglob) {
  if ((flags & GLOB_ALTDIRFUNC) || !Enter(AT_FDCWD, pattern)) {
    return REAL(glob)(pattern, flags, errfunc, pglob);
  }
  pglob->gl_opendir = [](const char* p) -> void* { return opendir(p); };
  pglob->gl_readdir = [](void* d) -> struct dirent* { return readdir(static_cast<DIR*>(d)); };
  pglob->gl_closedir = [](void* d) { closedir(static_cast<DIR*>(d)); };
  pglob->gl_stat = [](const char* p, struct stat* st) -> int { return stat(p, st); };
  pglob->gl_lstat = [](const char* p, struct stat* st) -> int { return lstat(p, st); };
  return REAL(glob)(pattern, flags | GLOB_ALTDIRFUNC, errfunc, pglob);
}

// nftw/ftw: glibc's walker reads and stats with internal calls, so it saw nothing virtual (not
// even below a real directory it walked into the prefix from). Ours (core/vfs/tree_walk.h) walks
// through our own wrappers, for every path: a walk may enter the prefix from above.
using NftwFn = int (*)(const char*, const struct stat*, int, struct FTW*);
using FtwFn = int (*)(const char*, const struct stat*, int);

EXPORT int nftw(const char* path, NftwFn fn, int nopenfd, int flags) {
  if (t_depth != 0 || !Ready() || !OwnerProcess()) return REAL(nftw)(path, fn, nopenfd, flags);
  return hfshim::WalkFileTree(
      path,
      [fn](const char* p, const struct stat* st, int type, struct FTW* f) {
        return fn(p, st, type, f);
      },
      flags);
}

EXPORT int ftw(const char* path, FtwFn fn, int nopenfd) {
  if (t_depth != 0 || !Ready() || !OwnerProcess()) return REAL(ftw)(path, fn, nopenfd);
  return hfshim::WalkFileTree(
      path,
      [fn](const char* p, const struct stat* st, int type, struct FTW*) {
        return fn(p, st, hfshim::FtwTypeflag(type));
      },
      0);
}

extern "C" {
__attribute__((visibility("default"), alias("nftw"))) int nftw64(const char*, __nftw64_func_t, int,
                                                                 int);
__attribute__((visibility("default"), alias("ftw"))) int ftw64(const char*, __ftw64_func_t, int);
__attribute__((visibility("default"), alias("glob"))) int glob64(const char*, int,
                                                                 int (*)(const char*, int),
                                                                 glob64_t*);
__attribute__((visibility("default"), alias("readdir"))) struct dirent64* readdir64(DIR*);
__attribute__((visibility("default"), alias("readdir_r"))) int readdir64_r(DIR*, struct dirent64*,
                                                                           struct dirent64**);
__attribute__((visibility("default"), alias("scandir"))) int scandir64(
    const char*, struct dirent64***, int (*)(const struct dirent64*),
    int (*)(const struct dirent64**, const struct dirent64**));
__attribute__((visibility("default"), alias("scandirat"))) int scandirat64(
    int, const char*, struct dirent64***, int (*)(const struct dirent64*),
    int (*)(const struct dirent64**, const struct dirent64**));
}
