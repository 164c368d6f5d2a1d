// The data path of lazy large files: read, pread, readv, preadv(2), their _chk twins, mmap,
// sendfile, copy_file_range, splice, fdopen, lseek (SEEK_DATA/SEEK_HOLE) and ioctl (FICLONE,
// FICLONERANGE, FIEMAP). For every fd that is not lazy (FdKind::kLazy)
// each wrapper costs one relaxed byte load before the real call. For a lazy fd it first has
// Vfs fetch the blocks the call will read (PrepareRead/PrepareMap), then lets the kernel read
// them from the cache file; a fetch that fails makes the call fail with EIO, never return holes.
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include <cstdarg>
#include <cstdint>

#include "shim/kernel_call.h"
#include "shim/shim.h"

using hfshim::FdHint;
using hfshim::FdKind;
using hfshim::Vfs;
using namespace hfshim::shim;

namespace {

inline bool Lazy(int fd) { return FdHint(fd) == FdKind::kLazy; }

// Runs `prepare(vfs)` (0 or -errno) for a lazy fd. False with errno set if the call must fail;
// true (errno kept) to go on with the real call. Core's own I/O (nested) and a vfork child skip.
template <typename Prepare>
bool Prepared(Prepare&& prepare) {
  if (t_depth != 0 || !hfshim::shim::Ready() || !OwnerProcess()) return true;
  Scope scope;
  return scope.Run(
      false,
      [&](Vfs& vfs) {
        const int rc = prepare(vfs);
        return scope.Result(rc) == 0;
      },
      [] { return true; });
}

bool BeforeRead(int fd, int64_t offset, uint64_t length, int64_t* at = nullptr) {
  return Prepared([&](Vfs& vfs) { return vfs.PrepareRead(fd, offset, length, at); });
}

// read/readv of a lazy fd (Vfs::ReadAtOffset): `here()` is the real call, `at(off, n)` its
// positioned twin; both return -1 with errno like libc.
template <typename Here, typename At>
ssize_t ReadLazy(int fd, uint64_t length, Here&& here, At&& at) {
  if (t_depth != 0 || !hfshim::shim::Ready() || !OwnerProcess()) return here();
  auto negative_errno = [](ssize_t r) { return r < 0 ? -static_cast<ssize_t>(errno) : r; };
  Scope scope;
  ssize_t result = 0;
  const bool ran = scope.Run(
      false,
      [&](Vfs& vfs) {
        result = vfs.ReadAtOffset(
            fd, length, [&] { return negative_errno(here()); },
            [&](uint64_t off, size_t n) { return negative_errno(at(static_cast<off_t>(off), n)); });
        return true;
      },
      [] { return false; });
  if (!ran) return here();
  if (result < 0) {
    errno = static_cast<int>(-result);
    return -1;
  }
  errno = scope.saved_errno();
  return result;
}

uint64_t Total(const struct iovec* iov, int n) {
  uint64_t total = 0;
  for (int i = 0; i < n && iov != nullptr; ++i) total += iov[i].iov_len;
  return total;
}

}  // namespace

EXPORT HFSHIM_HOT_PATH ssize_t read(int fd, void* buf, size_t n) {
  if (!Lazy(fd)) return KernelRead(fd, buf, n);
  return ReadLazy(
      fd, n, [&] { return REAL(read)(fd, buf, n); },
      [&](off_t at, size_t len) { return REAL(pread)(fd, buf, len, at); });
}

EXPORT ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  if (n > buflen) ChkFail();
  return read(fd, buf, n);
}

EXPORT HFSHIM_HOT_PATH ssize_t pread(int fd, void* buf, size_t n, off_t off) {
  if (Lazy(fd) && off >= 0 && !BeforeRead(fd, off, n)) return -1;
  return REAL(pread)(fd, buf, n, off);
}

EXPORT ssize_t __pread_chk(int fd, void* buf, size_t n, off_t off, size_t buflen) {
  if (n > buflen) ChkFail();
  return pread(fd, buf, n, off);
}

EXPORT ssize_t readv(int fd, const struct iovec* iov, int n) {
  if (!Lazy(fd)) return REAL(readv)(fd, iov, n);
  // A re-read after a moved offset reads `len` bytes, the total of what readv returned.
  return ReadLazy(
      fd, Total(iov, n), [&] { return REAL(readv)(fd, iov, n); },
      [&](off_t at, size_t) { return REAL(preadv)(fd, iov, n, at); });
}

