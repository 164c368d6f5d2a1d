#include "core/push/read_order.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace hfshim {
namespace {

// The path a relative symlink at `link` (a path relative to the hub cache root) points to, with
// "." and ".." applied; empty if the target is absolute or climbs above the root.
std::string ResolveLexically(absl::string_view link, absl::string_view target) {
  if (absl::StartsWith(target, "/")) return "";
  std::vector<absl::string_view> parts = absl::StrSplit(link, '/');
  parts.pop_back();  // the link's own name
  for (absl::string_view c : absl::StrSplit(target, '/', absl::SkipEmpty())) {
    if (c == ".") continue;
    if (c == "..") {
      if (parts.empty()) return "";
      parts.pop_back();
    } else {
      parts.push_back(c);
    }
  }
  return absl::StrJoin(parts, "/");
}

}  // namespace

void SortInReadingOrder(const std::vector<ScannedRepo>& repos, std::vector<ScannedEntry*>* files) {
  // Each linked file's first referrer. Entries are in path order, so the first link seen wins.
  absl::flat_hash_map<std::string, absl::string_view> first_link;
  for (const ScannedRepo& r : repos) {
    for (const ScannedEntry& e : r.entries) {
      if (e.entry.type != EntryType::kSymlink) continue;
      std::string target = ResolveLexically(e.rel_path, e.entry.symlink_target);
      if (!target.empty()) first_link.try_emplace(std::move(target), e.rel_path);
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
