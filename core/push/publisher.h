// Publishes a new index generation with the head protocol (core/store/FORMAT.md): the merged
// generation is uploaded first, then heads/<N+1> is created with PutIfAbsent. If another pusher
// created N+1 first, the newest generation is fetched, the merge is redone on top of it and the
// next number is tried, so concurrent pushers never lose each other's repos.
#ifndef HFSHIM_CORE_PUSH_PUBLISHER_H_
#define HFSHIM_CORE_PUSH_PUBLISHER_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/env/env.h"
#include "core/index/entry.h"
#include "core/index/generation.h"
#include "core/store/object_store.h"

namespace hfshim {

struct PathEntry {
  std::string rel_path;
  Entry entry;
};

struct PublishRequest {
  std::vector<std::string> replaced_repos;  // top-level dirs whose whole tree is replaced
  std::vector<PathEntry> entries;           // the new trees of those repos
  std::string work_dir;                     // for building and caching generations
  int max_attempts = 20;
};

// Returns the head number published. The base is re-read from the store on every attempt.
absl::StatusOr<uint64_t> PublishGeneration(ObjectStore* store, Env* env,
                                           const PublishRequest& request, absl::Time deadline);

// The latest generation of `store` opened from `work_dir`, or nullptr if nothing was pushed.
struct LoadedGeneration {
  std::optional<HeadRecord> head;
  std::unique_ptr<class IndexReader> reader;
};
absl::StatusOr<LoadedGeneration> LoadLatestGeneration(ObjectStore* store, Env* env,
                                                      const std::string& work_dir,
                                                      absl::Time deadline);

}  // namespace hfshim

#endif  // HFSHIM_CORE_PUSH_PUBLISHER_H_
