// Binaries built against older glibc call the stat family through versioned symbols:
// __xstat64@GLIBC_2.2.5 and friends (before glibc 2.33, the manylinux wheels), stat@GLIBC_2.33,
// statx@GLIBC_2.28, realpath@GLIBC_2.2.5 (the compat version). The shim's unversioned
// definitions must interpose each of them (shim/libhfshim.map.in); a binding that reached libc
// directly would fail on a virtual path. INTERPOSE.md section 6, test 14.
//
// usage: symver_probe ROOT
// Prints, for each path and binding, what the call returned; the harness compares the lines on
// the native tree and on the virtual one.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int old_xstat64(int ver, const char* path, struct stat64* st);
int old_lxstat64(int ver, const char* path, struct stat64* st);
int old_fxstat64(int ver, int fd, struct stat64* st);
int old_fxstatat64(int ver, int dirfd, const char* path, struct stat64* st, int flags);
int v233_stat(const char* path, struct stat* st);
int v233_lstat(const char* path, struct stat* st);
int v233_fstatat(int dirfd, const char* path, struct stat* st, int flags);
int v228_statx(int dirfd, const char* path, int flags, unsigned mask, struct statx* stx);
char* old_realpath(const char* path, char* resolved);
__asm__(".symver old_xstat64, __xstat64@GLIBC_2.2.5");
__asm__(".symver old_lxstat64, __lxstat64@GLIBC_2.2.5");
__asm__(".symver old_fxstat64, __fxstat64@GLIBC_2.2.5");
__asm__(".symver old_fxstatat64, __fxstatat64@GLIBC_2.4");
__asm__(".symver v233_stat, stat@GLIBC_2.33");
__asm__(".symver v233_lstat, lstat@GLIBC_2.33");
__asm__(".symver v233_fstatat, fstatat@GLIBC_2.33");
__asm__(".symver v228_statx, statx@GLIBC_2.28");
__asm__(".symver old_realpath, realpath@GLIBC_2.2.5");

enum { kStatVerLinux = 1 };  // _STAT_VER_LINUX on x86_64

// Plain stat of the same path gives the reference identity (dev, ino) each binding must match.
static struct stat g_ref;
static int g_ref_rc;

static void Line(const char* rel, const char* how, int rc, dev_t dev, ino_t ino, mode_t mode,
                 long long size, nlink_t nlink, long long mtime) {
  if (rc != 0) {
    printf("%s %s rc=%d errno=%d\n", rel, how, rc, errno);
    return;
  }
  printf("%s %s mode=%o size=%lld nlink=%lu mtime=%lld same-identity=%d\n", rel, how,
         (unsigned)mode, size, (unsigned long)nlink, mtime,
         g_ref_rc == 0 && dev == g_ref.st_dev && ino == g_ref.st_ino);
}

static void Stat64Line(const char* rel, const char* how, int rc, const struct stat64* s) {
  Line(rel, how, rc, s->st_dev, s->st_ino, s->st_mode, (long long)s->st_size, s->st_nlink,
       (long long)s->st_mtime);
}

static void StatLine(const char* rel, const char* how, int rc, const struct stat* s) {
  Line(rel, how, rc, s->st_dev, s->st_ino, s->st_mode, (long long)s->st_size, s->st_nlink,
       (long long)s->st_mtime);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: symver_probe ROOT\n");
    return 2;
  }
  const char* rels[] = {
      "models--org--m/snapshots/rev1/config.json",  // a snapshot link to a blob
      "models--org--m/snapshots/rev1/sub",          // a directory
      "models--org--m/refs/main",                   // a plain file, mode 0600
      "models--org--m/snapshots/rev1/missing",      // ENOENT
      "models--org--m/refs/main/x",                 // ENOTDIR
  };
  for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); ++i) {
    const char* rel = rels[i];
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", argv[1], rel);
    g_ref_rc = stat(path, &g_ref);
    struct stat64 s64;
    struct stat st;
    int rc = old_xstat64(kStatVerLinux, path, &s64);
    Stat64Line(rel, "__xstat64@GLIBC_2.2.5", rc, &s64);
    // Following the final link: lstat's identity is the link's, so only its mode is compared.
    rc = old_lxstat64(kStatVerLinux, path, &s64);
    printf("%s __lxstat64@GLIBC_2.2.5 rc=%d mode=%o\n", rel, rc,
           rc == 0 ? (unsigned)s64.st_mode : 0);
    rc = old_fxstatat64(kStatVerLinux, AT_FDCWD, path, &s64, 0);
    Stat64Line(rel, "__fxstatat64@GLIBC_2.4", rc, &s64);
    rc = v233_stat(path, &st);
    StatLine(rel, "stat@GLIBC_2.33", rc, &st);
    rc = v233_lstat(path, &st);
    printf("%s lstat@GLIBC_2.33 rc=%d mode=%o\n", rel, rc, rc == 0 ? (unsigned)st.st_mode : 0);
    rc = v233_fstatat(AT_FDCWD, path, &st, 0);
    StatLine(rel, "fstatat@GLIBC_2.33", rc, &st);
    struct statx stx;
    rc = v228_statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &stx);
    Line(rel, "statx@GLIBC_2.28", rc, makedev(stx.stx_dev_major, stx.stx_dev_minor), stx.stx_ino,
         stx.stx_mode, (long long)stx.stx_size, stx.stx_nlink, (long long)stx.stx_mtime.tv_sec);
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      rc = old_fxstat64(kStatVerLinux, fd, &s64);
      Stat64Line(rel, "__fxstat64@GLIBC_2.2.5", rc, &s64);
      close(fd);
    }
    char resolved[PATH_MAX];
    const char* r = old_realpath(path, resolved);
    // The native and virtual roots differ: print the part below the root.
    const size_t root_len = strlen(argv[1]);
    printf("%s realpath@GLIBC_2.2.5 %s\n", rel,
           r == NULL ? strerror(errno)
                     : (strncmp(r, argv[1], root_len) == 0 ? r + root_len : "outside the root"));
  }
  return 0;
}
