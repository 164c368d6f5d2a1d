#include "core/vfs/path_router.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "core/base/hot_path.h"
#include "core/vfs/fd_table.h"
#include "core/vfs/raw_syscall.h"

namespace hfshim {
namespace {

enum CwdRelation : int { kCwdUnknown = 0, kCwdOutside = 1, kCwdInside = 2, kCwdPlaceholder = 3 };

// PRELOAD-SAFE: constant-initialised globals (zeroed bss).
Prefix g_prefix;
char g_placeholder_root[kVfsPathMax];
size_t g_placeholder_root_len = 0;
std::atomic<dev_t> g_placeholder_dev{0};
std::atomic<bool> g_enabled{false};
std::atomic<int> g_cwd{kCwdUnknown};
std::atomic<uint64_t> g_cwd_generation{1};

// Whether NUL-terminated `path` starts with `prefix`, compared a byte at a time (no strlen;
// stops at the first difference, or at path's end).
bool HasPrefix(const char* path, const char* prefix) {
  for (; *prefix != '\0'; ++path, ++prefix) {
    if (*path != *prefix) return false;
  }
  return true;
}

bool UnderPlaceholderRoot(absl::string_view path) {
  return g_placeholder_root_len > 0 && path.size() > g_placeholder_root_len &&
         std::memcmp(path.data(), g_placeholder_root, g_placeholder_root_len) == 0 &&
         path[g_placeholder_root_len] == '/';
}

void LearnPlaceholderDev() {
  if (g_placeholder_root_len == 0) return;
  struct stat st;
  if (RawSyscall(SYS_newfstatat, AT_FDCWD, g_placeholder_root, &st, 0) == 0) {
    g_placeholder_dev.store(st.st_dev, std::memory_order_relaxed);
  }
}

int CwdRelationNow() {
  int rel = g_cwd.load(std::memory_order_relaxed);
  if (rel != kCwdUnknown) return rel;
  char cwd[kVfsPathMax];
  char scratch[kVfsPathMax];
  absl::string_view r;
  long n = RawGetcwd(cwd, sizeof(cwd));
  if (n <= 0) {
    rel = kCwdOutside;  // unreachable cwd: relative paths cannot reach the prefix by name
  } else if (g_prefix.Match(cwd, scratch, &r)) {
    rel = kCwdInside;
  } else if (UnderPlaceholderRoot(cwd)) {
    rel = kCwdPlaceholder;
  } else {
    rel = kCwdOutside;
  }
  g_cwd.store(rel, std::memory_order_relaxed);
  return rel;
}

// Joins `base` + "/" + `rel` into `out` and tests it. PRELOAD-SAFE.
bool JoinMatches(absl::string_view base, absl::string_view rel) {
  char joined[kVfsPathMax];
  if (base.size() + 1 + rel.size() + 1 > sizeof(joined)) return true;  // let the slow path decide
  std::memcpy(joined, base.data(), base.size());
  joined[base.size()] = '/';
  std::memcpy(joined + base.size() + 1, rel.data(), rel.size());
  absl::string_view path(joined, base.size() + 1 + rel.size());
  char scratch[kVfsPathMax];
  absl::string_view r;
  if (g_prefix.Match(path, scratch, &r)) return true;
  // Lexically clean (".." out of a real dir), then test again.
  size_t n = LexicalClean(path, scratch);
  char scratch2[kVfsPathMax];
  return n > 0 && g_prefix.Match(absl::string_view(scratch, n), scratch2, &r);
}

}  // namespace

bool InitRouterWith(absl::string_view prefix, absl::string_view placeholder_root) {
  if (!g_prefix.InitWith(prefix)) return false;
  if (placeholder_root.size() + 1 > sizeof(g_placeholder_root)) return false;
  std::memcpy(g_placeholder_root, placeholder_root.data(), placeholder_root.size());
  g_placeholder_root[placeholder_root.size()] = '\0';
  g_placeholder_root_len = placeholder_root.size();
  LearnPlaceholderDev();
  g_cwd.store(kCwdUnknown);
  g_enabled.store(true);
  return true;
}

bool InitRouter(GetenvFn getenv_fn) {
  const char* disable = getenv_fn("HFSHIM_DISABLE");
  if (disable != nullptr && (disable[0] == '1' || disable[0] == 't' || disable[0] == 'T' ||
                             disable[0] == 'y' || disable[0] == 'Y')) {
    return false;
  }
  if (!g_prefix.InitFromEnv(getenv_fn)) return false;
  g_placeholder_root_len = DefaultPlaceholderRoot(getenv_fn("XDG_RUNTIME_DIR"), g_placeholder_root);
  LearnPlaceholderDev();
  g_enabled.store(true);
  return true;
}

HFSHIM_HOT_PATH bool RouterEnabled() { return g_enabled.load(std::memory_order_relaxed); }
const Prefix& RouterPrefix() { return g_prefix; }
Prefix* MutableRouterPrefix() { return &g_prefix; }
absl::string_view PlaceholderRoot() { return {g_placeholder_root, g_placeholder_root_len}; }

bool CwdMaybePlaceholder() {
  if (!g_enabled.load(std::memory_order_relaxed)) return false;
  int rel = g_cwd.load(std::memory_order_relaxed);
  return rel == kCwdUnknown || rel == kCwdPlaceholder;
}

void NoteCwdChanged() {
  g_cwd.store(kCwdUnknown, std::memory_order_relaxed);
  g_cwd_generation.fetch_add(1, std::memory_order_relaxed);
}

HFSHIM_HOT_PATH uint64_t CwdGeneration() {
  return g_cwd_generation.load(std::memory_order_relaxed);
}

bool MaybePlaceholderDev(dev_t dev) {
  dev_t known = g_placeholder_dev.load(std::memory_order_relaxed);
  if (known == 0) {
    const int saved = errno;
    LearnPlaceholderDev();
    errno = saved;
    known = g_placeholder_dev.load(std::memory_order_relaxed);
  }
  return known != 0 && known == dev;
}

bool NeedsJoin(absl::string_view p) {
  size_t i = 0;
  bool first = true;
  while (i < p.size()) {
    size_t start = i;
    while (i < p.size() && p[i] != '/') ++i;
    absl::string_view comp = p.substr(start, i - start);
    if (comp == "..") return true;
    if (first && !comp.empty() && comp != ".") {
      if (g_prefix.IsPrefixComponent(comp)) return true;
      first = false;
    }
    while (i < p.size() && p[i] == '/') ++i;
  }
  return false;
}

namespace {

long RawMkdir(const char* path) { return RawSyscall(SYS_mkdirat, AT_FDCWD, path, 0700); }

// Writes `data` to `path` atomically (temp + rename) with raw syscalls.
bool RawWriteFile(const char* path, absl::string_view data) {
  char tmp[kVfsPathMax];
  int n = std::snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, RawSyscall(SYS_getpid));
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(tmp)) return false;
  long fd = RawSyscall(SYS_openat, AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  long w = RawSyscall(SYS_write, fd, data.data(), data.size());
  RawSyscall(SYS_close, fd);
  if (w != static_cast<long>(data.size())) {
    RawSyscall(SYS_unlinkat, AT_FDCWD, tmp, 0);
    return false;
  }
  return RawSyscall(SYS_renameat, AT_FDCWD, tmp, AT_FDCWD, path) == 0;
}

}  // namespace

