#include "core/cache/lock_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/time/clock.h"
#include "core/base/posix_error.h"

namespace hfshim {

absl::StatusOr<int> AcquireLockFile(const std::string& path, absl::Time deadline,
                                    const std::function<bool()>& satisfied) {
  for (;;) {
    if (satisfied()) return -1;
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoStatus(errno, "open cache lock " + path);
    struct flock whole = {};
    whole.l_type = F_WRLCK;
    whole.l_whence = SEEK_SET;
    while (fcntl(fd, F_SETLK, &whole) != 0) {
      const int err = errno;
      if (err != EACCES && err != EAGAIN && err != EINTR) {
        close(fd);
        return ErrnoStatus(err, "lock " + path);
      }
      if (satisfied()) {
        close(fd);
        return -1;
      }
      if (absl::Now() > deadline) {
        close(fd);
        return absl::DeadlineExceededError("timed out waiting for another process's fetch (" +
                                           path + ")");
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
    struct stat held, now;
    if (fstat(fd, &held) == 0 && stat(path.c_str(), &now) == 0 && held.st_dev == now.st_dev &&
        held.st_ino == now.st_ino) {
      // Looked at again under the lock: the previous holder may have finished between our last
      // look and our lock (released after we looked, or we made a fresh lock file after it
      // removed its own).
      if (satisfied()) {
        close(fd);
        return -1;
      }
      return fd;
    }
    close(fd);  // the lock file was replaced while we waited: lock the current one
  }
}

}  // namespace hfshim
