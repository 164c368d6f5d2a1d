#include "core/vfs/fd_table.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/hash.h"
#include "core/base/hot_path.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"
#include "core/env/file_util.h"
#include "core/vfs/prefix.h"

namespace hfshim {
namespace {

// PRELOAD-SAFE: constant-initialised (zero = kNone), 64 KiB of bss touched only for used fds.
std::atomic<uint8_t> g_hints[kMaxHintedFd];

bool InRange(int fd) { return fd >= 0 && fd < kMaxHintedFd; }

}  // namespace

HFSHIM_HOT_PATH FdKind FdHint(int fd) {
  if (!InRange(fd)) return FdKind::kNone;
  return static_cast<FdKind>(g_hints[fd].load(std::memory_order_relaxed));
}

void SetFdHint(int fd, FdKind kind) {
  if (InRange(fd)) g_hints[fd].store(static_cast<uint8_t>(kind), std::memory_order_relaxed);
}

void ClearFdHint(int fd) { SetFdHint(fd, FdKind::kNone); }

void CopyFdHint(int from, int to) { SetFdHint(to, FdHint(from)); }

void ClearFdHintRange(unsigned first, unsigned last) {
  if (first >= static_cast<unsigned>(kMaxHintedFd)) return;
  if (last >= static_cast<unsigned>(kMaxHintedFd)) last = kMaxHintedFd - 1;
  for (unsigned fd = first; fd <= last; ++fd) {
    if (g_hints[fd].load(std::memory_order_relaxed) != 0) {
      g_hints[fd].store(0, std::memory_order_relaxed);
    }
  }
}

void FdTable::Put(int fd, const ContentFd& record) {
  ForkMutexLock lock(&mu_);
  fds_[fd] = record;
}

bool FdTable::Get(int fd, dev_t dev, ino_t ino, ContentFd* out) {
  ForkMutexLock lock(&mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return false;
  if (it->second.dev == 0 && it->second.ino == 0) {  // first fstat: learn the identity
    it->second.dev = dev;
    it->second.ino = ino;
  } else if (it->second.dev != dev || it->second.ino != ino) {
    fds_.erase(it);  // the fd number was reused behind our back
    return false;
  }
  *out = it->second;
  return true;
}

void FdTable::Copy(int from, int to) {
  ForkMutexLock lock(&mu_);
  auto lazy = lazy_.find(from);
  if (lazy != lazy_.end()) {
    std::shared_ptr<LazyFd> shared = lazy->second;
    lazy_[to] = std::move(shared);
  } else {
    lazy_.erase(to);
  }
  auto it = fds_.find(from);
  if (it == fds_.end()) {
    fds_.erase(to);
    return;
  }
  ContentFd copy = it->second;
  fds_[to] = std::move(copy);
}

void FdTable::Erase(int fd) {
  ForkMutexLock lock(&mu_);
  fds_.erase(fd);
  lazy_.erase(fd);
}

void FdTable::PutLazy(int fd, std::shared_ptr<LazyFd> lazy) {
  ForkMutexLock lock(&mu_);
  lazy_[fd] = std::move(lazy);
}

std::shared_ptr<LazyFd> FdTable::GetLazy(int fd) {
  ForkMutexLock lock(&mu_);
  auto it = lazy_.find(fd);
  return it == lazy_.end() ? nullptr : it->second;
}

size_t DefaultPlaceholderRoot(const char* xdg_runtime_dir, char* out) {
  int n;
  if (xdg_runtime_dir != nullptr && xdg_runtime_dir[0] == '/') {
    n = std::snprintf(out, kVfsPathMax, "%s/hfshim/dirs", xdg_runtime_dir);
  } else {
    n = std::snprintf(out, kVfsPathMax, "/tmp/hfshim-%u/dirs", static_cast<unsigned>(geteuid()));
  }
  if (n <= 0 || static_cast<size_t>(n) >= kVfsPathMax) return 0;
  return static_cast<size_t>(n);
}

void PlaceholderName(absl::string_view rel, char* out) {
  Hex64To(PathHash(rel), out);
  out[16] = '\0';
}

std::string Placeholders::NameFor(absl::string_view rel) {
  char hex[17];
  PlaceholderName(rel, hex);
  return hex;
}

// Creates root_ and its parent 0700; refuses a parent owned by someone else or open to others
// (a placeholder planted by another user would redirect a virtual directory).
absl::Status Placeholders::EnsureRoot() {
  if (root_ready_) return absl::OkStatus();
  size_t slash = root_.rfind('/');
  std::string parent = slash == std::string::npos || slash == 0 ? "/" : root_.substr(0, slash);
  RETURN_IF_ERROR(MakeDirs(env_, parent, 0700));
  RETURN_IF_ERROR(env_->Mkdir(root_, 0700));
  for (const std::string& dir : {parent, root_}) {
    struct stat st;
    RETURN_IF_ERROR(env_->Lstat(dir, &st));
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
      return PosixError(EACCES, absl::StrCat("placeholder directory ", dir,
                                             " is not a private directory of this user; remove "
                                             "it or set XDG_RUNTIME_DIR"));
    }
  }
  root_ready_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::string> Placeholders::PathFor(absl::string_view rel) {
  const std::string name = NameFor(rel);
  std::string path = absl::StrCat(root_, "/", name);
  ForkMutexLock lock(&mu_);
  RETURN_IF_ERROR(EnsureRoot());
  // Always (re)create: a tmp cleaner may have removed it since; Mkdir is OK if it exists.
  RETURN_IF_ERROR(env_->Mkdir(path, 0700));
  auto it = by_name_.find(name);
  if (it == by_name_.end()) {
    const std::string sidecar = path + ".path";
    absl::StatusOr<std::string> existing = ReadFile(env_, sidecar);
    if (!existing.ok() || *existing != rel) {
      RETURN_IF_ERROR(WriteFileAtomic(env_, sidecar, rel));
    }
    by_name_.emplace(name, std::string(rel));
  }
  struct stat st;
  RETURN_IF_ERROR(env_->Lstat(path, &st));
  by_inode_[{st.st_dev, st.st_ino}] = std::string(rel);
  return path;
}

absl::StatusOr<std::string> Placeholders::LinkFor(absl::string_view rel, absl::string_view target) {
  const std::string path = absl::StrCat(root_, "/", NameFor(rel), ".link");
  ForkMutexLock lock(&mu_);
  RETURN_IF_ERROR(EnsureRoot());
  absl::StatusOr<std::string> existing = env_->ReadLink(path);
  if (!existing.ok() || *existing != target) {
    static std::atomic<uint64_t> counter{0};
    const std::string tmp = absl::StrCat(path, ".tmp.", getpid(), ".", counter++);
    RETURN_IF_ERROR(env_->Symlink(std::string(target), tmp));
    absl::Status renamed = env_->Rename(tmp, path);
    if (!renamed.ok()) env_->Unlink(tmp).IgnoreError();
    RETURN_IF_ERROR(renamed);
  }
  struct stat st;
  RETURN_IF_ERROR(env_->Lstat(path, &st));
  by_inode_[{st.st_dev, st.st_ino}] = std::string(rel);  // Lookup names fds opened on it
  return path;
}

bool Placeholders::Lookup(dev_t dev, ino_t ino, std::string* rel) {
  ForkMutexLock lock(&mu_);
  auto it = by_inode_.find({dev, ino});
  if (it == by_inode_.end()) return false;
  *rel = it->second;
  return true;
}

bool Placeholders::LookupPath(absl::string_view real_path, std::string* rel) {
  if (!absl::StartsWith(real_path, root_) || real_path.size() <= root_.size() + 1 ||
      real_path[root_.size()] != '/') {
    return false;
  }
  absl::string_view name = real_path.substr(root_.size() + 1);
  if (name.size() != 16 || name.find('/') != absl::string_view::npos) return false;
  ForkMutexLock lock(&mu_);
  auto it = by_name_.find(name);
  if (it != by_name_.end()) {
    *rel = it->second;
    return true;
  }
  absl::StatusOr<std::string> sidecar = ReadFile(env_, absl::StrCat(root_, "/", name, ".path"));
  if (!sidecar.ok() || NameFor(*sidecar) != name) return false;  // missing or tampered
  by_name_.emplace(std::string(name), *sidecar);
  struct stat st;
  if (env_->Lstat(std::string(real_path), &st).ok()) by_inode_[{st.st_dev, st.st_ino}] = *sidecar;
  *rel = *sidecar;
  return true;
}

}  // namespace hfshim
