// The access profile (HFSHIM_PROFILE=FILE): every virtual operation appended as one text line
//   <unix_us> <op> <latency_us> <offset> <bytes> <tier> <path>\n
// op: open, stat, lstat, readdir, readlink, read (a byte range), map; tier: index, disk, store,
// memory, error. The path is last and may contain spaces; '\n' and '\\' in it are written as
// "\n" and "\\". `hfshim-stat --profile FILE` summarises a profile; `hfshim-warm --from-profile`
// replays its reads.
//
// Hot path: Record() formats into a per-thread 64 KiB buffer, which goes to the file with one
// O_APPEND write(2) (the file opened for it: no fd is held) when full, when a line is older
// than a second, or at exit. Lines are never split across writes, so concurrent processes and
// threads can append to one file.
#ifndef HFSHIM_CORE_STATS_PROFILE_H_
#define HFSHIM_CORE_STATS_PROFILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hfshim {

// Opens FILE for appending (created 0644). Idempotent; false with one stderr line if it fails.
// Call once from the shim's lazy init.
bool StartProfile(const std::string& path);
bool ProfileEnabled();

// Appends one record (no-op when the profile is off). Thread-safe.
void RecordProfile(absl::string_view op, absl::string_view path, uint64_t offset, uint64_t bytes,
                   uint64_t latency_us, absl::string_view tier);

// Writes this thread's and all other registered threads' buffered lines. Called at exit.
void FlushProfile();

// Fork child: drops lines buffered by the parent (the parent writes them) and keeps the file.
void ResetProfileAfterFork();

struct ProfileRecord {
  uint64_t unix_us = 0;
  std::string op;
  uint64_t latency_us = 0;
  uint64_t offset = 0;
  uint64_t bytes = 0;
  std::string tier;
  std::string path;
};

// Parses one line (without its '\n'); false if malformed.
bool ParseProfileLine(absl::string_view line, ProfileRecord* out);
// Formats one record as a line with its '\n' (the inverse of ParseProfileLine).
std::string FormatProfileLine(const ProfileRecord& record);

}  // namespace hfshim

#endif  // HFSHIM_CORE_STATS_PROFILE_H_
