/* A libc call in a loop, for bench/passthrough_layouts.py: run once without and once with
 * LD_PRELOAD=libhfshim.so (prefix elsewhere), the difference per call is what the shim adds.
 *
 *   passthrough_loop OP N      OP: stat | statmiss | openmiss | openclose
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s stat|statmiss|openmiss|openclose N\n", argv[0]);
    return 2;
  }
  const char* op = argv[1];
  const long n = atol(argv[2]);
  const char* present = "/etc/hostname";
  const char* missing = "/tmp/hfshim-passthrough-loop-missing";
  struct stat st;
  if (strcmp(op, "stat") == 0) {
    for (long i = 0; i < n; i++) stat(present, &st);
  } else if (strcmp(op, "statmiss") == 0) {
    for (long i = 0; i < n; i++) stat(missing, &st);
  } else if (strcmp(op, "openmiss") == 0) {
    for (long i = 0; i < n; i++) open(missing, O_RDONLY);
  } else if (strcmp(op, "openclose") == 0) {
    for (long i = 0; i < n; i++) close(open(present, O_RDONLY | O_CLOEXEC));
  } else {
    fprintf(stderr, "unknown op %s\n", op);
    return 2;
  }
  return 0;
}
