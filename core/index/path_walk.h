// Path resolution with kernel semantics over any lookup function (the index's, or a test's).
// See IndexReader::Resolve for the contract.
#ifndef HFSHIM_CORE_INDEX_PATH_WALK_H_
#define HFSHIM_CORE_INDEX_PATH_WALK_H_

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

// `links`, when given, is the generation `lookup` reads: a walk whose last component is a
// symlink recording its file (`Entry::link_record`, format 3) takes the file from
// links->LinkedFile instead of walking the link's target (the same answer, one lookup less).
absl::StatusOr<Resolved> ResolvePath(absl::string_view rel_path, bool follow_last,
                                     EntryLookup lookup, const IndexReader* links = nullptr);

// ResolvePath of `base` + "/" + `rel_path`, where `base` is already resolved: `base` is the
// canonical path of a directory (non-empty), `base_entry` its entry and `base_hops` the symlinks
// followed to reach it. Same results as resolving the whole path (".." climbs out of `base`, the
// hop limit counts `base_hops`); `rel_path` must be no longer than PATH_MAX together with the
// spelling that led to `base` (the caller checks).
absl::StatusOr<Resolved> ResolvePathFrom(absl::string_view base, const Entry& base_entry,
                                         int base_hops, absl::string_view rel_path,
                                         bool follow_last, EntryLookup lookup,
                                         const IndexReader* links = nullptr);

}  // namespace hfshim

#endif  // HFSHIM_CORE_INDEX_PATH_WALK_H_
