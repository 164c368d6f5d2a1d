// One entry of an index generation: a directory, a regular file or a symlink of the pushed tree.
// The byte encoding is specified in core/index/FORMAT.md and pinned by a golden-bytes test.
#ifndef HFSHIM_CORE_INDEX_ENTRY_H_
#define HFSHIM_CORE_INDEX_ENTRY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/hash.h"

namespace hfshim {

enum class EntryType : uint8_t { kDirectory = 1, kFile = 2, kSymlink = 3 };

// Where a file's bytes live in the store: `length` bytes at `offset` of object `object_key`
// (a data/ object holding the whole file at offset 0, or a packs/ object shared by many files).
struct ContentLocation {
  std::string object_key;
  uint64_t offset = 0;
  uint64_t length = 0;
  bool operator==(const ContentLocation&) const = default;
};

struct Entry {
  EntryType type = EntryType::kFile;
  uint32_t mode = 0;     // full st_mode: S_IFDIR/S_IFREG/S_IFLNK | permission bits
  uint32_t nlink = 1;    // directories: 2 + number of subdirectories, as on a local disk
  uint64_t ino = 0;      // stable: derived from the path (PathHash), never 0
  uint64_t size = 0;     // files: content length; symlinks: target length; dirs: 0
  int64_t mtime_ns = 0;  // nanoseconds since the epoch

  // Files only.
  Hash128 content_hash;                   // XXH3-128 of the whole content (content address)
  ContentLocation location;               // where the content is
  uint32_t block_size = 0;                // checksummed block size (power of two)
  std::vector<uint64_t> block_checksums;  // XXH3-64 of content block i: [i*bs, min((i+1)*bs, size))

  // Symlinks only: the target exactly as readlink() returns it (relative in a hub cache).
  std::string symlink_target;
  // Symlinks of format 3 generations whose walk ends at a file of the index (a snapshot file's
  // link to its blob): 1 + the path-table locator of that file's record, and the links followed
  // to reach it, this one included. Resolved by push on the same immutable tree, so a reader
  // takes the file from there instead of walking the target: the same answer, one lookup less.
  // 0: not recorded (walk the target).
  uint64_t link_record = 0;
  uint32_t link_hops = 0;

  bool operator==(const Entry&) const = default;
};

// Serialises an entry (FORMAT.md: entry version 1, or 2 for a symlink with link_record).
std::string EncodeEntry(const Entry& entry);
// Parses an entry; DataLoss naming the problem if the bytes are truncated, of an unknown version
// or inconsistent (e.g. a checksum count that does not match size / block_size).
absl::StatusOr<Entry> DecodeEntry(absl::string_view bytes);

// The LMDB key of the entry at `rel_path` ("" is the root and has no entry):
//   parent path + '\0' + name   e.g. "models--org--m/blobs\0abc", root children "\0models--org--m"
// so all children of one directory are contiguous and sorted by name.
std::string EntryKey(absl::string_view rel_path);
// The inverse of EntryKey: the relative path an entries-db key names.
std::string PathOfEntryKey(absl::string_view key);

}  // namespace hfshim

#endif  // HFSHIM_CORE_INDEX_ENTRY_H_
