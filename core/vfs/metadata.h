// Metadata of virtual entries: an index Entry rendered as struct stat / struct statx, identical
// for path and fd stat (INTERPOSE.md §4): the entry's stable st_ino (a snapshot symlink followed
// reports its blob's), one constant virtual st_dev, the recorded mode (0444/0555 if none),
// uid/gid = the caller's euid/egid, the index mtime for atime/mtime/ctime,
// st_blocks = ceil(size / 512), nlink as recorded.
//
// Thread-safety: pure functions.
#ifndef HFSHIM_CORE_VFS_METADATA_H_
#define HFSHIM_CORE_VFS_METADATA_H_

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/index/entry.h"

namespace hfshim {

// The device number virtual entries report when the prefix directory's cannot be had (major
// 0xff5, minor 0x6866 "hf": no real block device or anonymous superblock uses it on Linux).
// Normally they report the prefix directory's own device (StatIdentity::dev), so the repos do
// not look like mount points to find -xdev, du -x, tar --one-file-system or os.path.ismount;
// their inode numbers are 63-bit path hashes, which no real inode of that file system meets.
inline constexpr unsigned kVirtualDevMajor = 0xff5;
inline constexpr unsigned kVirtualDevMinor = 0x6866;
dev_t VirtualDev();

// st_size of a virtual directory (the index records none).
inline constexpr uint64_t kDirectorySize = 4096;

// The parts of a stat that do not come from the index.
struct StatIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
  blksize_t blksize = 4096;  // of the cache file system
  dev_t dev = 0;             // st_dev of the prefix directory; 0: VirtualDev()
};
// The calling process's euid/egid with a 4096-byte blksize.
StatIdentity CurrentIdentity();

// st_mode of `entry`: the recorded type and permission bits, defaulting the bits to 0555 for
// directories, 0444 for files and 0777 for symlinks when none were recorded.
mode_t EffectiveMode(const Entry& entry);

void EntryToStat(const Entry& entry, const StatIdentity& id, struct stat* st);
// Fills every STATX_BASIC_STATS field (stx_mask = STATX_BASIC_STATS, no birth time).
void EntryToStatx(const Entry& entry, const StatIdentity& id, struct statx* stx);
// A stat obtained from the kernel rendered as statx (for the real prefix root or passthrough).
void StatToStatx(const struct stat& st, struct statx* stx);

}  // namespace hfshim

#endif  // HFSHIM_CORE_VFS_METADATA_H_
