// DirStream: one open listing of a virtual directory or of the prefix root, read entry by entry.
//
// A virtual directory streams from IndexReader::List in pages of kPageSize (bounded memory for
// any directory size), fetching each page from the current generation after the last name seen.
// It emits "." and ".." first; d_ino is the entry's st_ino and d_type its type. The prefix root
// is a union: the index's top-level entries, then the real directory's entries that the index
// does not shadow (".locks", "version.txt", repos not in the store).
//
// Positions (telldir/seekdir) are ordinals: Seek(n) restarts and skips n entries.
//
// Thread-safety: not thread-safe; one DIR* is used by one thread at a time (as with libc).
#ifndef HFSHIM_CORE_VFS_DIR_STREAM_H_
#define HFSHIM_CORE_VFS_DIR_STREAM_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/index/index_reader.h"

namespace hfshim {

struct DirItem {
  uint64_t ino = 0;
  unsigned char type = 0;  // DT_*
  std::string name;
};

// d_type of an index entry.
unsigned char DirentType(EntryType type);

class DirStream {
 public:
  static constexpr size_t kPageSize = 256;

  // Returns the generation's reader to list from (the current one); nullptr if none.
  using ReaderFn = std::function<const IndexReader*()>;

  // A virtual directory `dir` (canonical, relative to the index root; "" never: the root is a
  // union) with inode `self_ino`; ".." reports `parent_ino`.
  static DirStream Virtual(ReaderFn reader, std::string dir, uint64_t self_ino,
                           uint64_t parent_ino);
  // The prefix root: index top-level entries, then `real` (the real directory's own entries,
  // "." and ".." included, already stat'ed) minus the names the index has.
  static DirStream Union(ReaderFn reader, std::vector<DirItem> real);

  // The next entry; false at the end. Errors (EIO from a broken index) as a status.
  absl::StatusOr<bool> Next(DirItem* out);
  // Ordinal of the next entry (telldir) and repositioning (seekdir, rewinddir = Seek(0)).
  int64_t Tell() const { return ordinal_; }
  absl::Status Seek(int64_t ordinal);

 private:
  DirStream() = default;
  absl::StatusOr<bool> NextIndexChild(DirItem* out);

  ReaderFn reader_;
  bool union_ = false;
  std::string dir_;
  uint64_t self_ino_ = 0;
  uint64_t parent_ino_ = 0;
  std::vector<DirItem> real_;  // union only

  int phase_ = 0;  // 0 ".", 1 "..", 2 index children, 3 real entries (union), 4 end
  std::vector<DirChild> page_;
  size_t page_pos_ = 0;
  bool index_done_ = false;
  std::string last_name_;
  size_t real_pos_ = 0;
  int64_t ordinal_ = 0;
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_VFS_DIR_STREAM_H_
