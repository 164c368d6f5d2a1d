#include "core/vfs/metadata.h"

#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>

namespace hfshim {
namespace {

struct timespec NsToTimespec(int64_t ns) {
  struct timespec ts;
  ts.tv_sec = ns / 1000000000;
  ts.tv_nsec = ns % 1000000000;
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000;
    ts.tv_sec -= 1;
  }
  return ts;
}

struct statx_timestamp ToStatxTime(const struct timespec& ts) {
  struct statx_timestamp t;
  std::memset(&t, 0, sizeof(t));
  t.tv_sec = ts.tv_sec;
  t.tv_nsec = static_cast<uint32_t>(ts.tv_nsec);
  return t;
}

}  // namespace

dev_t VirtualDev() { return makedev(kVirtualDevMajor, kVirtualDevMinor); }

StatIdentity CurrentIdentity() {
  StatIdentity id;
  id.uid = geteuid();
  id.gid = getegid();
  return id;
}

mode_t EffectiveMode(const Entry& entry) {
  mode_t type = 0;
  mode_t fallback = 0;
  switch (entry.type) {
    case EntryType::kDirectory:
      type = S_IFDIR;
      fallback = 0555;
      break;
    case EntryType::kSymlink:
      return S_IFLNK | 0777;
    case EntryType::kFile:
      type = S_IFREG;
      fallback = 0444;
      break;
  }
  mode_t perm = entry.mode & 07777;
  return type | (perm != 0 ? perm : fallback);
}

void EntryToStat(const Entry& entry, const StatIdentity& id, struct stat* st) {
  std::memset(st, 0, sizeof(*st));
  st->st_dev = id.dev != 0 ? id.dev : VirtualDev();
  st->st_ino = entry.ino;
  st->st_mode = EffectiveMode(entry);
  st->st_nlink = entry.nlink != 0 ? entry.nlink : (entry.type == EntryType::kDirectory ? 2 : 1);
  st->st_uid = id.uid;
  st->st_gid = id.gid;
  // Directories report one 4 KiB block, as on ext4 (the index records no size for them), so
  // `ls -l` and `du -b` show what they show on the most common local file system.
  const uint64_t size =
      entry.type == EntryType::kDirectory && entry.size == 0 ? kDirectorySize : entry.size;
  st->st_size = static_cast<off_t>(size);
  st->st_blksize = id.blksize;
  // Allocation as on ext4 with 4 KiB blocks, the most common local file system, so `du` and
  // `ls -s` add up as they do there: whole blocks for data; a symlink target shorter than 60
  // bytes lives in the inode (a "fast" symlink, no block), a longer one takes a block (the
  // hub's ../../blobs/<hash> links do).
  constexpr uint64_t kBlock = 4096, kFastSymlinkMax = 59;
  const uint64_t allocated = entry.type == EntryType::kSymlink
                                 ? (size > kFastSymlinkMax ? kBlock : 0)
                                 : (size + kBlock - 1) / kBlock * kBlock;
  st->st_blocks = static_cast<blkcnt_t>(allocated / 512);
  st->st_mtim = NsToTimespec(entry.mtime_ns);
  st->st_atim = st->st_mtim;
  st->st_ctim = st->st_mtim;
}

void StatToStatx(const struct stat& st, struct statx* stx) {
  std::memset(stx, 0, sizeof(*stx));
  stx->stx_mask = STATX_BASIC_STATS;
  stx->stx_blksize = static_cast<uint32_t>(st.st_blksize);
  stx->stx_nlink = static_cast<uint32_t>(st.st_nlink);
  stx->stx_uid = st.st_uid;
  stx->stx_gid = st.st_gid;
  stx->stx_mode = static_cast<uint16_t>(st.st_mode);
  stx->stx_ino = st.st_ino;
  stx->stx_size = static_cast<uint64_t>(st.st_size);
  stx->stx_blocks = static_cast<uint64_t>(st.st_blocks);
  stx->stx_atime = ToStatxTime(st.st_atim);
  stx->stx_mtime = ToStatxTime(st.st_mtim);
  stx->stx_ctime = ToStatxTime(st.st_ctim);
  stx->stx_rdev_major = major(st.st_rdev);
  stx->stx_rdev_minor = minor(st.st_rdev);
  stx->stx_dev_major = major(st.st_dev);
  stx->stx_dev_minor = minor(st.st_dev);
}

void EntryToStatx(const Entry& entry, const StatIdentity& id, struct statx* stx) {
  struct stat st;
  EntryToStat(entry, id, &st);
  StatToStatx(st, stx);
}

}  // namespace hfshim
