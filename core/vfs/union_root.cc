// The prefix root's own metadata: the real directory's, with the union's st_nlink (vfs.h).
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "core/vfs/vfs.h"

namespace hfshim {
namespace {

constexpr size_t kListPage = 256;

int64_t CtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
}

}  // namespace

bool Vfs::CountUnionSubdirs(struct stat* st) {
  if (!S_ISDIR(st->st_mode) || st->st_dev != identity_.dev || st->st_ino != PrefixRootIno()) {
    return false;
  }
  // A file system that does not count subdirectories (btrfs reports 1) gets what it reports.
  if (st->st_nlink < 2) return true;
  const Generation* gen = generations_.Current();
  if (gen == nullptr) return true;
  const int64_t ctime_ns = CtimeNs(*st);
  // Adding or removing a real entry changes the directory's ctime (and its nlink).
  if (union_nlink_mu_.TryLock()) {
    const UnionNlink memo = union_nlink_;
    union_nlink_mu_.Unlock();
    if (memo.gen == gen && memo.ctime_ns == ctime_ns && memo.real == st->st_nlink) {
      st->st_nlink += memo.extra;
      return true;
    }
  }
  const std::string root(prefix_->literal());
  nlink_t extra = 0;
  std::string after;
  for (;;) {
    absl::StatusOr<std::vector<DirChild>> page = gen->reader->List("", after, kListPage);
    if (!page.ok()) return true;  // the index is damaged: the real directory's count
    for (const DirChild& child : *page) {
      if (child.entry.type != EntryType::kDirectory) continue;
      struct stat real;
      // A real directory of that name is counted already; a real file is shadowed by it.
      if (!env_->Lstat(absl::StrCat(root, "/", child.name), &real).ok() || !S_ISDIR(real.st_mode)) {
        ++extra;
      }
    }
    if (page->size() < kListPage) break;
    after = page->back().name;
  }
  if (union_nlink_mu_.TryLock()) {
    union_nlink_ = UnionNlink{gen, ctime_ns, st->st_nlink, extra};
    union_nlink_mu_.Unlock();
  }
  st->st_nlink += extra;
  return true;
}

bool Vfs::CountUnionSubdirs(struct statx* stx) {
  struct stat st {};
  st.st_mode = stx->stx_mode;
  st.st_dev = makedev(stx->stx_dev_major, stx->stx_dev_minor);
  st.st_ino = stx->stx_ino;
  st.st_nlink = stx->stx_nlink;
  st.st_ctim = {stx->stx_ctime.tv_sec, stx->stx_ctime.tv_nsec};
  if (!CountUnionSubdirs(&st)) return false;
  stx->stx_nlink = static_cast<uint32_t>(st.st_nlink);
  return true;
}

}  // namespace hfshim
