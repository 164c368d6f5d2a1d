// A signal handler that stats virtual paths while threads open, read and close virtual files
// (INTERPOSE.md section 6, test 15). SIGALRM fires every 200 us for SECONDS seconds and lands on
// any thread, anywhere: in the program, in libc, or inside the shim with its locks held. The
// handler stats a virtual file and a virtual directory.
//
// usage: signal_probe ROOT SECONDS
//   ROOT: a hub cache holding models--org--m/snapshots/rev1/config.json and datasets--org--d/data
// Prints one line of counts; exits 0 when the run ended (a deadlock hangs it: the harness times
// it out), no thread read wrong bytes, and no handler stat returned wrong metadata or failed
// with anything but ENOENT. ENOENT is the shim's documented answer to a call made while the
// same thread is inside the shim (README, "Limits and known gaps"): a handler that interrupted
// the shim is not let into it again, where the interrupted code may hold locks (or malloc's);
// it passes through to the kernel, which does not know virtual paths.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define kFiles 300
#define kThreads 4

static char g_config[4096], g_data_dir[4096];
static off_t g_config_size;
static char g_paths[kFiles][4096];
static unsigned g_sums[kFiles];
static atomic_int g_stop;
static atomic_long g_handler_ok, g_handler_enoent, g_handler_bad, g_reads, g_bad_reads;
static atomic_int g_handler_errno;

static unsigned Sum(const char* buf, ssize_t n) {
  unsigned s = 2166136261u;
  for (ssize_t i = 0; i < n; ++i) s = (s ^ (unsigned char)buf[i]) * 16777619u;
  return s;
}

// -1 on error; else the checksum of the first 64 KiB.
static long ReadSum(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[65536];
  ssize_t n = read(fd, buf, sizeof(buf));
  struct stat st;
  int f = fstat(fd, &st);
  close(fd);
  if (n < 0 || f != 0 || st.st_size != n) return -1;
  return Sum(buf, n);
}

static void OnAlarm(int sig) {
  (void)sig;
  const int saved = errno;
  struct stat a, b;
  const int rc_file = stat(g_config, &a), errno_file = errno;
  const int rc_dir = lstat(g_data_dir, &b), errno_dir = errno;
  const int right_file =
      rc_file == 0 ? a.st_size == g_config_size && S_ISREG(a.st_mode) : errno_file == ENOENT;
  const int right_dir = rc_dir == 0 ? S_ISDIR(b.st_mode) : errno_dir == ENOENT;
  if (!right_file || !right_dir) {
    atomic_store(&g_handler_errno, rc_file != 0 ? errno_file : errno_dir);
    atomic_fetch_add(&g_handler_bad, 1);
  } else if (rc_file == 0 && rc_dir == 0) {
    atomic_fetch_add(&g_handler_ok, 1);
  } else {
    atomic_fetch_add(&g_handler_enoent, 1);
  }
  errno = saved;
}

static void* Reader(void* arg) {
  long k = (long)arg;
  for (unsigned i = 0; !atomic_load(&g_stop); ++i) {
    const int f = (int)((i * 7 + k * 31) % kFiles);
    if (ReadSum(g_paths[f]) != (long)g_sums[f]) atomic_fetch_add(&g_bad_reads, 1);
    atomic_fetch_add(&g_reads, 1);
    if (i % 64 == 0) {  // a listing now and then: opendir, readdir and their allocations
      DIR* d = opendir(g_data_dir);
      if (d == NULL) {
        atomic_fetch_add(&g_bad_reads, 1);
        continue;
      }
      int n = 0;
      while (readdir(d) != NULL) ++n;
      closedir(d);
      if (n != kFiles + 2) atomic_fetch_add(&g_bad_reads, 1);
    }
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: signal_probe ROOT SECONDS\n");
    return 2;
  }
  snprintf(g_config, sizeof(g_config), "%s/models--org--m/snapshots/rev1/config.json", argv[1]);
  snprintf(g_data_dir, sizeof(g_data_dir), "%s/datasets--org--d/data", argv[1]);
  struct stat st;
  if (stat(g_config, &st) != 0) {
    perror(g_config);
    return 1;
  }
  g_config_size = st.st_size;
  for (int i = 0; i < kFiles; ++i) {
    snprintf(g_paths[i], sizeof(g_paths[i]), "%s/f%04d.txt", g_data_dir, i);
    const long s = ReadSum(g_paths[i]);
    if (s < 0) {
      perror(g_paths[i]);
      return 1;
    }
    g_sums[i] = (unsigned)s;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnAlarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  const struct itimerval every = {{0, 200}, {0, 200}};
  setitimer(ITIMER_REAL, &every, NULL);
  pthread_t threads[kThreads];
  for (long k = 0; k < kThreads; ++k) pthread_create(&threads[k], NULL, Reader, (void*)k);
  const struct timespec run = {atoi(argv[2]), 0};
  nanosleep(&run, NULL);  // interrupted by the alarm: the remaining time is not resumed
  const time_t end = time(NULL) + atoi(argv[2]);
  while (time(NULL) < end) usleep(10000);
  atomic_store(&g_stop, 1);
  // The alarm stops before the joins: once the readers are gone every alarm lands on this thread.
  const struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  for (int k = 0; k < kThreads; ++k) pthread_join(threads[k], NULL);
  printf(
      "reads %ld bad %ld; handler stats ok %ld, passed through (ENOENT) %ld, wrong %ld "
      "(last errno %d)\n",
      atomic_load(&g_reads), atomic_load(&g_bad_reads), atomic_load(&g_handler_ok),
      atomic_load(&g_handler_enoent), atomic_load(&g_handler_bad), atomic_load(&g_handler_errno));
  return atomic_load(&g_bad_reads) == 0 && atomic_load(&g_handler_bad) == 0 &&
                 atomic_load(&g_handler_ok) > 0 && atomic_load(&g_reads) > 0
             ? 0
             : 1;
}
