/* C probes for libhfshim.so, built three ways (plain, -D_FILE_OFFSET_BITS=64,
 * -O2 -D_FORTIFY_SOURCE=2) so the plain, 64 and fortified entry points are all exercised.
 *
 *   probe tree ROOT      walk ROOT with opendir/readdir and openat/fdopendir, print one line per
 *                        entry (type, mode, size, nlink, mtime, link target, content checksum);
 *                        run natively and under LD_PRELOAD, the outputs must be equal
 *   probe errors ROOT    errno of failing calls (ENOENT, ENOTDIR, ELOOP...), also compared
 *   probe walks ROOT     nftw/ftw with several flag sets (sorted lines), also compared
 *   probe checks ROOT    virtual-only assertions (EROFS, statx NULL probe, dup2, fork, threads,
 *                        close_range, fchdir+getcwd, openat on a dir fd, syscall(SYS_statx)...);
 *                        prints "FAIL <what>" lines and exits 1 on any failure
 *
 * ROOT is the hub cache root; the tree layout is made by run_probes.py.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures = 0;
#define CHECK(cond, ...)                                  \
  do {                                                    \
    if (!(cond)) {                                        \
      printf("FAIL %s:%d ", __FILE__, __LINE__);          \
      printf(__VA_ARGS__);                                \
      printf(" (errno %d %s)\n", errno, strerror(errno)); \
      failures++;                                         \
    }                                                     \
  } while (0)

static uint64_t Fnv(const unsigned char* p, size_t n, uint64_t h) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

/* Reads a whole file through open/read; returns the FNV hash, sets *size. */
static uint64_t HashFile(const char* path, long long* size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  unsigned char buf[65536];
  uint64_t h = 1469598103934665603ull;
  long long total = 0;
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
    h = Fnv(buf, (size_t)n, h);
    total += n;
  }
  close(fd);
  *size = total;
  return h;
}

