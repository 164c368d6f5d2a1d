// The data path of lazy large files: read, pread, readv, preadv(2), their _chk twins, mmap,
// sendfile, copy_file_range, splice and fdopen. For every fd that is not lazy (FdKind::kLazy)
// each wrapper costs one relaxed byte load before the real call. For a lazy fd it first has
// Vfs fetch the blocks the call will read (PrepareRead/PrepareMap), then lets the kernel read
// them from the cache file; a fetch that fails makes the call fail with EIO, never return holes.
#include <sys/uio.h>

#include "shim/shim.h"

using hfshim::FdHint;
using hfshim::FdKind;
using hfshim::Vfs;
using namespace hfshim::shim;

#define EXPORT extern "C" __attribute__((visibility("default")))

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

bool BeforeRead(int fd, int64_t offset, uint64_t length) {
  return Prepared([&](Vfs& vfs) { return vfs.PrepareRead(fd, offset, length); });
}

uint64_t Total(const struct iovec* iov, int n) {
  uint64_t total = 0;
  for (int i = 0; i < n && iov != nullptr; ++i) total += iov[i].iov_len;
  return total;
}

}  // namespace

EXPORT ssize_t read(int fd, void* buf, size_t n) {
  if (Lazy(fd) && !BeforeRead(fd, -1, n)) return -1;
  return REAL(read)(fd, buf, n);
}

EXPORT ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  if (n > buflen) ChkFail();
  return read(fd, buf, n);
}

EXPORT ssize_t pread(int fd, void* buf, size_t n, off_t off) {
  if (Lazy(fd) && off >= 0 && !BeforeRead(fd, off, n)) return -1;
  return REAL(pread)(fd, buf, n, off);
}

EXPORT ssize_t __pread_chk(int fd, void* buf, size_t n, off_t off, size_t buflen) {
  if (n > buflen) ChkFail();
  return pread(fd, buf, n, off);
}

EXPORT ssize_t readv(int fd, const struct iovec* iov, int n) {
  if (Lazy(fd) && !BeforeRead(fd, -1, Total(iov, n))) return -1;
  return REAL(readv)(fd, iov, n);
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

// glibc's stdio reads with its internal __read, which no wrapper sees: a stream on a lazy fd
// gets the whole file first.
EXPORT FILE* fdopen(int fd, const char* mode) {
  if (Lazy(fd) && !Prepared([&](Vfs& vfs) { return vfs.CompleteFd(fd); })) return nullptr;
  return REAL(fdopen)(fd, mode);
}

extern "C" {
__attribute__((visibility("default"), alias("pread"))) ssize_t pread64(int, void*, size_t, off_t);
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
}
