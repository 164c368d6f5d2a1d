// Push: publishes a local hub cache into a store, content addressed and deduplicated.
//
// Each distinct content is stored once: files of at least `pack_threshold` bytes as data/<hash>,
// smaller ones packed in reading order (read_order.h) into packs/<hash> (core/push/FORMAT.md).
// Content already in the store's current generation is reused, so an unchanged tree uploads
// nothing and a new revision uploads only its new content. Nothing is published until all content
// is uploaded, and the head only moves with PutIfAbsent (publisher.h): a push killed at any point
// leaves the previous generation intact. Repos not being pushed are kept as they are.
#ifndef HFSHIM_CORE_PUSH_PUSHER_H_
#define HFSHIM_CORE_PUSH_PUSHER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/env/env.h"
#include "core/store/object_store.h"

namespace hfshim {

struct PushProgress {
  uint64_t files_done = 0, files_total = 0;
  uint64_t bytes_done = 0, bytes_total = 0;
};

struct PushOptions {
  std::string hub_dir;
  std::vector<std::string> repo_dirs;  // empty = every repo in hub_dir
  uint64_t block_size = 4 << 20;
  uint64_t pack_threshold = 1 << 20;
  uint64_t pack_target = 64 << 20;  // a pack is closed once it reaches this size
  int threads = 8;
  std::string work_dir;          // temp space (packs, generations); created if missing
  double timeout_seconds = 600;  // deadline for each store request
  std::function<void(const PushProgress&)> progress;  // called from the pushing thread
};

struct PushSummary {
  std::vector<std::string> repos;  // repo ids pushed
  uint64_t files = 0;              // regular files scanned
  uint64_t entries = 0;            // files, directories and symlinks
  uint64_t bytes_scanned = 0;
  uint64_t objects_uploaded = 0;
  uint64_t bytes_uploaded = 0;
  uint64_t bytes_deduplicated = 0;  // file bytes whose content was already stored
  bool up_to_date = false;          // nothing changed: no generation published
  uint64_t sequence = 0;            // the head now current
  double seconds = 0;
};

absl::StatusOr<PushSummary> Push(ObjectStore* store, Env* env, const PushOptions& options);

}  // namespace hfshim

#endif  // HFSHIM_CORE_PUSH_PUSHER_H_
