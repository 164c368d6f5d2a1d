// The stats segment file: layout (core/stats/FORMAT.md) and the reader side used by hfshim-stat.
#ifndef HFSHIM_CORE_STATS_SEGMENT_H_
#define HFSHIM_CORE_STATS_SEGMENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/stats/stats.h"

namespace hfshim {

inline constexpr char kSegmentMagic[8] = {'H', 'F', 'S', 'T', 'A', 'T', 'S', '\0'};
inline constexpr uint32_t kSegmentVersion = 1;

// The fixed 128-byte header; counters (uint64 each, kCounterCount of them) follow at offset 128,
// then kLatencyBuckets uint64 latency buckets. All little-endian (x86_64 native).
struct SegmentHeader {
  char magic[8];
  uint32_t version;
  uint32_t counter_count;
  uint32_t latency_buckets;
  uint32_t pid;
  int64_t start_unix_ns;
  uint64_t proc_start_ticks;  // /proc/<pid>/stat field 22: tells a reused pid apart
  char comm[64];              // process name, NUL-terminated
  char reserved[24];
};
static_assert(sizeof(SegmentHeader) == 128, "segment header is 128 bytes");

inline constexpr size_t kSegmentSize =
    sizeof(SegmentHeader) + (kCounterCount + kLatencyBuckets) * sizeof(uint64_t);

// A copy of one process's counters.
struct SegmentSnapshot {
  uint32_t pid = 0;
  std::string comm;
  int64_t start_unix_ns = 0;
  std::vector<uint64_t> counters;  // kCounterCount values, in counters.def order
  std::vector<uint64_t> latency;   // kLatencyBuckets values
};

// The start time of `pid` in clock ticks since boot (/proc/<pid>/stat field 22), or 0 if the
// process does not exist.
uint64_t ProcessStartTicks(uint32_t pid);

// Reads every segment in `dir`. Segments whose process is gone (or whose pid was reused, or which
// are malformed) are skipped and, when `remove_stale`, deleted. Sorted by pid.
absl::StatusOr<std::vector<SegmentSnapshot>> ReadSegments(const std::string& dir,
                                                          bool remove_stale);

}  // namespace hfshim

#endif  // HFSHIM_CORE_STATS_SEGMENT_H_
