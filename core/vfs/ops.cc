// Vfs path operations: stat, open, readlink, realpath, access, mutations, chdir.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "core/base/log.h"
#include "core/base/posix_error.h"
#include "core/stats/profile.h"
#include "core/stats/stats.h"
#include "core/vfs/op_results.h"
#include "core/vfs/path_router.h"
#include "core/vfs/vfs.h"

namespace hfshim {
namespace {

// The parent of `path` for "does the directory a new name would go in exist?" ("." if none).
std::string ParentOf(absl::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

}  // namespace

Outcome Vfs::Stat(int dirfd, absl::string_view path, int flags, struct stat* st) {
  int linked;
  absl::string_view rest;
  if (VirtualFdLink(path, &linked, &rest)) return StatFdLink(linked, rest, flags, st);
  const bool follow = (flags & AT_SYMLINK_NOFOLLOW) == 0;
  std::string canonical;
  const bool profile = ProfileEnabled();
  Outcome cached;
  std::optional<Hash128> missed_id;
  if (StatCached(path, follow, st, &cached, profile ? &canonical : nullptr, &missed_id)) {
    if (cached.rc == 0 && !cached.passthrough) {
      Count(Counter::kVirtualStats);
      if (profile) RecordProfile("stat", canonical, 0, 0, 0, "index");
    }
    return cached;
  }
  absl::StatusOr<Target> t = Find(dirfd, path, follow, missed_id);
  if (!t.ok()) return Fail(t.status());
  if (!t->virtual_entry) return StatPassthrough(std::move(t->real_path), t->prefix_root);
  Count(Counter::kVirtualStats);
  RecordProfile("stat", t->resolved.path, 0, 0, 0, "index");
  EntryToStat(t->resolved.entry, identity_, st);
  return Outcome::Result(0);
}

Outcome Vfs::Statx(int dirfd, absl::string_view path, int flags, struct statx* stx) {
  struct stat st;
  Outcome o = Stat(dirfd, path, flags, &st);
  if (!o.passthrough && o.rc == 0) StatToStatx(st, stx);
  return o;
}

namespace {

// The error an open of virtual file `rel` reports when its content cannot be had: logged and
// counted; a missing store object is an I/O error, not ENOENT (the index says the file exists).
absl::Status ContentError(absl::string_view prefix, const std::string& rel, absl::Status s) {
  if (StatusToErrno(s) == EIO || !absl::IsNotFound(s)) Count(Counter::kErrorsEio);
  Log(LogLevel::kError, absl::StrCat("cannot open ", prefix, "/", rel, ": ", s.message()));
  if (absl::IsNotFound(s)) return PosixError(EIO, s.message());
  return s;
}

}  // namespace

absl::StatusOr<std::string> Vfs::Materialize(const Resolved& r, const IndexReader& reader) {
  const absl::Time start = absl::Now();
  absl::Time deadline = start + absl::Seconds(timeout_seconds_);
  bool fetched = false;
  absl::StatusOr<std::string> path = cache_->Materialize(r.entry, reader, deadline, &fetched);
  if (ProfileEnabled()) {
    RecordProfile("open", r.path, 0, r.entry.size,
                  static_cast<uint64_t>(absl::ToInt64Microseconds(absl::Now() - start)),
                  !path.ok() ? "error"
                  : fetched  ? "store"
                             : "disk");
  }
  if (!path.ok()) return ContentError(prefix_->literal(), r.path, path.status());
  return path;
}

Outcome Vfs::OpenLazy(const Resolved& r, int kept_flags, int flags) {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::shared_ptr<LazyContent>> lazy =
      cache_->OpenLazy(r.entry, start + absl::Seconds(timeout_seconds_));
  if (!lazy.ok()) return Fail(ContentError(prefix_->literal(), r.path, lazy.status()));
  const std::string path = (*lazy)->OpenPath();
  absl::StatusOr<int> fd = env_->Open(path, O_RDONLY | kept_flags, 0);
  if (!fd.ok() && StatusToErrno(fd.status()) == ENOENT) {
    fd = env_->Open((*lazy)->final_path(), O_RDONLY | kept_flags, 0);  // promoted meanwhile
  }
  if (!fd.ok()) {
    Log(LogLevel::kError, absl::StrCat("cannot open cache file ", path, " for ", r.path, ": ",
                                       fd.status().message()));
    return Fail(fd.status());
  }
  MatchCloexec(*fd, flags);
  struct stat st;
  if (env_->Fstat(*fd, &st).ok()) fds_.Put(*fd, ContentRecord(r.entry, st.st_dev, st.st_ino));
  const bool complete = (*lazy)->complete();
  if (!complete) {
    // No kernel readahead while the file has holes: it reads them as zeros into the page cache
    // ahead of the fill, which then writes into those pages, and the file read ~10% slower
    // warm afterwards (over s3rver, where the reader catches up with the fill). The shim fetches
    // ahead itself; the fd gets readahead back once the content is complete (LazyFdComplete).
    posix_fadvise(*fd, 0, 0, POSIX_FADV_RANDOM);
    fds_.PutLazy(*fd, std::make_shared<LazyFd>(*lazy));
  }
  SetFdHint(*fd, complete ? FdKind::kContent : FdKind::kLazy);
  Count(Counter::kVirtualOpens);
  if (ProfileEnabled()) {
    RecordProfile("open", r.path, 0, r.entry.size,
                  static_cast<uint64_t>(absl::ToInt64Microseconds(absl::Now() - start)),
                  complete ? "disk" : "lazy");
  }
  return Outcome::Result(*fd);
}

Outcome Vfs::Open(int dirfd, absl::string_view path, int flags, mode_t mode) {
  Outcome remembered;
  std::optional<Hash128> missed_id;
  if (OpenRemembered(path, flags, &remembered, &missed_id)) return remembered;
  int linked;
  absl::string_view rest;
  if (VirtualFdLink(path, &linked, &rest)) return OpenFdLink(linked, path, rest, flags, mode);
  absl::StatusOr<Target> t = Find(dirfd, path, (flags & O_NOFOLLOW) == 0, missed_id);
  if (!t.ok()) {
    if ((flags & O_CREAT) && absl::IsNotFound(t.status())) {
      // A new name in a virtual directory: EROFS if that directory exists.
      absl::StatusOr<Target> parent = Find(dirfd, ParentOf(path), true);
      if (parent.ok() && parent->virtual_entry &&
          parent->resolved.entry.type == EntryType::kDirectory) {
        return Fail(EROFS);
      }
    }
    return Fail(t.status());
  }
  if (t->prefix_root) {
    // The real prefix root: opened here so fdopendir/openat on it know it is the union root.
    std::string root = t->real_path.empty() ? std::string(prefix_->literal()) : t->real_path;
    absl::StatusOr<int> fd = env_->Open(root, flags, mode);
    if (!fd.ok()) return Fail(fd.status());
    MatchCloexec(*fd, flags);
    SetFdHint(*fd, FdKind::kPrefixRoot);
    return Outcome::Result(*fd);
  }
  if (!t->virtual_entry) return Passthrough(std::move(t->real_path));
  const Resolved& r = t->resolved;
  // An existing name: O_CREAT | O_EXCL fails first; O_CREAT alone creates nothing, so on its
  // own (read-only, no O_TRUNC) it is a plain read open, as on a read-only file system.
  if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) return Fail(EEXIST);
  const bool write = WriteIntent(flags & ~O_CREAT);
  switch (r.entry.type) {
    case EntryType::kSymlink:  // O_NOFOLLOW on a symlink
      if ((flags & O_PATH) && !(flags & O_DIRECTORY)) return OpenSymlinkPath(r, flags);
      return Fail((flags & O_DIRECTORY) ? ENOTDIR : ELOOP);
    case EntryType::kDirectory: {
      if ((flags & O_TMPFILE) == O_TMPFILE) return Fail(EROFS);
      if (write || (flags & O_CREAT)) return Fail(EISDIR);
      absl::StatusOr<std::string> ph = placeholders_.PathFor(r.path);
      if (!ph.ok()) {
        Log(LogLevel::kError,
            absl::StrCat("cannot open directory ", r.path, ": ", ph.status().message()));
        return Fail(ph.status());
      }
      absl::StatusOr<int> fd =
          env_->Open(*ph, O_RDONLY | O_DIRECTORY | (flags & kKeptOpenFlags), 0);
      if (!fd.ok()) return Fail(fd.status());
      MatchCloexec(*fd, flags);
      SetFdHint(*fd, FdKind::kPlaceholder);
      return Outcome::Result(*fd);
    }
    case EntryType::kFile:
      break;
  }
  if (write) return Fail(EROFS);
  if (flags & O_DIRECTORY) return Fail(ENOTDIR);
  if (FilledByBlocks(r.entry)) return OpenLazy(r, flags & (kKeptOpenFlags | O_DIRECT), flags);
  // Cached content is opened directly (a file at its cache path is always complete and
  // verified), one syscall. On a miss, Materialize fetches it; content may be evicted (by any
  // process of the node) between Materialize and open: then it is fetched again, a bounded
  // number of times.
  std::string backing_path = "the node cache";
  absl::StatusOr<int> fd = OpenCachedContent(r.entry.content_hash, flags, r.path, r.entry.size);
  constexpr int kEvictedRetries = 3;
  absl::StatusOr<std::string> backing;
  for (int attempt = 0;
       !fd.ok() && StatusToErrno(fd.status()) == ENOENT && attempt < kEvictedRetries; ++attempt) {
    backing = Materialize(r, *t->reader);
    if (!backing.ok()) return Fail(backing.status());
    backing_path = *backing;
    fd = cache_->OpenCached(r.entry.content_hash, flags & (kKeptOpenFlags | O_DIRECT));
  }
  if (!fd.ok()) {
    // The file exists (the index says so): a cache file evicted after every fetch is an I/O
    // error of the node cache, not ENOENT.
    const bool evicted = StatusToErrno(fd.status()) == ENOENT;
    Log(LogLevel::kError,
        absl::StrCat("cannot open cache file ", backing_path, " for ", r.path, ": ",
                     fd.status().message(),
                     evicted ? "; it was evicted after each of its fetches: the node cache is "
                               "too small for what is read at once (HFSHIM_CACHE_SIZE)"
                             : ""));
    Count(Counter::kErrorsEio);
    return evicted ? Fail(EIO) : Fail(fd.status());
  }
  return FinishContentOpen(*fd, ContentRecord(r.entry, 0, 0), r.entry.size);
}

Outcome Vfs::OpenSymlinkPath(const Resolved& r, int flags) {
  absl::StatusOr<std::string> link = placeholders_.LinkFor(r.path, r.entry.symlink_target);
  if (!link.ok()) {
    Log(LogLevel::kError,
        absl::StrCat("cannot open symlink ", r.path, ": ", link.status().message()));
    return Fail(link.status());
  }
  absl::StatusOr<int> fd = env_->Open(*link, O_PATH | O_NOFOLLOW, 0);
  if (!fd.ok()) return Fail(fd.status());
  MatchCloexec(*fd, flags);
  fds_.Put(*fd, ContentRecord(r.entry, 0, 0));  // fstat: the link's metadata in the index
  SetFdHint(*fd, FdKind::kContent);
  return Outcome::Result(*fd);
}

bool Vfs::OpenRemembered(absl::string_view path, int flags, Outcome* out,
                         std::optional<Hash128>* missed_id) {
  if (WriteIntent(flags) || (flags & O_DIRECTORY) || !resolve_cache_.enabled()) return false;
  const std::optional<Hash128> id = ResolveCacheKeyId(path, (flags & O_NOFOLLOW) == 0);
  if (!id.has_value()) return false;
  const Generation* gen = generations_.Current();
  if (gen == nullptr) return false;
  const bool profile = ProfileEnabled();
  bool file = false;
  Hash128 hash;
  uint64_t size = 0;
  ContentFd record;
  std::string profile_path;
  const bool hit = resolve_cache_.LookupAdmitted(gen, *id, [&](const CachedResolution& c) {
    if (c.error != 0 || !c.virtual_entry || c.entry.type != EntryType::kFile ||
        FilledByBlocks(c.entry)) {
      return;
    }
    file = true;
    hash = c.entry.content_hash;
    size = c.entry.size;
    record = ContentRecord(c.entry, 0, 0);
    if (profile) profile_path = c.path;
  });
  if (!hit) *missed_id = id;
  if (!file) return false;
  absl::StatusOr<int> fd = OpenCachedContent(hash, flags, profile_path, size);
  if (!fd.ok()) return false;  // not cached: Open's full path fetches it
  *out = FinishContentOpen(*fd, record, size);
  return true;
}

absl::StatusOr<int> Vfs::OpenCachedContent(const Hash128& hash, int flags, absl::string_view path,
                                           uint64_t size) {
  absl::StatusOr<int> fd = cache_->OpenCached(hash, flags & (kKeptOpenFlags | O_DIRECT));
  if (fd.ok()) {
    Count(Counter::kCacheFileHits);
    if (ProfileEnabled()) RecordProfile("open", path, 0, size, 0, "disk");
  }
  return fd;
}

Outcome Vfs::FinishContentOpen(int fd, const ContentFd& record, uint64_t size) {
  // `fd` was opened with the caller's O_CLOEXEC (ContentCache::OpenCached): nothing to match.
  // The backing file's identity is learnt at the fd's first fstat (FdTable): no fstat here.
  fds_.Put(fd, record);
  SetFdHint(fd, FdKind::kContent);
  Count(Counter::kVirtualOpens);
  Count(Counter::kBytesFromDiskCache, size);
  return Outcome::Result(fd);
}

Outcome Vfs::Readlink(int dirfd, absl::string_view path, std::string* target) {
  int linked;
  absl::string_view rest;
  if (VirtualFdLink(path, &linked, &rest)) {
    return rest.empty() ? ReadlinkFdLink(linked, target) : Readlink(linked, rest, target);
  }
  absl::StatusOr<Target> t = Find(dirfd, path, /*follow=*/false);
  if (!t.ok()) return Fail(t.status());
  if (!t->virtual_entry) return Passthrough(std::move(t->real_path));
  if (t->resolved.entry.type != EntryType::kSymlink) return Fail(EINVAL);
  Count(Counter::kVirtualReadlinks);
  *target = t->resolved.entry.symlink_target;
  return Outcome::Result(static_cast<int>(target->size()));
}

Outcome Vfs::Realpath(absl::string_view path, std::string* out) {
  absl::StatusOr<Target> t = Find(AT_FDCWD, path, /*follow=*/true);
  if (!t.ok()) return Fail(t.status());
  if (!t->virtual_entry) return Passthrough(std::move(t->real_path));
  Count(Counter::kVirtualReadlinks);
  *out = absl::StrCat(prefix_->real(), "/", t->resolved.path);
  return Outcome::Result(0);
}

Outcome Vfs::Access(int dirfd, absl::string_view path, int mode, int flags) {
  int linked;
  absl::string_view rest;
  if (VirtualFdLink(path, &linked, &rest)) return AccessFdLink(linked, rest, mode, flags);
  absl::StatusOr<Target> t = Find(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) == 0);
  if (!t.ok()) return Fail(t.status());
  if (!t->virtual_entry) return Passthrough(std::move(t->real_path));
  Count(Counter::kVirtualStats);
  return CheckAccess(EffectiveMode(t->resolved.entry), mode);
}

