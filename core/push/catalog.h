// What a store holds, per repo, for hfshim-ls: revisions, refs, file counts and sizes.
#ifndef HFSHIM_CORE_PUSH_CATALOG_H_
#define HFSHIM_CORE_PUSH_CATALOG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/index/index_reader.h"
#include "core/store/object_store.h"

namespace hfshim {

struct RepoSummary {
  std::string id;                           // "org/name", "datasets/org/name"
  std::string dir_name;                     // "models--org--name"
  std::vector<std::string> revisions;       // snapshots/<rev>
  std::map<std::string, std::string> refs;  // "main" -> revision, "pr/1" -> revision
  uint64_t files = 0;                       // files in snapshots (what a user sees)
  uint64_t blobs = 0;                       // distinct stored files (blobs/)
  uint64_t bytes = 0;                       // bytes of the blobs
};

// Summaries of every repo of `index` (ref contents are read from `store`), sorted by id.
absl::StatusOr<std::vector<RepoSummary>> DescribeRepos(const IndexReader& index, ObjectStore* store,
                                                       absl::Time deadline);

}  // namespace hfshim

#endif  // HFSHIM_CORE_PUSH_CATALOG_H_
