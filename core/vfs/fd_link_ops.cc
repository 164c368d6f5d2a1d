// Vfs operations on a virtual fd spelled as a path (vfs.h, "a virtual fd spelled as a path").
#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/cache/partial_file.h"
#include "core/index/index_writer.h"
#include "core/vfs/op_results.h"
#include "core/vfs/path_router.h"
#include "core/vfs/vfs.h"

namespace hfshim {

Outcome Vfs::OpenFdLink(int fd, absl::string_view path, absl::string_view rest, int flags,
                        mode_t mode) {
  if (!rest.empty()) return Open(fd, rest, flags, mode);
  const FdKind kind = FdHint(fd);
  const bool content = IsContentKind(kind);
  if (content) {
    if ((flags & O_TMPFILE) == O_TMPFILE || (flags & O_DIRECTORY)) return Fail(ENOTDIR);
    if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) return Fail(EEXIST);
    if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) return Fail(EROFS);
  } else if (kind == FdKind::kPlaceholder && (flags & O_TMPFILE) == O_TMPFILE) {
    return Fail(EROFS);  // would create a file in the placeholder
  }
  // The kernel reopens whatever fd `fd` is on; a directory refuses write intents itself.
  const int open_flags = content ? O_RDONLY | (flags & kKeptOpenFlags) : flags;
  absl::StatusOr<int> opened = env_->Open(std::string(path), open_flags, mode);
  if (!opened.ok()) return Fail(opened.status());
  MatchCloexec(*opened, flags);
  if (content) {
    fds_.Copy(fd, *opened);  // the virtual identity (fstat), checked against the same inode
    if (std::shared_ptr<LazyFd> lazy = LazyState(fd)) {
      // A new open file description: its own offset, so its own sequential-read state.
      fds_.PutLazy(*opened, std::make_shared<LazyFd>(lazy->content));
      if (!lazy->content->complete()) posix_fadvise(*opened, 0, 0, POSIX_FADV_RANDOM);
    }
    Count(Counter::kVirtualOpens);
  }
  SetFdHint(*opened, kind);
  return Outcome::Result(*opened);
}

Outcome Vfs::StatFdLink(int fd, absl::string_view rest, int flags, struct stat* st) {
  if (!rest.empty()) return Stat(fd, rest, flags, st);
  if (flags & AT_SYMLINK_NOFOLLOW) return Outcome::Pass();  // the link itself
  if (!env_->Fstat(fd, st).ok()) return Outcome::Pass();    // the kernel says why
  Fstat(fd, st);
  return Outcome::Result(0);
}

Outcome Vfs::ReadlinkFdLink(int fd, std::string* target) {
  const FdKind kind = FdHint(fd);
  struct stat st;
  if (kind == FdKind::kPrefixRoot || !env_->Fstat(fd, &st).ok()) return Outcome::Pass();
  std::string rel;
  // Content fds name a cache file; placeholders stand for directories and (opened with O_PATH |
  // O_NOFOLLOW) symlinks.
  const bool known =
      IsContentKind(kind) && !S_ISLNK(st.st_mode)
          ? ContentPathOfFd(fd, kind, st, &rel)
          : placeholders_.Lookup(st.st_dev, st.st_ino, &rel) || PlaceholderDir(fd, &rel);
  if (!known) return Outcome::Pass();
  Count(Counter::kVirtualReadlinks);
  *target = rel.empty() ? std::string(prefix_->real()) : absl::StrCat(prefix_->real(), "/", rel);
  return Outcome::Result(static_cast<int>(target->size()));
}

bool Vfs::ContentPathOfFd(int fd, FdKind kind, const struct stat& st, std::string* rel) {
  ContentFd record;
  if (!fds_.Get(fd, st.st_dev, st.st_ino, &record)) return false;
  // The content is named by the cache file behind the fd: <hash>, or <hash>.partial (lazy).
  absl::StatusOr<std::string> cached = env_->ReadLink(absl::StrCat("/proc/self/fd/", fd));
  if (!cached.ok()) return false;
  absl::string_view name = *cached;
  name = name.substr(name.rfind('/') + 1);
  if (kind == FdKind::kLazy) absl::ConsumeSuffix(&name, kPartialSuffix);
  Hash128 hash;
  const Generation* gen = generations_.Current();
  if (!Hash128::FromHex(name, &hash) || gen == nullptr) return false;
  // Inode numbers are derived from paths (InodeForPath): the paths are scanned without decoding
  // their entries, and the one whose number matches is checked.
  bool found = false;
  gen->reader
      ->ForEachPath([&](absl::string_view path) {
        if (InodeForPath(path) != record.virtual_stat.st_ino) return true;
        absl::StatusOr<Entry> e = gen->reader->Lookup(path);
        found = e.ok() && e->type == EntryType::kFile && e->content_hash == hash;
        if (found) *rel = std::string(path);
        return !found;
      })
      .IgnoreError();
  return found;
}

Outcome Vfs::AccessFdLink(int fd, absl::string_view rest, int mode, int flags) {
  if (!rest.empty()) return Access(fd, rest, mode, flags);
  if (FdHint(fd) == FdKind::kPrefixRoot) return Outcome::Pass();  // a real directory
  struct stat st;
  if (!env_->Fstat(fd, &st).ok() || !Fstat(fd, &st)) return Outcome::Pass();
  Count(Counter::kVirtualStats);
  return CheckAccess(st.st_mode, mode);
}

Outcome Vfs::MutateFdLink(Mutation kind, int fd, absl::string_view rest) {
  if (!rest.empty()) return Mutate(kind, fd, rest);
  if (FdHint(fd) == FdKind::kPrefixRoot) return Outcome::Pass();  // a real directory
  return Fail(kind == Mutation::kCreate ? EEXIST : EROFS);
}

}  // namespace hfshim
