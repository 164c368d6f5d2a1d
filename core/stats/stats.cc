#include "core/stats/stats.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/base/file_size_limit.h"
#include "core/base/log.h"
#include "core/stats/segment.h"

namespace hfshim {
namespace stats_internal {
namespace {
// PRELOAD-SAFE: zero-initialised static storage, usable before constructors.
std::atomic<uint64_t> g_local_counters[kCounterCount];
std::atomic<uint64_t> g_local_latency[kLatencyBuckets];
}  // namespace
std::atomic<uint64_t>* g_counters = g_local_counters;
std::atomic<uint64_t>* g_latency = g_local_latency;
}  // namespace stats_internal

namespace {

using stats_internal::g_counters;
using stats_internal::g_latency;

const CounterInfo kInfos[] = {
#define X(id, name, unit, help) {name, unit, help},
#include "core/stats/counters.def"
#undef X
};
static_assert(sizeof(kInfos) / sizeof(kInfos[0]) == kCounterCount);

void* g_segment = nullptr;
char g_segment_path[256] = "";

// Writes "<dir>/<pid>.stats" into out. PRELOAD-SAFE: no allocation.
bool SegmentPath(char* out, size_t n, const std::string& dir, pid_t pid) {
  int w = snprintf(out, n, "%s/%d.stats", dir.c_str(), static_cast<int>(pid));
  return w > 0 && static_cast<size_t>(w) < n;
}

void FillHeader(SegmentHeader* h) {
  std::memcpy(h->magic, kSegmentMagic, sizeof(kSegmentMagic));
  h->version = kSegmentVersion;
  h->counter_count = kCounterCount;
  h->latency_buckets = kLatencyBuckets;
  h->pid = static_cast<uint32_t>(getpid());
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  h->start_unix_ns = now.tv_sec * 1000000000LL + now.tv_nsec;
  h->proc_start_ticks = ProcessStartTicks(h->pid);
  int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t r = read(fd, h->comm, sizeof(h->comm) - 1);
    if (r > 0 && h->comm[r - 1] == '\n') h->comm[r - 1] = '\0';
    close(fd);
  }
}

}  // namespace

const CounterInfo& InfoFor(Counter c) { return kInfos[static_cast<size_t>(c)]; }

uint64_t CounterValue(Counter c) {
  return g_counters[static_cast<size_t>(c)].load(std::memory_order_relaxed);
}

void RecordFetchLatency(uint64_t micros) {
  size_t bucket = 0;
  while (bucket + 1 < kLatencyBuckets && (uint64_t{1} << bucket) <= micros) ++bucket;
  g_latency[bucket].fetch_add(1, std::memory_order_relaxed);
}

std::string StatsDir() {
  if (const char* run = std::getenv("XDG_RUNTIME_DIR"); run && *run == '/') {
    return std::string(run) + "/hfshim/stats";
  }
  return "/dev/shm/hfshim-" + std::to_string(getuid());
}

std::vector<std::string> StatsDirsToRead() {
  const std::string own = StatsDir();
  const std::string uid = std::to_string(getuid());
  const std::string login = "/run/user/" + uid + "/hfshim/stats";
  const std::string shm = "/dev/shm/hfshim-" + uid;
  if (own == login) return {own, shm};
  if (own == shm) return {own, login};
  return {own};
}

bool StartStats() {
  if (g_segment != nullptr) return true;
  const std::string dir = StatsDir();
  // Create <dir> and, for the XDG case, its parent; both private to the user.
  std::string parent = dir.substr(0, dir.rfind('/'));
  mkdir(parent.c_str(), 0700);
  mkdir(dir.c_str(), 0700);
  char path[256];
  if (!SegmentPath(path, sizeof(path), dir, getpid())) return false;
  // Under a `ulimit -f` below the segment's size, ftruncate would kill the process (SIGXFSZ).
  int fd = WithinFileSizeLimit(kSegmentSize)
               ? open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)
               : -1;
  if (fd < 0 || ftruncate(fd, kSegmentSize) != 0) {
    static std::atomic<bool> said{false};
    LogOnce(&said, LogLevel::kInfo,
            "stats segment unavailable (" + dir + "); hfshim-stat will not see this process");
    if (fd >= 0) close(fd);
    return false;
  }
  void* map = mmap(nullptr, kSegmentSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return false;
  auto* header = static_cast<SegmentHeader*>(map);
  auto* counters =
      reinterpret_cast<std::atomic<uint64_t>*>(static_cast<char*>(map) + sizeof(SegmentHeader));
  auto* latency = counters + kCounterCount;
  // Carry over what was counted before the segment existed.
  for (size_t i = 0; i < kCounterCount; ++i) counters[i].store(g_counters[i].load());
  for (size_t i = 0; i < kLatencyBuckets; ++i) latency[i].store(g_latency[i].load());
  FillHeader(header);  // the magic is written last-ish: readers skip segments without it
  g_segment = map;
  std::memcpy(g_segment_path, path, sizeof(g_segment_path));
  g_latency = latency;
  g_counters = counters;
  return true;
}

void RestartStatsAfterFork() {
  // The parent's counters must not be touched by the child: switch to zeroed local arrays.
  for (auto& c : stats_internal::g_local_counters) c.store(0, std::memory_order_relaxed);
  for (auto& l : stats_internal::g_local_latency) l.store(0, std::memory_order_relaxed);
  g_counters = stats_internal::g_local_counters;
  g_latency = stats_internal::g_local_latency;
  const bool had_segment = g_segment != nullptr;
  if (had_segment) munmap(g_segment, kSegmentSize);
  g_segment = nullptr;
  g_segment_path[0] = '\0';
  if (had_segment) StartStats();
}

void StopStats() {
  if (g_segment == nullptr) return;
  g_counters = stats_internal::g_local_counters;
  g_latency = stats_internal::g_local_latency;
  unlink(g_segment_path);
  // The mapping is left in place: another thread may still be counting into it.
  g_segment = nullptr;
}

}  // namespace hfshim
