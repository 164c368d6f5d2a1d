// WalkFileTree: nftw(3) and ftw(3) built on the public libc calls (opendir, readdir64, stat,
// lstat, open, fchdir), for the shim's nftw/ftw wrappers. glibc's own walker reads directories
// and stats entries with internal calls no wrapper sees, so it found nothing in the virtual
// tree; this one goes through the shim's wrappers (they bind to libhfshim.so's exports there)
// and so walks virtual and real directories alike, also when a walk enters the prefix from above.
//
// Semantics follow glibc 2.36's walker: entries in readdir order without "." and ".."; a
// directory reported before its entries (FTW_D) or after them with FTW_DEPTH (FTW_DP); FTW_DNR
// for a directory that cannot be read (EACCES); FTW_NS when an entry cannot be stat'ed (EACCES,
// ENOENT), FTW_SLN for a dangling symlink without FTW_PHYS, FTW_SL for a symlink with it;
// FTW_MOUNT skips entries on another device; FTW_CHDIR changes into each directory before its
// entries and back after; without FTW_PHYS a directory already visited (a symlink cycle) is not
// entered again; FTW_ACTIONRETVAL's FTW_SKIP_SUBTREE, FTW_SKIP_SIBLINGS and FTW_STOP. A non-zero
// callback result (other than the skips under FTW_ACTIONRETVAL) stops the walk and is returned;
// -1 with errno for a failure of the walk itself (an empty path: ENOENT; unknown flags: EINVAL).
// `struct FTW` gives the offset of the entry's name in the path (base) and its depth (level).
// Unlike glibc it holds one directory stream at a time (a directory's entries are read before
// any is visited), plus one fd per level with FTW_CHDIR, whatever `nopenfd` says.
//
// Thread-safety: reentrant; FTW_CHDIR changes the process's working directory, as nftw does.
// No exception escapes (allocation failure: -1 with ENOMEM).
#ifndef HFSHIM_CORE_VFS_TREE_WALK_H_
#define HFSHIM_CORE_VFS_TREE_WALK_H_

#include <ftw.h>
#include <sys/stat.h>

#include "absl/functional/function_ref.h"

namespace hfshim {

// The nftw callback: (path, stat, typeflag, ftw info) -> 0 to go on.
using TreeWalkVisit = absl::FunctionRef<int(const char*, const struct stat*, int, struct FTW*)>;

// nftw(path, visit, nopenfd, flags) as described above.
int WalkFileTree(const char* path, TreeWalkVisit visit, int flags);

// The typeflag ftw(3) reports for nftw's `typeflag`: FTW_SL as FTW_F, FTW_DP as FTW_D and
// FTW_SLN as FTW_NS (ftw knows only FTW_F, FTW_D, FTW_DNR and FTW_NS).
int FtwTypeflag(int nftw_typeflag);

}  // namespace hfshim

#endif  // HFSHIM_CORE_VFS_TREE_WALK_H_
