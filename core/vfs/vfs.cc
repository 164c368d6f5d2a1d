// Vfs lifecycle: construction and fork handling of one instance.
#include "core/vfs/vfs.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/base/log.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"
#include "core/env/file_util.h"
#include "core/stats/stats.h"

namespace hfshim {
Vfs::Vfs(const Parts& parts)
    : prefix_(parts.prefix),
      env_(parts.env),
      cache_(parts.cache),
      timeout_seconds_(parts.timeout_seconds),
      statfs_path_(parts.statfs_path),
      generations_(parts.source, absl::Seconds(parts.refresh_seconds)),
      placeholders_(parts.placeholder_root, parts.env),
      identity_(CurrentIdentity()),
      resolve_cache_(parts.resolve_cache_entries) {
  // Virtual entries report the prefix directory's device (StatIdentity::dev); its inode is the
  // union root's (PrefixRootIno, learnt later if the directory does not exist yet).
  struct stat st;
  if (env_->Stat(std::string(prefix_->literal()), &st).ok()) {
    identity_.dev = st.st_dev;
    prefix_root_ino_.store(st.st_ino, std::memory_order_relaxed);
  }
}

Vfs::~Vfs() = default;

absl::StatusOr<std::unique_ptr<Vfs>> Vfs::Create(const Parts& parts) {
  if (parts.prefix == nullptr || !parts.prefix->valid() || parts.env == nullptr ||
      parts.source == nullptr || parts.cache == nullptr || parts.placeholder_root.empty()) {
    return absl::InvalidArgumentError(
        "Vfs::Create: prefix, env, source, cache and "
        "placeholder_root are required");
  }
  return std::unique_ptr<Vfs>(new Vfs(parts));
}

void Vfs::PrepareFork() {
  generations_.LockForFork();
  placeholders_.LockForFork();
  fds_.LockForFork();
}

void Vfs::ParentAfterFork() {
  fds_.UnlockAfterFork();
  placeholders_.UnlockAfterFork();
  generations_.UnlockAfterFork();
}

void Vfs::ChildAfterFork() {
  // Nothing of the parent's resolution cache is trusted (resolve_cache.h); the child's next
  // Current() also publishes a reopened generation, so it starts afresh either way.
  resolve_cache_.ResetAfterForkChild();
  fds_.ResetLockInChild();
  placeholders_.ResetLockInChild();
  generations_.ResetLockInChild();
  generations_.ResetAfterFork();
  const dev_t dev = identity_.dev;
  identity_ = CurrentIdentity();
  identity_.dev = dev;
}

}  // namespace hfshim
