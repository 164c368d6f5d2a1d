#include "core/env/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"

namespace hfshim {

absl::StatusOr<std::string> ReadFile(Env* env, const std::string& path) {
  ASSIGN_OR_RETURN(int fd, env->Open(path, O_RDONLY));
  std::string out;
  char buf[65536];
  uint64_t off = 0;
  while (true) {
    auto n = env->Pread(fd, buf, sizeof(buf), off);
    if (!n.ok()) {
      env->Close(fd).IgnoreError();
      return absl::Status(n.status().code(), absl::StrCat(n.status().message(), " ", path));
    }
    if (*n == 0) break;
    out.append(buf, *n);
    off += *n;
  }
  env->Close(fd).IgnoreError();
  return out;
}

absl::Status WriteAll(Env* env, int fd, absl::string_view data, uint64_t off) {
  while (!data.empty()) {
    ASSIGN_OR_RETURN(size_t n, env->Pwrite(fd, data.data(), data.size(), off));
    if (n == 0) return PosixError(EIO, "write made no progress");
    data.remove_prefix(n);
    off += n;
  }
  return absl::OkStatus();
}

std::string TempPathFor(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return absl::StrCat(path, ".tmp.", getpid(), ".", counter.fetch_add(1));
}

namespace {

// Errors of open(O_TMPFILE) that mean the kernel or file system has no unnamed files.
bool NoUnnamedFiles(const absl::Status& s) {
  const int err = StatusToErrno(s);
  return err == EOPNOTSUPP || err == EISDIR || err == EINVAL;
}

// Set once an unnamed file could not be named in this process (no /proc): the bytes written to
// it were lost, so later writes go straight to the temp-file path.
std::atomic<bool> g_cannot_link_unnamed{false};

// WriteFileAtomic through an unnamed file (O_TMPFILE) named once complete: one directory change
// instead of two (create, rename), and a killed process leaves no temp file. Sets *unsupported
// (and the status says why) if the file system or this process cannot; then nothing is left.
absl::Status WriteUnnamedThenLink(Env* env, const std::string& path,
                                  const std::function<absl::Status(int fd)>& write, bool durable,
                                  bool* unsupported) {
  *unsupported = false;
  if (g_cannot_link_unnamed.load(std::memory_order_relaxed)) {
    *unsupported = true;
    return absl::UnimplementedError("unnamed files cannot be linked here");
  }
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  absl::StatusOr<int> fd = env->Open(dir.empty() ? "/" : dir, O_TMPFILE | O_RDWR, 0644);
  if (!fd.ok()) {
    *unsupported = NoUnnamedFiles(fd.status());
    return fd.status();
  }
  absl::Status s = write(*fd);
  if (s.ok() && durable) s = env->Fsync(*fd);
  if (s.ok()) {
    s = env->LinkOpenFile(*fd, path);
    if (absl::IsUnimplemented(s)) {
      g_cannot_link_unnamed.store(true, std::memory_order_relaxed);
      *unsupported = true;
    }
    if (absl::IsAlreadyExists(s)) {  // replacing a file: name it aside, then rename over
      const std::string tmp = TempPathFor(path);
      s = env->LinkOpenFile(*fd, tmp);
      if (s.ok()) {
        s = env->Rename(tmp, path);
        if (!s.ok()) env->Unlink(tmp).IgnoreError();
      }
    }
  }
  absl::Status c = env->Close(*fd);
  return s.ok() ? c : s;
}

}  // namespace

void ForgetUnnamedFileFailuresForTesting() { g_cannot_link_unnamed.store(false); }

absl::Status WriteFileAtomic(Env* env, const std::string& path, absl::string_view data,
                             bool durable) {
  absl::Status s = WriteFileAtomicWith(
      env, path, [&](int fd) { return WriteAll(env, fd, data, 0); }, durable);
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat("write ", path, ": ", s.message()));
}

absl::Status WriteFileAtomicWith(Env* env, const std::string& path,
                                 const std::function<absl::Status(int fd)>& write, bool durable) {
  bool unsupported = false;
  absl::Status unnamed = WriteUnnamedThenLink(env, path, write, durable, &unsupported);
  if (!unsupported) return unnamed;
  const std::string tmp = TempPathFor(path);
  ASSIGN_OR_RETURN(int fd, env->Open(tmp, O_RDWR | O_CREAT | O_EXCL, 0644));
  absl::Status s = write(fd);
  if (s.ok() && durable) s = env->Fsync(fd);
  absl::Status c = env->Close(fd);
  if (s.ok()) s = c;
  if (s.ok()) s = env->Rename(tmp, path);
  if (!s.ok()) env->Unlink(tmp).IgnoreError();
  return s;
}

absl::Status MakeDirs(Env* env, const std::string& path, mode_t mode) {
  if (path.empty() || path == "/") return absl::OkStatus();
  struct stat st;
  if (env->Stat(path, &st).ok()) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return PosixError(ENOTDIR, path + " exists and is not a directory");
  }
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    RETURN_IF_ERROR(MakeDirs(env, path.substr(0, slash), mode));
  }
  return env->Mkdir(path, mode);
}

}  // namespace hfshim
