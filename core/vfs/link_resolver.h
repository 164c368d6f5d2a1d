// ResolveIntoPrefix: does the kernel's walk of a path that failed outside the prefix pass
// through a symlink into it? The kernel follows `ln -s $HF_HUB_CACHE/models--x/snapshots/abc
// ./model` into the prefix directory, where the virtual repos are not on disk, and fails with
// ENOENT. After such a failure the shim walks the path itself, component by component as the
// kernel does (lstat, readlink, ".." from the resolved directory, at most 40 links), and if the
// walk reaches the prefix it makes the call again on the path spelled from there.
//
// Cost: only after a passthrough call failed with ENOENT or ENOTDIR, one lstat per component
// until the walk fails or enters the prefix (plus a readlink per symlink), ~1 us; a walk that
// missed in the last second (an absolute path, or one relative to an unchanged working
// directory) is not made again (~10 ns: a hash and a table slot). PRELOAD-SAFE: raw syscalls,
// stack buffers and a static table only; errno is not changed.
#ifndef HFSHIM_CORE_VFS_LINK_RESOLVER_H_
#define HFSHIM_CORE_VFS_LINK_RESOLVER_H_

#include <cstddef>

namespace hfshim {

// True if the walk of (dirfd, path) enters the router's prefix through a symlink; then `out`
// (kVfsPathMax bytes) holds the absolute path from the prefix on (the prefix's real form, the
// components not yet walked appended). `follow_last`: whether a final symlink is followed (false
// for lstat, O_NOFOLLOW). False for paths that never reach the prefix, loops and overlong paths.
bool ResolveIntoPrefix(int dirfd, const char* path, bool follow_last, char* out);

}  // namespace hfshim

#endif  // HFSHIM_CORE_VFS_LINK_RESOLVER_H_
