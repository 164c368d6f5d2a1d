// IndexReader: lookups in one immutable index generation (an LMDB file opened
// MDB_RDONLY | MDB_NOLOCK | MDB_NOSUBDIR | MDB_NOTLS | MDB_NORDAHEAD, shared through the page
// cache by every process of a node).
//
// Paths are relative to the root of the pushed tree (the hub cache): "" is the root,
// "models--org--m/snapshots/<rev>/config.json" a file; no leading or trailing '/'.
// Errors carry POSIX errno (core/base/posix_error.h): ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG.
//
// Thread-safety: all methods are const and thread-safe. The object must not be used in a fork
// child (LMDB forbids it); the owner reopens the file after fork. Lookup reads the generation's
// path table (format 2, core/index/FORMAT.md): well under 1 us even at millions of entries;
// format 1 generations are read through their B-tree (about 1 us at 1M entries).
#ifndef HFSHIM_CORE_INDEX_INDEX_READER_H_
#define HFSHIM_CORE_INDEX_INDEX_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/index/entry.h"

namespace hfshim {

// The index format this build writes, and the oldest it reads (core/index/FORMAT.md): version 2
// added the path table (entries values became record locators), version 3 symlinks that record
// the file they lead to. Version 1 has no path table (entries values are encoded entries).
inline constexpr uint32_t kIndexFormatVersion = 3;
inline constexpr uint32_t kOldestIndexFormatVersion = 1;

// Facts about a generation, stored in its "meta" database.
struct IndexMeta {
  uint32_t format_version = 0;  // 1 to 3 (core/index/FORMAT.md)
  uint64_t sequence = 0;        // the head number this generation was published as
  int64_t created_unix_ns = 0;
  uint64_t entry_count = 0;
};

// One child of a directory, as a listing returns it.
struct DirChild {
  std::string name;
  Entry entry;
};

// The outcome of resolving a path with kernel semantics.
struct Resolved {
  // True if the path ends inside the index; false if a ".." left the root, in which case
  // `escaped_path` is what remains, relative to the root's parent directory (e.g. "../x/y" from
  // root becomes "x/y" relative to the hub cache's parent) and the caller resolves it on disk.
  bool in_index = true;
  std::string path;  // canonical path of the final entry (symlinks followed as asked)
  Entry entry;       // the final entry (the root has a synthesised directory entry)
  std::string escaped_path;
  int symlink_hops = 0;  // symlinks followed on the way (ELOOP past kMaxSymlinkHops)
};

class IndexReader {
 public:
  // Opens a generation file. DataLoss if it is not a valid index (truncated, wrong format
  // version), naming the file and that it should be deleted and fetched again.
  static absl::StatusOr<std::unique_ptr<IndexReader>> Open(const std::string& path);

  virtual ~IndexReader() = default;

  virtual const IndexMeta& meta() const = 0;

  // The entry at exactly `rel_path` (no symlinks followed, no "." or ".."; the caller normalises).
  // NotFound (ENOENT) if absent.
  virtual absl::StatusOr<Entry> Lookup(absl::string_view rel_path) const = 0;

  // The file a symlink entry's `link_record` names (format 3): its entry, and its canonical
  // path in `*path`. DataLoss if the record is malformed or not a file's (a damaged index).
  virtual absl::StatusOr<Entry> LinkedFile(uint64_t link_record, std::string* path) const = 0;

  // Resolves `rel_path` component by component as the kernel would: "." and empty components
  // skipped, ".." to the parent (out of the root: see Resolved::escaped_path), symlinks in the
  // middle always followed, the last one only if `follow_last`; a trailing '/' demands a
  // directory (ENOTDIR). ENOENT, ENOTDIR, ELOOP after 40 links, ENAMETOOLONG (> 4095 bytes).
  virtual absl::StatusOr<Resolved> Resolve(absl::string_view rel_path, bool follow_last) const = 0;

  // Up to `max` children of directory `dir_path` whose names sort after `after` ("" = from the
  // start), in name order. Streams: callers page through huge directories with bounded memory.
  // ENOTDIR if dir_path is not a directory, ENOENT if absent.
  virtual absl::StatusOr<std::vector<DirChild>> List(absl::string_view dir_path,
                                                     absl::string_view after, size_t max) const = 0;

  // Visits every entry in key order (parents before children is NOT guaranteed; key order groups
  // siblings). Stops early when `visit` returns false.
  virtual absl::Status ForEach(
      absl::FunctionRef<bool(absl::string_view rel_path, const Entry& entry)> visit) const = 0;
  // The same without decoding the entries: a scan for a path (about 10× cheaper per entry).
  virtual absl::Status ForEachPath(
      absl::FunctionRef<bool(absl::string_view rel_path)> visit) const = 0;

  // Files of pack object `pack_key` whose content lies within [begin, end) of the pack, in
  // offset order (the neighbours a pack block fetch can fill into the cache).
  struct PackMember {
    uint64_t offset = 0;
    uint64_t length = 0;
    Hash128 content_hash;
    uint64_t checksum = 0;  // XXH3-64 of the file content (files in packs are one block)
  };
  virtual absl::StatusOr<std::vector<PackMember>> PackMembers(absl::string_view pack_key,
                                                              uint64_t begin,
                                                              uint64_t end) const = 0;
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_INDEX_INDEX_READER_H_
