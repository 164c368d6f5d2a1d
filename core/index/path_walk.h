// Path resolution with kernel semantics over any lookup function (the index's, or a test's).
// See IndexReader::Resolve for the contract.
#ifndef HFSHIM_CORE_INDEX_PATH_WALK_H_
#define HFSHIM_CORE_INDEX_PATH_WALK_H_

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/index/entry.h"
#include "core/index/index_reader.h"

namespace hfshim {

inline constexpr int kMaxSymlinkHops = 40;     // Linux's MAXSYMLINKS
inline constexpr size_t kMaxPathBytes = 4095;  // PATH_MAX - 1

// Returns the entry at an exact normalised path ("" = root) or an error (ENOENT). `last` says
// the path is the final component of the walk as far as it is known (a hint for caches of
// directories: such a path is usually a file); the answer must not depend on it.
using EntryLookup = absl::FunctionRef<absl::StatusOr<Entry>(absl::string_view path, bool last)>;

// Reads the file a symlink's `link_record` names (IndexReader::LinkedFile): its entry, and its
// canonical path in `*path`. With one, a walk whose last component is such a link takes the
// file from it instead of walking the link's target (the same answer, format 3 generations).
using LinkedFileLookup =
    absl::FunctionRef<absl::StatusOr<Entry>(uint64_t link_record, std::string* path)>;

absl::StatusOr<Resolved> ResolvePath(absl::string_view rel_path, bool follow_last,
                                     EntryLookup lookup,
                                     const LinkedFileLookup* linked_file = nullptr);

// ResolvePath of `base` + "/" + `rel_path`, where `base` is already resolved: `base` is the
// canonical path of a directory (non-empty), `base_entry` its entry and `base_hops` the symlinks
// followed to reach it. Same results as resolving the whole path (".." climbs out of `base`, the
// hop limit counts `base_hops`); `rel_path` must be no longer than PATH_MAX together with the
// spelling that led to `base` (the caller checks).
absl::StatusOr<Resolved> ResolvePathFrom(absl::string_view base, const Entry& base_entry,
                                         int base_hops, absl::string_view rel_path,
                                         bool follow_last, EntryLookup lookup,
                                         const LinkedFileLookup* linked_file = nullptr);

}  // namespace hfshim

#endif  // HFSHIM_CORE_INDEX_PATH_WALK_H_
