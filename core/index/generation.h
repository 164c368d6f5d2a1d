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
  // Size of the generation object, so a reader fetches it without asking (0: unknown, as in
  // heads published before 2026-12-01; the reader then asks with a HEAD).
  uint64_t index_bytes = 0;
  bool operator==(const HeadRecord&) const = default;
};

// Text, versioned (see core/store/FORMAT.md):
//   hfshim-head 1\nsequence N\nindex KEY\ncreated_unix_ns T\nentries E\n[index_bytes B\n]
std::string EncodeHead(const HeadRecord& head);
// DataLoss naming the problem on malformed input or an unknown version.
absl::StatusOr<HeadRecord> DecodeHead(absl::string_view text);

// The newest head in a listing of a store: heads/<sequence>, as the listing describes it.
struct ListedHead {
  uint64_t sequence = 0;
  ObjectInfo info;  // key, size (0 if the listing gave none) and etag
};

// The highest heads/<N> of `store`, or nullopt if nothing was pushed yet: one listing of
// "heads/" (no delimiter listing).
absl::StatusOr<std::optional<ListedHead>> ListNewestHead(ObjectStore* store, absl::Time deadline);

// Reads the head `listed` names: one GET (and a HEAD first where the listing gave no size).
// DataLoss if it is malformed or records another sequence than its key.
absl::StatusOr<HeadRecord> ReadHead(ObjectStore* store, const ListedHead& listed,
                                    absl::Time deadline);

// The current head of `store` (ListNewestHead, then ReadHead): two requests.
absl::StatusOr<std::optional<HeadRecord>> FindLatestHead(ObjectStore* store, absl::Time deadline);

// The node's note of the last head it read (`local_dir`/last-head: "<sequence> <index key>
// <etag>", written atomically), so that a check whose listing shows that head with the same
// etag needs no second request to read it again. Heads are created once (PutIfAbsent), but a
// store that was emptied and pushed again, or one that ignores If-None-Match, can hold other
// bytes under the same key: the etag tells. A listing without etags never matches.
// RememberHeadRead is best effort; call it after the generation `head` names is fetched.
void RememberHeadRead(const std::string& local_dir, const ListedHead& listed,
                      const HeadRecord& head, Env* env);
// The head the note says was read from `listed` (same sequence, same non-empty etag), with its
// sequence and index key (created_unix_ns and entry_count are not kept: 0); else nullopt.
std::optional<HeadRecord> HeadReadBefore(const std::string& local_dir, const ListedHead& listed,
                                         Env* env);

// A node's check of the store's newest head: the listing, then the head from the node's note when
// the listing shows it unchanged (one request), else read from the store (two).
struct HeadCheck {
  std::optional<ListedHead> listed;  // nullopt: nothing was pushed yet
  std::optional<HeadRecord> head;    // what the newest head records (set with `listed`)
  bool noted = false;                // `head` came from the note in `local_dir`
};
absl::StatusOr<HeadCheck> CheckNewestHead(ObjectStore* store, const std::string& local_dir,
                                          Env* env, absl::Time deadline);
// Once the generation `check.head` names is fetched (FetchGeneration): notes the head for the
// next check, unless it came from the note.
void NoteHeadChecked(const std::string& local_dir, const HeadCheck& check, Env* env);

// Makes generation `head.index_key` available as a local file in `local_dir` and returns its
// path. Downloads it unless a verified copy is already there: ranged GETs (up to 4 at once for a
// large generation; a HEAD first where `head.index_bytes` is unknown) written straight into an
// unnamed file, which is named once its content hash matches the key and it is on disk. A corrupt
// download is deleted and reported as DataLoss. Records it as the last generation fetched into
// `local_dir` (LastFetchedGeneration).
absl::StatusOr<std::string> FetchGeneration(ObjectStore* store, const HeadRecord& head,
                                            const std::string& local_dir, Env* env,
                                            absl::Time deadline);

// The last generation FetchGeneration made available in `local_dir` from `store` (recorded in
// `local_dir`/last-<hash of store->Identity()> as "<sequence> <file name>"), if its file is still
// there: what a node serves while its store cannot be reached. NotFound if there is none, also
// when the node's last generation came from another store (a node switched to another
// HFSHIM_STORE never shows the old store's tree).
// The record's modification time is when a process of the node last found that generation
// current in the store (FetchGeneration sets it on every call), so `checked_ago` tells a new
// process whether the node asked the store recently enough to skip asking again. Negative if the
// record is from the future (the clock was set back): not recent.
struct LocalGeneration {
  std::string path;
  uint64_t sequence = 0;
  absl::Duration checked_ago = absl::InfiniteDuration();
};
absl::StatusOr<LocalGeneration> LastFetchedGeneration(const std::string& local_dir,
                                                      const ObjectStore& store, Env* env);

// Makes the node's record of its last check of `store` old (it stays the offline fallback), so
// the next process of the node asks the store: for hfshim-push, after publishing a generation
// that jobs started next on this node should see. Best effort.
void ForgetGenerationCheck(const std::string& local_dir, const ObjectStore& store, Env* env);

}  // namespace hfshim

#endif  // HFSHIM_CORE_INDEX_GENERATION_H_
