#include "core/push/read_order.h"

#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/base/posix_error.h"
#include "core/index/path_walk.h"

namespace hfshim {

void SortInReadingOrder(const std::vector<ScannedRepo>& repos, std::vector<ScannedEntry*>* files) {
  // Links are resolved as the index resolves them (ResolvePath: chains, ".." and linked
  // directories with kernel semantics), over the scanned entries.
  absl::flat_hash_map<absl::string_view, const Entry*> scanned;
  for (const ScannedRepo& r : repos) {
    for (const ScannedEntry& e : r.entries) scanned.emplace(e.rel_path, &e.entry);
  }
  Entry root;
  root.type = EntryType::kDirectory;
  root.mode = S_IFDIR | 0755;
  auto lookup = [&](absl::string_view path, bool) -> absl::StatusOr<Entry> {
    if (path.empty()) return root;
    auto it = scanned.find(path);
    if (it == scanned.end()) return PosixError(ENOENT, absl::StrCat(path, " is not scanned"));
    return *it->second;
  };
  // Each linked file's first referrer. Entries are in path order, so the first link seen wins.
  absl::flat_hash_map<std::string, absl::string_view> first_link;
  for (const ScannedRepo& r : repos) {
    for (const ScannedEntry& e : r.entries) {
      if (e.entry.type != EntryType::kSymlink) continue;
      absl::StatusOr<Resolved> file = ResolvePath(e.rel_path, /*follow_last=*/true, lookup);
      if (file.ok() && file->in_index && file->entry.type == EntryType::kFile) {
        first_link.try_emplace(std::move(file->path), e.rel_path);
      }
    }
  }
  // (repo, where the file is first reached) for each file, then the files in that order.
  using Key = std::pair<absl::string_view, absl::string_view>;
  std::vector<std::pair<Key, ScannedEntry*>> keyed;
  keyed.reserve(files->size());
  for (ScannedEntry* f : *files) {
    const absl::string_view path = f->rel_path;
    auto it = first_link.find(path);
    keyed.push_back(
        {{path.substr(0, path.find('/')), it == first_link.end() ? path : it->second}, f});
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < keyed.size(); ++i) (*files)[i] = keyed[i].second;
}

}  // namespace hfshim
