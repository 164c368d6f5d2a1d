// Live counters of one process, kept in a small shared-memory segment that hfshim-stat reads.
//
// Hot path: Count() is one relaxed atomic add on memory that is already mapped; no syscall, no
// lock, no allocation. Before StartStats() (and when stats are off) the counters live in a
// process-local array, so Count() is always safe, also before any constructor has run.
//
// Segments are files <stats dir>/<pid>.stats (see StatsDir()), one per process. A fork child
// gets its own segment: call RestartStatsAfterFork() in the child. Segments of exited processes
// are removed by hfshim-stat (stale pid detection) and by the process itself at exit.
#ifndef HFSHIM_CORE_STATS_STATS_H_
#define HFSHIM_CORE_STATS_STATS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hfshim {

enum class Counter : uint32_t {
#define X(id, name, unit, help) id,
#include "core/stats/counters.def"
#undef X
  kCount
};
inline constexpr size_t kCounterCount = static_cast<size_t>(Counter::kCount);

// Fetch latency histogram: bucket i counts requests of < 2^i microseconds (last: the rest).
inline constexpr size_t kLatencyBuckets = 24;

struct CounterInfo {
  const char* name;
  const char* unit;
  const char* help;
};
const CounterInfo& InfoFor(Counter c);

namespace stats_internal {
// PRELOAD-SAFE: constant-initialised; points at the local array until a segment is mapped.
extern std::atomic<uint64_t>* g_counters;
extern std::atomic<uint64_t>* g_latency;
}  // namespace stats_internal

inline void Count(Counter c, uint64_t n = 1) {
  stats_internal::g_counters[static_cast<size_t>(c)].fetch_add(n, std::memory_order_relaxed);
}
inline void SetGauge(Counter c, uint64_t v) {
  stats_internal::g_counters[static_cast<size_t>(c)].store(v, std::memory_order_relaxed);
}
inline void Uncount(Counter c, uint64_t n = 1) {
  stats_internal::g_counters[static_cast<size_t>(c)].fetch_sub(n, std::memory_order_relaxed);
}
void RecordFetchLatency(uint64_t micros);
uint64_t CounterValue(Counter c);

// The directory holding segments: $XDG_RUNTIME_DIR/hfshim/stats if set, else
// /dev/shm/hfshim-<uid>. Created 0700 by StartStats().
std::string StatsDir();

// The directories a reader looks in for this user's segments: StatsDir(), and when that is one
// of the two default places (XDG_RUNTIME_DIR unset, or the systemd default /run/user/<uid>),
// the other one too, so a job started from a login session and a reader without one (cron,
// sudo -u, a container exec) still see each other. A custom XDG_RUNTIME_DIR (tests) is kept
// alone.
std::vector<std::string> StatsDirsToRead();

// Maps this process's segment (creating the file) and moves the counters there, keeping the
// values counted so far. Idempotent. Returns false (counters stay local) if the directory is not
// usable; says why once on stderr. Call from one thread (the shim's lazy init).
bool StartStats();

// In a fork child: the inherited mapping is the parent's segment. Switches to a fresh local
// array (zeroed) and maps a new segment for the child's pid.
void RestartStatsAfterFork();

// Unmaps and removes this process's segment (at exit).
void StopStats();

}  // namespace hfshim

#endif  // HFSHIM_CORE_STATS_STATS_H_
