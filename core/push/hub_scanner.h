// Scans a local hub cache into the entries a push publishes, validating everything first so a
// bad tree is refused before anything is uploaded.
//
// Only top-level repo dirs (models--*, datasets--*, spaces--*) are scanned. Skipped: incomplete
// downloads (*.incomplete) and lock files (*.lock). Refused, with the path and the fix:
// unreadable entries, absolute symlinks, symlinks leaving their repo, fifos/sockets/devices,
// names that are not UTF-8.
#ifndef HFSHIM_CORE_PUSH_HUB_SCANNER_H_
#define HFSHIM_CORE_PUSH_HUB_SCANNER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/env/env.h"
#include "core/index/entry.h"

namespace hfshim {

struct ScannedEntry {
  std::string rel_path;    // relative to the hub cache root, e.g. "models--o--m/blobs/ab"
  std::string local_path;  // absolute path on disk (files: where to read the content)
  Entry entry;             // type, mode, mtime, size, ino, symlink target; content not yet set
};

struct ScannedRepo {
  std::string dir_name;               // "models--o--m"
  std::vector<ScannedEntry> entries;  // the repo dir itself first, then sorted by path
};

// Scans `hub_dir`. `repo_dirs` (dir names) limits the scan; empty = every repo. NotFound if a
// requested repo is absent; InvalidArgument (naming the path) for refused entries.
absl::StatusOr<std::vector<ScannedRepo>> ScanHubCache(Env* env, const std::string& hub_dir,
                                                      const std::vector<std::string>& repo_dirs);

// True if `s` is valid UTF-8.
bool IsUtf8(absl::string_view s);

}  // namespace hfshim

#endif  // HFSHIM_CORE_PUSH_HUB_SCANNER_H_
