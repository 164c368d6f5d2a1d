// PosixEnv: Env on the libc entry points in Libc() (plain libc, or the shim's real_* pointers).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include "core/base/file_size_limit.h"
#include "core/base/posix_error.h"
#include "core/env/env.h"

namespace hfshim {
namespace {

// PRELOAD-SAFE: constant-initialised from libc's own symbols; replaced once by SetLibcTable.
LibcTable g_libc = {
    &::open,  &::close,    &::pread,  &::pwrite,    &::write,   &::fstat, &::stat,
    &::lstat, &::rename,   &::link,   &::unlink,    &::mkdir,   &::rmdir, &::ftruncate,
    &::fsync, &::readlink, &::linkat, &::utimensat, &::symlink,
};

class PosixEnv final : public Env {
 public:
  absl::StatusOr<int> Open(const std::string& path, int flags, mode_t mode) override {
    int fd;
    do {
      fd = g_libc.open(path.c_str(), flags | O_CLOEXEC, mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return ErrnoStatus(errno, "open " + path);
    return fd;
  }
  absl::Status Close(int fd) override {
    if (g_libc.close(fd) != 0 && errno != EINTR) return ErrnoStatus(errno, "close");
    return absl::OkStatus();
  }
  absl::StatusOr<size_t> Pread(int fd, void* buf, size_t n, uint64_t off) override {
    ssize_t r;
    do {
      r = g_libc.pread(fd, buf, n, static_cast<off_t>(off));
    } while (r < 0 && errno == EINTR);
    if (r < 0) return ErrnoStatus(errno, "read");
    return static_cast<size_t>(r);
  }
  absl::StatusOr<size_t> Pwrite(int fd, const void* buf, size_t n, uint64_t off) override {
    if (!WithinFileSizeLimit(off + n)) return FileSizeLimitError(off + n, "write");
    ssize_t r;
    do {
      r = g_libc.pwrite(fd, buf, n, static_cast<off_t>(off));
    } while (r < 0 && errno == EINTR);
    if (r < 0) return ErrnoStatus(errno, "write");
    return static_cast<size_t>(r);
  }
  absl::Status Fsync(int fd) override {
    if (g_libc.fsync(fd) != 0) return ErrnoStatus(errno, "fsync");
    return absl::OkStatus();
  }
  absl::Status Ftruncate(int fd, uint64_t length) override {
    if (!WithinFileSizeLimit(length)) return FileSizeLimitError(length, "truncate");
    if (g_libc.ftruncate(fd, static_cast<off_t>(length)) != 0) {
      return ErrnoStatus(errno, "ftruncate");
    }
    return absl::OkStatus();
  }
  absl::Status Fstat(int fd, struct stat* st) override {
    if (g_libc.fstat(fd, st) != 0) return ErrnoStatus(errno, "fstat");
    return absl::OkStatus();
  }
  absl::Status Stat(const std::string& path, struct stat* st) override {
    if (g_libc.stat(path.c_str(), st) != 0) return ErrnoStatus(errno, "stat " + path);
    return absl::OkStatus();
  }
  absl::Status Lstat(const std::string& path, struct stat* st) override {
    if (g_libc.lstat(path.c_str(), st) != 0) return ErrnoStatus(errno, "lstat " + path);
    return absl::OkStatus();
  }
  absl::Status Symlink(const std::string& target, const std::string& path) override {
    if (g_libc.symlink(target.c_str(), path.c_str()) != 0) {
      return ErrnoStatus(errno, "symlink " + path);
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> ReadLink(const std::string& path) override {
    std::string buf(4096, '\0');
    ssize_t n = g_libc.readlink(path.c_str(), buf.data(), buf.size());
    if (n < 0) return ErrnoStatus(errno, "readlink " + path);
    buf.resize(static_cast<size_t>(n));
    return buf;
  }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (g_libc.rename(from.c_str(), to.c_str()) != 0) {
      return ErrnoStatus(errno, "rename " + from + " to " + to);
    }
    return absl::OkStatus();
  }
  absl::Status Link(const std::string& from, const std::string& to) override {
    if (g_libc.link(from.c_str(), to.c_str()) != 0) {
      return ErrnoStatus(errno, "link " + from + " to " + to);
    }
    return absl::OkStatus();
  }
  absl::Status LinkOpenFile(int fd, const std::string& to) override {
    // By the fd itself where the kernel lets this process (Linux 6.10+ for a file it opened;
    // before, only with CAP_DAC_READ_SEARCH): no walk through /proc. Else through /proc.
    if (!empty_path_link_refused_.load(std::memory_order_relaxed)) {
      if (g_libc.linkat(fd, "", AT_FDCWD, to.c_str(), AT_EMPTY_PATH) == 0) {
        return absl::OkStatus();
      }
      if (errno != ENOENT && errno != EPERM && errno != EINVAL) {
        return ErrnoStatus(errno, "link unnamed file as " + to);
      }
      empty_path_link_refused_.store(true, std::memory_order_relaxed);
    }
    char proc[40];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    if (g_libc.linkat(AT_FDCWD, proc, AT_FDCWD, to.c_str(), AT_SYMLINK_FOLLOW) == 0) {
      return absl::OkStatus();
    }
    const int err = errno;
    struct stat st;
    if (err == ENOENT && g_libc.stat("/proc/self/fd", &st) != 0) {
      return absl::UnimplementedError("linking an unnamed file needs /proc, which is not mounted");
    }
    return ErrnoStatus(err, "link unnamed file as " + to);
  }
  absl::Status Unlink(const std::string& path) override {
    if (g_libc.unlink(path.c_str()) != 0) return ErrnoStatus(errno, "unlink " + path);
    return absl::OkStatus();
  }
  absl::Status SetTimes(const std::string& path, absl::Time t) override {
    const timespec ts = absl::ToTimespec(t);
    const timespec times[2] = {ts, ts};
    if (g_libc.utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) {
      return ErrnoStatus(errno, "set the times of " + path);
    }
    return absl::OkStatus();
  }
  absl::Status Mkdir(const std::string& path, mode_t mode) override {
    if (g_libc.mkdir(path.c_str(), mode) == 0) return absl::OkStatus();
    const int err = errno;
    struct stat st;
    if (err == EEXIST && g_libc.stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return absl::OkStatus();
    }
    return ErrnoStatus(err, "mkdir " + path);
  }
  absl::Status Rmdir(const std::string& path) override {
    if (g_libc.rmdir(path.c_str()) != 0) return ErrnoStatus(errno, "rmdir " + path);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override {
    // opendir would re-enter the shim's directory wrappers; open + getdents via fdopendir is
    // equally intercepted, so list with the raw getdents64 syscall on an O_DIRECTORY fd.
    int fd = g_libc.open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "list " + path);
    std::vector<std::string> names;
    char buf[32768];
    while (true) {
      long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
      if (n < 0) {
        int err = errno;
        g_libc.close(fd);
        return ErrnoStatus(err, "list " + path);
      }
      if (n == 0) break;
      for (long off = 0; off < n;) {
        auto* d = reinterpret_cast<dirent64*>(buf + off);
        std::string name = d->d_name;
        if (name != "." && name != "..") names.push_back(std::move(name));
        off += d->d_reclen;
      }
    }
    g_libc.close(fd);
    return names;
  }

 private:
  // Set at the first refusal of linkat(AT_EMPTY_PATH) (or an ENOENT, which may also mean that
  // `to`'s directory went: then only the faster way is given up).
  std::atomic<bool> empty_path_link_refused_{false};
};

}  // namespace

void SetLibcTable(const LibcTable& table) { g_libc = table; }
const LibcTable& Libc() { return g_libc; }

Env* Env::Default() {
  static Env* env = new PosixEnv();  // never destroyed: atexit handlers may still use it
  return env;
}

}  // namespace hfshim
