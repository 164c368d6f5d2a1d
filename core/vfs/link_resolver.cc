#include "core/vfs/link_resolver.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <cstring>

#include "absl/strings/string_view.h"
#include "core/base/cstring_hash.h"
#include "core/base/hot_path.h"
#include "core/vfs/path_router.h"
#include "core/vfs/prefix.h"
#include "core/vfs/raw_syscall.h"

namespace hfshim {
namespace {

constexpr int kMaxLinks = 40;  // the kernel's limit on symlinks followed in one walk

// Paths whose walk found no way into the prefix, remembered for a second: a program that misses
// the same path again and again (a poll, a retry loop, a benchmark) pays the walk once, not each
// time (a miss outside the prefix then costs the shim a hash and a table slot, not ~1 us). A
// link made at such a path within that second is followed from the next second on.
// Direct-mapped: each slot holds the top 44 bits of the path's key and the second (mod 2^20) it
// was walked.
constexpr size_t kMissSlots = 4096;
constexpr uint64_t kSecondBits = 20, kSecondMask = (uint64_t{1} << kSecondBits) - 1;
// Page-aligned: where a path's slot falls in the data cache then depends on the path alone, not
// on what the rest of the library's data happens to be (a slot's set moved a failed `open` by
// ~20 ns between builds: bench/README.md, ninth session).
alignas(4096) std::atomic<uint64_t> g_misses[kMissSlots];

// The wall clock's second: time() is the cheapest clock the vDSO offers. A clock set back or
// forth only makes remembered misses stale early (they are walked again).
uint64_t CoarseSeconds() { return static_cast<uint64_t>(time(nullptr)); }

// The miss table's key of a walk (never 0), or 0 for walks it does not remember: an absolute
// path is its bytes; a path relative to the working directory is also its generation
// (CwdGeneration); one relative to another fd depends on what that fd is open on.
uint64_t MissKey(int dirfd, const char* path, bool follow_last) {
  uint64_t seed = follow_last ? 1 : 2;
  if (path[0] != '/') {
    if (dirfd != AT_FDCWD) return 0;
    seed += CwdGeneration() << 2;
  }
  return HashCString(path, seed) | 1;
}

bool RecentMiss(uint64_t key) {
  const uint64_t v = g_misses[key % kMissSlots].load(std::memory_order_relaxed);
  return v != 0 && (v >> kSecondBits) == (key >> kSecondBits) &&
         ((CoarseSeconds() - v) & kSecondMask) == 0;
}

void RememberMiss(uint64_t key) {
  g_misses[key % kMissSlots].store(
      ((key >> kSecondBits) << kSecondBits) | (CoarseSeconds() & kSecondMask),
      std::memory_order_relaxed);
}

// Whether resolved absolute path `p` is the prefix or under it.
bool UnderPrefix(absl::string_view p) {
  char scratch[kVfsPathMax];
  absl::string_view rel;
  return RouterPrefix().Match(p, scratch, &rel);
}

// The walk's starting directory for a relative path, into `cur` (kVfsPathMax bytes); its length
// (0 for "/"), or -1.
long StartDir(int dirfd, char* cur) {
  long n = dirfd == AT_FDCWD ? (RawGetcwd(cur, kVfsPathMax) > 0 ? std::strlen(cur) : -1)
                             : RawFdPath(dirfd, cur);
  if (n <= 0 || cur[0] != '/') return -1;
  return n == 1 ? 0 : n;
}

// The walk itself (ResolveIntoPrefix without the miss table). Out of line: its 8 KiB of path
// buffers stay off the frame of a remembered miss.
[[gnu::noinline, gnu::cold]] bool WalkIntoPrefix(int dirfd, const char* path, bool follow_last,
                                                 char* out) {
  const int saved = errno;
  char cur[kVfsPathMax];   // the directory resolved so far, absolute ("" for "/")
  char rest[kVfsPathMax];  // the path still to walk
  long cur_len = 0;
  if (path[0] != '/' && (cur_len = StartDir(dirfd, cur)) < 0) return false;
  size_t rest_len = std::strlen(path);
  if (rest_len >= kVfsPathMax) return false;
  std::memcpy(rest, path, rest_len + 1);
  bool entered = false;
  int links = 0;
  size_t pos = 0;
  while (true) {
    while (pos < rest_len && rest[pos] == '/') ++pos;
    if (pos == rest_len) break;  // walked it all without entering the prefix
    size_t end = pos;
    while (end < rest_len && rest[end] != '/') ++end;
    const absl::string_view comp(rest + pos, end - pos);
    size_t after = end;
    while (after < rest_len && rest[after] == '/') ++after;
    const bool last = after == rest_len;
    pos = end;
    if (comp == ".") continue;
    if (comp == "..") {
      while (cur_len > 0 && cur[cur_len - 1] != '/') --cur_len;
      if (cur_len > 0) --cur_len;  // the slash; "/.." stays "/"
      continue;
    }
    const size_t next_len = static_cast<size_t>(cur_len) + 1 + comp.size();
    if (next_len >= kVfsPathMax) break;
    cur[cur_len] = '/';
    std::memcpy(cur + cur_len + 1, comp.data(), comp.size());
    cur[next_len] = '\0';
    if (UnderPrefix(absl::string_view(cur, next_len))) {
      if (next_len + (rest_len - pos) >= kVfsPathMax) break;
      std::memcpy(out, cur, next_len);
      std::memcpy(out + next_len, rest + pos, rest_len - pos);
      out[next_len + rest_len - pos] = '\0';
      entered = true;
      break;
    }
    struct stat st;
    if (RawSyscall(SYS_newfstatat, AT_FDCWD, cur, &st, AT_SYMLINK_NOFOLLOW) != 0) break;
    if (S_ISLNK(st.st_mode) && (!last || follow_last)) {
      char target[kVfsPathMax];
      const long t = RawSyscall(SYS_readlinkat, AT_FDCWD, cur, target, sizeof(target));
      if (++links > kMaxLinks || t <= 0 ||
          static_cast<size_t>(t) + (rest_len - pos) >= kVfsPathMax) {
        break;
      }
      // The target replaces the link: walked from the link's directory (cur as it was), or
      // from "/" when absolute.
      std::memmove(rest + t, rest + pos, rest_len - pos);
      std::memcpy(rest, target, static_cast<size_t>(t));
      rest_len = static_cast<size_t>(t) + (rest_len - pos);
      rest[rest_len] = '\0';
      pos = 0;
      if (target[0] == '/') cur_len = 0;
      continue;
    }
    if (!last && !S_ISDIR(st.st_mode)) break;  // ENOTDIR for the kernel too
    cur_len = static_cast<long>(next_len);
  }
  errno = saved;
  return entered;
}

}  // namespace

HFSHIM_HOT_PATH bool RecentlyMissed(int dirfd, const char* path, bool follow_last) {
  if (path == nullptr || path[0] == '\0') return true;
  const uint64_t key = MissKey(dirfd, path, follow_last);
  return key != 0 && RecentMiss(key);
}

bool ResolveIntoPrefix(int dirfd, const char* path, bool follow_last, char* out) {
  if (path == nullptr || path[0] == '\0' || !RouterEnabled()) return false;
  const bool entered = WalkIntoPrefix(dirfd, path, follow_last, out);
  if (!entered) {
    const uint64_t key = MissKey(dirfd, path, follow_last);
    if (key != 0) RememberMiss(key);
  }
  return entered;
}

}  // namespace hfshim
