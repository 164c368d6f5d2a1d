// What the shim knows about file descriptors that refer to the virtual tree.
//
// Three layers, cheapest first:
//  * FdHint: one relaxed atomic byte per fd number (fds below kMaxHintedFd): "this fd may be a
//    virtual content fd, a placeholder directory or the real prefix root". PRELOAD-SAFE (constant
//    initialised, lock-free), so close/dup/fstat of unrelated fds cost one load. A hint is never
//    trusted alone: identity is always checked against the fd's (st_dev, st_ino), so a hint left
//    stale by a raw-syscall close or close_range heals itself.
//  * FdTable: content fds -> the virtual path opened and its metadata, checked against the
//    backing file's (st_dev, st_ino). Several virtual paths may share one cache file (same
//    content, different mtime or mode), which is why this is keyed by fd and not by inode.
//  * Placeholders: each virtual directory that is opened or chdir'ed into gets an empty real
//    directory under a private runtime directory; its (st_dev, st_ino) maps back to the virtual
//    path, so identity survives dup, fork, fchdir and raw-syscall dups. A sidecar file
//    "<name>.path" beside each placeholder names the virtual path, so a process started by exec
//    (cwd or inherited fd on a placeholder) maps it back too.
//
// Thread-safety: all thread-safe. After fork the child keeps the tables (its fds are copies).
#ifndef HFSHIM_CORE_VFS_FD_TABLE_H_
#define HFSHIM_CORE_VFS_FD_TABLE_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/base/fork_mutex.h"
#include "core/cache/lazy_content.h"
#include "core/env/env.h"
#include "core/index/entry.h"

namespace hfshim {

// kLazy: a content fd on a large file whose blocks are not all cached yet (a sparse partial file
// of the node cache): reads, mmaps and copies from it must fetch the range first.
enum class FdKind : uint8_t {
  kNone = 0,
  kContent = 1,
  kPlaceholder = 2,
  kPrefixRoot = 3,
  kLazy = 4,
};

// An fd on file content (the node cache file behind a virtual file).
inline bool IsContentKind(FdKind k) { return k == FdKind::kContent || k == FdKind::kLazy; }

inline constexpr int kMaxHintedFd = 1 << 16;

// PRELOAD-SAFE: lock-free, allocation-free. Fds outside [0, kMaxHintedFd) read as kNone.
FdKind FdHint(int fd);
void SetFdHint(int fd, FdKind kind);
void ClearFdHint(int fd);
// After dup2(from, to) and friends: `to` gets `from`'s hint (kNone clears it).
void CopyFdHint(int from, int to);
// After close_range(first, last): clears the hints of the range (clamped).
void ClearFdHintRange(unsigned first, unsigned last);

// A lazy content fd's fill state. Shared by dups of the fd (they share the file offset, so they
// share the sequential-read detection too).
struct LazyFd {
  explicit LazyFd(std::shared_ptr<LazyContent> c) : content(std::move(c)) {}
  const std::shared_ptr<LazyContent> content;
  std::atomic<uint64_t> next_offset{0};  // where the previous read ended
  std::atomic<uint32_t> window{0};       // readahead, in blocks; doubles while reads are sequential
  std::atomic<bool> readahead_running{false};  // a background readahead of this fd is running
  std::mutex offset_mu;  // held across fetch + read at the fd's offset (Vfs::ReadAtOffset)
};

// A content fd's virtual identity: plain data, so the open/fstat/close hot path allocates
// nothing for it.
struct ContentFd {
  dev_t dev = 0;  // the backing file's
  ino_t ino = 0;
  struct stat virtual_stat {};  // what fstat reports for the fd (EntryToStat of its entry)
};

class FdTable {
 public:
  void Put(int fd, const ContentFd& record);
  // The record of `fd` if its backing file is still (dev, ino); stale records are dropped. A
  // record put with dev = ino = 0 (Vfs::Open skips an fstat on its hot path) takes the (dev, ino)
  // of its first Get: trusted unless the fd was closed by a raw syscall and its number reused
  // before the first fstat.
  bool Get(int fd, dev_t dev, ino_t ino, ContentFd* out);
  void Copy(int from, int to);
  void Erase(int fd);
  // Lazy fds (kLazy): the fill state by fd number; Copy and Erase cover it too. Unlike Get, not
  // checked against the fd's inode: a stale entry costs at most a needless fetch, never wrong
  // bytes (the read itself always goes to the kernel fd).
  void PutLazy(int fd, std::shared_ptr<LazyFd> lazy);
  std::shared_ptr<LazyFd> GetLazy(int fd);
  // Fork support: the shim's atfork handlers hold the lock across fork.
  void LockForFork() ABSL_EXCLUSIVE_LOCK_FUNCTION(mu_) { mu_.Lock(); }
  void UnlockAfterFork() ABSL_UNLOCK_FUNCTION(mu_) { mu_.Unlock(); }
  // In the fork child, instead of UnlockAfterFork: a fresh mutex (core/base/fork_mutex.h).
  void ResetLockInChild() { mu_.ResetInChild(); }