static int CompareStrings(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

/* ---- tree */

static char** lines = NULL;
static size_t nlines = 0, caplines = 0;
static void AddLine(const char* s) {
  if (nlines == caplines) {
    caplines = caplines ? caplines * 2 : 256;
    lines = realloc(lines, caplines * sizeof(char*));
  }
  lines[nlines++] = strdup(s);
}

static void Walk(const char* root, const char* rel) {
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
  DIR* d = opendir(path);
  if (d == NULL) {
    char line[PATH_MAX + 64];
    snprintf(line, sizeof(line), "opendir-failed %s errno=%d", rel, errno);
    AddLine(line);
    return;
  }
  errno = 0;
  struct dirent* e;
  int dfd = dirfd(d);
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (*rel == '\0' && e->d_name[0] == '.') continue; /* .locks etc. of the real root */
    char sub[PATH_MAX], full[PATH_MAX];
    snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
    snprintf(full, sizeof(full), "%s/%s", root, sub);
    struct stat ls, st, at;
    char line[2 * PATH_MAX];
    if (lstat(full, &ls) != 0) {
      snprintf(line, sizeof(line), "%s lstat-failed errno=%d", sub, errno);
      AddLine(line);
      continue;
    }
    /* fstatat relative to the directory fd must agree with lstat. */
    if (fstatat(dfd, e->d_name, &at, AT_SYMLINK_NOFOLLOW) != 0 || at.st_ino != ls.st_ino ||
        at.st_size != ls.st_size || at.st_mode != ls.st_mode) {
      snprintf(line, sizeof(line), "%s fstatat-differs", sub);
      AddLine(line);
    }
    if (e->d_ino != ls.st_ino) {
      snprintf(line, sizeof(line), "%s d_ino-differs", sub);
      AddLine(line);
    }
    int want_type = S_ISDIR(ls.st_mode) ? DT_DIR : S_ISLNK(ls.st_mode) ? DT_LNK : DT_REG;
    if (e->d_type != DT_UNKNOWN && e->d_type != want_type) {
      snprintf(line, sizeof(line), "%s d_type-differs", sub);
      AddLine(line);
    }
    if (S_ISLNK(ls.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = readlink(full, target, sizeof(target) - 1);
      target[n > 0 ? n : 0] = '\0';
      int followed = stat(full, &st) == 0;
      snprintf(line, sizeof(line), "%s link %o size=%lld target=%s -> %s size=%lld", sub,
               ls.st_mode & 07777, (long long)ls.st_size, target,
               followed ? (S_ISDIR(st.st_mode) ? "dir" : "file") : "broken",
               followed ? (long long)st.st_size : -1LL);
      AddLine(line);
    } else if (S_ISDIR(ls.st_mode)) {
      snprintf(line, sizeof(line), "%s dir %o nlink=%ld mtime=%lld", sub, ls.st_mode & 07777,
               (long)ls.st_nlink, (long long)ls.st_mtime);
      AddLine(line);
      Walk(root, sub);
    } else {
      long long size = -1;
      uint64_t h = HashFile(full, &size);
      /* fstat of the open fd must equal lstat of the path. */
      int fd = open(full, O_RDONLY);
      struct stat fs;
      if (fd < 0 || fstat(fd, &fs) != 0 || fs.st_ino != ls.st_ino || fs.st_dev != ls.st_dev ||
          fs.st_size != ls.st_size || fs.st_mtime != ls.st_mtime || fs.st_mode != ls.st_mode) {
        snprintf(line, sizeof(line), "%s fstat-differs", sub);
        AddLine(line);
      }
      if (fd >= 0) close(fd);
      snprintf(line, sizeof(line),
               "%s file %o size=%lld nlink=%ld mtime=%lld.%09ld read=%lld "
               "hash=%016llx",
               sub, ls.st_mode & 07777, (long long)ls.st_size, (long)ls.st_nlink,
               (long long)ls.st_mtim.tv_sec, ls.st_mtim.tv_nsec, size, (unsigned long long)h);
      AddLine(line);
    }
    errno = 0;
  }
  if (errno != 0) {
    char line[PATH_MAX + 64];
    snprintf(line, sizeof(line), "readdir-end-errno %s errno=%d", rel, errno);
    AddLine(line);
  }
  closedir(d);
}

static int Tree(const char* root) {
  Walk(root, "");
  qsort(lines, nlines, sizeof(char*), CompareStrings);
  for (size_t i = 0; i < nlines; i++) printf("%s\n", lines[i]);
  return 0;
}

/* ---- errors (compared native vs virtual) */

static void Errno(const char* what, int rc) {
  printf("%s rc=%d errno=%s\n", what, rc, rc < 0 ? strerrorname_np(errno) : "-");
}

static int Errors(const char* root) {
  char p[PATH_MAX];
  struct stat st;
  char buf[PATH_MAX];
#define P(rel) (snprintf(p, sizeof(p), "%s/%s", root, rel), p)
  Errno("stat missing", stat(P("models--org--m/nope"), &st));
  Errno("stat file/x", stat(P("models--org--m/refs/main/x"), &st));
  Errno("stat file/", stat(P("models--org--m/refs/main/"), &st));
  Errno("lstat missing", lstat(P("models--org--m/snapshots/rev1/nope"), &st));
  Errno("stat loop", stat(P("models--org--m/snapshots/rev1/loop"), &st));
  Errno("lstat loop", lstat(P("models--org--m/snapshots/rev1/loop"), &st));
  Errno("open missing", open(P("models--org--m/nope"), O_RDONLY));
  Errno("open file/x", open(P("models--org--m/refs/main/x"), O_RDONLY));
  Errno("open O_DIRECTORY file", open(P("models--org--m/refs/main"), O_RDONLY | O_DIRECTORY));
  Errno("open O_NOFOLLOW link",
        open(P("models--org--m/snapshots/rev1/config.json"), O_RDONLY | O_NOFOLLOW));
  Errno("open loop", open(P("models--org--m/snapshots/rev1/loop"), O_RDONLY));
  Errno("readlink file", (int)readlink(P("models--org--m/refs/main"), buf, sizeof(buf)));
  Errno("readlink missing", (int)readlink(P("models--org--m/nope"), buf, sizeof(buf)));
  Errno("access missing", access(P("models--org--m/nope"), F_OK));
  Errno("access R_OK", access(P("models--org--m/refs/main"), R_OK));
  Errno("opendir file", opendir(P("models--org--m/refs/main")) ? 0 : -1);
  Errno("opendir missing", opendir(P("models--org--m/nope")) ? 0 : -1);
  Errno("mkdir existing", mkdir(P("models--org--m/refs"), 0755));
  Errno("mkdir no parent", mkdir(P("models--org--m/a/b"), 0755));
  Errno("realpath missing", realpath(P("models--org--m/nope"), buf) ? 0 : -1);
  Errno("realpath loop", realpath(P("models--org--m/snapshots/rev1/loop"), NULL) ? 0 : -1);
  Errno("chdir file", chdir(P("models--org--m/refs/main")));
  /* glob walks with glibc's internal opendir unless the shim re-runs it (GLOB_ALTDIRFUNC). */
  glob_t g;
  int grc = glob(P("models--org--m/snapshots/*/*.json"), 0, NULL, &g);
  printf("glob json rc=%d n=%zu\n", grc, grc == 0 ? g.gl_pathc : 0);
  if (grc == 0) globfree(&g);
  grc = glob(P("datasets--org--d/data/f00*.txt"), 0, NULL, &g);
  printf("glob data rc=%d n=%zu\n", grc, grc == 0 ? g.gl_pathc : 0);
  if (grc == 0) globfree(&g);
#undef P
  return 0;
}

/* ---- checks (virtual only) */

struct ThreadArg {
  const char* path;
  uint64_t want;
  int ok;
};

static void* ReadManyTimes(void* p) {
  struct ThreadArg* a = p;
  a->ok = 1;
  for (int i = 0; i < 4; i++) {
    long long size;
    if (HashFile(a->path, &size) != a->want) a->ok = 0;
  }
  /* errno of passthrough calls in a thread other than main (the shim writes it without
   * __errno_location): set on failure, untouched on success, also on a repeated miss. */
  for (int i = 0; i < 2; i++) {
    struct stat st;
    errno = 4321;
    if (stat("/nonexistent-hfshim-probe/x", &st) != -1 || errno != ENOENT) a->ok = 0;
    errno = 4321;
    if (open("/nonexistent-hfshim-probe/x", O_RDONLY) != -1 || errno != ENOENT) a->ok = 0;
    errno = 4321;
    if (stat("/", &st) != 0 || errno != 4321) a->ok = 0;
  }
  return NULL;
}

static int Checks(const char* root) {
  char p[PATH_MAX], q[PATH_MAX], buf[PATH_MAX];
  struct stat st, st2;
#define P(rel) (snprintf(p, sizeof(p), "%s/%s", root, rel), p)
  const char* cfg_rel = "models--org--m/snapshots/rev1/config.json";

  /* dlopen of a library in the virtual tree (the loader opens it behind every wrapper); a name
   * without '/' is still searched as usual. */
  void* lib = dlopen(P("models--org--m/snapshots/rev1/libz.so"), RTLD_NOW | RTLD_LOCAL);
  CHECK(lib != NULL, "dlopen of a virtual library: %s", dlerror());
  if (lib != NULL) {
    const char* (*version)(void) = (const char* (*)(void))dlsym(lib, "zlibVersion");
    CHECK(version != NULL && version()[0] != '\0', "dlsym in a virtual library");
    dlclose(lib);
  }
  CHECK(dlopen(P("models--org--m/snapshots/rev1/nope.so"), RTLD_NOW) == NULL,
        "dlopen of a missing virtual library fails");
  void* libm = dlopen("libm.so.6", RTLD_NOW);
  CHECK(libm != NULL, "dlopen by name: %s", dlerror());
  if (libm != NULL) dlclose(libm);

  /* The prefix root is the real directory, its st_nlink counting the repos too: by path and by
   * fd alike, and statx of its fd keeps what only statx reports (the birth time). */
  {
    struct statx by_path, by_fd;
    const int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(stat(root, &st) == 0 && rootfd >= 0 && fstat(rootfd, &st2) == 0 &&
              st.st_nlink == st2.st_nlink && st.st_nlink >= 4,
          "prefix root nlink by path and fd: %lu %lu", (unsigned long)st.st_nlink,
          (unsigned long)st2.st_nlink);
    CHECK(statx(AT_FDCWD, root, 0, STATX_BASIC_STATS | STATX_BTIME, &by_path) == 0 &&
              statx(rootfd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, &by_fd) == 0 &&
              by_path.stx_nlink == st.st_nlink && by_fd.stx_nlink == st.st_nlink &&
              by_path.stx_mask == by_fd.stx_mask &&
              by_fd.stx_btime.tv_sec == by_path.stx_btime.tv_sec,
          "prefix root statx by path and fd: nlink %u %u, mask %x %x", by_path.stx_nlink,
          by_fd.stx_nlink, by_path.stx_mask, by_fd.stx_mask);
    close(rootfd);
  }

  /* Write intents are refused with EROFS; the real part of the union stays writable. */
  errno = 0;
  CHECK(open(P(cfg_rel), O_WRONLY) < 0 && errno == EROFS, "open O_WRONLY");
  CHECK(open(P(cfg_rel), O_RDWR) < 0 && errno == EROFS, "open O_RDWR");
  CHECK(open(P("models--org--m/refs/new"), O_WRONLY | O_CREAT, 0644) < 0 && errno == EROFS,
        "open O_CREAT new");
  CHECK(open(P("models--org--m/refs"), O_TMPFILE | O_RDWR, 0644) < 0 && errno == EROFS,
        "O_TMPFILE");
  CHECK(access(P(cfg_rel), W_OK) < 0 && errno == EROFS, "access W_OK");
  CHECK(mkdir(P("models--org--m/newdir"), 0755) < 0 && errno == EROFS, "mkdir");
  CHECK(unlink(P(cfg_rel)) < 0 && errno == EROFS, "unlink");
  CHECK(rmdir(P("models--org--m/refs")) < 0 && errno == EROFS, "rmdir");
  snprintf(q, sizeof(q), "%s/models--org--m/renamed", root);
  CHECK(rename(P(cfg_rel), q) < 0 && errno == EROFS, "rename");
  CHECK(chmod(P(cfg_rel), 0600) < 0 && errno == EROFS, "chmod");
  CHECK(truncate(P("models--org--m/refs/main"), 0) < 0 && errno == EROFS, "truncate");
  CHECK(utimensat(AT_FDCWD, P(cfg_rel), NULL, 0) < 0 && errno == EROFS, "utimensat");
  CHECK(symlink("x", P("models--org--m/newlink")) < 0 && errno == EROFS, "symlink");
  CHECK(fopen(P(cfg_rel), "w") == NULL && errno == EROFS, "fopen w");
  CHECK(fopen(P(cfg_rel), "r+") == NULL && errno == EROFS, "fopen r+");
  CHECK(mkdir(P(".locks"), 0755) == 0 || errno == EEXIST, "mkdir real .locks");
  CHECK(mkdir(P("models--not--pushed"), 0755) == 0, "mkdir a repo not in the store");
  CHECK(rmdir(P("models--not--pushed")) == 0, "rmdir a repo not in the store");
  int lock = open(P(".locks/probe.lock"), O_CREAT | O_RDWR, 0644);
  CHECK(lock >= 0, "lock file in the real .locks");
  if (lock >= 0) close(lock);
  CHECK(unlink(P(".locks/probe.lock")) == 0, "unlink real lock");

  /* errno is untouched by successful calls and readdir's end. */
  errno = 4242;
  CHECK(stat(P(cfg_rel), &st) == 0 && errno == 4242, "stat keeps errno");
  DIR* d = opendir(P("models--org--m/snapshots/rev1"));
  CHECK(d != NULL, "opendir");
  if (d) {
    int n = 0;
    errno = 0;
    while (readdir(d) != NULL) n++;
    CHECK(errno == 0, "readdir end leaves errno 0");
    CHECK(n >= 4, "readdir count %d", n);
    rewinddir(d);
    int m = 0;
    while (readdir(d) != NULL) m++;
    CHECK(m == n, "rewinddir then readdir again");
    closedir(d);
  }

  /* Rust's statx probe: NULL path must give EFAULT, never a crash. */
  struct statx stx;
  errno = 0;
  CHECK(statx(0, NULL, 0, STATX_BASIC_STATS, &stx) < 0 && errno == EFAULT, "statx NULL");
  CHECK(syscall(SYS_statx, AT_FDCWD, P(cfg_rel), 0, STATX_BASIC_STATS, &stx) == 0,
        "syscall(SYS_statx)");
  stat(P(cfg_rel), &st);
  CHECK(stx.stx_size == (uint64_t)st.st_size && stx.stx_ino == st.st_ino, "statx == stat");

  /* stat(path) == fstat(open(path)) == statx(fd, "", AT_EMPTY_PATH). */
  int fd = open(P(cfg_rel), O_RDONLY);
  CHECK(fd >= 0, "open config");
  if (fd >= 0) {
    CHECK(fstat(fd, &st2) == 0 && st2.st_ino == st.st_ino && st2.st_dev == st.st_dev &&
              st2.st_size == st.st_size && st2.st_mtime == st.st_mtime,
          "fstat == stat");
    CHECK(statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) == 0 && stx.stx_ino == st.st_ino &&
              stx.stx_size == (uint64_t)st.st_size,
          "statx AT_EMPTY_PATH");
    /* dup2 onto a new number keeps the identity. */
    CHECK(dup2(fd, 100) == 100, "dup2");
    CHECK(fstat(100, &st2) == 0 && st2.st_ino == st.st_ino, "fstat after dup2");
    int fd3 = fcntl(fd, F_DUPFD_CLOEXEC, 200);
    CHECK(fd3 >= 200 && fstat(fd3, &st2) == 0 && st2.st_ino == st.st_ino, "F_DUPFD_CLOEXEC");
    close(fd3);
    close(100);
    close(fd);
  }

  /* realpath / readlink of snapshot links. */
  CHECK(readlink(P(cfg_rel), buf, sizeof(buf)) > 0, "readlink");
  char* real = realpath(P(cfg_rel), NULL);
  CHECK(real != NULL && strstr(real, "/models--org--m/blobs/") != NULL, "realpath -> blob");
  if (real) {
    CHECK(stat(real, &st2) == 0 && st2.st_ino == st.st_ino, "samefile(link, blob)");
    free(real);
  }
  char* canon = canonicalize_file_name(P(cfg_rel));
  CHECK(canon != NULL, "canonicalize_file_name");
  free(canon);

  /* fopen for reading goes through the cache file. */
  FILE* f = fopen(P(cfg_rel), "re");
  CHECK(f != NULL, "fopen re");
  if (f) {
    char line[256];
    CHECK(fgets(line, sizeof(line), f) != NULL, "fgets");
    CHECK(fstat(fileno(f), &st2) == 0 && st2.st_ino == st.st_ino, "fstat(fileno(fopen))");
    fclose(f);
  }

  /* fork: the child reads the same bytes. */
  long long size;
  uint64_t want = HashFile(P("models--org--m/blobs/big.bin"), &size);
  pid_t pid = fork();
  if (pid == 0) {
    long long s2;
    uint64_t h = HashFile(P("models--org--m/blobs/big.bin"), &s2);
    struct stat cst;
    int ok = h == want && stat(P("datasets--org--d/data/f0001.txt"), &cst) == 0;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fork child reads");

  /* vfork: the child runs in our memory but is not the owner, so the shim passes through there
   * (the prefix is empty on disk: ENOENT) and writes none of our tables: its close of a virtual
   * fd leaves the parent's fstat overlay intact. Afterwards the parent is served again. */
  int vfd = open(P(cfg_rel), O_RDONLY);
  CHECK(vfd >= 0, "open before vfork");
  pid_t vpid = vfork();
  if (vpid == 0) {
    struct stat vst;
    int passed_through = stat(P(cfg_rel), &vst) < 0 && errno == ENOENT;
    close(vfd);
    _exit(passed_through ? 0 : 1);
  }
  status = 0;
  waitpid(vpid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "vfork child passes through");
  CHECK(fstat(vfd, &st2) == 0 && st2.st_ino == st.st_ino && st2.st_dev == st.st_dev,
        "fstat overlay survives a vfork child's close");
  CHECK(stat(P(cfg_rel), &st2) == 0 && st2.st_ino == st.st_ino, "stat after vfork");
  close(vfd);

  /* 64 threads opening and reading at once. */
  pthread_t threads[64];
  struct ThreadArg args[64];
  for (int i = 0; i < 64; i++) {
    args[i].path = P("models--org--m/blobs/big.bin");
    args[i].path = strdup(args[i].path);
    args[i].want = want;
    pthread_create(&threads[i], NULL, ReadManyTimes, &args[i]);
  }
  for (int i = 0; i < 64; i++) {
    pthread_join(threads[i], NULL);
    CHECK(args[i].ok, "thread %d read", i);
    free((void*)args[i].path);
  }

  /* Fork storm: fork repeatedly while 8 threads open, stat and read; every child reads too.
   * A shim lock held across fork would hang a child (the test's timeout catches it). */
  struct ThreadArg storm[8];
  pthread_t storm_threads[8];
  for (int i = 0; i < 8; i++) {
    storm[i].path = strdup(P(i % 2 ? "models--org--m/blobs/big.bin" : cfg_rel));
    storm[i].want = i % 2 ? want : HashFile(storm[i].path, &size);
    pthread_create(&storm_threads[i], NULL, ReadManyTimes, &storm[i]);
  }
  int storm_ok = 1;
  for (int i = 0; i < 20; i++) {
    pid_t c = fork();
    if (c == 0) {
      long long s2;
      struct stat cst;
      char rel[64];
      snprintf(rel, sizeof(rel), "datasets--org--d/data/f%04d.txt", i);
      int ok = HashFile(P("models--org--m/blobs/big.bin"), &s2) == want &&
               stat(P(rel), &cst) == 0 && cst.st_size > 0;
      _exit(ok ? 0 : 1);
    }
    int cstatus = 0;
    waitpid(c, &cstatus, 0);
    if (!WIFEXITED(cstatus) || WEXITSTATUS(cstatus) != 0) storm_ok = 0;
  }
  for (int i = 0; i < 8; i++) {
    pthread_join(storm_threads[i], NULL);
    CHECK(storm[i].ok, "storm thread %d", i);
    free((void*)storm[i].path);
  }
  CHECK(storm_ok, "fork storm children");

  /* close_range over everything, then keep going. */
  int keep = open(P(cfg_rel), O_RDONLY);
  syscall(SYS_close_range, 3, ~0u, 0);
  CHECK(fcntl(keep, F_GETFD) < 0, "close_range closed it");
  CHECK(HashFile(P("models--org--m/blobs/big.bin"), &size) == want, "read after close_range");
  CHECK(stat(P(cfg_rel), &st2) == 0 && st2.st_ino == st.st_ino, "stat after close_range");

  /* Directory fds: openat relative, fchdir + getcwd, relative opens from a virtual cwd. */
  int dfd = open(P("models--org--m/snapshots/rev1"), O_RDONLY | O_DIRECTORY);
  CHECK(dfd >= 0, "open dir");
  CHECK(fstat(dfd, &st2) == 0 && S_ISDIR(st2.st_mode), "fstat dir fd");
  int rfd = openat(dfd, "config.json", O_RDONLY);
  CHECK(rfd >= 0, "openat(dirfd, config.json)");
  if (rfd >= 0) close(rfd);
  CHECK(fstatat(dfd, "sub/model.bin", &st2, 0) == 0, "fstatat(dirfd, sub/...)");
  int moved = dup2(dfd, 150);
  close(dfd);
  CHECK(moved == 150 && faccessat(150, "config.json", R_OK, 0) == 0, "faccessat on dup2'd dir");
  char old[PATH_MAX];
  getcwd(old, sizeof(old));
  CHECK(fchdir(150) == 0, "fchdir");
  char* cwd = getcwd(buf, sizeof(buf));
  CHECK(cwd != NULL && strstr(cwd, "/models--org--m/snapshots/rev1") != NULL, "getcwd %s",
        cwd ? cwd : "(null)");
  CHECK(stat("config.json", &st2) == 0 && st2.st_ino == st.st_ino, "relative stat in cwd");
  CHECK(access("../../refs/main", R_OK) == 0, "relative .. in cwd");
  chdir(old);
  CHECK(chdir(P("models--org--m/snapshots")) == 0, "chdir");
  CHECK(getcwd(buf, sizeof(buf)) && strstr(buf, "/models--org--m/snapshots"), "getcwd 2");
  chdir(old);
  close(150);

  /* scandir of a virtual dir. */
  struct dirent** list;
  int n = scandir(P("datasets--org--d/data"), &list, NULL, alphasort);
  CHECK(n == 302, "scandir count %d", n);
  if (n > 0) {
    for (int i = 0; i < n; i++) free(list[i]);
    free(list);
  }
#undef P
  return failures ? 1 : 0;
}

/* nftw/ftw over ROOT with several flag sets: one line per callback (path relative to ROOT,
 * typeflag, level, name, mode and size; with FTW_CHDIR whether the name is reachable from the
 * working directory), sorted (listing order is the file system's), then the walk's result. */
static size_t g_root_len;
static int g_chdir;

static int WalkLine(const char* p, const struct stat* st, int type, struct FTW* f) {
  char line[PATH_MAX + 200];
  struct stat here;
  /* The real .locks/ that "checks" creates beside the repos is not part of the pushed tree. */
  if (strncmp(p + g_root_len, "/.locks", 7) == 0) return 0;
  int n = snprintf(line, sizeof(line), "%s type=%d level=%d name=%s", p + g_root_len, type,
                   f->level, p + f->base);
  if (type != FTW_NS) n += snprintf(line + n, sizeof(line) - n, " mode=%o", (unsigned)st->st_mode);
  if (type == FTW_F)
    n += snprintf(line + n, sizeof(line) - n, " size=%lld", (long long)st->st_size);
  if (g_chdir) snprintf(line + n, sizeof(line) - n, " here=%d", lstat(p + f->base, &here) == 0);
  AddLine(line);
  return 0;
}

static int FtwLine(const char* p, const struct stat* st, int type) {
  struct FTW f = {(int)(strrchr(p, '/') - p + 1), -1};
  return WalkLine(p, st, type, &f);
}

static void PrintLines(const char* title, int rc) {
  qsort(lines, nlines, sizeof(char*), CompareStrings);
  printf("== %s: rc=%d errno=%d\n", title, rc, rc == -1 ? errno : 0);
  for (size_t i = 0; i < nlines; i++) {
    printf("%s\n", lines[i]);
    free(lines[i]);
  }
  nlines = 0;
}

static int Walks(const char* root) {
  static const struct {
    const char* name;
    int flags;
  } kWalks[] = {{"nftw PHYS", FTW_PHYS},
                {"nftw PHYS|DEPTH", FTW_PHYS | FTW_DEPTH},
                {"nftw PHYS|CHDIR", FTW_PHYS | FTW_CHDIR},
                {"nftw PHYS|MOUNT", FTW_PHYS | FTW_MOUNT}};
  char sub[PATH_MAX];
  snprintf(sub, sizeof(sub), "%s/models--org--m", root);
  g_root_len = strlen(root);
  for (size_t i = 0; i < sizeof(kWalks) / sizeof(kWalks[0]); i++) {
    g_chdir = (kWalks[i].flags & FTW_CHDIR) != 0;
    errno = 0;
    int rc = nftw(root, WalkLine, 8, kWalks[i].flags);
    PrintLines(kWalks[i].name, rc);
    errno = 0;
    rc = nftw(sub, WalkLine, 8, kWalks[i].flags); /* a repo: the walk starts virtual */
    PrintLines(kWalks[i].name, rc);
  }
  /* Following symlinks: not over the symlink loop, where the walk stops with ELOOP at a point
   * that depends on the listing order. */
  static const char* kFollowed[] = {"datasets--org--d", "models--org--m/snapshots/rev1/sub"};
  g_chdir = 0;
  for (size_t i = 0; i < sizeof(kFollowed) / sizeof(kFollowed[0]); i++) {
    snprintf(sub, sizeof(sub), "%s/%s", root, kFollowed[i]);
    errno = 0;
    int rc = nftw(sub, WalkLine, 8, 0);
    PrintLines("nftw 0", rc);
    errno = 0;
    rc = nftw(sub, WalkLine, 8, FTW_DEPTH | FTW_CHDIR);
    PrintLines("nftw DEPTH|CHDIR", rc);
    errno = 0;
    rc = ftw(sub, FtwLine, 8);
    PrintLines("ftw", rc);
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: probe tree|errors|checks|walks ROOT\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (strcmp(argv[1], "tree") == 0) return Tree(argv[2]);
  if (strcmp(argv[1], "errors") == 0) return Errors(argv[2]);
  if (strcmp(argv[1], "checks") == 0) return Checks(argv[2]);
  if (strcmp(argv[1], "walks") == 0) return Walks(argv[2]);
  return 2;
}
