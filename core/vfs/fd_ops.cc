// Vfs fd operations: fstat overlay, dup/close bookkeeping, directory listings.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/base/log.h"
#include "core/base/posix_error.h"
#include "core/stats/stats.h"
#include "core/vfs/vfs.h"

namespace hfshim {

ContentFd Vfs::ContentRecord(const Entry& entry, dev_t dev, ino_t ino) const {
  ContentFd record;
  record.dev = dev;
  record.ino = ino;
  EntryToStat(entry, identity_, &record.virtual_stat);
  return record;
}

bool Vfs::Fstat(int fd, struct stat* st) {
  if (FdHint(fd) == FdKind::kPrefixRoot) return CountUnionSubdirs(st);
  if (IsContentKind(FdHint(fd))) {
    ContentFd rec;
    if (fds_.Get(fd, st->st_dev, st->st_ino, &rec)) {
      cache_->Touch(fd, *st);  // LRU, piggybacking on the caller's fstat of the cache file
      *st = rec.virtual_stat;
      Count(Counter::kVirtualStats);
      return true;
    }
  }
  if (!S_ISDIR(st->st_mode)) return false;
  std::string rel;
  if (!placeholders_.Lookup(st->st_dev, st->st_ino, &rel)) {
    absl::StatusOr<std::string> link = env_->ReadLink(absl::StrCat("/proc/self/fd/", fd));
    if (!link.ok() || !placeholders_.LookupPath(*link, &rel)) return false;
    SetFdHint(fd, FdKind::kPlaceholder);  // re-learnt (inherited across exec)
  }
  const Generation* gen = generations_.Current();
  if (gen == nullptr) return false;
  absl::StatusOr<Entry> entry = gen->reader->Lookup(rel);
  if (!entry.ok()) return false;  // gone in a newer generation: the empty directory it is
  EntryToStat(*entry, identity_, st);
  Count(Counter::kVirtualStats);
  return true;
}

void Vfs::NoteDup(int from, int to) {
  if (from == to) return;
  FdKind kind = FdHint(from);
  SetFdHint(to, kind);
  if (IsContentKind(kind)) {
    fds_.Copy(from, to);
  } else {
    fds_.Erase(to);
  }
}

void Vfs::NoteClose(int fd) {
  FdKind kind = FdHint(fd);
  ClearFdHint(fd);
  if (IsContentKind(kind)) fds_.Erase(fd);
}

uint64_t Vfs::PrefixRootIno() {
  uint64_t ino = prefix_root_ino_.load(std::memory_order_relaxed);
  if (ino == 0) {
    struct stat st;
    if (env_->Stat(std::string(prefix_->literal()), &st).ok()) {
      ino = st.st_ino;
      prefix_root_ino_.store(ino, std::memory_order_relaxed);
    }
  }
  return ino;
}

Outcome Vfs::OpenDir(int dirfd, absl::string_view path, std::unique_ptr<DirStream>* stream,
                     int* fd_out) {
  absl::StatusOr<Target> t = Find(dirfd, path, /*follow=*/true);
  if (!t.ok()) return Outcome::Result(-StatusToErrno(t.status()));
  int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  if (t->prefix_root) {
    std::string root = t->real_path.empty() ? std::string(prefix_->literal()) : t->real_path;
    absl::StatusOr<int> fd = env_->Open(root, flags, 0);
    if (!fd.ok()) return Outcome::Result(-StatusToErrno(fd.status()));
    Outcome o = OpenDirFd(*fd, stream);
    if (o.passthrough || o.rc < 0) {
      env_->Close(*fd).IgnoreError();
      return o.passthrough ? Outcome::Result(-EIO) : o;
    }
    *fd_out = *fd;
    return o;
  }
  if (!t->virtual_entry) {
    Count(Counter::kPrefixPassthrough);
    return t->real_path.empty() ? Outcome::Pass() : Outcome::PassOn(std::move(t->real_path));
  }
  const Resolved& r = t->resolved;
  if (r.entry.type != EntryType::kDirectory) return Outcome::Result(-ENOTDIR);
  absl::StatusOr<std::string> ph = placeholders_.PathFor(r.path);
  if (!ph.ok()) {
    Log(LogLevel::kError,
        absl::StrCat("cannot open directory ", r.path, ": ", ph.status().message()));
    return Outcome::Result(-StatusToErrno(ph.status()));
  }
  absl::StatusOr<int> fd = env_->Open(*ph, flags, 0);
  if (!fd.ok()) return Outcome::Result(-StatusToErrno(fd.status()));
  SetFdHint(*fd, FdKind::kPlaceholder);
  Outcome o = OpenDirFd(*fd, stream);
  if (o.passthrough || o.rc < 0) {
    env_->Close(*fd).IgnoreError();
    return o.passthrough ? Outcome::Result(-EIO) : o;
  }
  *fd_out = *fd;
  return o;
}

Outcome Vfs::OpenDirFd(int fd, std::unique_ptr<DirStream>* stream) {
  auto reader_fn = [this]() -> const IndexReader* {
    const Generation* g = generations_.Current();
    return g != nullptr ? g->reader.get() : nullptr;
  };
  struct stat st;
  if (!env_->Fstat(fd, &st).ok()) return Outcome::Result(-EBADF);
  if (!S_ISDIR(st.st_mode)) return Outcome::Result(-ENOTDIR);
  std::string rel;
  if (placeholders_.Lookup(st.st_dev, st.st_ino, &rel) || PlaceholderDir(fd, &rel)) {
    const Generation* gen = generations_.Current();
    if (gen == nullptr) return Outcome::Pass();
    absl::StatusOr<Entry> self = gen->reader->Lookup(rel);
    if (!self.ok()) return Outcome::Pass();  // gone in a newer generation: list it empty
    uint64_t parent_ino = 0;
    size_t slash = rel.rfind('/');
    if (slash == std::string::npos) {
      parent_ino = PrefixRootIno();
    } else {
      absl::StatusOr<Entry> parent = gen->reader->Lookup(absl::string_view(rel).substr(0, slash));
      parent_ino = parent.ok() ? parent->ino : self->ino;
    }
    *stream =
        std::make_unique<DirStream>(DirStream::Virtual(reader_fn, rel, self->ino, parent_ino));
    Count(Counter::kVirtualReaddirs);
    return Outcome::Result(0);
  }
  struct stat root;
  if (!env_->Stat(std::string(prefix_->literal()), &root).ok() || root.st_dev != st.st_dev ||
      root.st_ino != st.st_ino) {
    return Outcome::Pass();
  }
  // The union prefix root: the real directory's own entries, stat'ed for d_type and d_ino.
  std::vector<DirItem> real;
  const std::string root_path(prefix_->literal());
  absl::StatusOr<std::vector<std::string>> names = env_->ListDir(root_path);
  if (!names.ok()) return Outcome::Result(-StatusToErrno(names.status()));
  real.push_back(DirItem{root.st_ino, DT_DIR, "."});
  struct stat up;
  std::string parent = root_path.substr(0, std::max<size_t>(1, root_path.rfind('/')));
  real.push_back(DirItem{env_->Stat(parent, &up).ok() ? up.st_ino : root.st_ino, DT_DIR, ".."});
  for (std::string& name : *names) {
    struct stat est;
    unsigned char type = DT_UNKNOWN;
    uint64_t ino = 1;
    if (env_->Lstat(absl::StrCat(root_path, "/", name), &est).ok()) {
      ino = est.st_ino;
      type = S_ISDIR(est.st_mode)   ? DT_DIR
             : S_ISLNK(est.st_mode) ? DT_LNK
             : S_ISREG(est.st_mode) ? DT_REG
                                    : DT_UNKNOWN;
    }
    real.push_back(DirItem{ino, type, std::move(name)});
  }
  SetFdHint(fd, FdKind::kPrefixRoot);
  *stream = std::make_unique<DirStream>(DirStream::Union(reader_fn, std::move(real)));
  Count(Counter::kVirtualReaddirs);
  return Outcome::Result(0);
}

}  // namespace hfshim