Outcome Vfs::CheckAccess(mode_t m, int mode) const {
  if (mode & W_OK) return Fail(EROFS);
  if (identity_.uid == 0) {
    if ((mode & X_OK) && !S_ISDIR(m) && (m & 0111) == 0) return Fail(EACCES);
    return Outcome::Result(0);
  }
  if ((mode & R_OK) && !(m & S_IRUSR)) return Fail(EACCES);
  if ((mode & X_OK) && !(m & S_IXUSR)) return Fail(EACCES);
  return Outcome::Result(0);
}

Outcome Vfs::Mutate(Mutation kind, int dirfd, absl::string_view path) {
  int linked;
  absl::string_view rest;
  if (VirtualFdLink(path, &linked, &rest)) return MutateFdLink(kind, linked, rest);
  absl::StatusOr<Target> t = Find(dirfd, path, /*follow=*/false);
  if (!t.ok()) {
    if (kind != Mutation::kModify && absl::IsNotFound(t.status())) {
      // A new name, or a missing one to remove: EROFS if its directory is virtual.
      absl::StatusOr<Target> parent = Find(dirfd, ParentOf(path), true);
      if (parent.ok() && parent->virtual_entry) {
        return Fail(parent->resolved.entry.type == EntryType::kDirectory ? EROFS : ENOTDIR);
      }
    }
    return Fail(t.status());
  }
  if (!t->virtual_entry) return Passthrough(std::move(t->real_path));
  return Fail(kind == Mutation::kCreate ? EEXIST : EROFS);
}