 private:
  ForkMutex mu_;
  absl::flat_hash_map<int, ContentFd> fds_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int, std::shared_ptr<LazyFd>> lazy_ ABSL_GUARDED_BY(mu_);
};

class Placeholders {
 public:
  // `root`: the private runtime directory holding placeholders (created 0700 on first use;
  // refused if it is not owned by this user or open to others).
  Placeholders(std::string root, Env* env) : root_(std::move(root)), env_(env) {}

  const std::string& root() const { return root_; }

  // The placeholder directory of virtual directory `rel` (canonical, relative to the index
  // root), created with its sidecar if missing, and remembered by (dev, ino).
  absl::StatusOr<std::string> PathFor(absl::string_view rel);

  // A real symlink with `target` standing for virtual symlink `rel` ("<name>.link" beside the
  // directory placeholders, replaced atomically when its target differs), for an
  // open(O_PATH | O_NOFOLLOW) of the virtual link: readlinkat(fd, "") then reads the target.
  // Remembered by (dev, ino) like a directory placeholder.
  absl::StatusOr<std::string> LinkFor(absl::string_view rel, absl::string_view target);

  // The virtual directory or symlink whose placeholder is (dev, ino); false if none is known.
  bool Lookup(dev_t dev, ino_t ino, std::string* rel);
  // The virtual directory of placeholder path `real_path` (a path under root(), e.g. from
  // getcwd or /proc/self/fd), read from the in-process map or the sidecar; false otherwise.
  bool LookupPath(absl::string_view real_path, std::string* rel);

  void LockForFork() ABSL_EXCLUSIVE_LOCK_FUNCTION(mu_) { mu_.Lock(); }
  void UnlockAfterFork() ABSL_UNLOCK_FUNCTION(mu_) { mu_.Unlock(); }
  // In the fork child, instead of UnlockAfterFork: a fresh mutex (core/base/fork_mutex.h).
  void ResetLockInChild() { mu_.ResetInChild(); }

 private:
  absl::Status EnsureRoot() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static std::string NameFor(absl::string_view rel);

  const std::string root_;
  Env* const env_;
  ForkMutex mu_;
  bool root_ready_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, std::string> by_name_ ABSL_GUARDED_BY(mu_);  // name -> rel
  absl::flat_hash_map<std::pair<dev_t, ino_t>, std::string> by_inode_ ABSL_GUARDED_BY(mu_);
};

// The name of the placeholder of virtual directory `rel` under the placeholder root: 16 hex
// digits of PathHash(rel). PRELOAD-SAFE; `out` holds 17 bytes.
void PlaceholderName(absl::string_view rel, char* out);

// The default placeholder root: $XDG_RUNTIME_DIR/hfshim/dirs, else /tmp/hfshim-<uid>/dirs.
// PRELOAD-SAFE (writes into `out`, kVfsPathMax bytes); returns the length, 0 if too long.
size_t DefaultPlaceholderRoot(const char* xdg_runtime_dir, char* out);

}  // namespace hfshim

#endif  // HFSHIM_CORE_VFS_FD_TABLE_H_
