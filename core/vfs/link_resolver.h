// ResolveIntoPrefix: does the kernel's walk of a path that failed outside the prefix pass
// through a symlink into it? The kernel follows `ln -s $HF_HUB_CACHE/models--x/snapshots/abc
// ./model` into the prefix directory, where the virtual repos are not on disk, and fails with
// ENOENT. After such a failure the shim walks the path itself, component by component as the
// kernel does (lstat, readlink, ".." from the resolved directory, at most 40 links), and if the
// walk reaches the prefix it makes the call again on the path spelled from there.
//
// Cost: only after a passthrough call failed with ENOENT or ENOTDIR, one lstat per component
// until the walk fails or enters the prefix (plus a readlink per symlink), ~1 us. A walk that
// found no way in is remembered for a second (an absolute path, or one relative to an unchanged
// working directory): RecentlyMissed answers from a table (a hash and a slot, a few ns), so a
// program that misses the same path again and again pays the walk once a second. A link made at
// such a path within that second is followed from the next second on.
// PRELOAD-SAFE: raw syscalls, stack buffers and a static table only; errno is not changed.
#ifndef HFSHIM_CORE_VFS_LINK_RESOLVER_H_
#define HFSHIM_CORE_VFS_LINK_RESOLVER_H_

#include <cstddef>

namespace hfshim {

// True if the walk of (dirfd, path) enters the router's prefix through a symlink; then `out`
// (kVfsPathMax bytes) holds the absolute path from the prefix on (the prefix's real form, the
// components not yet walked appended). `follow_last`: whether a final symlink is followed (false
// for lstat, O_NOFOLLOW). False for paths that never reach the prefix, loops and overlong paths.
// Walks (dirfd, path) every time it is called, and remembers a walk that found no way in.
bool ResolveIntoPrefix(int dirfd, const char* path, bool follow_last, char* out);

// True if a ResolveIntoPrefix of the same (dirfd, path, follow_last) found no way into the prefix
// in the last second (or cannot: a null or empty path), so that walking again is pointless. Ask
// it first: it costs a hash and a table read, a walk ~1 us. Reads only (safe in a vfork child).
bool RecentlyMissed(int dirfd, const char* path, bool follow_last);

}  // namespace hfshim

#endif  // HFSHIM_CORE_VFS_LINK_RESOLVER_H_
