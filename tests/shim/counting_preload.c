/* A library preloaded AFTER libhfshim.so that wraps the calls the shim passes straight to the
 * kernel when glibc is next in line (shim/kernel_call.h). It counts the calls that reach it and
 * prints the counts at exit, so a test can see that the shim called it instead of the kernel. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static unsigned long n_openat, n_close, n_read, n_fstatat, n_statx;

EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  static int (*next)(int, const char*, int, ...);
  if (!next) next = dlsym(RTLD_NEXT, "openat");
  mode_t mode = 0;
  if (flags & (O_CREAT | __O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  __atomic_add_fetch(&n_openat, 1, __ATOMIC_RELAXED);
  return next(dirfd, path, flags, mode);
}

EXPORT int close(int fd) {
  static int (*next)(int);
  if (!next) next = dlsym(RTLD_NEXT, "close");
  __atomic_add_fetch(&n_close, 1, __ATOMIC_RELAXED);
  return next(fd);
}

EXPORT ssize_t read(int fd, void* buf, size_t n) {
  static ssize_t (*next)(int, void*, size_t);
  if (!next) next = dlsym(RTLD_NEXT, "read");
  __atomic_add_fetch(&n_read, 1, __ATOMIC_RELAXED);
  return next(fd, buf, n);
}

EXPORT int fstatat(int dirfd, const char* path, struct stat* st, int flags) {
  static int (*next)(int, const char*, struct stat*, int);
  if (!next) next = dlsym(RTLD_NEXT, "fstatat");
  __atomic_add_fetch(&n_fstatat, 1, __ATOMIC_RELAXED);
  return next(dirfd, path, st, flags);
}

EXPORT int statx(int dirfd, const char* path, int flags, unsigned mask, struct statx* stx) {
  static int (*next)(int, const char*, int, unsigned, struct statx*);
  if (!next) next = dlsym(RTLD_NEXT, "statx");
  __atomic_add_fetch(&n_statx, 1, __ATOMIC_RELAXED);
  return next(dirfd, path, flags, mask, stx);
}

__attribute__((destructor)) static void report(void) {
  fprintf(stderr, "counting_preload: openat=%lu close=%lu read=%lu fstatat=%lu statx=%lu\n",
          n_openat, n_close, n_read, n_fstatat, n_statx);
}
