// The head protocol between pushers and readers (core/store/FORMAT.md):
// heads/<N> records which index generation is current after push N. Heads are only created with
// PutIfAbsent, so the highest N is the current state. Readers download the generation it names
// once into a local directory and open it read-only.
#ifndef HFSHIM_CORE_INDEX_GENERATION_H_
#define HFSHIM_CORE_INDEX_GENERATION_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/env/env.h"
#include "core/store/object_store.h"

namespace hfshim {

struct HeadRecord {
  uint64_t sequence = 0;
  std::string index_key;  // "index/<hash32>.mdb"
  int64_t created_unix_ns = 0;
  uint64_t entry_count = 0;
  bool operator==(const HeadRecord&) const = default;
};

// Text, versioned (see core/index/FORMAT.md):
//   hfshim-head 1\nsequence N\nindex KEY\ncreated_unix_ns T\nentries E\n
std::string EncodeHead(const HeadRecord& head);
// DataLoss naming the problem on malformed input or an unknown version.
absl::StatusOr<HeadRecord> DecodeHead(absl::string_view text);

// The current head of `store` (the highest heads/<N>), or nullopt if nothing was pushed yet.
// Lists "heads/" (no delimiter listing), then reads that head: two requests (a HEAD too where
// the listing gives no size).
absl::StatusOr<std::optional<HeadRecord>> FindLatestHead(ObjectStore* store, absl::Time deadline);

// Makes generation `head.index_key` available as a local file in `local_dir` and returns its
// path. Downloads it (verifying its content hash against the key, then temp + rename) unless a
// verified copy is already there. A corrupt download is deleted and reported as DataLoss.
// Records it as the last generation fetched into `local_dir` (LastFetchedGeneration).
absl::StatusOr<std::string> FetchGeneration(ObjectStore* store, const HeadRecord& head,
                                            const std::string& local_dir, Env* env,
                                            absl::Time deadline);

// The last generation FetchGeneration made available in `local_dir` (recorded in
// `local_dir`/last as "<sequence> <file name>"), if its file is still there: what a node serves
// while its store cannot be reached. NotFound if there is none.
// The record's modification time is when a process of the node last found that generation
// current in the store (FetchGeneration sets it on every call), so `checked_ago` tells a new
// process whether the node asked the store recently enough to skip asking again. Negative if the
// record is from the future (the clock was set back): not recent.
struct LocalGeneration {
  std::string path;
  uint64_t sequence = 0;
  absl::Duration checked_ago = absl::InfiniteDuration();
};
absl::StatusOr<LocalGeneration> LastFetchedGeneration(const std::string& local_dir, Env* env);

// Makes the node's record of its last check old (it stays the offline fallback), so the next
// process of the node asks the store: for hfshim-push, after publishing a generation that jobs
// started next on this node should see. Best effort.
void ForgetGenerationCheck(const std::string& local_dir, Env* env);

}  // namespace hfshim

#endif  // HFSHIM_CORE_INDEX_GENERATION_H_