EXPORT ssize_t preadv(int fd, const struct iovec* iov, int n, off_t off) {
  if (Lazy(fd) && off >= 0 && !BeforeRead(fd, off, Total(iov, n))) return -1;
  return REAL(preadv)(fd, iov, n, off);
}

EXPORT ssize_t preadv2(int fd, const struct iovec* iov, int n, off_t off, int flags) {
  if (Lazy(fd) && !BeforeRead(fd, off < 0 ? -1 : off, Total(iov, n))) return -1;
  return REAL(preadv2)(fd, iov, n, off, flags);
}

EXPORT void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (fd >= 0 && (flags & MAP_ANONYMOUS) == 0 && Lazy(fd) && off >= 0 &&
      !Prepared([&](Vfs& vfs) { return vfs.PrepareMap(fd, off, len); })) {
    return MAP_FAILED;
  }
  return REAL(mmap)(addr, len, prot, flags, fd, off);
}

EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t* offset, size_t count) {
  if (Lazy(in_fd) && !BeforeRead(in_fd, offset != nullptr ? *offset : -1, count)) return -1;
  return REAL(sendfile)(out_fd, in_fd, offset, count);
}

EXPORT ssize_t copy_file_range(int fd_in, loff_t* off_in, int fd_out, loff_t* off_out, size_t len,
                               unsigned flags) {
  if (Lazy(fd_in) && !BeforeRead(fd_in, off_in != nullptr ? *off_in : -1, len)) return -1;
  return REAL(copy_file_range)(fd_in, off_in, fd_out, off_out, len, flags);
}

EXPORT ssize_t splice(int fd_in, loff_t* off_in, int fd_out, loff_t* off_out, size_t len,
                      unsigned flags) {
  if (Lazy(fd_in) && !BeforeRead(fd_in, off_in != nullptr ? *off_in : -1, len)) return -1;
  return REAL(splice)(fd_in, off_in, fd_out, off_out, len, flags);
}

// SEEK_DATA/SEEK_HOLE: the holes of a partial file are data not fetched yet, not holes of the
// content, so a lazy fd answers as a dense file (a sparse-aware cp would otherwise skip them).
EXPORT off_t lseek(int fd, off_t off, int whence) {
  if ((whence == SEEK_DATA || whence == SEEK_HOLE) && Lazy(fd)) {
    struct stat st;
    if (REAL(fstat)(fd, &st) != 0) return -1;
    if (off < 0 || off >= st.st_size) {
      errno = ENXIO;
      return -1;
    }
    return REAL(lseek)(fd, whence == SEEK_DATA ? off : st.st_size, SEEK_SET);
  }
  return REAL(lseek)(fd, off, whence);
}

// Clones and extent maps see the partial file's holes: the source is completed first.
EXPORT int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  int source = -1;
  if (request == FICLONE) {
    source = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  } else if (request == FICLONERANGE && arg != nullptr) {
    source = static_cast<int>(static_cast<const struct file_clone_range*>(arg)->src_fd);
  } else if (request == FS_IOC_FIEMAP) {
    source = fd;
  }
  if (source >= 0 && Lazy(source) && !Prepared([&](Vfs& vfs) { return vfs.CompleteFd(source); })) {
    return -1;
  }
  return REAL(ioctl)(fd, request, arg);
}

// glibc's stdio reads with its internal __read, which no wrapper sees: a stream on a lazy fd
// gets the whole file first.
EXPORT FILE* fdopen(int fd, const char* mode) {
  if (Lazy(fd) && !Prepared([&](Vfs& vfs) { return vfs.CompleteFd(fd); })) return nullptr;
  return REAL(fdopen)(fd, mode);
}

extern "C" {
__attribute__((visibility("default"), alias("pread"))) HFSHIM_HOT_PATH ssize_t pread64(int, void*,
                                                                                       size_t,
                                                                                       off_t);
__attribute__((visibility("default"), alias("__pread_chk"))) ssize_t __pread64_chk(int, void*,
                                                                                   size_t, off_t,
                                                                                   size_t);
__attribute__((visibility("default"), alias("preadv"))) ssize_t preadv64(int, const struct iovec*,
                                                                         int, off_t);
__attribute__((visibility("default"), alias("preadv2"))) ssize_t preadv64v2(int,
                                                                            const struct iovec*,
                                                                            int, off_t, int);
__attribute__((visibility("default"), alias("mmap"))) void* mmap64(void*, size_t, int, int, int,
                                                                   off_t);
__attribute__((visibility("default"), alias("sendfile"))) ssize_t sendfile64(int, int, off_t*,
                                                                             size_t);
__attribute__((visibility("default"), alias("lseek"))) off_t lseek64(int, off_t, int);
}
