#include "core/push/catalog.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "core/base/status_macros.h"
#include "core/push/repo_id.h"

namespace hfshim {

absl::StatusOr<std::vector<RepoSummary>> DescribeRepos(const IndexReader& index, ObjectStore* store,
                                                       absl::Time deadline) {
  std::map<std::string, RepoSummary> repos;
  std::vector<std::pair<std::string, Entry>> refs;  // (repo dir + ref name, entry)
  absl::Status status = index.ForEach([&](absl::string_view path, const Entry& e) {
    std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
    RepoSummary& r = repos[std::string(parts[0])];
    if (r.dir_name.empty()) {
      r.dir_name = std::string(parts[0]);
      r.id = RepoIdForDir(parts[0]).value_or(r.dir_name);
    }
    if (parts.size() == 3 && parts[1] == "snapshots" && e.type == EntryType::kDirectory) {
      r.revisions.push_back(std::string(parts[2]));
    } else if (parts.size() >= 3 && parts[1] == "snapshots" && e.type != EntryType::kDirectory) {
      ++r.files;
    } else if (parts.size() == 3 && parts[1] == "blobs" && e.type == EntryType::kFile) {
      ++r.blobs;
      r.bytes += e.size;
    } else if (parts.size() >= 3 && parts[1] == "refs" && e.type == EntryType::kFile) {
      refs.emplace_back(std::string(path), e);
    }
    return true;
  });
  RETURN_IF_ERROR(status);
  for (const auto& [path, e] : refs) {
    std::string rev;
    if (e.size > 0 && e.size < 4096) {
      RETURN_IF_ERROR(
          store->GetRange(e.location.object_key, e.location.offset, e.size, &rev, deadline));
    }
    size_t refs_at = path.find("/refs/");
    RepoSummary& r = repos[path.substr(0, refs_at)];
    r.refs[path.substr(refs_at + 6)] = std::string(absl::StripAsciiWhitespace(rev));
  }
  std::vector<RepoSummary> out;
  for (auto& [dir, r] : repos) out.push_back(std::move(r));
  std::sort(out.begin(), out.end(),
            [](const RepoSummary& a, const RepoSummary& b) { return a.id < b.id; });
  return out;
}

}  // namespace hfshim
