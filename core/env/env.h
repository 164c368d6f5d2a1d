// Env: the seam for every OS call core makes on files (leveldb's Env, RocksDB's FileSystem).
//
// Inside the preloaded shim the default Env is bound to the real libc functions (resolved with
// dlsym(RTLD_NEXT)), so core's own I/O never re-enters the shim's wrappers; tests wrap an Env to
// inject ENOSPC, EIO, short writes and crashes between write and rename (tests/testing/).
//
// All methods return a Status carrying the exact errno (core/base/posix_error.h) and a message
// naming the path. Thread-safe: implementations hold no mutable state.
#ifndef HFSHIM_CORE_ENV_ENV_H_
#define HFSHIM_CORE_ENV_ENV_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hfshim {

// The libc entry points PosixEnv calls. The shim replaces them with its real_* pointers before
// core starts (SetLibcTable); everywhere else they are the plain libc functions.
struct LibcTable {
  int (*open)(const char* path, int flags, ...);
  int (*close)(int fd);
  ssize_t (*pread)(int fd, void* buf, size_t n, off_t off);
  ssize_t (*pwrite)(int fd, const void* buf, size_t n, off_t off);
  ssize_t (*write)(int fd, const void* buf, size_t n);
  int (*fstat)(int fd, struct stat* st);
  int (*stat)(const char* path, struct stat* st);
  int (*lstat)(const char* path, struct stat* st);
  int (*rename)(const char* from, const char* to);
  int (*link)(const char* from, const char* to);
  int (*unlink)(const char* path);
  int (*mkdir)(const char* path, mode_t mode);
  int (*rmdir)(const char* path);
  int (*ftruncate)(int fd, off_t length);
  int (*fsync)(int fd);
  ssize_t (*readlink)(const char* path, char* buf, size_t n);
  int (*linkat)(int from_dir, const char* from, int to_dir, const char* to, int flags);
  int (*utimensat)(int dirfd, const char* path, const struct timespec times[2], int flags);
  int (*symlink)(const char* target, const char* path);
};
// PRELOAD-SAFE: called by the shim's constructor before any other thread exists.
void SetLibcTable(const LibcTable& table);
const LibcTable& Libc();

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX Env (never destroyed).
  static Env* Default();

  virtual absl::StatusOr<int> Open(const std::string& path, int flags, mode_t mode = 0644) = 0;
  virtual absl::Status Close(int fd) = 0;
  // Reads up to n bytes at off; returns the count (0 at end of file). Retries EINTR.
  virtual absl::StatusOr<size_t> Pread(int fd, void* buf, size_t n, uint64_t off) = 0;
  // Writes up to n bytes at off; returns the count (may be short). Retries EINTR.
  virtual absl::StatusOr<size_t> Pwrite(int fd, const void* buf, size_t n, uint64_t off) = 0;
  virtual absl::Status Fsync(int fd) = 0;
  virtual absl::Status Ftruncate(int fd, uint64_t length) = 0;
  virtual absl::Status Fstat(int fd, struct stat* st) = 0;
  virtual absl::Status Stat(const std::string& path, struct stat* st) = 0;
  virtual absl::Status Lstat(const std::string& path, struct stat* st) = 0;
  virtual absl::StatusOr<std::string> ReadLink(const std::string& path) = 0;
  // A symlink at `path` (which must not exist) to `target`.
  virtual absl::Status Symlink(const std::string& target, const std::string& path) = 0;
  // Atomically replaces `to`.
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  // Hard link; AlreadyExists (EEXIST) if `to` exists. Atomic: the basis of put-if-absent.
  virtual absl::Status Link(const std::string& from, const std::string& to) = 0;
  // Names the unnamed file open as `fd` (opened with O_TMPFILE) `to`: the file appears whole,
  // with one directory change. AlreadyExists if `to` exists; Unimplemented if this process cannot
  // (no /proc).
  virtual absl::Status LinkOpenFile(int fd, const std::string& to) = 0;
  virtual absl::Status Unlink(const std::string& path) = 0;
  // Sets the access and modification times of `path` to `t` (following symlinks).
  virtual absl::Status SetTimes(const std::string& path, absl::Time t) = 0;
  // Creates one directory; OK if it already exists as a directory.
  virtual absl::Status Mkdir(const std::string& path, mode_t mode = 0755) = 0;
  virtual absl::Status Rmdir(const std::string& path) = 0;
  // Names in a directory, without "." and "..", unsorted.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) = 0;
};

// An Env that forwards everything to another; tests derive from it to inject faults.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  absl::StatusOr<int> Open(const std::string& p, int f, mode_t m) override {
    return target_->Open(p, f, m);
  }
  absl::Status Close(int fd) override { return target_->Close(fd); }
  absl::StatusOr<size_t> Pread(int fd, void* b, size_t n, uint64_t o) override {
    return target_->Pread(fd, b, n, o);
  }
  absl::StatusOr<size_t> Pwrite(int fd, const void* b, size_t n, uint64_t o) override {
    return target_->Pwrite(fd, b, n, o);
  }
  absl::Status Fsync(int fd) override { return target_->Fsync(fd); }
  absl::Status Ftruncate(int fd, uint64_t l) override { return target_->Ftruncate(fd, l); }
  absl::Status Fstat(int fd, struct stat* st) override { return target_->Fstat(fd, st); }
  absl::Status Stat(const std::string& p, struct stat* st) override { return target_->Stat(p, st); }
  absl::Status Lstat(const std::string& p, struct stat* st) override {
    return target_->Lstat(p, st);
  }
  absl::StatusOr<std::string> ReadLink(const std::string& p) override {
    return target_->ReadLink(p);
  }
  absl::Status Symlink(const std::string& t, const std::string& p) override {
    return target_->Symlink(t, p);
  }
  absl::Status Rename(const std::string& f, const std::string& t) override {
    return target_->Rename(f, t);
  }
  absl::Status Link(const std::string& f, const std::string& t) override {
    return target_->Link(f, t);
  }
  absl::Status LinkOpenFile(int fd, const std::string& t) override {
    return target_->LinkOpenFile(fd, t);
  }
  absl::Status Unlink(const std::string& p) override { return target_->Unlink(p); }
  absl::Status SetTimes(const std::string& p, absl::Time t) override {
    return target_->SetTimes(p, t);
  }
  absl::Status Mkdir(const std::string& p, mode_t m) override { return target_->Mkdir(p, m); }
  absl::Status Rmdir(const std::string& p) override { return target_->Rmdir(p); }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& p) override {
    return target_->ListDir(p);
  }

 protected:
  Env* target() const { return target_; }

 private:
  Env* target_;
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_ENV_ENV_H_
