// The order in which hfshim-push packs small files: the order programs read them in.
//
// In a hub cache the content of a repo lives in blobs/<sha256>, and the paths programs open are
// symlinks to them under snapshots/<revision>/. Packing blobs in their own path order would
// scatter a dataset directory (train/000/...) over every pack window; packing them in the order
// of the snapshot paths that link to them keeps neighbours in the tree neighbours in the pack,
// so a reader of one directory fetches the windows of that directory only.
#ifndef HFSHIM_CORE_PUSH_READ_ORDER_H_
#define HFSHIM_CORE_PUSH_READ_ORDER_H_

#include <vector>

#include "core/push/hub_scanner.h"

namespace hfshim {

// Sorts `files` (regular files of `repos`) by where each is first reached: the smallest path of
// the repos' symlinks that resolve to the file (as the index resolves them), else the file's own
// path. Ties keep their order. Files of different repos never interleave.
void SortInReadingOrder(const std::vector<ScannedRepo>& repos, std::vector<ScannedEntry*>* files);

}  // namespace hfshim

#endif  // HFSHIM_CORE_PUSH_READ_ORDER_H_
