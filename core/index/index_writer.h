// IndexWriter: builds a new index generation file from scratch (push writes one per publish).
//
// Usage: Create(path) -> Add(...) for every entry (any order) -> Finish(meta). Finish writes a
// compact, immutable LMDB file at `path` atomically (temp + rename); until then nothing is at
// `path`. Directory nlink values are computed by Finish from the added entries when left 0.
// Not thread-safe: one thread builds one generation.
#ifndef HFSHIM_CORE_INDEX_INDEX_WRITER_H_
#define HFSHIM_CORE_INDEX_INDEX_WRITER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/index/entry.h"
#include "core/index/index_reader.h"

namespace hfshim {

class IndexWriter {
 public:
  static absl::StatusOr<std::unique_ptr<IndexWriter>> Create(const std::string& path);
  virtual ~IndexWriter() = default;

  // Adds the entry at `rel_path` (normalised, relative to the root). Every ancestor directory
  // must be added too (Finish fails with FailedPrecondition naming the first orphan). Adding the
  // same path twice replaces the entry. Files in packs are also recorded for PackMembers().
  // A symlink's link_record/link_hops are ignored: Finish derives them from the tree.
  virtual absl::Status Add(absl::string_view rel_path, const Entry& entry) = 0;

  // Writes the generation. meta.entry_count and format_version are filled in by the writer.
  virtual absl::Status Finish(const IndexMeta& meta) = 0;

  // The distinct paths added so far: the entry count Finish records.
  virtual uint64_t entry_count() const = 0;
};

// The stable inode number for `rel_path`: PathHash with 0 mapped away and the top bit clear.
uint64_t InodeForPath(absl::string_view rel_path);

}  // namespace hfshim

#endif  // HFSHIM_CORE_INDEX_INDEX_WRITER_H_