Outcome Vfs::Probe(int dirfd, absl::string_view path, bool follow) {
  absl::StatusOr<Target> t = Find(dirfd, path, follow);
  if (!t.ok()) return Fail(t.status());
  if (!t->virtual_entry) return Passthrough(std::move(t->real_path));
  return Outcome::Result(0);
}

Outcome Vfs::Backing(absl::string_view path, std::string* out) {
  absl::StatusOr<Target> t = Find(AT_FDCWD, path, /*follow=*/true);
  if (!t.ok()) return Fail(t.status());
  if (!t->virtual_entry) return Passthrough(std::move(t->real_path));
  if (t->resolved.entry.type != EntryType::kFile) return Fail(EISDIR);
  absl::StatusOr<std::string> backing = Materialize(t->resolved, *t->reader);
  if (!backing.ok()) return Fail(backing.status());
  Count(Counter::kVirtualOpens);
  *out = std::move(*backing);
  return Outcome::Result(0);
}

Outcome Vfs::Statfs(absl::string_view path) {
  absl::StatusOr<Target> t = Find(AT_FDCWD, path, /*follow=*/true);
  if (!t.ok()) return Fail(t.status());
  if (!t->virtual_entry) return Passthrough(std::move(t->real_path));
  return Outcome::PassOn(statfs_path_.empty() ? std::string("/") : statfs_path_);
}

Outcome Vfs::Chdir(absl::string_view path) {
  absl::StatusOr<Target> t = Find(AT_FDCWD, path, /*follow=*/true);
  if (!t.ok()) return Fail(t.status());
  if (!t->virtual_entry) return Passthrough(std::move(t->real_path));
  if (t->resolved.entry.type != EntryType::kDirectory) return Fail(ENOTDIR);
  absl::StatusOr<std::string> ph = placeholders_.PathFor(t->resolved.path);
  if (!ph.ok()) return Fail(ph.status());
  return Outcome::PassOn(std::move(*ph));
}

bool Vfs::VirtualCwd(absl::string_view kernel_cwd, std::string* out) {
  std::string rel;
  if (!placeholders_.LookupPath(kernel_cwd, &rel)) return false;
  *out = absl::StrCat(prefix_->real(), "/", rel);
  return true;
}

}  // namespace hfshim