bool VforkPlaceholder(const char* path, char* out) {
  if (path == nullptr || path[0] != '/' || g_placeholder_root_len == 0) return false;
  char scratch[kVfsPathMax];
  absl::string_view rel;
  if (!g_prefix.Match(path, scratch, &rel)) return false;
  char clean[kVfsPathMax];
  char slash_rel[kVfsPathMax];
  if (rel.size() + 2 > sizeof(slash_rel)) return false;
  slash_rel[0] = '/';
  std::memcpy(slash_rel + 1, rel.data(), rel.size());
  size_t n = LexicalClean(absl::string_view(slash_rel, rel.size() + 1), clean);
  if (n <= 1) return false;  // the prefix root (or above): a real directory
  absl::string_view canon(clean + 1, n - 1);
  struct stat st;
  if (RawSyscall(SYS_newfstatat, AT_FDCWD, path, &st, 0) == 0) return false;  // real
  // The root's parent must be ours and private, as Placeholders::EnsureRoot demands.
  char parent[kVfsPathMax];
  std::memcpy(parent, g_placeholder_root, g_placeholder_root_len + 1);
  char* last = std::strrchr(parent, '/');
  if (last == nullptr || last == parent) return false;
  *last = '\0';
  RawMkdir(parent);
  RawMkdir(g_placeholder_root);
  if (RawSyscall(SYS_newfstatat, AT_FDCWD, parent, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISDIR(st.st_mode) || st.st_uid != static_cast<uid_t>(RawSyscall(SYS_geteuid)) ||
      (st.st_mode & 077) != 0) {
    return false;
  }
  char name[17];
  PlaceholderName(canon, name);
  int len = std::snprintf(out, kVfsPathMax, "%s/%s", g_placeholder_root, name);
  if (len <= 0 || len + 6 >= static_cast<int>(kVfsPathMax)) return false;
  RawMkdir(out);
  char sidecar[kVfsPathMax];
  std::snprintf(sidecar, sizeof(sidecar), "%s.path", out);
  if (RawSyscall(SYS_newfstatat, AT_FDCWD, sidecar, &st, 0) != 0 && !RawWriteFile(sidecar, canon)) {
    return false;
  }
  return true;
}

HFSHIM_HOT_PATH bool MaybeVirtualFd(int fd) { return FdHint(fd) != FdKind::kNone; }

namespace {

// The decimal number (up to 9 digits) at the start of `s`, taken off it; false if none.
// PRELOAD-SAFE.
bool ConsumeNumber(absl::string_view* s, int* n) {
  size_t digits = 0;
  *n = 0;
  while (digits < s->size() && digits < 9 && (*s)[digits] >= '0' && (*s)[digits] <= '9') {
    *n = *n * 10 + ((*s)[digits++] - '0');
  }
  s->remove_prefix(digits);
  return digits > 0;
}

// "<pid>/fd/" at the start of `tail`, taken off it, the number in *pid. PRELOAD-SAFE.
bool ConsumePidFd(absl::string_view* tail, int* pid) {
  absl::string_view s = *tail;
  if (!ConsumeNumber(&s, pid) || !absl::ConsumePrefix(&s, "/fd/")) return false;
  *tail = s;
  return true;
}

// The spellings ParseFdLink accepts, "/proc/<pid>/fd/N" with any pid: *pid is that pid, 0 for
// the other spellings. PRELOAD-SAFE.
bool ParseFdSpelling(absl::string_view path, int* fd, absl::string_view* rest, int* pid) {
  absl::string_view tail;
  *pid = 0;
  if (absl::StartsWith(path, "/dev/")) {
    static constexpr absl::string_view kStd[] = {"stdin", "stdout", "stderr"};
    const absl::string_view name = path.substr(5);
    for (int i = 0; i < 3; ++i) {
      if (name == kStd[i]) {
        *fd = i;
        *rest = {};
        return true;
      }
    }
    tail = name;
    if (!absl::ConsumePrefix(&tail, "fd/")) return false;
  } else if (absl::StartsWith(path, "/proc/")) {
    tail = path.substr(6);
    if (!absl::ConsumePrefix(&tail, "self/fd/") && !absl::ConsumePrefix(&tail, "thread-self/fd/") &&
        !ConsumePidFd(&tail, pid)) {
      return false;
    }
  } else {
    return false;  // most paths: two compares
  }
  if (!ConsumeNumber(&tail, fd) || (!tail.empty() && tail.front() != '/')) return false;
  *rest = tail;
  while (!rest->empty() && rest->front() == '/') rest->remove_prefix(1);
  return true;
}

// Whether a spelled pid (0: none) is this process's (what /proc/self resolves to: Python's
// realpath spells /dev/fd/N that way). A system call only when a pid is spelled.
bool OwnPid(int pid) { return pid == 0 || pid == RawSyscall(SYS_getpid); }

}  // namespace

HFSHIM_HOT_PATH bool ParseFdLink(absl::string_view path, int* fd, absl::string_view* rest) {
  int pid;
  return ParseFdSpelling(path, fd, rest, &pid) && OwnPid(pid);
}

HFSHIM_HOT_PATH bool VirtualFdLink(absl::string_view path, int* fd, absl::string_view* rest) {
  int pid;  // the pid is asked of the kernel last, for an fd that may be virtual only
  return ParseFdSpelling(path, fd, rest, &pid) && MaybeVirtualFd(*fd) && OwnPid(pid);
}

long RawFdPath(int fd, char* out) {
  char link[32];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  const long n = RawSyscall(SYS_readlinkat, AT_FDCWD, link, out, kVfsPathMax - 1);
  if (n <= 0) return -1;
  out[n] = '\0';
  return n;
}

HFSHIM_HOT_PATH bool MaybeVirtual(int dirfd, const char* path) {
  if (path == nullptr || !g_enabled.load(std::memory_order_relaxed)) return false;
  if (path[0] == '/') {
    if (!g_prefix.FirstComponentMayMatch(path)) {
      // Only "/dev/..." and "/proc/..." can spell an fd: other paths are not measured at all.
      const bool dev_or_proc = HasPrefix(path, "/dev/") || HasPrefix(path, "/proc/");
      int fd;
      absl::string_view rest;
      return dev_or_proc && VirtualFdLink(path, &fd, &rest);
    }
    char scratch[kVfsPathMax];
    absl::string_view rel;
    return g_prefix.Match(path, scratch, &rel);
  }
  const size_t len = std::strlen(path);
  if (len == 0) return dirfd >= 0 && MaybeVirtualFd(dirfd);  // AT_EMPTY_PATH
  const int saved = errno;
  bool maybe = false;
  absl::string_view rel(path, len);
  if (dirfd == AT_FDCWD) {
    int cwd = CwdRelationNow();
    if (cwd == kCwdInside || cwd == kCwdPlaceholder) {
      maybe = true;
    } else if (NeedsJoin(rel)) {
      char buf[kVfsPathMax];
      long n = RawGetcwd(buf, sizeof(buf));
      maybe = n <= 0 || JoinMatches(buf, rel);
    }
  } else if (MaybeVirtualFd(dirfd)) {
    maybe = true;
  } else if (NeedsJoin(rel)) {
    char buf[kVfsPathMax];
    long n = RawFdPath(dirfd, buf);
    if (n > 0 && buf[0] == '/') {
      maybe = UnderPlaceholderRoot(absl::string_view(buf, n)) ||
              JoinMatches(absl::string_view(buf, n), rel);
    }
  }
  errno = saved;
  return maybe;
}

}  // namespace hfshim
